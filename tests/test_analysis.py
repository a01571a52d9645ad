"""One-pass analysis on real faces: landmarks, geometry, orientation, threads."""

import io
import threading

import numpy as np
import pytest
from PIL import Image

import photocore
from photocore.analysis import analyse

from conftest import NEUTRAL, TWO_FACES, load_rgb


def test_neutral_face_geometry():
    a = analyse(photocore.decode(NEUTRAL[0]))
    assert len(a.faces) == 1 and a.faces[0].score > 0.5
    assert a.landmarks.shape == (478, 3)
    yaw, pitch, roll = a.pose
    assert abs(yaw) < 8 and abs(roll) < 5
    # subject's right eye is on the image's left
    assert a.right_iris[0] < a.left_iris[0]
    assert abs(a.right_iris[1] - a.left_iris[1]) < 0.1 * a.inter_eye
    (_, crown_y), inside = a.crown
    assert inside and crown_y < a.point(10)[1] < a.eye_mid[1] < a.chin[1]
    assert 1.8 * a.inter_eye < a.face_width < 3.2 * a.inter_eye
    assert min(a.eye_openness) > 0.17 and a.mouth_openness < 0.05
    assert a.person_mask.shape == a.image.shape[:2]


def test_two_faces_found():
    a = analyse(photocore.decode(TWO_FACES))
    assert len(a.faces) == 2


def test_exif_rotated_jpeg_gives_upright_landmarks():
    upright = analyse(photocore.decode(NEUTRAL[1]))
    # Store the pixels turned on their side, with EXIF orientation 6 saying "turn back".
    rotated = Image.fromarray(load_rgb(NEUTRAL[1])).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    rotated.save(buffer, "JPEG", quality=95, exif=exif)
    a = analyse(photocore.decode(buffer.getvalue()))
    assert a.image.shape == upright.image.shape
    assert abs(a.pose[2]) < 5  # roll: upright, not 90 degrees
    assert np.linalg.norm(a.right_iris - upright.right_iris) < 0.05 * upright.inter_eye
    assert np.linalg.norm(a.left_iris - upright.left_iris) < 0.05 * upright.inter_eye


@pytest.mark.slow
def test_threads_share_nothing_mutable():
    capture = photocore.decode(NEUTRAL[2])
    expected = analyse(capture).landmarks
    results, errors = [], []

    def work():
        try:
            results.append(analyse(capture).landmarks)
        except Exception as exc:  # noqa: BLE001 (any error in a thread is collected, asserted on below)  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.allclose(r, expected, atol=1e-3) for r in results)


def test_live_frames_from_pixels_give_the_same_analysis():
    """A kiosk hands over camera frames as arrays: same landmarks as the decoded file."""
    import pytest
    rgb = load_rgb(NEUTRAL[0])
    from_file = analyse(photocore.decode(NEUTRAL[0]))
    from_frame = analyse(photocore.from_pixels(rgb))
    assert np.allclose(from_frame.landmarks, from_file.landmarks, atol=1.0)
    big = np.ascontiguousarray(np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1))  # 1600 x 1600
    capture = photocore.from_pixels(big)
    assert max(capture.analysis.shape[:2]) == 1280 and capture.pixels().shape == big.shape
    report = photocore.check(capture)
    assert report.faces == 1 and {v.code: v.status for v in report.results[0].verdicts}["pose.roll"] == "pass"
    with pytest.raises(photocore.DecodeError) as info:
        photocore.from_pixels(np.zeros((100, 100), np.float32))
    assert info.value.code == "decode.bad_frame"
