"""The MediaPipe graphs photocore uses, loaded from inside the pinned wheel.

mediapipe 0.10.21 ships its .tflite models in the wheel, so nothing is downloaded. A
MediaPipe solution graph is not safe to call from two threads at once, so each thread gets
its own set, built on first use and then reused for every capture that thread analyses:
a kiosk or a thread pool loads the models once per thread, never once per image.

The hand model (palm detector and hand landmarks, both in the wheel) runs only on the few
captures where something may be in front of the face (see ``hands.py``), so it is built the
first time a thread needs it rather than with the others.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import AnalysisError

_local = threading.local()


class Solution(Protocol):
    """A MediaPipe solution graph. ``process`` returns the graph's outputs as a NamedTuple
    whose fields depend on the solution (mediapipe ships no type information: ``Any``)."""

    def process(self, image: NDArray[np.uint8]) -> Any: ...


@dataclass
class Models:
    detector: Solution  # mp.solutions.face_detection.FaceDetection, full-range model
    mesh: Solution  # mp.solutions.face_mesh.FaceMesh, 478 landmarks with iris
    segmenter: Solution  # mp.solutions.selfie_segmentation.SelfieSegmentation
    upright: Solution  # short-range FaceDetection: 1.5 ms, and it scores an upside-down face lower
    _hands: Solution | None = None  # mp.solutions.hands.Hands, built by ``hands`` on first use

    @property
    def hands(self) -> Solution:
        """mp.solutions.hands.Hands: lite palm detector and hand landmarks, every image on its own
        (static mode), up to two hands. About 9 ms without a hand, 15 ms with one (one core)."""
        if self._hands is None:
            try:
                from mediapipe.python.solutions import hands
            except Exception as exc:
                raise AnalysisError(f"cannot load MediaPipe: {exc}", code="analysis.models") from exc
            self._hands = hands.Hands(static_image_mode=True, max_num_hands=2, model_complexity=0,
                                      min_detection_confidence=0.5)
        return self._hands


def models() -> Models:
    """This thread's models, loaded on first call."""
    current = getattr(_local, "models", None)
    if current is None:
        try:
            from mediapipe.python.solutions import face_detection, face_mesh, selfie_segmentation
        except Exception as exc:  # a broken install, not bad input
            raise AnalysisError(f"cannot load MediaPipe: {exc}", code="analysis.models") from exc
        current = Models(
            detector=face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5),
            mesh=face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                    refine_landmarks=True, min_detection_confidence=0.3),
            segmenter=selfie_segmentation.SelfieSegmentation(model_selection=0),
            upright=face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5),
        )
        _local.models = current
    return current
