"""Real outcomes of the master-capture checks on real faces and synthetic defects."""

import cv2
import numpy as np
import pytest

import photocore
from photocore.judge import load_profile

from conftest import NEUTRAL, SMILING, SUNGLASSES, TWO_FACES, jpeg_bytes, load_rgb, report_for, statuses

FACE_CODES = ["pose.yaw", "pose.roll", "eyes.open", "eyes.visible", "mouth.closed", "image.sharpness"]
REQUIRED_CODES = {"face.count", "face.size", "pose.yaw", "pose.pitch", "pose.roll", "eyes.open", "eyes.visible",
                  "mouth.closed", "expression.neutral", "glasses.present", "glasses.tinted", "glasses.glare",
                  "head.covering", "face.occlusion", "hair.over_eyes", "image.sharpness", "image.exposure",
                  "image.colour", "image.compression", "lighting.uniform", "background.uniform", "background.shadow",
                  "background.colour", "frame.margins"}


def test_profile_covers_every_required_code_with_a_source():
    rules = load_profile("capture").rules
    assert {r.code for r in rules} == REQUIRED_CODES
    assert all(r.source for r in rules)


@pytest.mark.parametrize("path", NEUTRAL, ids=lambda p: p.stem)
def test_neutral_faces_pass_pose_eyes_mouth_sharpness(path):
    st = statuses(report_for(path))
    assert {code: st[code] for code in FACE_CODES} == {code: "pass" for code in FACE_CODES}
    assert st["face.count"] == "pass" and st["expression.neutral"] != "fail"


@pytest.mark.parametrize("path", SMILING, ids=lambda p: p.stem)
def test_smiles_fail_expression_or_mouth(path):
    st = statuses(report_for(path))
    assert "fail" in (st["expression.neutral"], st["mouth.closed"])


@pytest.mark.parametrize("path", SUNGLASSES, ids=lambda p: p.stem)
def test_sunglasses_fail_eyes_visible_or_tinted(path):
    st = statuses(report_for(path))
    assert "fail" in (st["eyes.visible"], st["glasses.tinted"])


def test_two_faces_fail_face_count():
    report = report_for(TWO_FACES)
    verdict = next(v for v in report.results[0].verdicts if v.code == "face.count")
    assert verdict.status == "fail" and verdict.value == 2
    assert verdict.message_zh and verdict.message_en


def _check_array(array):
    return photocore.check(jpeg_bytes(array))


def _by_code(report, code):
    return next(v for v in report.results[0].verdicts if v.code == code)


def test_roll_of_15_degrees_fails():
    image = load_rgb(NEUTRAL[0])
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0)
    rotated = cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    verdict = _by_code(_check_array(rotated), "pose.roll")
    assert verdict.status == "fail" and 12 < abs(verdict.value) < 18


def test_blur_fails_sharpness():
    image = load_rgb(NEUTRAL[0])
    sharp = _by_code(report_for(NEUTRAL[0]), "image.sharpness")
    blurred = _by_code(_check_array(cv2.GaussianBlur(image, (0, 0), 3)), "image.sharpness")
    assert sharp.status == "pass" and blurred.status == "fail"
    assert blurred.value < sharp.value / 10


def test_dark_and_blown_out_copies_fail_exposure():
    image = load_rgb(NEUTRAL[0]).astype(np.float32)
    assert _by_code(report_for(NEUTRAL[0]), "image.exposure").status == "pass"
    dark = np.clip(image * 0.2, 0, 255).astype(np.uint8)
    bright = np.clip(image * 2.5 + 40, 0, 255).astype(np.uint8)
    assert _by_code(_check_array(dark), "image.exposure").status == "fail"
    assert _by_code(_check_array(bright), "image.exposure").status == "fail"


def test_greyscale_copy_fails_colour():
    grey = cv2.cvtColor(load_rgb(NEUTRAL[0]), cv2.COLOR_RGB2GRAY)
    report = photocore.check(jpeg_bytes(np.dstack([grey] * 3)))
    assert _by_code(report, "image.colour").status == "fail"


def test_what_cannot_be_judged_is_not_assessed_never_a_silent_pass(neutral_report):
    for code in ("head.covering", "face.occlusion"):
        verdict = _by_code(neutral_report, code)
        assert verdict.status == "not_assessed" and verdict.value is None
        assert "check by eye" in verdict.message_en


def test_no_face_fails_face_count_and_leaves_face_rules_not_assessed():
    blank = np.full((480, 640, 3), 200, np.uint8)
    report = _check_array(blank)
    assert report.faces == 0 and not report.compliant
    assert _by_code(report, "face.count").status == "fail"
    assert _by_code(report, "pose.yaw").status == "not_assessed"


def test_unknown_credential_is_a_typed_error():
    with pytest.raises(photocore.ConfigError) as info:
        photocore.check(NEUTRAL[0], credentials=["police.no-such-card"])
    assert info.value.code == "config.unknown_credential"
