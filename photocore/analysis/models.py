"""The three MediaPipe graphs photocore uses, loaded from inside the pinned wheel.

mediapipe 0.10.21 ships its .tflite models in the wheel, so nothing is downloaded. A
MediaPipe solution graph is not safe to call from two threads at once, so each thread gets
its own set, built on first use and then reused for every capture that thread analyses:
a kiosk or a thread pool loads the models once per thread, never once per image.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..errors import AnalysisError

_local = threading.local()


@dataclass
class Models:
    detector: object  # mp.solutions.face_detection.FaceDetection, full-range model
    mesh: object  # mp.solutions.face_mesh.FaceMesh, 478 landmarks with iris
    segmenter: object  # mp.solutions.selfie_segmentation.SelfieSegmentation
    upright: object  # short-range FaceDetection: 1.5 ms, and it scores an upside-down face lower


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
