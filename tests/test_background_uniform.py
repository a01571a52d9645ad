"""background.uniform tells loose hair in front of a plain wall from a busy background.

Flyaway strands are drawn on real plain-wall portraits as thin dark curves leaving the head
outline (up to 0.15 face widths long); clutter is a crop of a real busy scene pasted over the
wall away from the person.
"""

import cv2
import numpy as np
import pytest

import photocore
from photocore.measures.background import HAIR_REACH

from conftest import DATA, NEUTRAL, SMILING, TWO_FACES, load_rgb, report_for, statuses


def _outward(analysis):
    """Points on the person's outline above the chin, analysis pixels, and unit vectors away from the face."""
    mask = (analysis.person_mask > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outline = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float64)
    outline = outline[outline[:, 1] < analysis.chin[1]]
    away = outline - analysis.eye_mid
    return outline, away / np.linalg.norm(away, axis=1, keepdims=True)


def flyaway_hair(analysis, strands: int = 60, seed: int = 0) -> np.ndarray:
    """``analysis.image`` with thin dark strands curling out of the hair into the background."""
    rng = np.random.default_rng(seed)
    outline, away = _outward(analysis)
    image = analysis.image.copy()
    for i in rng.choice(len(outline), strands, replace=False):
        length = rng.uniform(0.05, 0.15) * analysis.face_width
        bend = rng.uniform(-1, 1) * np.array([-away[i][1], away[i][0]])  # curl sideways
        t = np.linspace(0, 1, 12)[:, None]
        points = outline[i] + length * (t * away[i] + 0.3 * t * t * bend)
        cv2.polylines(image, [points.astype(np.int32)], False, (45, 35, 30), 1, cv2.LINE_AA)
    return image


def clutter(analysis, scene: np.ndarray) -> np.ndarray:
    """``analysis.image`` with ``scene`` over the wall, beyond twice the hair's reach from the person."""
    mask = (analysis.person_mask <= 0.5).astype(np.uint8)
    far = cv2.distanceTransform(mask, cv2.DIST_L2, 3) > 2 * HAIR_REACH * analysis.face_width
    h, w = analysis.image.shape[:2]
    image = analysis.image.copy()
    image[far] = cv2.resize(scene, (w, h))[far]
    return image


def _uniformity(image):
    report = photocore.check(photocore.from_pixels(image))
    return report.measurements["background_uniformity"].value, statuses(report)["background.uniform"]


@pytest.mark.parametrize("path", NEUTRAL + SMILING, ids=lambda p: p.stem)
def test_loose_hair_on_a_plain_wall_is_not_a_busy_background(path):
    analysis = report_for(path).analysis
    plain, status = _uniformity(analysis.image)
    hairy, hairy_status = _uniformity(flyaway_hair(analysis))
    assert (status, hairy_status) == ("pass", "pass")
    assert hairy < plain + 1.0  # the strands hardly count


@pytest.mark.parametrize("path", NEUTRAL, ids=lambda p: p.stem)
def test_clutter_behind_the_person_is_a_busy_background(path):
    analysis = report_for(path).analysis
    scene = load_rgb(TWO_FACES)[:200, 420:540]  # curtains and a wall panel behind the two men
    value, status = _uniformity(clutter(analysis, scene))
    assert status == "fail" and value > 8


def test_a_real_busy_background_fails():
    assert statuses(report_for(TWO_FACES))["background.uniform"] == "fail"
    assert statuses(report_for(DATA / "interfaces_004.jpg"))["background.uniform"] == "fail"
