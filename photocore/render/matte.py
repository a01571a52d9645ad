"""The matte: how much of each pixel of the capture is the person, and the person's own colour
there, made once per capture and shared by every photo that replaces the background.

A photo on a new background is ``alpha * F + (1 - alpha) * new``: the person's colour ``F``
where the person covers the pixel, the new colour where the wall did. Both are estimated, as
matting does, in the band where the segmenter is unsure; the wall's colour never enters the
photo, so no part of it spills into the new background (a grey rim, a pink fringe, strands
tinted with the old wall), and the new background is flat however the light fell on the wall.

The steps, each a function here (``pixels.Source`` calls them in this order):

1. ``on_grid``: the region on a coarse grid (``n`` x ``n`` pixels per cell, about the
   segmenter's own resolution): each cell's mean colour and spread, the segmenter's person
   probability, and the wall's colour, seen or carried in from where it is seen.
2. ``trimap``: sure person, sure wall, and the unsure band between, from the segmenter.
3. ``fill_hair_gaps``: the wall seen through loose hair, which the segmenter counts as
   person, marked as unsure (and as wall where a whole cell is the wall's colour).
4. ``solve``: closed-form matting (Levin, Lischinski and Weiss, 2008: the matte is locally a
   linear function of colour) on the grid, with pymatting; brought to full size along the
   capture's own colours by fitting that linear model on the grid (He's guided filter with a
   colour guide) and applying it to every full-size pixel, so strands finer than a cell keep
   their alpha. The person's and the wall's colours near each pixel come from pymatting's
   multi-level estimator (Germer et al., 2020) on the grid: where they differ clearly and a
   pixel lies on the line between them, its alpha is read along that line (as sharp as the
   capture's own edge: a white shirt before a light grey wall). The person's colour is the
   compositing equation's where the person covers most of a pixel, the estimator's where it
   covers little. The result is the premultiplied foreground ``alpha * F`` and the
   background share ``1 - alpha`` (0..255), an RGBA region that every photo warps, then
   composites with its own colour (``pixels.replace_background``). Only cells within three of
   an unsure one are computed pixel by pixel; the face oval is the capture's, untouched.

Matting on the grid and applying the fitted model at full size costs about 30 ms on the 12 MP
benchmark's region (892 x 700), where closed-form matting at full size takes over a second
(benchmarks/edges.py measures the edge, benchmarks/convert.py the time).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# The segmenter is unsure where its person probability lies between these.
UNSURE = (0.05, 0.97)
WALL = 10.0  # a cell whose pixels all lie within this colour distance (RMS, 0..255) of the wall is wall
WALLISH = 30.0  # a cell whose mean lies within this of the wall may be wall seen through hair
HAIR_CONTRAST = 60.0  # ... if hair this far from the wall's colour is close by (not grey hair on a grey wall)
STRAND = 30.0  # a cell beside the person whose pixels stray this far from the wall holds a strand
REACH = 0.3  # gaps in the hair are looked for within this many face widths of the person's edge
SHADE = (0.8, 1.05)  # the wall in the hair's shade: its colour scaled by this much is still the wall
EPSILON = 1e-6  # closed-form matting's regularisation (colours 0..1): small follows colour closely
GUIDE_EPSILON = 1e-4  # the guided fit's regularisation: how little colour variation still moves alpha
SURE_F = (0.25, 0.75)  # the foreground colour from the compositing equation above, from pymatting's below
LINE = (40.0, 80.0)  # person and wall this far apart (RGB) or more: alpha read along the line between them
NOISE = 8.0  # colour noise (RGB) off that line still read as on it


@dataclass(frozen=True)
class Grid:
    """The region seen on the matte's coarse grid (``step`` region pixels a side per cell)."""

    step: int
    colour: np.ndarray  # float32, each cell's mean RGB (0..255)
    spread: np.ndarray  # float32, RMS colour distance of the cell's pixels from the wall (0..255)
    person: np.ndarray  # float32, the segmenter's person probability
    wall: np.ndarray  # float32 RGB, the wall's colour here: seen, or carried in from where it is seen
    hair: np.ndarray  # bool, where loose hair may show the wall: above the chin, outside the face
    face: np.ndarray  # bool, cells well inside the face oval: the person, never retouched
    face_width: float  # in cells


