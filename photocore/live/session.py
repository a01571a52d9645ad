"""A live session: camera frames in, what to say now (and, when all is right, the photo) out.

Why a session and not a function: guidance needs the past. Landmarks are tracked from the
previous frame (``tracker.py``), stillness is landmark motion over the last half second, a
frozen camera is the same picture for a second, and the photo is the best frame of the last
second. A session holds that state for one camera; ``reset()`` (or a new session) recovers
from anything. Use one session per camera, from one thread at a time.

Per frame only cheap work runs: the tracked mesh, then the existing measures that read the
landmarks and small crops (pose, eye openness and visibility, mouth, smile, lenses, face
exposure, cheek light balance, sharpness of the face crop, face size), judged against live
limits taken from the capture profile (``instructions.py``). The room around the head is
judged from landmarks alone: the crown is taken ``CROWN_ABOVE_FOREHEAD`` eye-to-chin lengths
above the top of the mesh (hair is invisible to the mesh; the person mask would cost a
segmentation per frame). What the live session cannot see (background, colour, the real
crown) the full check sees on the chosen frame, and a refusal is said aloud.

Automatic capture: when every live requirement passes on the frame and on the recent frames,
and the face has been still for ``hold`` seconds, the best frame of the last ``best_of``
seconds (sharpest, eyes most open, most frontal) gets the full check
(``photocore.check(photocore.from_pixels(frame))``). If it passes, the result's ``captured``
holds the frame, its ``Capture`` and its ``CheckReport`` and the session stops capturing until
``retake()`` or ``reset()``; if not, the first failed requirement is said and the session
tries again once the person has been still again.

Directions are the person's own left and right for frames as a camera delivers them (not
mirrored); pass ``mirrored=True`` when the frames are mirrored before they reach the session.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..analysis import Analysis, DetectedFace
from ..analysis import landmarks as L
from ..decode import Capture
from ..errors import DecodeError
from ..measures import REGISTRY
from . import instructions as I
from .instructions import Instruction
from .tracker import FaceTracker

if TYPE_CHECKING:
    from ..check import CheckReport

MIN_SIDE = 240  # frames with a shorter side cannot show a face large enough
CROWN_ABOVE_FOREHEAD = 0.7  # top of the head over the top of the mesh, in eye-to-chin lengths (London set 0.5-1.1)
CENTRE_TOLERANCE = 0.08  # eye midpoint within this share of the frame width of its middle
STILL_WINDOW = 0.5  # seconds of landmark motion that decide stillness
STILL_MOTION = 0.08  # most a key point may move in that window, in inter-eye distances
SMOOTH = 0.1  # seconds: instructions follow the median of this window (a blink is not "open your eyes")
NO_FACE_LONG = 5.0  # seconds without a face before asking to check the camera
FROZEN_AFTER = 1.0  # seconds of identical pictures that make a frozen camera
STALE = 0.3  # seconds of identical pictures after which nothing is captured
DARK_MEAN, DARK_MAX = 10, 40  # a thumbnail this dark is a covered or dead camera (grey levels)
JUMP = 40  # mean grey change between consecutive thumbnails that is not a person moving
FAILED_SHOWN = 2.0  # seconds a refusal of the full check stays in the instructions
_EMPTY_MASK = np.zeros((1, 1), np.float32)
_KEY_POINTS = [L.RIGHT_IRIS[0], L.LEFT_IRIS[0], L.NOSE_TIP, L.CHIN]

Box = tuple[float, float, float, float]
Point = tuple[float, float]


@dataclass(frozen=True)
class Overlay:
    """What to draw over the preview, in frame pixels. ``target``: where the head (crown to chin,
    cheek to cheek) should be; the rest is None without a face."""

    target: Box
    face_box: Box | None = None
    eye_line: tuple[Point, Point] | None = None  # iris centres, image left first
    crown_line: tuple[Point, Point] | None = None  # estimated top of the head
    chin_line: tuple[Point, Point] | None = None

    def to_dict(self) -> dict:
        return {"target": self.target, "face_box": self.face_box, "eye_line": self.eye_line,
                "crown_line": self.crown_line, "chin_line": self.chin_line}


@dataclass(frozen=True)
class LiveCapture:
    """The photo automatic capture took: the chosen frame, and the full check of it."""

    frame: np.ndarray  # HxWx3 uint8 RGB, read-only
    index: int  # the chosen frame's index in the session (at most ``best_of`` seconds ago)
    t: float
    capture: Capture  # the chosen frame as a capture (from_pixels)
    report: CheckReport  # the full check of the master capture, compliant; convert ``report.analysis``


@dataclass(frozen=True)
class LiveResult:
    index: int
    t: float
    instructions: tuple[Instruction, ...]  # most important first: say the first
    overlay: Overlay
    captured: LiveCapture | None = None  # set on the frame where automatic capture fired
    compliant: bool = False  # every live requirement passes on this frame
    still: bool = False
    faces: int = 0
    measures: dict = field(default_factory=dict)  # smoothed live values by measure name

    @property
    def instruction(self) -> Instruction | None:
        return self.instructions[0] if self.instructions else None

    def to_dict(self) -> dict:
        return {"frame": self.index, "instructions": [i.to_dict() for i in self.instructions],
                "captured": self.captured is not None}


@dataclass
class _Candidate:
    t: float
    index: int
    score: float
    frame: np.ndarray


@dataclass
class LiveStats:
    frames: int = 0
    detection_runs: int = 0  # frames on which the face detector ran (exact; see tracker.py)
    reacquisitions: int = 0  # frames where a face was found after a frame without one
    full_checks: int = 0
    captures: int = 0


def _bad_frame(frame) -> np.ndarray:
    array = frame if isinstance(frame, np.ndarray) else None
    if array is None or array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        shape = getattr(frame, "shape", None)
        raise DecodeError(f"a frame must be an HxWx3 uint8 RGB numpy array, got "
                          f"{getattr(frame, 'dtype', type(frame).__name__)} {shape}", code="decode.bad_frame")
    return array


class LiveSession:
    """Live guidance and automatic capture for one camera.

    ``feed(frame, t)`` once per camera frame (HxWx3 uint8 RGB; ``t`` in seconds, default
    ``index / fps``) returns a ``LiveResult``. A frame of the wrong type or shape raises
    ``photocore.DecodeError`` (code ``decode.bad_frame``); anything a camera can deliver
    (black, frozen, tiny, flickering frames, nobody, two people) is an instruction instead.
    """

    def __init__(self, *, fps: float = 30.0, hold: float = 0.6, best_of: float = 1.0, max_faces: int = 2,
                 auto_capture: bool = True, mirrored: bool = False, profile: str = "capture"):
        self.fps, self.hold, self.best_of = float(fps), float(hold), float(best_of)
        self.auto_capture, self.mirrored, self.profile = auto_capture, mirrored, profile
        self._limits = I.live_limits(profile)
        self._exposure = I.exposure_limits(profile)
        self._margins = I.margin_limits(profile)
        self._tracker = FaceTracker(max_faces=max_faces)
        self.stats = LiveStats()
        self.capture: LiveCapture | None = None  # the last photo taken
        self._clear()

    # -- state ------------------------------------------------------------------------------
    def _clear(self) -> None:
        self._index = 0
        self._last_t: float | None = None
        self._size: tuple[int, int] | None = None
        self._last_face_t: float | None = None
        self._first_t: float | None = None
        self._prev_thumb: np.ndarray | None = None
        self._prev_sample: np.ndarray | None = None
        self._same_since: float | None = None
        self._jumps: deque[bool] = deque(maxlen=5)
        self._motion: deque[tuple[float, np.ndarray, float]] = deque()
        self._values: deque[tuple[float, dict]] = deque()
        self._candidates: deque[_Candidate] = deque()
        self._streak_start: float | None = None
        self._failed: tuple[float, Instruction] | None = None
        self._done = False

    def _forget_face(self) -> None:
        self._motion.clear()
        self._values.clear()
        self._candidates.clear()
        self._streak_start = None

    def reset(self) -> None:
        """Start again: new tracking, no history, automatic capture armed (stats are kept)."""
        self._tracker.reset()
        self.capture = None
        self._clear()

    def retake(self) -> None:
        """Arm automatic capture again after a photo, keeping the tracking."""
        self.capture = None
        self._done = False
        self._forget_face()

    def close(self) -> None:
        self._tracker.close()

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def detection_rate(self) -> float:
        return self.stats.detection_runs / max(1, self.stats.frames)

    # -- one frame --------------------------------------------------------------------------
    def feed(self, frame: np.ndarray, t: float | None = None) -> LiveResult:
        frame = np.ascontiguousarray(_bad_frame(frame))  # a flipped or cropped view is copied once
        index = self._index
        self._index += 1
        self.stats.frames += 1
        t = index / self.fps if t is None else float(t)
        if not math.isfinite(t):
            t = index / self.fps
        if self._last_t is not None and t <= self._last_t:
            t = self._last_t + 1e-6  # a clock that stands still or steps back: keep order
        self._last_t = t
        if self._first_t is None:
            self._first_t = t
        height, width = frame.shape[:2]
        target = self._target(width, height)
        if min(height, width) < MIN_SIDE:
            return self._result(index, t, [I.instruction("live.frame_too_small")], Overlay(target))
        if self._size != (width, height):
            if self._size is not None:
                self._tracker.reset()
                self._forget_face()
                self._prev_thumb = self._prev_sample = None
            self._size = (width, height)
        problem = self._camera_problem(frame, t)
        if problem:
            self._forget_face()
            return self._result(index, t, [I.instruction(problem)], Overlay(target))

        try:
            tracked = self._tracker.track(frame)
        except RuntimeError:  # the graph refused this frame: start tracking afresh
            self._tracker.reset()
            tracked = None
        self.stats.detection_runs = self._tracker.detection_runs
        self.stats.reacquisitions = self._tracker.reacquisitions
        if tracked is None or not tracked.faces:
            self._forget_face()
            said = [I.instruction("live.no_face")]
            since = self._last_face_t if self._last_face_t is not None else self._first_t
            if t - since >= NO_FACE_LONG:
                said.append(I.instruction("live.no_face_long"))
            return self._result(index, t, said, Overlay(target))
        self._last_face_t = t
        return self._judge(frame, index, t, tracked.faces, target)

    def _result(self, index, t, said, overlay, **kw) -> LiveResult:
        if self._done:
            said = [I.instruction("live.captured")]
        elif self._failed and t - self._failed[0] <= FAILED_SHOWN:
            said = list(said) + [self._failed[1]]
        return LiveResult(index, t, I.ranked(said), overlay, **kw)

    # -- the camera itself ------------------------------------------------------------------
    def _camera_problem(self, frame: np.ndarray, t: float) -> str | None:
        thumb = cv2.cvtColor(cv2.resize(frame, (64, 36), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        sample = frame[::8, ::8]
        prev_thumb, prev_sample = self._prev_thumb, self._prev_sample
        self._prev_thumb, self._prev_sample = thumb, np.array(sample)
        if thumb.mean() < DARK_MEAN and thumb.max() < DARK_MAX:
            self._same_since = None
            return "live.camera_dark"
        if prev_sample is not None and prev_sample.shape == sample.shape and np.array_equal(prev_sample, sample):
            if self._same_since is None:
                self._same_since = t
            if t - self._same_since >= FROZEN_AFTER:
                return "live.camera_frozen"
        else:
            self._same_since = None
        if prev_thumb is not None:
            self._jumps.append(float(cv2.absdiff(thumb, prev_thumb).mean()) > JUMP)
            if sum(self._jumps) >= 3:
                return "live.camera_unstable"
        return None

    # -- the face ---------------------------------------------------------------------------
    def _target(self, width: int, height: int) -> Box:
        """Where the head should be: about half the frame's height (more when the face must be
        larger to reach the profile's inter-eye distance), centred, room above and below."""
        ied = self._limits["live.move_closer"].limit * 1.15 if "live.move_closer" in self._limits else 0.0
        head = min(0.75 * height, max(0.5 * height, 2.9 * ied))  # crown to chin is about 2.9 IED
        top = (height - head * 1.2) / 2 + 0.02 * head
        w = 0.75 * head
        return ((width - w) / 2, top, (width + w) / 2, top + head)

    def _judge(self, frame, index, t, faces, target) -> LiveResult:
        height, width = frame.shape[:2]
        points = faces[0]
        analysis = Analysis(image=frame, scale=1.0, full_size=(width, height),
                            faces=[DetectedFace(_box(p), 1.0) for p in faces], landmarks=points,
                            small=frame, person_mask_small=_EMPTY_MASK)
        raw = {}
        for limit in self._limits.values():
            m = REGISTRY[limit.measure](analysis)
            raw[limit.measure] = m.value
        exposure = REGISTRY["exposure"](analysis)
        raw["exposure"] = exposure.value
        if exposure.value is not None:
            raw.update({f"exposure.{k}": v for k, v in exposure.details.items()})
        self._values.append((t, raw))
        while self._values and self._values[0][0] < t - SMOOTH:
            self._values.popleft()
        smooth = {k: _median([v[k] for _, v in self._values if v.get(k) is not None]) for k in raw}

        # geometry: position and distance
        ied = analysis.inter_eye
        T = max(analysis.eye_to_chin, 1e-6)
        crown_y = float(analysis.point(L.FOREHEAD_TOP)[1] - CROWN_ABOVE_FOREHEAD * T)
        chin_y = float(analysis.chin[1])
        xs = points[[L.RIGHT_CHEEK_EDGE, L.LEFT_CHEEK_EDGE], 0]
        x0, x1 = float(xs.min()), float(xs.max())
        need = self._margins
        placed = self._placement(analysis, crown_y, chin_y, x0, x1, T, width, height, need)

        said = list(placed)
        others = _other_faces(faces)
        if others:
            said.append(I.instruction("live.several_faces"))
        said += self._requirements(smooth)
        failing_now = self._requirements(raw)
        compliant = not said and not failing_now
        if not said:
            said = failing_now  # the recent frames pass but this one does not: say this one's
        still = self._still(t, points, ied)

        captured = None
        # A camera that repeats its picture shows nobody live: a repeat adds no candidate, and
        # nothing is captured once the picture has stood unchanged for STALE seconds.
        repeat = self._same_since is not None
        stale = repeat and t - self._same_since >= STALE
        if compliant and not self._done and still and not stale:
            if self._streak_start is None:
                self._streak_start = t
            if not repeat or not self._candidates:
                self._add_candidate(t, index, frame, raw)
            if self.auto_capture and t - self._streak_start >= self.hold:
                captured = self._try_capture(t)
                if captured is None:
                    self._streak_start = None
                    self._candidates.clear()
            else:
                said.append(I.instruction("live.hold_still_capturing"))
        else:
            self._streak_start = None
            self._candidates.clear()
            if compliant and not self._done:
                said.append(I.instruction("live.hold_still_capturing" if still else "live.keep_still"))

        r_iris, l_iris = analysis.right_iris, analysis.left_iris
        eyes = sorted([(float(r_iris[0]), float(r_iris[1])), (float(l_iris[0]), float(l_iris[1]))])
        overlay = Overlay(target=target, face_box=_box(points), eye_line=(eyes[0], eyes[1]),
                          crown_line=((x0, crown_y), (x1, crown_y)), chin_line=((x0, chin_y), (x1, chin_y)))
        return self._result(index, t, said, overlay, captured=captured, compliant=compliant, still=still,
                            faces=1 + others, measures={k: v for k, v in smooth.items() if v is not None})

    def _placement(self, analysis, crown_y, chin_y, x0, x1, T, width, height, need) -> list[Instruction]:
        top_room = crown_y - need["top"] * T
        bottom_room = height - (chin_y + need["bottom"] * T)
        left_room = x0 - need["left"] * T
        right_room = width - (x1 + need["right"] * T)
        if top_room + bottom_room < 0 or left_room + right_room < 0:
            return [I.instruction("live.move_back")]
        said = []
        offset = float(analysis.eye_mid[0]) - width / 2
        if abs(offset) > CENTRE_TOLERANCE * width or left_room < 0 or right_room < 0:
            # the face on the image's right is on the person's left: they move to their right
            side = "right" if (offset > 0) != self.mirrored else "left"
            said.append(I.instruction("live.centre_face", side))
        elif top_room < 0:
            said.append(I.instruction("live.centre_face", "down"))
        elif bottom_room < 0:
            said.append(I.instruction("live.centre_face", "up"))
        return said

    def _requirements(self, values: dict) -> list[Instruction]:
        said = []
        for code, limit in self._limits.items():
            value = values.get(limit.measure)
            if value is None:
                continue  # not measurable on this frame (the full check says "not assessed" too)
            if limit.kind == "min" and value < limit.limit:
                said.append(I.instruction(code))
            elif limit.kind == "max" and value > limit.limit:
                said.append(I.instruction(code))
            elif limit.kind == "abs_max" and abs(value) > limit.limit:
                if code == "live.chin":  # pitch > 0: the chin is raised
                    code = "live.chin_down" if value > 0 else "live.chin_up"
                said.append(I.instruction(code))
        mean = values.get("exposure")
        if mean is not None:
            e = self._exposure
            if (mean < e["low"] or values.get("exposure.dark_share", 0) > e["max_dark_share"]
                    or values.get("exposure.image_p99", 1) < e["min_image_p99"]):
                said.append(I.instruction("live.too_dark"))
            elif mean > e["high"] or values.get("exposure.bright_share", 0) > e["max_bright_share"]:
                said.append(I.instruction("live.too_bright"))
        return said

    def _still(self, t: float, points: np.ndarray, ied: float) -> bool:
        """Still when the key points moved less than ``STILL_MOTION`` x IED over the last
        ``STILL_WINDOW`` seconds, and the session has seen that much of this face."""
        key = points[_KEY_POINTS, :2].copy()
        self._motion.append((t, key, ied))
        while len(self._motion) > 1 and self._motion[1][0] <= t - STILL_WINDOW:
            self._motion.popleft()
        if t - self._motion[0][0] < 0.8 * STILL_WINDOW:
            return False
        moved = max(float(np.linalg.norm(k - key, axis=1).max()) for _, k, _ in self._motion)
        return moved <= STILL_MOTION * max(ied, 1.0)

    # -- automatic capture ------------------------------------------------------------------
    def _add_candidate(self, t: float, index: int, frame: np.ndarray, raw: dict) -> None:
        """Keep the frames that can still be the best of the last ``best_of`` seconds (a
        monotonic queue: a frame scored lower than a newer one can never be chosen)."""
        sharp = min(1.0, (raw.get("sharpness") or 0.0) / 400.0)
        eyes = min(1.0, (raw.get("eyes_open") or 0.0) / 0.3)
        turn = abs(raw.get("yaw") or 0.0) + abs(raw.get("pitch") or 0.0) / 2 + abs(raw.get("roll") or 0.0) / 2
        score = 0.5 * sharp + 0.25 * eyes + 0.25 * (1 - min(1.0, turn / 20.0))
        while self._candidates and self._candidates[-1].score <= score:
            self._candidates.pop()
        self._candidates.append(_Candidate(t, index, score, frame.copy()))
        while self._candidates and self._candidates[0].t < t - self.best_of:
            self._candidates.popleft()

    def _try_capture(self, t: float) -> LiveCapture | None:
        from ..check import check
        from ..decode import from_pixels

        best = self._candidates[0]
        best.frame.setflags(write=False)
        capture = from_pixels(best.frame)
        report = check(capture)
        self.stats.full_checks += 1
        if not report.compliant:
            failed = report.results[0].failed
            self._failed = (t, I.check_failed(failed[0]))
            return None
        self.stats.captures += 1
        self._failed = None
        self._done = True
        self._candidates.clear()
        self.capture = LiveCapture(best.frame, best.index, best.t, capture, report)
        return self.capture


def _other_faces(faces) -> int:
    """Faces besides the main one. A face whose centre lies inside the main face's box is the
    same person caught twice while the graph hands over from a stale track to a new detection
    (a fast move), not a second person."""
    x0, y0, x1, y1 = _box(faces[0])
    count = 0
    for points in faces[1:]:
        cx, cy = points[:, 0].mean(), points[:, 1].mean()
        count += not (x0 <= cx <= x1 and y0 <= cy <= y1)
    return count


def _box(points: np.ndarray) -> Box:
    return (float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max()))


def _median(values: list) -> float | None:
    return float(np.median(values)) if values else None
