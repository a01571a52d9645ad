"""The background behind the person: uniformity, shadows and colour.

The background is what the person mask leaves out, eroded away from the person's outline so
that hair and shoulders do not count. Everything is measured on ``Analysis.small`` (long side
384 px, the image the segmenter saw) so that values do not depend on the capture's resolution.
- ``background_uniformity``: mean Sobel gradient magnitude of the luminance (OFIQ 0x42), beyond
  the reach of loose hair: the segmenter leaves flyaway strands and thin ponytails out of the
  person, and in front of a plain wall they are the only edges there are.
- ``background_shadow``: how much darker the background is right beside the head than
  further out, as a share (0.2 = 20 % darker), which is where a shadow of the head falls.
- ``background_colour``: CIELAB lightness L* (0-100) and chroma of the background.

These judge the wall itself: for the master capture and for credentials that keep the capture's
background. A credential whose background is replaced judges instead whether the person can be
cut out of it cleanly (``cutout.py``, ``profiles/replaced-background.toml``).
"""


import cv2
import numpy as np

from ..analysis import Analysis, linear_luminance
from .base import NotAssessed, Outcome, Reading, histogram_median, measure

MIN_BACKGROUND_SHARE = 0.03
# How far loose hair strays beyond the person mask, in face widths: on the London studio
# portraits the largest plain-wall gradient stops falling once this band is left out.
HAIR_REACH = 0.2


def _background(analysis):
    """(rgb, luminance, background mask, person mask, factor) at the small size: the three
    measures share it (``Analysis.shared``)."""
    rgb = analysis.small
    person = analysis.person_mask_small > 0.2
    # bool and 0/1 uint8 arrays are the same bytes: views instead of copies
    background = cv2.erode((~person).view(np.uint8), np.ones((9, 9), np.uint8)).view(bool)
    return rgb, linear_luminance(rgb), background, person, analysis.small_scale


def _histogram(lum, mask) -> np.ndarray:
    """Cumulative counts of the 256 levels of ``lum`` where ``mask`` is set."""
    return np.cumsum(cv2.calcHist([lum], [0], mask.view(np.uint8), [256], [0, 256]).ravel().astype(np.int64))


def _too_little(background) -> NotAssessed | None:
    if background.mean() < MIN_BACKGROUND_SHARE:
        return NotAssessed("almost no background is visible around the person")
    return None


def _beyond_hair(analysis, background, person, factor):
    """``background`` without the band around the person that loose hair reaches."""
    if not analysis.has_face:
        return background
    distance = cv2.distanceTransform((~person).view(np.uint8), cv2.DIST_L2, 3)
    return background & (distance > HAIR_REACH * analysis.face_width * factor)


@measure
def background_uniformity(analysis: Analysis) -> Outcome:
    _, lum, background, person, factor = analysis.shared(_background)
    background = _beyond_hair(analysis, background, person, factor)
    missing = _too_little(background)
    if missing:
        return missing
    # Sobel of whole grey levels is exact in float32 from uint8 too; magnitude written over gx.
    gx, gy = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy, gx)
    return float(magnitude[background].mean())


@measure
def background_shadow(analysis: Analysis) -> Outcome:
    _, lum, background, person, factor = analysis.shared(_background)
    missing = _too_little(background)
    if missing:
        return missing
    if not analysis.has_face:
        return NotAssessed("no face, so no head to look beside")
    reach = max(3, int(0.6 * analysis.face_width * factor))
    near_person = cv2.dilate(person.view(np.uint8), np.ones((reach, reach), np.uint8)).view(bool)
    near = background & near_person
    # Only beside and above the head, not beside the shoulders.
    chin_y = int(analysis.chin[1] * factor)
    near[chin_y:, :] = False
    far = background & ~near_person
    far[chin_y:, :] = False
    near_counts, far_counts = _histogram(lum, near), _histogram(lum, far)
    if near_counts[-1] < 20 or far_counts[-1] < 20:
        return NotAssessed("too little background beside the head to compare")
    near_level, far_level = histogram_median(near_counts), histogram_median(far_counts)
    return Reading(max(0.0, (far_level - near_level) / max(far_level, 1.0)),
                   details={"near": near_level, "far": far_level})


@measure
def background_colour(analysis: Analysis) -> Outcome:
    rgb, _, background, _, _ = analysis.shared(_background)
    missing = _too_little(background)
    if missing:
        return missing
    mean = cv2.mean(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB), mask=background.view(np.uint8))
    lightness = mean[0] * 100 / 255
    a, b = mean[1] - 128, mean[2] - 128
    chroma = float(np.hypot(a, b))
    return Reading(lightness, details={"a": round(a, 1), "b": round(b, 1), "chroma": round(chroma, 1)})
