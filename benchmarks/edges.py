"""The edge of background replacement, measured on the London portraits for white, blue and red.

Each portrait is rendered as the 413x531 divorce-certificate photo (PNG, so no JPEG noise) on
each colour, and on its own background for reference. Measured in the photo, with the
segmenter's person mask and the face mesh brought into it (the same for every version of the
renderer, so versions compare):

- leftover wall: pixels above the chin (below it a white shirt in shade has a light grey
  wall's colour), outside the face oval,
  that still have the old wall's colour there (within 16 RGB of it, and 40 or more from the
  new colour), in patches at least 3 x 3 (a one- or two-pixel mix of dark hair and white has
  a grey wall's colour too): wall seen through curls, a rim the matte left. Per photo, and
  per mille of that area.
- spill: along the head's edge (within 6 px of the segmenter's outline, above the chin),
  how far each pixel lies from the line between the person's colour nearby and the new
  colour (RGB distance to the segment): a mix of hair and new background lies on it, a pixel
  holding old wall (a grey rim, a pink fringe, a tinted strand) lies off it. Mean and 95th
  percentile per photo.
- flatness: where the background is clear of the person (12 px or more from where the
  segmenter's person probability reaches 0.05), the 99th percentile of the distance from
  the new colour, and the difference between the mean colour of its top and bottom thirds
  (light falling off across the old wall shows as a new background lighter at one end).

Figures are medians over the portraits (and the worst one). Crops of the hair top, both
ears, the curls (the window with most of the segmenter's unsure band) and both shoulders go
to an HTML review page at 3x, before above after.

    # the version in this checkout against another checkout's (a git worktree of HEAD):
    git worktree add --detach /tmp/photocore-head HEAD
    .venv/bin/python benchmarks/edges.py --compare /tmp/photocore-head [--out out/edges] [--limit N]
    # one version only (PYTHONPATH chooses which photocore):
    .venv/bin/python benchmarks/edges.py --label after
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "faces"
COLOURS = {"white": "#FFFFFF", "blue": "#628BCE", "red": "#D74532"}
PROFILE = "civil-affairs.divorce-certificate"  # 413 x 531, red in the catalogue
CROP = 64  # photo pixels a side; shown at 3x
CROPS = ("hair top", "left ear", "right ear", "curls", "left shoulder", "right shoulder")
WALL_TOLERANCE = 16.0
NEW_APART = 40.0
EDGE = 6  # px either side of the segmenter's outline
CLEAR = 12  # px from any trace of the person


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], np.float32)


def to_photo(analysis, frame, points) -> np.ndarray:
    """Analysis points (px) in ``frame``'s photo pixels: levelled about the eyes, then cut."""
    from photocore.framing import eye_line_angle
    t = math.radians(-eye_line_angle(analysis))
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    centre = analysis.eye_mid * analysis.scale
    levelled = (np.asarray(points, np.float64) * analysis.scale - centre) @ rot.T + centre
    return (levelled - [frame.left, frame.top]) * frame.width_px / frame.crop_width


