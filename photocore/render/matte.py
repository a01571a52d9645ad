"""The matte: how much of each pixel of the capture is background, made once per capture.

The segmenter's person mask is coarse (a 384 px image) and soft; ``background_share`` refines
it along the capture's own edges (a guided filter), so edges follow hair rather than the mask's
blocks, and ``fill_hair_gaps`` reads the background showing through loose hair, which the
segmenter counts as person. The share is colour-independent: one serves every background colour.
"""

from __future__ import annotations

import cv2
import numpy as np


def background_share(photo: np.ndarray, alpha: np.ndarray, radius: float) -> np.ndarray:
    """How much of each pixel is background (0..255), from the segmenter's ``alpha`` (person,
    on a grid an integer factor coarser than ``photo``) refined along the photo's own edges.

    The mask is coarse, so it is refined with a guided filter on the photo (edges follow hair,
    not the mask's blocks), of ``radius`` photo pixels; the share is colour-independent, so one
    serves every background colour (see ``replace_background``).
    """
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    guide = cv2.resize(grey, (alpha.shape[1], alpha.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    a, b = guided_filter(guide, alpha.astype(np.float32), max(1, round(radius * alpha.shape[1] / w)), 1e-3)
    # background share 1 - clip((q - 0.15) / 0.7, 0, 1) with q = a * grey / 255 + b: linear in
    # (a, b) up to the clip, so it is folded into them before they are brought to full size
    a = cv2.resize(a * (-1 / 0.7), (w, h), interpolation=cv2.INTER_LINEAR)
    b = cv2.resize((0.85 - b) * (255 / 0.7), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.add(cv2.multiply(a, grey, dtype=cv2.CV_32F), b, dtype=cv2.CV_8U)  # rounds, clips to 0..255


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """He and Sun's guided filter (grey guide): the coefficients (a, b) of ``src`` smoothed
    along ``guide``'s edges, q = a * guide + b; ``radius`` is the box's half width.

    Called with guide and src on a coarse grid: a and b are smooth, so the caller brings them
    to full size and applies them to the full-size guide (the "fast" guided filter), which is
    indistinguishable for a matte and many times cheaper. Written out (a
    few box filters) because cv2.ximgproc is only in the contrib build, and which of the two
    OpenCV wheels provides cv2 is not something to rely on.
    """
    box = (2 * radius + 1,) * 2

    def mean(x):
        return cv2.boxFilter(x, cv2.CV_32F, box)

    mean_g, mean_p = mean(guide), mean(src)
    a = (mean(guide * src) - mean_g * mean_p) / (mean(guide * guide) - mean_g * mean_g + eps)
    b = mean_p - a * mean_g
    return mean(a), mean(b)


# Where the segmenter is unsure: its person probability between these (ramps of RAMP).
UNSURE = (0.05, 0.97)
RAMP = 0.1
NOISE = 12.0  # colour distance (0..255 RGB) within which a pixel is the wall itself


def wall_colour(rgb: np.ndarray, person: np.ndarray) -> np.ndarray:
    """The wall's colour near each pixel of ``rgb`` (the segmenter's image; ``person`` its
    mask): sure-background pixels averaged with a wide Gaussian (normalised convolution, on a
    grid an octave or two coarser), so light falling off across the wall does not read as hair
    and the person's own pixels get the colour of the wall around them. NaN where no wall is
    near enough to tell."""
    size = person.shape[::-1]
    sure = (person < UNSURE[0]).astype(np.float32)
    rgb = rgb.astype(np.float32)
    while max(sure.shape) > 128:
        rgb, sure = cv2.pyrDown(rgb), cv2.pyrDown(sure)
    sigma = 0.05 * max(sure.shape)
    weight = cv2.GaussianBlur(sure, (0, 0), sigma)
    wall = cv2.GaussianBlur(rgb * sure[..., None], (0, 0), sigma) / np.maximum(weight, 1e-6)[..., None]
    wall[weight < 0.05] = np.nan
    return cv2.resize(wall, size, interpolation=cv2.INTER_LINEAR)


def fill_hair_gaps(image: np.ndarray, share: np.ndarray, person: np.ndarray, wall: np.ndarray,
                   chin_row: float) -> np.ndarray:
    """``share`` with the background that shows through loose hair counted as background.

    The segmenter marks a curl as person as a whole, the background seen through it included,
    so a new background colour would leave patches of the old one inside the hair. Where the
    segmenter is unsure (``person``, its probability on a grid an integer factor coarser than
    ``image``, between ``UNSURE``) and above ``chin_row`` (below it are shoulders, and a white
    shirt against a white wall has the wall's colour), each pixel is read as a mix of the hair's
    colour and the wall's there (``wall``: ``wall_colour`` on the same coarse grid as ``person``):
    its share of background is how far it lies along the line from one to the other, if it lies
    on that line (skin and clothes do not). Elsewhere, and wherever the hair is too close in
    colour to the wall to tell, ``share`` stands.
    """
    n = image.shape[0] // person.shape[0]
    ch, cw = person.shape
    low, high = UNSURE
    unsure = np.clip(np.minimum(person - low, high - person) / RAMP, 0, 1)
    unsure *= np.clip((chin_row / n - np.arange(ch, dtype=np.float32))[:, None] / 2, 0, 1)
    band = (cv2.dilate((unsure > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~np.isnan(wall[..., 0])
    cy, cx = np.nonzero(band)
    if cy.size < 4:
        return share
    # per band cell, its n x n pixels and their zone (bilinear), and the wall's colour (smooth:
    # one value per cell)
    def per_cell(full, depth=()):
        return full.reshape(ch, n, cw, n, *depth).swapaxes(1, 2)[cy, cx].reshape(len(cy), n * n, *depth)

    pixels = per_cell(image, (3,)).astype(np.float32)
    pixels = [np.ascontiguousarray(pixels[..., c]) for c in range(3)]
    zone = per_cell(cv2.resize(unsure, image.shape[1::-1], interpolation=cv2.INTER_LINEAR))
    background = [wall[cy, cx, c][:, None] for c in range(3)]
    # the hair's colour: the tenth of these pixels least like the wall
    apart = sum((p - b) ** 2 for p, b in zip(pixels, background))
    sample = apart.ravel()[::4]
    far = apart >= np.partition(sample, sample.size * 9 // 10)[sample.size * 9 // 10]
    hair = [float(p[far].mean()) for p in pixels]
    line = [b - h for b, h in zip(background, hair)]
    length2 = np.maximum(sum(d * d for d in line), 1)
    t = sum((p - h) * d for p, h, d in zip(pixels, hair, line)) / length2
    off = np.sqrt(sum((p - h - t * d) ** 2 for p, h, d in zip(pixels, hair, line)))
    # a mix of hair and wall lies on the line, however much wall it holds; a mix of skin (or
    # clothes) and wall lies off it by the same share of the way as it is from the wall
    length = np.sqrt(length2)
    off_share = off / np.maximum(length * (1 - np.clip(t, 0, 1)), 1)
    on_line = np.maximum(np.clip((0.2 - off_share) / 0.1, 0, 1), off < NOISE)
    # beyond the wall on that line is not a mix of the two (white hair before a grey wall)
    key = (np.clip((t - 0.1) / 0.8, 0, 1) * np.clip((1.15 - t) / 0.1, 0, 1) * on_line
           * np.clip((length - 60) / 30, 0, 1) * zone)  # hair too near the wall's colour: no key
    out = share.copy()
    cells = out.reshape(ch, n, cw, n).swapaxes(1, 2)  # a view: writing to it writes to out
    cells[cy, cx] = np.maximum(cells[cy, cx], np.round(key * 255).astype(np.uint8).reshape(-1, n, n))
    return out
