"""Eyes behind glasses: a real eye must be seen behind the lens, glare only on lenses.

The set has two real pairs of sunglasses, so lenses are also painted on real London faces
(``paint_lenses``; benchmarks/accuracy.py --lenses runs the same painting on all 51): an
ellipse around each eye with a dark frame and a bridge, whose inside is
- clear: 95 % of the eye and a 4 % reflection of a scene (an uncoated lens's front surface),
- dark: 15 % of the eye (a category 3 sunglass lens lets 8-18 % through) and an 8 % reflection,
- mirror: 8 % of the eye and 92 % of a brightened scene (a mirror coating).
``hat_brim`` darkens everything above the cheekbones to 40 %, with a soft edge.
"""

import cv2
import numpy as np
import pytest

import photocore
from photocore.analysis import landmarks as L
from photocore.judge import load_profile
from photocore.measures import eye_region

from conftest import DATA, NEUTRAL, SUNGLASSES, load_rgb, report_for, statuses

LENS = {"clear": (0.95, 0.04), "dark": (0.15, 0.08), "mirror": (0.08, 0.92)}  # (eye, scene) weights


def paint_lenses(analysis, kind: str, scene: np.ndarray) -> np.ndarray:
    """``analysis.image`` with spectacles of ``kind`` over both eyes, reflecting ``scene``."""
    image = analysis.image.astype(np.float32)
    ied = analysis.inter_eye
    lenses = np.zeros(image.shape[:2], np.uint8)
    frame = np.zeros(image.shape[:2], np.uint8)
    thickness = max(2, int(0.035 * ied))
    axes = (int(0.42 * ied), int(0.3 * ied))
    centres = []
    for contour in (L.RIGHT_EYE_CONTOUR, L.LEFT_EYE_CONTOUR):
        centre = analysis.landmarks[contour, :2].mean(axis=0)
        centre += (np.sign(centre[0] - analysis.eye_mid[0]) * 0.05 * ied, -0.03 * ied)  # towards the temple
        centres.append(centre)
        cv2.ellipse(lenses, tuple(int(v) for v in centre), axes, 0, 0, 360, 255, -1)
        cv2.ellipse(frame, tuple(int(v) for v in centre), axes, 0, 0, 360, 255, thickness)
    (x0, y0), (x1, y1) = sorted(centres, key=lambda c: c[0])
    cv2.line(frame, (int(x0 + axes[0]), int(y0 - 0.1 * ied)), (int(x1 - axes[0]), int(y1 - 0.1 * ied)), 255, thickness)
    x, y, w, h = cv2.boundingRect(lenses)
    reflection = np.zeros_like(image)
    reflection[y:y + h, x:x + w] = cv2.resize(scene, (w, h)).astype(np.float32)
    if kind == "mirror":
        reflection = np.minimum(reflection * 1.2, 255)
    eye, mirrored = LENS[kind]
    inside = (cv2.GaussianBlur(lenses, (3, 3), 0) / 255.0)[..., None]
    out = image * (1 - inside) + (eye * image + mirrored * reflection) * inside
    out[frame > 0] = (35, 30, 30)
    return np.clip(out, 0, 255).astype(np.uint8)


def hat_brim(analysis, image: np.ndarray) -> np.ndarray:
    """``image`` in the shadow of a hat brim: 40 % light above the cheekbones, a soft edge."""
    edge = analysis.eye_mid[1] + 0.35 * analysis.inter_eye
    rows = np.arange(image.shape[0], dtype=np.float32)
    light = 0.4 + 0.6 / (1 + np.exp(-(rows - edge) / (0.06 * analysis.inter_eye)))
    return np.clip(image * light[:, None, None], 0, 255).astype(np.uint8)


def _scenes():
    """Background crops of test images: curtains, a street, leaves."""
    people, street = load_rgb(DATA / "misc_two_people.jpg"), load_rgb(DATA / "interfaces_004.jpg")
    return [people[:200, 420:540], street[:400, :160], load_rgb(DATA / "interfaces_030.jpg")[:300, :200]]


