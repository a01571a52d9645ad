"""The pinned install: one consistent cv2, mediapipe's models inside the wheel."""

import importlib.metadata as md
from pathlib import Path

import cv2
import numpy as np


def test_one_consistent_cv2():
    # mediapipe pulls opencv-contrib-python; the headless build is pinned to the same version,
    # so whichever wrote cv2/ last, the module matches both distributions.
    contrib = md.version("opencv-contrib-python")
    headless = md.version("opencv-python-headless")
    assert contrib == headless
    assert cv2.__version__ == ".".join(contrib.split(".")[:3])
    ok, encoded = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    assert ok and cv2.imdecode(encoded, cv2.IMREAD_COLOR).shape == (4, 4, 3)


def test_mediapipe_models_ship_in_the_wheel():
    import mediapipe

    assert md.version("mediapipe") == "0.10.21"
    modules = Path(mediapipe.__file__).parent / "modules"
    for model in ("face_detection/face_detection_full_range_sparse.tflite",
                  "face_landmark/face_landmark_with_attention.tflite",
                  "selfie_segmentation/selfie_segmentation.tflite"):
        assert (modules / model).stat().st_size > 100_000, model