def mask_in_photo(analysis, frame) -> np.ndarray:
    """The segmenter's person probability at each photo pixel's centre."""
    from photocore.framing import eye_line_angle
    t = math.radians(eye_line_angle(analysis))
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    centre = analysis.eye_mid * analysis.scale
    step = frame.crop_width / frame.width_px
    gy, gx = np.mgrid[0:frame.height_px, 0:frame.width_px] + 0.5
    levelled = np.stack([frame.left + gx * step, frame.top + gy * step], axis=-1)
    capture = (levelled - centre) @ rot.T + centre
    mask = analysis.person_mask_small
    k = np.array([mask.shape[1] / analysis.full_size[0], mask.shape[0] / analysis.full_size[1]])
    at = (capture * k - 0.5).astype(np.float32)
    return cv2.remap(mask, at[..., 0], at[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def wall_field(photo: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The old wall's colour at every pixel: ``photo`` averaged where ``seen`` with a wide
    Gaussian (normalised convolution), the global mean where no wall is near."""
    weight = seen.astype(np.float32)
    sigma = 0.08 * max(photo.shape[:2])
    total = cv2.GaussianBlur(photo.astype(np.float32) * weight[..., None], (0, 0), sigma)
    near = cv2.GaussianBlur(weight, (0, 0), sigma)
    mean = (photo[seen].mean(axis=0) if seen.any() else np.full(3, 255.0)).astype(np.float32)
    t = np.clip(near / 0.05, 0, 1)[..., None]
    return t * total / np.maximum(near, 1e-6)[..., None] + (1 - t) * mean


def geometry(analysis, frame):
    """Everything measured in photo pixels that does not depend on the renderer."""
    from photocore.analysis import landmarks as L
    h, w = frame.height_px, frame.width_px
    person = mask_in_photo(analysis, frame)
    oval = to_photo(analysis, frame, analysis.landmarks[L.FACE_OVAL, :2])
    eye = to_photo(analysis, frame, [analysis.eye_mid])[0]
    chin = to_photo(analysis, frame, [analysis.chin])[0]
    face = np.zeros((h, w), np.uint8)
    cv2.fillPoly(face, [np.round(oval - 0.5).astype(np.int32)], 1)
    rows = np.arange(h)[:, None] < chin[1]
    head = rows & (face == 0)
    inside = (person >= 0.5).astype(np.uint8)
    outline = cv2.morphologyEx(inside, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    edge = (cv2.dilate(outline, np.ones((2 * EDGE + 1,) * 2, np.uint8)) > 0) & head
    trace = cv2.dilate((person >= 0.05).astype(np.uint8), np.ones((2 * CLEAR + 1,) * 2, np.uint8)) > 0
    clear = ~trace
    return dict(person=person, face=face > 0, head=head, edge=edge, clear=clear, oval=oval, eye=eye, chin=chin)


def crop_boxes(g, h, w) -> dict[str, tuple[int, int]]:
    """Top-left corners of the review crops, from the mask and the mesh."""
    person, oval, eye, chin = g["person"], g["oval"], g["eye"], g["chin"]
    half = CROP // 2

    def at(x, y):
        return int(np.clip(round(x) - half, 0, w - CROP)), int(np.clip(round(y) - half, 0, h - CROP))

    cx = float(oval[:, 0].mean())
    column = person[:, int(np.clip(cx, 0, w - 1))] >= 0.5
    top = int(np.argmax(column)) if column.any() else 0
    boxes = {"hair top": at(cx, top)}
    row_y = int(np.clip(eye[1] + 0.35 * (chin[1] - eye[1]), 0, h - 1))
    row = person[row_y] >= 0.5
    xs = np.flatnonzero(row)
    left, right = (xs.min(), xs.max()) if xs.size else (oval[:, 0].min(), oval[:, 0].max())
    boxes["left ear"], boxes["right ear"] = at(left, row_y), at(right, row_y)
    # the curls: the window above the chin with most of the segmenter's unsure band,
    # away from the crops already taken
    unsure = ((person > 0.05) & (person < 0.95) & g["head"]).astype(np.float32)
    density = cv2.boxFilter(unsure, -1, (CROP, CROP), normalize=False)
    for x0, y0 in boxes.values():
        density[max(0, y0 - half):y0 + CROP + half, max(0, x0 - half):x0 + CROP + half] = -1
    y, x = np.unravel_index(int(np.argmax(density)), density.shape)
    boxes["curls"] = at(x, y)
    bottom = h - half - 1
    xs = np.flatnonzero(person[bottom] >= 0.5)
    left, right = (xs.min(), xs.max()) if xs.size else (0, w - 1)
    boxes["left shoulder"], boxes["right shoulder"] = at(left, bottom), at(right, bottom)
    return boxes


def measure_photo(out: np.ndarray, plain: np.ndarray, g, new: np.ndarray) -> dict:
    out = out.astype(np.float32)
    wall = wall_field(plain, g["person"] < 0.05)
    to_wall = np.linalg.norm(out - wall, axis=2)
    to_new = np.linalg.norm(out - new, axis=2)
    leftover = (g["head"] & (to_wall < WALL_TOLERANCE) & (to_new >= NEW_APART)).astype(np.uint8)
    # areas, not the one- or two-pixel mixes along an edge (hair and white mix to the grey of a wall)
    leftover = cv2.morphologyEx(leftover, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    # the person's colour near each edge pixel: the mean of sure-person pixels around it
    sure = cv2.erode((g["person"] > 0.97).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
    near = cv2.boxFilter(sure, -1, (17, 17))
    person_colour = cv2.boxFilter(out * sure[..., None], -1, (17, 17)) / np.maximum(near, 1e-6)[..., None]
    edge = g["edge"] & (near > 0.02)
    f, c = person_colour[edge], out[edge]
    line = new - f
    t = np.clip(((c - f) * line).sum(axis=1) / np.maximum((line * line).sum(axis=1), 1), 0, 1)
    spill = np.linalg.norm(c - (f + t[:, None] * line), axis=1)
    clear = g["clear"]
    rows = np.nonzero(clear.any(axis=1))[0]
    top_bottom = 0.0
    if rows.size >= 3:
        third = (rows.max() - rows.min()) / 3
        upper = clear & (np.arange(clear.shape[0])[:, None] <= rows.min() + third)
        lower = clear & (np.arange(clear.shape[0])[:, None] >= rows.max() - third)
        if upper.any() and lower.any():
            top_bottom = float(np.linalg.norm(out[upper].mean(axis=0) - out[lower].mean(axis=0)))
    return {
        "leftover_px": int(leftover.sum()),
        "leftover_permille": 1000.0 * float(leftover.sum()) / max(1, int(g["head"].sum())),
        "spill_mean": float(spill.mean()) if spill.size else 0.0,
        "spill_p95": float(np.percentile(spill, 95)) if spill.size else 0.0,
        "flat_p99": float(np.percentile(to_new[clear], 99)) if clear.any() else 0.0,
        "top_bottom": top_bottom,
    }


def measure(label: str, faces: list[Path], out_dir: Path) -> dict:
    import photocore
    from photocore.catalogue import load_catalogue
    from photocore.render import render_all
    catalogue = load_catalogue()
    base = catalogue.get(PROFILE)
    common = dict(formats=("png",), kb_min=None, kb_max=None)
    profiles = {name: dataclasses.replace(base, id=f"{base.id}.{name}", background=(colour,),
                                          background_replace=True, **common)
                for name, colour in COLOURS.items()}
    profiles["own"] = dataclasses.replace(base, id=f"{base.id}.own", background_replace=False, **common)
    folder = out_dir / label
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    seconds = []
    for path in faces:
        capture = photocore.decode(path)
        analysis = photocore.analyse(capture)
        start = time.perf_counter()
        renditions = render_all(capture, analysis, list(profiles.values()))
        seconds.append(time.perf_counter() - start)
        photos = {}
        for name, profile in profiles.items():
            r = renditions[profile.id]
            photos[name] = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGB"))
            frame = r.frame
        g = geometry(analysis, frame)
        h, w = frame.height_px, frame.width_px
        boxes = crop_boxes(g, h, w)
        entry = {"boxes": boxes}
        for name, colour in COLOURS.items():
            entry[name] = measure_photo(photos[name], photos["own"], g, hex_rgb(colour))
            strip = np.hstack([photos[name][y:y + CROP, x:x + CROP] for x, y in boxes.values()])
            Image.fromarray(strip).save(folder / f"{path.stem}_{name}.png")
        Image.fromarray(photos["own"]).save(folder / f"{path.stem}_own.png")
        for name in COLOURS:
            Image.fromarray(photos[name]).save(folder / f"{path.stem}_{name}_full.png")
        results[path.stem] = entry
        print(f"{label} {path.stem}: " + "  ".join(
            f"{n} wall {entry[n]['leftover_px']} spill {entry[n]['spill_mean']:.1f} flat {entry[n]['flat_p99']:.1f}"
            for n in COLOURS), file=sys.stderr)
    summary = {"label": label, "faces": results, "render_seconds_median": statistics.median(seconds)}
    (folder / "metrics.json").write_text(json.dumps(summary, indent=1))
    return summary


FIGURES = (("leftover_px", "leftover wall px / photo", "{:.0f}"),
           ("leftover_permille", "leftover wall per mille", "{:.2f}"),
           ("spill_mean", "spill along the edge, mean (RGB)", "{:.1f}"),
           ("spill_p95", "spill, 95th pct (RGB)", "{:.1f}"),
           ("flat_p99", "background off the colour, 99th pct (RGB)", "{:.1f}"),
           ("top_bottom", "background top vs bottom third (RGB)", "{:.1f}"))


def summarise(runs: list[dict]) -> list[str]:
    lines = []
    header = f"{'':44}" + "".join(f"{colour + ' ' + run['label']:>16}" for colour in COLOURS for run in runs)
    lines.append(header)
    for key, title, fmt in FIGURES:
        for how, pick in (("median", statistics.median), ("worst", max)):
            if key == "leftover_permille" and how == "worst":
                continue
            row = f"{title + ' (' + how + ')':44}"
            for colour in COLOURS:
                for run in runs:
                    values = [face[colour][key] for face in run["faces"].values()]
                    row += f"{fmt.format(pick(values)):>16}"
            lines.append(row)
    total = "leftover wall px, all portraits".ljust(44)
    for colour in COLOURS:
        for run in runs:
            total += f"{sum(face[colour]['leftover_px'] for face in run['faces'].values()):>16}"
    lines.append(total)
    return lines


def page(runs: list[dict], out_dir: Path, lines: list[str]) -> Path:
    stems = list(runs[-1]["faces"])
    parts = ["<!doctype html><meta charset=utf-8><title>photocore: background edges, before and after</title>",
             "<style>body{font:14px sans-serif;margin:16px;background:#888}h2{margin:24px 0 4px}"
             f"img.c{{image-rendering:pixelated;width:{CROP * 3 * 6}px;height:{CROP * 3}px}}"
             "pre{background:#fff;padding:8px}"
             "td{padding:0 6px 6px 0;vertical-align:top}.l{font-size:12px;color:#fff}</style>",
             f"<h1>Background edges: {' vs '.join(html.escape(r['label']) for r in runs)}</h1>",
             "<p>Crops at 3x (hair top, left ear, right ear, curls, left shoulder, right shoulder) of the 413x531 "
             f"photo; for each colour the rows are {', '.join(html.escape(r['label']) for r in runs)}.</p>",
             f"<pre>{html.escape(chr(10).join(lines))}</pre>"]
    for stem in stems:
        parts.append(f"<h2 id='{stem}'>{stem}</h2><table>")
        for colour in COLOURS:
            for run in runs:
                m = run["faces"][stem][colour]
                note = (f"{run['label']} {colour}: wall {m['leftover_px']} px, spill {m['spill_mean']:.1f} "
                        f"(p95 {m['spill_p95']:.1f}), flat p99 {m['flat_p99']:.1f}, top-bottom {m['top_bottom']:.1f}")
                parts.append(f"<tr><td><img class=c src='{run['label']}/{stem}_{colour}.png'>"
                             f"<div class=l>{html.escape(note)}</div></td></tr>")
        parts.append("</table>")
    path = out_dir / "index.html"
    path.write_text("\n".join(parts))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=Path, default=FACES, help="the shared faces folder (london/neutral/*.jpg)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "edges")
    parser.add_argument("--label", default="after")
    parser.add_argument("--compare", type=Path,
                        help="a checkout of the version to compare with (run first, as 'before')")
    parser.add_argument("--limit", type=int, help="the first N portraits only")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    faces = sorted((args.faces / "london" / "neutral").glob("*.jpg"))[:args.limit]
    if not faces:
        parser.error(f"no portraits in {args.faces / 'london' / 'neutral'}")
    runs = []
    if args.compare:
        env = dict(os.environ, PYTHONPATH=str(args.compare.resolve()))
        command = [sys.executable, __file__, "--label", "before", "--out", str(args.out), "--faces", str(args.faces),
                   "--measure-only"] + (["--limit", str(args.limit)] if args.limit else [])
        subprocess.run(command, env=env, check=True, cwd=args.compare)
        runs.append(json.loads((args.out / "before" / "metrics.json").read_text()))
    runs.append(measure(args.label, faces, args.out))
    if args.measure_only:
        return 0
    lines = summarise(runs)
    print(f"{len(faces)} London portraits, 413x531 photo, figures per photo")
    print("\n".join(lines))
    print(f"review page: {page(runs, args.out, lines)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
