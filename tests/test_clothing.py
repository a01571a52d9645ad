"""Clothing against the background (issue 16 item 6), on real faces.

Every London capture wears a white T-shirt: on a white background its shoulders vanish (looked at
in the renders at 3x), on blue or red they stand out. The same faces with the T-shirt recoloured
through the person mask show that each credential is judged against its own colour.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

import photocore
from photocore.judge import FAIL, NOT_ASSESSED, PASS, Profile, load_profile
from photocore.measures.clothing import clothing

from conftest import NEUTRAL, SMILING, jpeg_bytes, load_rgb

ID_CARD = "police.resident-id-card"  # white, replaced
LAW = "justice.legal-profession-qualification"  # white, red or blue (#628BCE), replaced
PASSPORT = "police.passport"  # the capture's own wall is kept
BLUE = (98, 139, 206)  # #628BCE


def clothing_verdict(report, credential):
    result = next(r for r in report.results if r.credential == credential)
    return next(v for v in result.verdicts if v.code == "clothing.contrast")


def recoloured(path, rgb) -> bytes:
    """The capture with its T-shirt (light, unsaturated person pixels below the chin) dyed ``rgb``,
    its folds and shading kept."""
    image = load_rgb(path).copy()
    analysis = photocore.analyse(photocore.decode(path))
    h, w = image.shape[:2]
    person = cv2.resize(analysis.person_mask_small, (w, h)) > 0.5
    below = np.zeros((h, w), bool)
    below[int((analysis.chin[1] + 0.1 * analysis.eye_to_chin) * analysis.scale):] = True
    spread = image.max(axis=2).astype(int) - image.min(axis=2)
    top = person & below & (image.min(axis=2) > 150) & (spread < 30)
    shade = image[top].astype(np.float32).mean(axis=1, keepdims=True) / 255
    image[top] = np.clip(shade / shade.max() * np.array(rgb, np.float32), 0, 255).astype(np.uint8)
    return jpeg_bytes(image)


@pytest.mark.parametrize("face", [NEUTRAL[1], NEUTRAL[3], SMILING[2]], ids=lambda p: p.stem)
def test_white_t_shirt_vanishes_on_white_but_not_on_blue_or_red(face):
    white = photocore.check(face, [ID_CARD, LAW])
    for credential in (ID_CARD, LAW):
        v = clothing_verdict(white, credential)
        assert v.status == NOT_ASSESSED and v.value < 6, v  # advised: the clerk is told what to wear
        assert v.message_zh.startswith("请人工核对：请换深色上衣") and "white background" in v.message_en
        assert v.limit.endswith("from #FFFFFF")
    for colour in ("blue", "red"):
        v = clothing_verdict(photocore.check(face, [LAW], background=colour), LAW)
        assert v.status == PASS and v.value > 40, (colour, v)
    both = photocore.check(face, [ID_CARD, LAW], background="blue")
    assert clothing_verdict(both, ID_CARD).status == NOT_ASSESSED  # a run's blue leaves the white-only card white
    assert clothing_verdict(both, LAW).status == PASS


def test_a_blue_top_vanishes_on_blue_and_a_dark_one_nowhere():
    blue_top, dark_top = recoloured(NEUTRAL[1], BLUE), recoloured(NEUTRAL[1], (35, 40, 60))
    assert clothing_verdict(photocore.check(blue_top, [LAW], background="blue"), LAW).status == NOT_ASSESSED
    v = clothing_verdict(photocore.check(blue_top, [LAW]), LAW)
    assert v.status == PASS, v  # the same blue top on white
    for colour in ("white", "blue", "red"):
        v = clothing_verdict(photocore.check(dark_top, [LAW], background=colour), LAW)
        assert v.status == PASS and v.value > 15, (colour, v)
    assert clothing_verdict(photocore.check(dark_top, [ID_CARD]), ID_CARD).status == PASS


def test_kept_background_is_judged_against_the_captures_own_wall():
    """The passport keeps the capture's light-grey wall: a white T-shirt is lighter than it and
    shows; the same T-shirt dyed the wall's grey does not."""
    report = photocore.check(NEUTRAL[1], [PASSPORT])
    v = clothing_verdict(report, PASSPORT)
    assert v.status in (PASS, NOT_ASSESSED) and v.value >= 6 and "the capture's background" in v.limit, v
    wall = report.measurements["background_colour"]
    lab = np.uint8([[[wall.value * 255 / 100, wall.details["a"] + 128, wall.details["b"] + 128]]])
    grey = [int(c) for c in cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)[0, 0]]
    v = clothing_verdict(photocore.check(recoloured(NEUTRAL[1], grey), [PASSPORT]), PASSPORT)
    assert v.status == NOT_ASSESSED and v.value < 6, v


def test_enforced_the_rule_fails_with_what_to_wear(monkeypatch):
    """Without ``policy = "advise"`` (profiles/credential.toml) a shortfall fails the credential."""
    import photocore.credentials as credentials
    (rule,) = load_profile("credential").rules
    strict = Profile("credential", (replace(rule, policy=None),))
    monkeypatch.setattr(credentials, "load_profile", lambda name="capture": strict if name == "credential"
                        else load_profile(name))
    report = photocore.check(NEUTRAL[1], [ID_CARD, LAW], background={LAW: "red"})
    v = clothing_verdict(report, ID_CARD)
    assert v.status == FAIL and v.value < 6 and v.limit.startswith(">= 9")
    assert v.message_zh == "请换深色上衣：白色或浅色上衣在白色背景上会与背景融为一体，肩部轮廓消失"
    assert v.message_en == "Please wear darker clothes: a white or light top disappears against the white background"
    assert not next(r for r in report.results if r.credential == ID_CARD).compliant
    assert clothing_verdict(report, LAW).status == PASS  # on red
    blue = photocore.check(recoloured(NEUTRAL[1], BLUE), [LAW], background="blue")
    assert clothing_verdict(blue, LAW).message_en.startswith("Please wear a top that is not blue")


def test_not_assessed_when_the_capture_ends_above_the_shoulders():
    image = load_rgb(NEUTRAL[1])
    analysis = photocore.analyse(photocore.decode(NEUTRAL[1]))
    cut = int((analysis.chin[1] + 0.15 * analysis.eye_to_chin) * analysis.scale)
    report = photocore.check(jpeg_bytes(np.ascontiguousarray(image[:cut])), [ID_CARD])
    m = report.measurements["clothing"]
    assert not m.assessed and "shoulders" in m.reason
    v = clothing_verdict(report, ID_CARD)
    assert v.status == NOT_ASSESSED and v.value is None and "shoulders" in v.message_en


def test_measured_once_per_capture_whatever_the_credentials(monkeypatch):
    """Analyse once, judge many: the clothing is read once per capture, and every credential and
    colour is judged from that one measurement (its cost: benchmarks/compare_speed.py)."""
    from photocore.catalogue import load_catalogue
    from photocore.measures.base import REGISTRY
    analysis = photocore.analyse(photocore.decode(NEUTRAL[1]))
    calls = []
    monkeypatch.setitem(REGISTRY, "clothing", lambda a: calls.append(a) or clothing(a))
    report = photocore.check(analysis, list(load_catalogue().credentials))
    assert len(report.results) == 184 and len(calls) == 1
    codes = {v.code for r in report.results for v in r.verdicts}
    assert "clothing.contrast" in codes
