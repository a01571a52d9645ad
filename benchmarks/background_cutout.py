"""The background judged by what each credential does with it, on ../shared/faces and on the
London faces put in front of other walls.

A credential that replaces the background needs the person cut out cleanly (background.cutout);
one that keeps the capture's background needs a plain wall of its colours (background.uniform,
background.shadow, background.colour). Each image is checked against one credential of each kind:
police.resident-id-card (replaced) and police.passport (kept).

Sets:
- every portrait of MANIFEST.csv; compliant_pose are the compliant captures (plain walls);
- the 51 London neutral faces put, with the matte photocore renders with (render/matte.py), in
  front of: ``busy``, a crop of a real busy scene from the set's CC0 and public-domain photos;
  ``busy, blurred``, the same out of focus; ``hair``, a plain wall the colour of their own hair;
  ``clothes``, a plain wall the colour of their clothes (a white T-shirt on most).

Cutout labels (--lopo): on a composite, whether photocore's own matte cuts the person out of it
as it does out of the original photo: the mean alpha difference per outline pixel in the photo's
region, in face widths, above 0.006 is a bad cut (a hole in the hair or the forehead, the wall
left in the hair), below 0.004 a clean one, between left out. Real photos: REAL_BAD below, the
portraits whose matte on a red background showed holes or the wall left in the hair, by eye.
--lopo then refits background.cutout's limit leaving one person out (a London face and all its
composites together), with accuracy.py's fit.

    .venv/bin/python benchmarks/background_cutout.py [--faces ../shared/faces] [--lopo] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

import photocore
from photocore.analysis import analyse
from photocore.analysis import landmarks as L
from photocore.decode import decode
from photocore.judge import load_profile
from photocore.measures import REGISTRY
from photocore.render.matte import fill_hair_gaps, on_grid, solve, trimap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import fit_limit, lopo, misjudged, person

REPLACED, KEPT = "police.resident-id-card", "police.passport"
CREDENTIALS = (REPLACED, KEPT)
# Real portraits whose matte, put on red, shows holes or the old wall (by eye): dark hair before
# dark foliage (021), a dark head before black (051), a bald forehead before a light wall (angry,
# yale 05), a clock on the wall touching the shoulder (lisa_lisa3).
REAL_BAD = {"interfaces/021.jpg", "interfaces/051.jpg", "misc/angry.jpg", "yale/05_normal.png", "misc/lisa_lisa3.jpg"}
REAL_UNSURE = {"interfaces/030.jpg", "misc/woman_portrait.jpg"}  # curls over foliage; black hair before black
# (file, rows, columns as shares): parts of busy photos with no person in them
SCENES = [("interfaces/001.jpg", (0, .6, 0, .2)), ("interfaces/006.jpg", (0, .5, .75, 1)),
          ("interfaces/008.jpg", (0, .45, 0, .3)), ("interfaces/016.jpg", (0, .6, 0, .2)),
          ("misc/obama.jpg", (0, .8, 0, .2)), ("misc/lisa_lisa3.jpg", (0, .6, .7, 1)),
          ("misc/two_people.jpg", (0, .5, .45, .6)), ("interfaces/021.jpg", (0, .6, .8, 1))]
MATTE_STEP = 4
BAD, CLEAN = 0.006, 0.004


def matte(analysis) -> tuple[np.ndarray, np.ndarray]:
    """(analysis image cut to the matte's grid, its matte: premultiplied person and background share)."""
    n = MATTE_STEP
    h, w = analysis.image.shape[0] // n * n, analysis.image.shape[1] // n * n
    image = np.ascontiguousarray(analysis.image[:h, :w])
    person = cv2.resize(analysis.person_mask_small, (w // n, h // n), interpolation=cv2.INTER_LINEAR)
    grid = on_grid(image, person, analysis.chin[1], analysis.landmarks[L.FACE_OVAL, :2])
    return image, solve(image, grid, fill_hair_gaps(grid, trimap(grid)))


def alpha(m: np.ndarray) -> np.ndarray:
    return 1 - m[..., 3].astype(np.float32) / 255


def cut_error(truth: np.ndarray, found: np.ndarray, analysis) -> float:
    """Mean |alpha difference| per outline pixel in the photo's region, in face widths."""
    fw = analysis.face_width
    h, w = found.shape
    truth = truth[:h, :w]
    y1 = int(min(h, analysis.chin[1] + 0.6 * fw))
    x0, x1 = int(max(0, analysis.eye_mid[0] - 0.9 * fw)), int(min(w, analysis.eye_mid[0] + 0.9 * fw))
    inside = (truth > 0.5).astype(np.uint8)
    outline = (inside - cv2.erode(inside, np.ones((3, 3), np.uint8)))[:y1, x0:x1]
    return float(np.abs(found - truth)[:y1, x0:x1].sum() / max(1, outline.sum()) / fw)


def scene(faces: Path, name: str, box, shape) -> np.ndarray:
    rgb = np.asarray(Image.open(faces / name).convert("RGB"))
    h, w = rgb.shape[:2]
    crop = rgb[int(box[0] * h):int(box[1] * h), int(box[2] * w):int(box[3] * w)]
    return cv2.resize(crop, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def own_colour(analysis, image: np.ndarray, part: str) -> np.ndarray | None:
    """Median colour of the person's hair (above the hairline, outside the face) or clothes."""
    sure = cv2.resize(analysis.person_mask_small, image.shape[1::-1]) > 0.97
    face = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(face, [analysis.face_polygon], 1)
    rows = np.arange(image.shape[0])[:, None]
    top, fw = analysis.point(L.FOREHEAD_TOP)[1], analysis.face_width
    if part == "hair":
        where = sure & (face == 0) & (rows < top + 0.1 * fw) & (rows > top - 0.5 * fw)
    else:
        where = sure & (rows > analysis.chin[1] + 0.3 * fw)
    return np.median(image[where], axis=0) if where.sum() >= 50 else None


def walls(faces: Path, analysis, image: np.ndarray, number: int):
    """(set, wall) pairs for one London face."""
    rng = np.random.default_rng(number)
    name, box = SCENES[number % len(SCENES)]
    yield "busy", scene(faces, name, box, image.shape).astype(np.float32)
    name, box = SCENES[(number + 3) % len(SCENES)]
    yield "busy, blurred", cv2.GaussianBlur(scene(faces, name, box, image.shape), (0, 0), 8).astype(np.float32)
    for part in ("hair", "clothes"):
        colour = own_colour(analysis, image, part)
        if colour is not None:
            texture = cv2.GaussianBlur(rng.normal(0, 6, image.shape).astype(np.float32), (0, 0), 2)
            yield part, np.clip(colour[None, None] + texture, 0, 255)


def outcome(report) -> dict:
    """Per credential: background codes failing / not assessed, and whether anything failed."""
    out = {}
    for result in report.results:
        background = {v.code: v.status for v in result.verdicts if v.code.startswith("background.")}
        out[result.credential] = {"background_fail": any(s == "fail" for s in background.values()),
                                  "background_na": any(s == "not_assessed" for s in background.values()),
                                  "failed": sorted(v.code for v in result.failed),
                                  "statuses": background}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "faces"))
    parser.add_argument("--lopo", action="store_true", help="label composites with the matte and refit the limit")
    parser.add_argument("--csv", help="write every image's outcome here")
    args = parser.parse_args(argv)
    faces = Path(args.faces)
    rows = list(csv.DictReader(open(faces / "MANIFEST.csv", encoding="utf-8")))
    has_cutout = "background_cutout" in REGISTRY
    records = []  # (set, name, person, outcome, cutout value, label)
    times = []
    for row in rows:
        file, tags = row["file"], row["tags"].split(";")
        analysis = analyse(decode(faces / file))
        report = photocore.check(analysis, CREDENTIALS)
        value = report.measurements["background_cutout"].value if has_cutout else None
        if has_cutout:
            start = time.process_time()
            for _ in range(20):
                REGISTRY["background_cutout"](analysis)
            times.append((time.process_time() - start) / 20)
        label = "bad" if file in REAL_BAD else None if file in REAL_UNSURE else "clean"
        group = "compliant_pose" if "compliant_pose" in tags else "other real"
        records.append((group, file, person(file), outcome(report), value, label))
        if not file.startswith("london/neutral/") or not analysis.has_face:
            continue
        image, m = matte(analysis)
        premultiplied, share = m[..., :3].astype(np.float32), m[..., 3:].astype(np.float32) / 255
        truth = alpha(m)
        number = int(Path(file).stem)
        for name, wall in walls(faces, analysis, image, number):
            composite = np.clip(premultiplied + share * wall, 0, 255).astype(np.uint8)
            seen = analyse(photocore.from_pixels(composite))
            report = photocore.check(seen, CREDENTIALS)
            value = report.measurements["background_cutout"].value if has_cutout else None
            label = None
            if args.lopo and seen.has_face:
                error = cut_error(truth, alpha(matte(seen)[1]), seen)
                label = "bad" if error > BAD else "clean" if error < CLEAN else None
            records.append((name, f"{file} before a {name} wall", person(file), outcome(report), value, label))

    print(f"Background verdicts per credential: {REPLACED} (background replaced) and {KEPT} (kept)")
    print(f"{'set':16} {'images':>6}  {'replaced: bg fails':>18} {'bg n/a':>7} {'any fails':>9}   "
          f"{'kept: bg fails':>14} {'bg n/a':>7} {'any fails':>9}")
    sets = defaultdict(list)
    for r in records:
        sets[r[0]].append(r)
    for name, members in sets.items():
        cells = []
        for credential in CREDENTIALS:
            outs = [m[3][credential] for m in members]
            cells += [sum(o["background_fail"] for o in outs), sum(o["background_na"] for o in outs),
                      sum(bool(o["failed"]) for o in outs)]
        n = len(members)
        print(f"{name:16} {n:6d}  {cells[0]:11d} ({cells[0] / n:4.0%}) {cells[1]:7d} {cells[2]:9d}   "
              f"{cells[3]:7d} ({cells[3] / n:4.0%}) {cells[4]:7d} {cells[5]:9d}")
    print("\nWhich background codes fail, per set and credential")
    for name, members in sets.items():
        for credential in CREDENTIALS:
            count = defaultdict(int)
            for m in members:
                for code, status in m[3][credential]["statuses"].items():
                    count[f"{code} {status}"] += status != "pass"
            listed = ", ".join(f"{k}: {v}" for k, v in sorted(count.items()) if v)
            print(f"  {name:16} {credential:26} {listed or '-'}")
    real_bad = [r for r in records if r[1] in REAL_BAD]
    print("\nReal portraits with a bad cut (by eye), replaced-background credential: "
          + ", ".join(f"{r[1]} {r[3][REPLACED]['statuses'].get('background.cutout', '-')}"
                      f" ({r[4]})" for r in real_bad))
    if has_cutout:
        rule = next(r for r in load_profile("replaced-background").rules if r.code == "background.cutout")
        print(f"\nbackground.cutout values (limit {rule.describe_limit()}):")
        for name, members in sets.items():
            values = sorted(m[4] for m in members if m[4] is not None)
            if values:
                print(f"  {name:16} n={len(values):3d} median {statistics.median(values):.3f} "
                      f"90th {values[int(0.9 * (len(values) - 1))]:.3f} max {values[-1]:.3f}; "
                      f"not assessed {sum(m[4] is None for m in members)}")
        print(f"\nbackground_cutout measure: median {statistics.median(times) * 1e3:.3f} ms per capture "
              f"(CPU time, over {len(times)} portraits), max {max(times) * 1e3:.3f} ms")
    if args.lopo and has_cutout:
        samples = [(r[2], r[4], r[5] == "bad", r[1]) for r in records if r[4] is not None and r[5] is not None]
        limits, wrong = lopo(samples, "max")
        fails = sum(s[2] for s in samples)
        at_limit = misjudged(samples, rule.limit, "max")
        at_fail = misjudged(samples, rule.limit + rule.uncertainty, "max")

        def split(found):
            return (f"wrongly failed {sum(not s[2] for s in found)}/{len(samples) - fails}, "
                    f"wrongly passed {sum(s[2] for s in found)}/{fails}")
        print(f"\nLeave-one-person-out limit for background.cutout ({len(samples)} labelled images, "
              f"{len({s[0] for s in samples})} people): fit on all "
              f"{fit_limit([s[1] for s in samples], [s[2] for s in samples], 'max'):.3f}, per person "
              f"{min(limits):.3f}-{max(limits):.3f}, median {statistics.median(limits):.3f}")
        print(f"  held out: {split(wrong)}")
        print(f"  at the limit {rule.limit:g}: {split(at_limit)}")
        print(f"  failing only beyond limit + uncertainty ({rule.limit + rule.uncertainty:g}): {split(at_fail)}")
        for s in sorted(set(wrong) | set(at_limit), key=lambda s: s[3])[:30]:
            print(f"      {'should fail' if s[2] else 'should pass'}: {s[3]} ({s[1]:g})")
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["set", "image", "label", "background_cutout"]
                         + [f"{c} {k}" for c in CREDENTIALS for k in ("background", "failed")])
            for r in records:
                out.writerow([r[0], r[1], r[5], r[4]] + [x for c in CREDENTIALS for x in (
                    ";".join(f"{k}={v}" for k, v in r[3][c]["statuses"].items()), ";".join(r[3][c]["failed"]))])
    return 0


if __name__ == "__main__":
    sys.exit(main())