def on_grid(image: np.ndarray, person: np.ndarray, chin_row: float, face_oval: np.ndarray) -> Grid:
    """``image`` (RGB region, each side a multiple of ``person``'s) on ``person``'s grid.

    ``chin_row`` and ``face_oval`` (points) are in region pixels: loose hair that may show the
    wall is looked for above the chin and outside the face (eyes, teeth and a white collar
    have the wall's colour too).
    """
    h, w = person.shape
    n = image.shape[0] // h
    pixels = image.astype(np.float32)
    colour = cv2.resize(pixels, (w, h), interpolation=cv2.INTER_AREA)
    squares = cv2.resize(cv2.multiply(pixels, pixels), (w, h), interpolation=cv2.INTER_AREA)
    wall = extend(colour, person < UNSURE[0])
    spread2 = _channel_sum(squares - colour * colour) + wall_distance(colour, wall) ** 2
    oval = [np.round(np.asarray(face_oval) / n - 0.5).astype(np.int32)]
    oval_cells = np.zeros((h, w), np.uint8)
    cv2.fillPoly(oval_cells, oval, (1,))
    hair = np.zeros((h, w), np.uint8)
    hair[:max(0, int(chin_row / n))] = 1
    hair[oval_cells > 0] = 0
    face = cv2.erode(oval_cells, np.ones((3, 3), np.uint8)) > 0
    face_width = float(np.ptp(np.asarray(face_oval)[:, 0])) / n
    return Grid(n, colour, np.sqrt(np.maximum(spread2, 0)), person, wall, hair > 0, face, face_width)


