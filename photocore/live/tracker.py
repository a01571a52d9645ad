"""Face landmarks frame after frame, with MediaPipe's tracking mode, and a count of detections.

Why a graph of its own: ``analysis/models.py`` runs the face mesh in static-image mode (every
call detects from scratch, as a still capture needs). A camera stream is one person moving a
little between frames, so here the legacy FaceMesh graph runs in video mode
(``static_image_mode=False``): each frame's landmark crop comes from the previous frame's
landmarks, and the face detector only runs when the graph has fewer tracked faces than
``max_faces``. The graph keeps state, so a ``FaceTracker`` belongs to one session and one
thread at a time.

What "detection runs" counts (exact, not a guess): the graph publishes the detector's output
stream ``face_detections`` only on frames where the detector ran (the detector's input is
gated by "enough faces tracked from the previous frame"), so asking for that stream besides
the landmarks tells us precisely which frames ran it. Note what that gate means: with
``max_faces=2`` (the default, so a second person stepping into the picture is seen at once)
and one person in front of the camera, the detector runs on every frame, because one tracked
face is fewer than two; the landmarks still come from tracking (detections that overlap a
tracked face are dropped by the graph). With ``max_faces=1`` the detector runs only when
tracking is lost. The short-range detector costs about 1.5 ms a frame on one core.
``reacquisitions`` counts the frames where a face is found after a frame without one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import AnalysisError


@dataclass(frozen=True)
class Tracked:
    """One frame's faces: (478, 3) landmark arrays in frame pixels (z in x's unit), largest first."""

    faces: tuple[np.ndarray, ...]
    detection_ran: bool


def _graph(max_faces: int, min_detection: float, min_tracking: float):
    try:
        from mediapipe.python.solution_base import SolutionBase
        from mediapipe.python.solutions import face_mesh
    except Exception as exc:  # a broken install, not bad input
        raise AnalysisError(f"cannot load MediaPipe: {exc}", code="analysis.models") from exc
    # The same graph, side inputs and parameters as mp.solutions.face_mesh.FaceMesh(
    # static_image_mode=False, max_num_faces=max_faces, refine_landmarks=True), plus the
    # detector's output stream, which FaceMesh does not ask for.
    return SolutionBase(
        binary_graph_path=face_mesh._BINARYPB_FILE_PATH,
        side_inputs={"num_faces": max_faces, "with_attention": True, "use_prev_landmarks": True},
        calculator_params={
            "facedetectionshortrangecpu__facedetectionshortrange__facedetection__"
            "TensorsToDetectionsCalculator.min_score_thresh": min_detection,
            "facelandmarkcpu__ThresholdingCalculator.threshold": min_tracking,
        },
        outputs=["multi_face_landmarks", "face_detections"])


class FaceTracker:
    """Landmarks of up to ``max_faces`` faces per frame, tracked between frames."""

    def __init__(self, max_faces: int = 2, min_detection: float = 0.5, min_tracking: float = 0.5):
        self.max_faces = max_faces
        self._settings = (max_faces, min_detection, min_tracking)
        self._graph = _graph(*self._settings)
        self.frames = 0
        self.detection_runs = 0
        self.reacquisitions = 0
        self._had_face = False

    def reset(self) -> None:
        """Forget the tracked faces (the next frame detects afresh); counts are kept."""
        self._graph.close()
        self._graph = _graph(*self._settings)
        self._had_face = False

    def close(self) -> None:
        self._graph.close()

    def track(self, frame: np.ndarray) -> Tracked:
        """``frame``: HxWx3 uint8 RGB, C-contiguous."""
        height, width = frame.shape[:2]
        result = self._graph.process({"image": frame})
        self.frames += 1
        ran = result.face_detections is not None
        self.detection_runs += ran
        faces = []
        for face in result.multi_face_landmarks or ():
            points = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
            points *= (width, height, width)
            faces.append(points)
        faces.sort(key=lambda p: float(np.ptp(p[:, 0]) * np.ptp(p[:, 1])), reverse=True)
        if faces and not self._had_face:
            self.reacquisitions += 1
        self._had_face = bool(faces)
        return Tracked(tuple(faces), ran)
