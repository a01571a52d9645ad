"""background.cutout: a credential whose background photocore replaces judges whether the person
can be cut out of the capture cleanly, not the wall; one that keeps the wall still judges it.

Real plain-wall portraits are put in front of other walls with their own person mask as the
matte: crops of real busy scenes from tests/data (different colours from the person: a clean
cut), and a plain wall of the person's own hair colour (the matte cannot find the hair's edge).
"""

import cv2
import numpy as np
import pytest

import photocore
from photocore.analysis import analyse
from photocore.analysis import landmarks as L
from photocore.catalogue import load_catalogue
from photocore.credentials import judge_credentials
from photocore.judge import FAIL, NOT_ASSESSED, PASS, load_profile, messages
from photocore.measures import REGISTRY

from conftest import DATA, NEUTRAL, SMILING, TWO_FACES, load_rgb, report_for

REPLACED, KEPT = "police.resident-id-card", "police.passport"
WALL_CODES = {"background.uniform", "background.shadow", "background.colour"}
SCENES = {"curtains": lambda: load_rgb(TWO_FACES)[:200, 420:540],  # curtains and a panel behind two men
          "street": lambda: load_rgb(DATA / "interfaces_004.jpg")[:, :150]}  # a sunlit street, out of focus


def _rule():
    return next(r for r in load_profile("replaced-background").rules if r.code == "background.cutout")


def on_wall(analysis, wall: np.ndarray) -> np.ndarray:
    """``analysis.image`` with everything the segmenter does not call the person replaced by ``wall``."""
    alpha = analysis.person_mask[..., None]
    return np.clip(alpha * analysis.image + (1 - alpha) * wall, 0, 255).astype(np.uint8)


def scene_wall(analysis, name: str) -> np.ndarray:
    h, w = analysis.image.shape[:2]
    return cv2.resize(SCENES[name](), (w, h)).astype(np.float32)


def hair_wall(analysis) -> np.ndarray:
    """A plain wall the median colour of the person's hair (above the hairline, outside the face)."""
    sure = analysis.person_mask > 0.97
    face = np.zeros(analysis.image.shape[:2], np.uint8)
    cv2.fillPoly(face, [analysis.face_polygon], 1)
    rows = np.arange(analysis.image.shape[0])[:, None]
    top, fw = analysis.point(L.FOREHEAD_TOP)[1], analysis.face_width
    hair = sure & (face == 0) & (rows < top + 0.1 * fw) & (rows > top - 0.5 * fw)
    return np.broadcast_to(np.median(analysis.image[hair], axis=0), analysis.image.shape).astype(np.float32)


def background_verdicts(image_or_path) -> dict[str, dict]:
    """{credential: {code: verdict}} of the background codes, for one credential of each kind."""
    source = photocore.from_pixels(image_or_path) if isinstance(image_or_path, np.ndarray) else image_or_path
    report = photocore.check(source, [REPLACED, KEPT])
    return {r.credential: {v.code: v for v in r.verdicts if v.code.startswith("background.")} for r in report.results}


def test_each_kind_of_credential_judges_its_own_background_rules():
    verdicts = background_verdicts(NEUTRAL[0])
    assert set(verdicts[REPLACED]) == {"background.cutout"}
    assert set(verdicts[KEPT]) == WALL_CODES
    assert set(load_profile("replaced-background").replaces) == WALL_CODES
    # the master capture is judged as before: on the wall
    assert "background.cutout" not in {r.code for r in load_profile("capture").rules}


@pytest.mark.parametrize("path", NEUTRAL + SMILING, ids=lambda p: p.stem)
def test_plain_wall_portraits_can_be_cut_out(path):
    verdict = background_verdicts(path)[REPLACED]["background.cutout"]
    assert verdict.status == PASS and verdict.value <= _rule().limit


@pytest.mark.parametrize("scene", sorted(SCENES))
@pytest.mark.parametrize("path", NEUTRAL, ids=lambda p: p.stem)
def test_a_busy_wall_passes_where_the_background_is_replaced_and_fails_where_it_is_kept(path, scene):
    analysis = report_for(path).analysis
    verdicts = background_verdicts(on_wall(analysis, scene_wall(analysis, scene)))
    assert verdicts[REPLACED]["background.cutout"].status == PASS
    assert verdicts[KEPT]["background.uniform"].status == FAIL


@pytest.mark.parametrize("path", NEUTRAL + SMILING, ids=lambda p: p.stem)
def test_a_wall_the_colour_of_the_hair_fails_the_cutout(path):
    analysis = report_for(path).analysis
    verdict = background_verdicts(on_wall(analysis, hair_wall(analysis)))[REPLACED]["background.cutout"]
    assert verdict.status == FAIL
    assert verdict.value > _rule().limit + _rule().uncertainty  # the value shown lies beyond the limit shown
    assert verdict.limit == _rule().describe_limit()


def test_dark_hair_before_dark_foliage_fails_the_cutout():
    """The real portrait whose matte leaves the foliage in the hair (benchmarks/background_cutout.py)."""
    verdict = background_verdicts(DATA / "interfaces_021.jpg")[REPLACED]["background.cutout"]
    assert verdict.status == FAIL


def test_the_failure_tells_the_person_what_to_do():
    text = messages()["background.cutout"]
    assert "头发" in text["advice_zh"] and "背景" in text["advice_zh"]
    assert "hair" in text["advice_en"] and "wall" in text["advice_en"]
    analysis = report_for(NEUTRAL[0]).analysis
    verdict = background_verdicts(on_wall(analysis, hair_wall(analysis)))[REPLACED]["background.cutout"]
    assert (verdict.message_zh, verdict.message_en) == (text["advice_zh"], text["advice_en"])


def test_almost_no_wall_around_the_head_is_not_assessed():
    verdicts = background_verdicts(DATA / "misc_woman_portrait.jpg")  # hair fills the frame on both sides
    verdict = verdicts[REPLACED]["background.cutout"]
    assert verdict.status == NOT_ASSESSED and verdict.value is None
    assert "check by eye" in verdict.message_en


def test_no_face_is_not_assessed():
    blank = np.full((480, 640, 3), 200, np.uint8)
    m = REGISTRY["background_cutout"](analyse(photocore.from_pixels(blank)))
    assert not m.assessed


def test_every_credential_gets_the_background_rules_of_its_kind():
    """All 184 credentials from one capture's measurements: the replaced ones share one cutout verdict."""
    report = report_for(NEUTRAL[0])
    catalogue = load_catalogue()
    profiles = [catalogue.get(c) for c in catalogue.credentials]
    results = judge_credentials(report.measurements, report.analysis, profiles)
    for profile in profiles:
        codes = {v.code: v for v in results[profile.id].verdicts}
        if profile.background_replace:
            assert codes["background.cutout"].value == report.measurements["background_cutout"].value
            assert not WALL_CODES & set(codes)
        else:
            assert "background.cutout" not in codes and WALL_CODES <= set(codes)
