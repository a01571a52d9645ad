"""Frames from a video file or a folder of images, in order, as RGB arrays with their times.

Why here: ``photocore live`` and the tests replay recorded camera streams through a
session; a video's own frame rate gives the times, a folder of images is taken in name
order at ``fps``. A frame that cannot be decoded is yielded as None (the caller says so and
goes on); an input with no frame at all is a ``DecodeError`` with a stable code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ..errors import DecodeError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_frames(source, fps: float = 30.0) -> Iterator[tuple[int, float, np.ndarray | None]]:
    """(index, t in seconds, HxWx3 uint8 RGB or None) for each frame of ``source``.

    Codes: ``decode.unreadable`` (no such file or folder), ``live.no_frames`` (nothing in it
    could be read as frames).
    """
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise DecodeError(f"{path}: no images (.jpg, .png, ...) in this folder", code="live.no_frames")
        for index, file in enumerate(files):
            bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
            yield index, index / fps, None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return
    if not path.is_file():
        raise DecodeError(f"{path}: no such file or folder", code="decode.unreadable")
    video = cv2.VideoCapture(str(path))
    try:
        rate = video.get(cv2.CAP_PROP_FPS) if video.isOpened() else 0.0
        rate = rate if rate and 1.0 <= rate <= 1000.0 else fps
        index = 0
        while video.isOpened():
            ok, bgr = video.read()
            if not ok:
                break
            yield index, index / rate, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        video.release()
    if index == 0:
        raise DecodeError(f"{path}: not a video OpenCV can read, or no frames in it", code="live.no_frames")