def _check(image):
    return photocore.check(photocore.from_pixels(image))


@pytest.fixture(scope="module")
def painted():
    """kind -> reports for each neutral face wearing that kind of lens."""
    scenes = _scenes()
    out = {}
    for kind in ("clear", "dark", "mirror", "brim"):
        reports = []
        for i, path in enumerate(NEUTRAL):
            analysis = report_for(path).analysis
            lens = "clear" if kind == "brim" else kind
            image = paint_lenses(analysis, lens, scenes[i % len(scenes)])
            reports.append(_check(hat_brim(analysis, image) if kind == "brim" else image))
        out[kind] = reports
    return out


def test_frame_seen_is_the_glasses_present_limit():
    rule = next(r for r in load_profile("capture").rules if r.code == "glasses.present")
    assert rule.measure == "glasses_frame" and rule.limit == eye_region.FRAME_SEEN


@pytest.mark.parametrize("path", NEUTRAL, ids=lambda p: p.stem)
def test_bare_eyes_are_visible_and_untinted(path):
    st = statuses(report_for(path))
    assert (st["eyes.visible"], st["glasses.tinted"], st["glasses.glare"]) == ("pass", "pass", "pass")


@pytest.mark.slow
def test_clear_lenses_keep_the_eyes_visible(painted):
    for report in painted["clear"]:
        st = statuses(report)
        assert report.measurements["glasses_frame"].value > eye_region.FRAME_SEEN  # the glasses are seen
        assert (st["eyes.visible"], st["glasses.tinted"]) == ("pass", "pass")


@pytest.mark.slow
def test_clear_lenses_under_a_hat_brim_are_not_tinted(painted):
    for report in painted["brim"]:
        st = statuses(report)
        assert (st["eyes.visible"], st["glasses.tinted"]) == ("pass", "pass")


@pytest.mark.slow
def test_mirrored_lenses_hide_the_eyes(painted):
    for report in painted["mirror"]:
        assert statuses(report)["eyes.visible"] == "fail"


@pytest.mark.slow
def test_dark_lenses_are_tinted_and_hide_the_eyes(painted):
    for clear, dark in zip(painted["clear"], painted["dark"], strict=True):
        st = statuses(dark)
        assert (st["eyes.visible"], st["glasses.tinted"]) == ("fail", "fail")
        assert dark.measurements["eye_visibility"].value < clear.measurements["eye_visibility"].value / 3


@pytest.mark.parametrize("path", SUNGLASSES, ids=lambda p: p.stem)
def test_real_sunglasses_hide_the_eyes(path):
    assert statuses(report_for(path))["eyes.visible"] == "fail"


def _highlight(analysis, image):
    """A saturated highlight below the outer corner of the right eye, inside the lens area."""
    out = image.copy()
    centre = analysis.point(L.RIGHT_EYE_OUTER) + (0, 0.1 * analysis.inter_eye)
    cv2.circle(out, tuple(int(v) for v in centre), max(3, int(0.08 * analysis.inter_eye)), (255, 255, 255), -1)
    return out


def test_a_skin_highlight_is_no_lens_glare():
    analysis = report_for(NEUTRAL[0]).analysis
    report = _check(_highlight(analysis, analysis.image))
    assert report.measurements["glasses_frame"].value <= eye_region.FRAME_SEEN
    assert report.measurements["lens_glare"].value == 0.0 and statuses(report)["glasses.glare"] == "pass"


def test_the_same_highlight_on_a_lens_is_glare():
    analysis = report_for(NEUTRAL[0]).analysis
    report = _check(_highlight(analysis, paint_lenses(analysis, "clear", _scenes()[0])))
    assert report.measurements["glasses_frame"].value > eye_region.FRAME_SEEN
    assert statuses(report)["glasses.glare"] == "fail"
