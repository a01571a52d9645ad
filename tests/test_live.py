"""Live guidance and automatic capture (photocore.live), fed clips made from real portraits.

The clips are built here from tests/data/faces (and the head-turned and eyes-closed portraits
of ../shared/faces when they are beside the checkout): a person who arrives off-centre, sits
too far, tilts the head, turns it, closes the eyes, then sits still facing the camera, at 30
frames a second in 1280x720 with a little sensor noise (a real camera never repeats a frame
exactly).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import photocore
from photocore.live import LiveSession, read_frames

from conftest import DATA, TWO_FACES, load_rgb

W, H = 1280, 720
pytestmark = pytest.mark.slow  # live guidance over frame sequences and videos

NEUTRAL = DATA / "london_neutral_005.jpg"
SHARED_FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
EYES_CLOSED = SHARED_FACES / "misc" / "angry.jpg"  # CC0, eyes shut
# public domain or CC0 (singnet/face-services); head turned (tagged yaw): the session says look_straight
TURNED = SHARED_FACES / "misc" / "woman_portrait.jpg"
TURNED_SCALE = 0.7  # her portrait is a tight crop: smaller, so "move back" does not come first


def place(image: np.ndarray, scale: float = 0.95, dx: float = 0, dy: float = 0, angle: float = 0.0) -> np.ndarray:
    """``image`` on a 1280x720 frame: its height ``scale`` x 720, centre moved by (dx, dy), turned
    by ``angle`` degrees; the portrait's own border extends to the frame's edges."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, H * scale / h)
    m[0, 2] += W / 2 - w / 2 + dx
    m[1, 2] += H / 2 - h / 2 + dy
    return cv2.warpAffine(image, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def noisy(frame: np.ndarray, rng) -> np.ndarray:
    return np.clip(frame.astype(np.int16) + rng.integers(-2, 3, frame.shape, dtype=np.int16), 0, 255).astype(np.uint8)


def story() -> list[tuple[str, np.ndarray]]:
    """(phase, frame): off-centre and moving in, too far, head tilted, head turned, eyes closed, still."""
    rng = np.random.default_rng(13)
    face = load_rgb(NEUTRAL)
    frames = [("off_centre", noisy(place(face, dx=-400 + 10 * i), rng)) for i in range(15)]
    frames += [("far", noisy(place(face, 0.5, dx=-40 + 2 * i), rng)) for i in range(12)]
    frames += [("tilted", noisy(place(face, angle=14 - 0.2 * i), rng)) for i in range(12)]
    if TURNED.exists():
        turned = load_rgb(TURNED)
        frames += [("turned", noisy(place(turned, TURNED_SCALE), rng)) for i in range(12)]
    if EYES_CLOSED.exists():
        closed = load_rgb(EYES_CLOSED)
        frames += [("eyes_closed", noisy(place(closed), rng)) for i in range(12)]
    frames += [("still", noisy(place(face), rng)) for i in range(50)]
    return frames


@pytest.fixture(scope="module")
def clip():
    return story()


@pytest.fixture(scope="module")
def replay(clip):
    session = LiveSession()
    results = [session.feed(frame) for _, frame in clip]
    return session, results


def first(results, clip, code, phase=None):
    for r, (p, _) in zip(results, clip, strict=True):
        if (phase is None or p == phase) and any(i.code == code for i in r.instructions):
            return r.index
    return None


def test_instructions_come_in_order_and_capture_waits_for_a_still_compliant_face(clip, replay):
    session, results = replay
    phases = [p for p, _ in clip]
    top = [r.instruction.code if r.instruction else None for r in results]
    # arriving off-centre on the image's left: move to their own left, before anything else
    assert top[0] == "live.centre_face" and results[0].instruction.direction == "left"
    assert all(t == "live.centre_face" for t, p in zip(top, phases, strict=True) if p == "off_centre")
    assert first(results, clip, "live.move_closer", "far") is not None
    far = [t for t, p in zip(top, phases, strict=True) if p == "far"]
    assert far[-1] == "live.move_closer"
    assert first(results, clip, "live.head_level", "tilted") is not None
    if "turned" in phases:
        turned = [t for t, p in zip(top, phases, strict=True) if p == "turned"][3:]
        assert turned and all(t == "live.look_straight" for t in turned), turned
    if "eyes_closed" in phases:
        closed = [r for r, p in zip(results, phases, strict=True) if p == "eyes_closed"][3:]
        assert all(any(i.code == "live.open_eyes" for i in r.instructions) for r in closed)
    captured = [r for r in results if r.captured is not None]
    assert len(captured) == 1, "one automatic capture, once"
    fired = captured[0]
    still_start = phases.index("still")
    assert phases[fired.index] == "still" and phases[fired.captured.index] == "still"
    assert fired.t - results[still_start].t >= session.hold  # only after holding still
    assert not any(r.compliant for r in results[:still_start])
    codes = ["live.centre_face", "live.move_closer", "live.head_level", "live.hold_still_capturing"]
    if "turned" in phases:
        codes.insert(-1, "live.look_straight")
    if "eyes_closed" in phases:
        codes.insert(-1, "live.open_eyes")
    order = [first(results, clip, c) for c in codes]
    assert order == sorted(order) and order[-1] < fired.index
    assert all(r.instruction.code == "live.captured" for r in results[fired.index:])
    # every instruction carries both languages
    assert all(i.message_zh and i.message_en for r in results for i in r.instructions)


def test_the_captured_frame_passes_the_full_check(replay):
    session, results = replay
    photo = session.capture
    assert photo is not None and photo.report.compliant
    again = photocore.check(photocore.from_pixels(photo.frame))
    assert again.compliant and again.faces == 1
    assert photo.frame.shape == (H, W, 3)


def test_overlay_geometry_is_in_frame_pixels(replay):
    _, results = replay
    r = results[-1]
    x0, y0, x1, y1 = r.overlay.face_box
    assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
    (lx, ly), (rx, ry) = r.overlay.eye_line
    assert lx < rx and y0 < ly < y1
    assert r.overlay.crown_line[0][1] < ly < r.overlay.chin_line[0][1]
    tx0, ty0, tx1, ty1 = r.overlay.target
    assert 0 <= tx0 < tx1 <= W and 0 <= ty0 < ty1 <= H
    assert abs((x0 + x1) / 2 - W / 2) < 0.1 * W


def test_detection_and_tracking_are_counted(replay):
    session, results = replay
    assert session.stats.frames == len(results)
    assert 1 <= session.stats.reacquisitions <= session.stats.detection_runs <= len(results)


def test_directions_follow_the_person_and_a_mirrored_preview():
    rng = np.random.default_rng(1)
    face = load_rgb(NEUTRAL)
    frames = [noisy(place(face, dx=380), rng) for _ in range(4)]  # on the image's right: their left
    with LiveSession() as session:
        said = [session.feed(f).instruction for f in frames]
    assert said[-1].code == "live.centre_face" and said[-1].direction == "right"
    with LiveSession(mirrored=True) as session:
        said = [session.feed(f).instruction for f in frames]
    assert said[-1].direction == "left"
    with LiveSession(mirrored=True) as session:  # a preview mirrored before the session (a view, not a copy)
        said = [session.feed(f[:, ::-1]).instruction for f in frames]
    assert said[-1].direction == "right"  # the same person, the same advice
    low = [noisy(place(face, 0.95, dy=150), rng) for _ in range(4)]  # chin near the bottom edge
    with LiveSession() as session:
        said = [session.feed(f).instruction for f in low]
    assert (said[-1].code, said[-1].direction) == ("live.centre_face", "up")


def test_two_faces_are_several_faces():
    rng = np.random.default_rng(2)
    two = load_rgb(TWO_FACES)
    with LiveSession() as session:
        results = [session.feed(noisy(place(two, 1.0), rng)) for _ in range(6)]
    assert any(i.code == "live.several_faces" for i in results[-1].instructions)
    assert results[-1].instruction.code == "live.several_faces"
    assert not any(r.captured for r in results)


def test_bad_camera_frames_get_a_message_never_an_exception():
    rng = np.random.default_rng(3)
    with LiveSession() as session:
        black = [session.feed(np.zeros((H, W, 3), np.uint8)) for _ in range(3)]
        assert all(r.instruction.code == "live.camera_dark" for r in black)
        tiny = session.feed(np.full((120, 160, 3), 128, np.uint8))
        assert tiny.instruction.code == "live.frame_too_small"
        frozen = noisy(place(load_rgb(NEUTRAL)), rng)
        said = [session.feed(frozen.copy()).instruction.code for _ in range(40)]
        assert said[-1] == "live.camera_frozen" and "live.camera_frozen" not in said[:25]
        flicker = [np.full((H, W, 3), 0 if i % 2 else 230, np.uint8) for i in range(8)]
        flicker = [noisy(f, rng) for f in flicker]
        assert session.feed(flicker[0]).instruction is not None
        said = [session.feed(f).instruction.code for f in flicker[1:]]
        assert "live.camera_unstable" in said
        nobody = noisy(np.full((H, W, 3), 200, np.uint8), rng)
        session.reset()
        assert session.feed(nobody, t=0.0).instruction.code == "live.no_face"
        later = session.feed(noisy(nobody, rng), t=6.0)
        assert [i.code for i in later.instructions] == ["live.no_face", "live.no_face_long"]
        # a wrong type or shape is a typed error with a stable code
        for bad in (np.zeros((H, W), np.uint8), np.zeros((H, W, 3), np.float32), np.zeros((H, W, 4), np.uint8),
                    [[1, 2, 3]], None):
            with pytest.raises(photocore.DecodeError) as caught:
                session.feed(bad)
            assert caught.value.code == "decode.bad_frame"


def test_a_new_session_or_reset_recovers_and_retake_takes_another(clip):
    still = [f for p, f in clip if p == "still"]
    with LiveSession() as session:
        for _ in range(5):
            session.feed(np.zeros((H, W, 3), np.uint8))
        session.reset()
        taken = [r for r in (session.feed(f) for f in still) if r.captured]
        assert len(taken) == 1
        session.retake()
        again = [r for r in (session.feed(f) for f in still) if r.captured]
        assert len(again) == 1 and session.stats.captures == 2


def test_a_refused_full_check_is_said_and_nothing_is_captured():
    """The live measures pass, but the background (which only the full check sees) does not."""
    rng = np.random.default_rng(4)
    face = place(load_rgb(NEUTRAL))
    stripes = ((np.arange(W) // 12) % 2 * 200 + 30).astype(np.uint8)
    busy = np.broadcast_to(stripes[None, :, None], (H, W, 3)).copy()
    portrait_h = round(0.95 * H)
    x0 = (W - portrait_h) // 2
    busy[:, x0:x0 + portrait_h] = face[:, x0:x0 + portrait_h]
    with LiveSession() as session:
        results = [session.feed(noisy(busy, rng)) for _ in range(45)]
    assert not any(r.captured for r in results) and session.capture is None
    refusals = [i for r in results for i in r.instructions if i.code == "live.check_failed"]
    assert refusals and refusals[0].requirement.startswith(("background.", "frame.")), refusals[0]
    assert session.stats.full_checks >= 1


# -- the command line --------------------------------------------------------------------------

def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "photocore.cli", "live", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def short_clip(clip):
    keep = [f for p, f in clip if p == "off_centre"][::2] + [f for p, f in clip if p == "still"][:40]
    return keep


def test_cli_on_a_folder_of_frames(tmp_path, short_clip):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(short_clip):
        cv2.imwrite(str(folder / f"frame_{i:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_PNG_COMPRESSION, 1])
    out = tmp_path / "out"
    done = run_cli(folder, "--json", "--out", out)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["frame"] for line in lines] == list(range(len(short_clip)))
    assert all(set(line) == {"frame", "instructions", "captured"} for line in lines)
    assert lines[0]["instructions"][0]["code"] == "live.centre_face"
    assert set(lines[0]["instructions"][0]) >= {"code", "message_zh", "message_en"}
    assert sum(line["captured"] for line in lines) == 1
    photo = out / "capture.jpg"
    data = photo.read_bytes()
    assert data[:2] == b"\xff\xd8" and b"Exif" not in data[:4096]
    assert photocore.check(str(photo)).compliant


def test_cli_on_a_video_file_and_its_exit_codes(tmp_path, short_clip):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (W, H))
    assert writer.isOpened()
    for frame in short_clip:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    assert sum(1 for _ in read_frames(video)) == len(short_clip)
    done = run_cli(video, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "live.centre_face" in done.stdout and (tmp_path / "out" / "capture.jpg").is_file()

    far = tmp_path / "far.avi"
    writer = cv2.VideoWriter(str(far), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (W, H))
    rng = np.random.default_rng(5)
    face = load_rgb(NEUTRAL)
    for _ in range(20):
        writer.write(cv2.cvtColor(noisy(place(face, 0.45), rng), cv2.COLOR_RGB2BGR))
    writer.release()
    done = run_cli(far, "--json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["instructions"][0]["code"] == "live.move_closer"

    assert run_cli(tmp_path / "missing.mp4").returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_cli(empty)
    assert done.returncode == 2 and "live.no_frames" in done.stderr