def extend(colour: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``colour`` where ``seen``, carried smoothly into the rest (push-pull: averaged over ever
    coarser grids where it is seen, then filled in from the coarser grid where it is not), so
    every cell, the person's included, gets the colour of the wall around it."""
    weight = seen.astype(np.float32)
    levels: list[tuple[np.ndarray, np.ndarray]] = [(colour * weight[..., None], weight)]
    while min(levels[-1][1].shape) > 2:
        finer_total, finer_weight = levels[-1]
        levels.append((cv2.pyrDown(finer_total), cv2.pyrDown(finer_weight)))
    top_sum, top_weight = levels[-1]
    if top_weight.sum() <= 0:  # no wall seen at all
        return np.full_like(colour, 255.0)
    out = np.broadcast_to(top_sum.sum(axis=(0, 1)) / top_weight.sum(), top_sum.shape).astype(np.float32)
    for total, weight in reversed(levels):
        coarse = cv2.resize(out, weight.shape[::-1], interpolation=cv2.INTER_LINEAR)
        sure = np.clip(weight / 0.2, 0, 1)[..., None]
        out = sure * (total / np.maximum(weight, 1e-6)[..., None]) + (1 - sure) * coarse
    return out


def wall_distance(colour: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """Colour distance from the wall, the wall in shade (its colour scaled by ``SHADE``) included."""
    scale = np.clip(_channel_sum(colour * wall) / np.maximum(_channel_sum(wall * wall), 1), *SHADE)
    return np.sqrt(_channel_sum((colour - scale[..., None] * wall) ** 2))


def _channel_sum(x: np.ndarray) -> np.ndarray:
    """x[..., 0] + x[..., 1] + x[..., 2] (numpy's sum over a last axis of 3 is several times slower)."""
    return x[..., 0] + x[..., 1] + x[..., 2]


def trimap(grid: Grid) -> np.ndarray:
    """1 sure person, 0 sure wall, 0.5 unsure (float64, pymatting's convention), from the
    segmenter: unsure where it is, a cell either side of that, and beside the person where a
    cell is not all wall (a strand the segmenter missed); the face (the mesh's oval) is the
    person whatever the segmenter says."""
    low, high = UNSURE
    p = grid.person
    k3 = np.ones((3, 3), np.uint8)
    band = cv2.dilate(((p > low) & (p < high)).astype(np.uint8), k3) > 0
    near = cv2.dilate((p > 0.5).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    out = np.full(p.shape, 0.5)
    out[(p < low) & ~band & ~(near & (grid.spread > STRAND))] = 0
    out[((p > high) & ~band) | grid.face] = 1
    return out


def fill_hair_gaps(grid: Grid, trimap: np.ndarray) -> np.ndarray:
    """``trimap`` with the wall seen through loose hair made unsure, and wall where a whole
    cell is the wall's colour.

    The segmenter marks a curl as person as a whole, the wall seen through it included, so a
    new background colour would leave patches of the old one inside the hair. A gap is a run
    of cells of the wall's colour (in shade too) within ``REACH`` of the person's edge, in the
    hair zone (above the chin, outside the face oval), next to hair clearly unlike the wall:
    grey hair before a grey wall, a highlight deep in dark hair, skin and a white collar stay
    person.
    """
    p = grid.person
    distance = wall_distance(grid.colour, grid.wall)
    inside = (p >= 0.5).astype(np.uint8)
    reach = cv2.distanceTransform(inside, cv2.DIST_L2, 3) < REACH * grid.face_width
    unlike = cv2.dilate(((p > 0.5) & (distance > HAIR_CONTRAST)).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    wallish = grid.hair & reach & (distance < WALLISH) & (p >= UNSURE[0])
    count, labels, stats, _ = cv2.connectedComponentsWithStats(wallish.astype(np.uint8), connectivity=8)
    beside_hair = np.bincount(labels[wallish & unlike], minlength=count) > 0
    gaps = (beside_hair & (stats[:, cv2.CC_STAT_AREA] >= 4))[labels] & wallish
    out = trimap.copy()
    out[gaps] = 0.5
    out[gaps & (grid.spread < WALL)] = 0
    return out


def solve(image: np.ndarray, grid: Grid, trimap: np.ndarray) -> np.ndarray:
    """The premultiplied foreground (RGB, alpha * F) and the background share (1 - alpha) of
    every pixel of ``image`` (the region), uint8 RGBA, from ``trimap`` on ``grid``."""
    from pymatting import estimate_alpha_cf, estimate_foreground_ml  # numba: compiled once, cached

    colour = grid.colour.astype(np.float64) / 255
    if (trimap == 1).any() and (trimap == 0).any():
        alpha = estimate_alpha_cf(colour, trimap, laplacian_kwargs={"epsilon": EPSILON})
    else:  # nothing sure to match against: the segmenter's own reading
        low, high = UNSURE
        alpha = np.clip((grid.person - low) / (high - low), 0, 1).astype(np.float64)
    alpha = alpha.astype(np.float32)
    n, (h, w) = grid.step, alpha.shape
    size = (w * n, h * n)
    # a full-size pixel depends on the grid's alpha up to 3 cells away (the fit's two box
    # filters, then the bilinear coefficients): cells with no doubt that far around are the
    # person whole (the capture's own pixels, share 0) or the wall (nothing of it, share 255)
    near = np.ones((7, 7), np.uint8)
    wall = cv2.erode((alpha < 0.002).astype(np.uint8), near)
    share = cv2.resize(wall * 255, size, interpolation=cv2.INTER_NEAREST)
    out = cv2.merge([*cv2.split(cv2.bitwise_and(image, image, mask=cv2.bitwise_not(share))), share])
    cells = out.reshape(h, n, w, n, 4).swapaxes(1, 2)  # a view: writing a cell writes out
    edge = (wall == 0) & (cv2.erode((alpha > 0.998).astype(np.uint8), near) == 0) & ~grid.face
    cy, cx = np.nonzero(edge)
    if cy.size == 0:
        return out

    def at_edge(full):  # the edge cells' pixels of a full-size array: (cells, n * n, channels)
        return full.reshape(h, n, w, n, -1).swapaxes(1, 2)[cy, cx].reshape(cy.size, n * n, -1)

    pixels = at_edge(image).astype(np.float32)
    # alpha at full size: the grid's local linear model (alpha = a . colour + b) at every pixel
    a, b = colour_guided_filter(grid.colour / 255, alpha, 1, GUIDE_EPSILON)
    model = at_edge(cv2.resize(cv2.merge([*a, b]), size, interpolation=cv2.INTER_LINEAR))
    fitted = np.clip(_channel_sum(model[..., :3] * pixels)[..., None] * (1 / 255) + model[..., 3:], 0, 1)
    # the person's and the wall's colour near each pixel (pymatting's multi-level estimate on
    # the grid): where they differ clearly and the pixel lies on the line between them, its
    # alpha is how far along that line it lies, as sharp as the capture's own edge; elsewhere
    # (hair close to the wall's colour, a pixel off the line) the fitted model's
    person, behind = estimate_foreground_ml(colour.astype(np.float32), alpha, return_background=True)
    person = at_edge(cv2.resize(person * 255, size, interpolation=cv2.INTER_LINEAR))
    behind = at_edge(cv2.resize(behind * 255, size, interpolation=cv2.INTER_LINEAR))
    line = person - behind
    length = np.sqrt(np.maximum(_channel_sum(line * line), 1))[..., None]
    run = _channel_sum((pixels - behind) * line)[..., None] / length  # RGB units from the wall's end
    off = np.sqrt(np.maximum(_channel_sum((pixels - behind) ** 2)[..., None] - run * run, 0))
    along = np.clip((run - NOISE) / np.maximum(length - 2 * NOISE, 1), 0, 1)  # noise at either end: 0 or 1
    sure = np.clip((length - LINE[0]) / (LINE[1] - LINE[0]), 0, 1) * np.clip(1 - off / (0.2 * length + NOISE), 0, 1)
    full = sure * along + (1 - sure) * fitted
    # the person's colour: the compositing equation (I = alpha F + (1 - alpha) B) where alpha is
    # large, the estimate where it is small and the equation would magnify noise
    weight = np.clip((full - SURE_F[0]) / (SURE_F[1] - SURE_F[0]), 0, 1)
    premultiplied = weight * (pixels - (1 - full) * behind) + (1 - weight) * full * person
    # a wall's part is never negative (alpha F <= I), nor is the person's colour beyond white
    premultiplied = np.clip(premultiplied, 0, np.minimum(pixels, 255 * full))
    result = np.concatenate([premultiplied, (1 - full) * 255], axis=2)
    cells[cy, cx] = np.round(result).astype(np.uint8).reshape(cy.size, n, n, 4)
    return out


def colour_guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float):
    """He, Sun and Tang's guided filter with a colour guide: the coefficients of ``src`` as a
    linear function of ``guide``'s colour in each (2 radius + 1)-wide window, averaged over
    the windows that hold each pixel: ([a_r, a_g, a_b], b), with src ~ a . guide + b.

    Written out (box filters and a 3 x 3 inverse per pixel) because cv2.ximgproc is only in
    the contrib build, and which of the two OpenCV wheels provides cv2 is not something to rely on.
    """
    box = (2 * radius + 1,) * 2

    def mean(x):
        return cv2.boxFilter(x, cv2.CV_32F, box)

    g = [np.ascontiguousarray(guide[..., c], dtype=np.float32) for c in range(3)]
    p = np.asarray(src, dtype=np.float32)
    mg = [mean(c) for c in g]
    mp = mean(p)
    cov = [mean(c * p) - m * mp for c, m in zip(g, mg, strict=True)]

    def var(i, j):
        return mean(g[i] * g[j]) - mg[i] * mg[j] + (eps if i == j else 0)

    s00, s01, s02, s11, s12, s22 = var(0, 0), var(0, 1), var(0, 2), var(1, 1), var(1, 2), var(2, 2)
    # the inverse of the symmetric 3 x 3 covariance, by cofactors
    c00, c01, c02 = s11 * s22 - s12 * s12, s02 * s12 - s01 * s22, s01 * s12 - s02 * s11
    c11, c12, c22 = s00 * s22 - s02 * s02, s01 * s02 - s00 * s12, s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    a = [(c00 * cov[0] + c01 * cov[1] + c02 * cov[2]) / det,
         (c01 * cov[0] + c11 * cov[1] + c12 * cov[2]) / det,
         (c02 * cov[0] + c12 * cov[1] + c22 * cov[2]) / det]
    b = mp - a[0] * mg[0] - a[1] * mg[1] - a[2] * mg[2]
    return [mean(x) for x in a], mean(b)


def warm_up() -> None:
    """Compile pymatting's numba kernels for the types ``solve`` uses (about a minute, once per
    install: they are cached beside the package), so no capture pays it, nor meets its deadline."""
    from pymatting import estimate_alpha_cf, estimate_foreground_ml

    colour = np.random.default_rng(0).random((16, 16, 3))
    trimap = np.full((16, 16), 0.5)
    trimap[:4], trimap[-4:] = 0, 1
    alpha = estimate_alpha_cf(colour, trimap, laplacian_kwargs={"epsilon": EPSILON}).astype(np.float32)
    estimate_foreground_ml(colour.astype(np.float32), alpha, return_background=True)
