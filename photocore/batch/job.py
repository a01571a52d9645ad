"""One capture of a batch: decode, convert, write the photos, return a small record.

Runs inside a worker process (a local process pool or a Dask worker): the face models are
loaded once per process, on the first capture, and reused; the signer too. The record that
goes back to the parent holds no photo bytes, only what the journal and the reports need (and
a small annotated thumbnail for captures that failed).
"""

from __future__ import annotations

import base64
import io
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from ..annotate import annotate
from ..deadline import Deadline
from ..decode import decode
from ..errors import PhotocoreError
from ..private_files import mkdir_private, write_private

MEASURES = ("face_count", "inter_eye_distance", "yaw", "pitch", "roll", "eyes_open", "mouth_open", "smile",
            "sharpness", "exposure")
THUMB_SIDE = 320


@dataclass(frozen=True)
class BatchSettings:
    out_dir: str
    credentials: tuple[str, ...]
    catalogue: str | None = None
    keys: str | None = None  # sign with this key store (the passphrase comes from each worker's env)
    station: str | None = None
    deadline: float | None = None  # seconds per capture (capture.deadline past it)
    debug: bool = False  # a capture's error carries its traceback to the main process (--debug)

    def target_dir(self, rel: str) -> Path:
        return Path(self.out_dir) / Path(rel).with_suffix("")


_signing_cache: dict = {}


def _signing(settings: BatchSettings):
    if not settings.keys:
        return None
    key = (settings.keys, settings.station)
    if key not in _signing_cache:  # decrypt the station key once per worker process
        from ..sign import CaptureInfo, load_signer
        from ..sign.stage import SigningOptions
        _signing_cache[key] = SigningOptions(load_signer(settings.keys), CaptureInfo(settings.station or "batch"))
    return _signing_cache[key]


_write = write_private  # the photos and signatures of a capture


def _thumbnail(analysis, results) -> str:
    image = Image.fromarray(annotate(analysis, results))
    image.thumbnail((THUMB_SIDE, THUMB_SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return base64.b64encode(out.getvalue()).decode("ascii")


def error_record(rel: str, credentials, code: str, message: str) -> dict:
    """The record of a capture that could not be converted at all."""
    return {"capture": rel, "status": "error", "error": {"code": code, "message": message}, "thumbnail": None,
            "messages": {}, "check_messages": {},
            "rows": [{"capture": rel, "credential": c, "status": "error", "codes": [code], "file": None,
                      "not_assessed": []} for c in credentials]}


def process(path: str, rel: str, settings: BatchSettings) -> dict:
    """Convert the capture at ``path`` (``rel`` below the input folder) for the batch's credentials.

    Never raises: an unreadable file, a bad key store or even a bug becomes an error record, and
    the batch goes on."""
    try:
        return _process(path, rel, settings)
    except Exception as exc:  # noqa: BLE001 - a bug too: say so in the report rather than stop an archive's batch
        if isinstance(exc, PhotocoreError):
            record = error_record(rel, settings.credentials, exc.code, exc.message)
        else:
            record = error_record(rel, settings.credentials, "internal.error", f"{type(exc).__name__}: {exc}")
        if settings.debug:  # printed by the main process, never written to the reports
            record["traceback"] = traceback.format_exc()
        return record


_threads_pinned = False


def _one_thread_per_worker() -> None:
    """Batch parallelism comes from processes: OpenCV's own thread pool in each of them would
    only fight the others for the same cores."""
    global _threads_pinned
    if not _threads_pinned:
        import cv2
        cv2.setNumThreads(1)
        _threads_pinned = True


def _process(path: str, rel: str, settings: BatchSettings) -> dict:
    from ..convert import convert  # imported here: the parent process never loads the models

    _one_thread_per_worker()
    record: dict[str, Any] = {"capture": rel, "status": "done", "error": None, "rows": [], "thumbnail": None,
                              "messages": {}, "check_messages": {}}
    deadline = Deadline.optional(settings.deadline)
    capture = decode(path, deadline=deadline)
    conversion = convert(capture, settings.credentials, catalogue=settings.catalogue, signing=_signing(settings),
                         deadline=deadline)
    target = settings.target_dir(rel)
    mkdir_private(target)
    measures = {name: _value(conversion.measurements[name]) for name in MEASURES}
    written: dict[int, Path] = {}
    failed_results = []
    for outcome in conversion.outcomes:
        signed = conversion.signed.get(outcome.credential)
        row: dict[str, Any] = {"capture": rel, "credential": outcome.credential,
                               "status": "ok" if outcome.ok else "failed",
                               "codes": sorted({f.code for f in outcome.failures}), "file": None,
                               "not_assessed": sorted({n["code"] for n in outcome.not_assessed}), **measures}
        for failure in outcome.failures:
            record["messages"].setdefault(failure.code, [failure.message_zh, failure.message_en])
        for item in outcome.not_assessed:
            record["check_messages"].setdefault(item["code"], [item["message_zh"], item["message_en"]])
        rendition = outcome.rendition
        photo = rendition.data if outcome.ok and rendition is not None else None  # ok: there is a photo
        if rendition is not None and photo is not None:
            data = signed.data if signed else photo
            name = target / f"{outcome.credential}.{rendition.extension}"
            first = written.get(id(data))
            if first is not None and not name.exists():
                try:
                    os.link(first, name)  # same bytes as another credential's photo: one copy on disk
                except OSError:
                    _write(name, data)
            else:
                _write(name, data)
                written.setdefault(id(data), name)
            if signed:
                _write(name.with_name(name.name + ".jws"), signed.jws.encode("ascii"))
            row["file"] = str(name.relative_to(settings.out_dir))
        else:
            failed_results.append(outcome.result)
        record["rows"].append(row)
    if failed_results:
        record["thumbnail"] = _thumbnail(conversion.analysis, failed_results[:1])
    return record


def _value(measurement):
    return None if measurement.value is None else round(float(measurement.value), 3)
