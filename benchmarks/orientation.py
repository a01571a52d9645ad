"""Orientation without EXIF, over ../shared/faces: each portrait as it is and turned 90, 180 and
270 degrees. Reports how often an upright portrait is turned (must be 0) and how often a turned
one is put upright, and, for the upside-down margin, a leave-one-person-out check: the margin a
fold would choose from the other people (their largest half-turned-over-upright score difference,
never below 0 since a tie must not turn a picture, plus 0.05) against the held-out person's portraits.
The same for the full-range detector's score that lets an upright face skip that check
(analysis.UPRIGHT_SCORE): how many upright portraits reach it, how high the half-turned ones
score, and whether a limit 0.07 above the other people's half-turned scores lets a held-out one through.

    .venv/bin/python benchmarks/orientation.py [--faces ../shared/faces]
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

import photocore
from photocore.analysis.run import UPRIGHT_SCORE, UPSIDE_DOWN_MARGIN, _analyse_as_is, upright_scores


def person(file: str) -> str:
    """The person a portrait shows: the London set names people by number in both folders."""
    m = re.match(r"london/(?:neutral|smiling)/(\d+)", file)
    return f"london-{m[1]}" if m else file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", default=str(Path(__file__).resolve().parents[2] / "shared" / "faces"))
    args = parser.parse_args()
    faces = Path(args.faces)
    rows = list(csv.DictReader(open(faces / "MANIFEST.csv", newline="")))
    outcome = defaultdict(Counter)  # turned by -> {found turns: count}
    differences = {}  # file -> half-turned score minus upright score, on the upright portrait
    sure = {0: {}, 2: {}}  # as it is / turned half round -> file -> the full-range detector's score
    for row in rows:
        upright = np.asarray(Image.open(faces / row["file"]).convert("RGB"))
        for k in (0, 1, 2, 3):
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(np.rot90(upright, k))).save(buf, "JPEG", quality=92)
            capture = photocore.decode(buf.getvalue())
            analysis = photocore.analyse(capture)
            outcome[k][(k + analysis.quarter_turns) % 4 == 0] += 1
            if k == 0:
                scores = upright_scores(analysis.small)
                differences[row["file"]] = scores[2] - scores[0]
            if k in sure:
                seen = analysis if k == 0 else _analyse_as_is(capture)  # what the upside-down check sees
                sure[k][row["file"]] = seen.faces[0].score if seen.faces else 0.0
    print(f"{len(rows)} portraits; a turned portrait counts as put upright when analyse turned it back")
    for k in (0, 1, 2, 3):
        c = outcome[k]
        label = "as it is (must stay)" if k == 0 else f"turned {90 * k} degrees"
        print(f"  {label:24} upright after analysis: {c[True]}/{c[True] + c[False]}")
    by_person = defaultdict(list)
    for file, d in differences.items():
        by_person[person(file)].append(d)
    wrong = missed = total = 0
    for held, ds in by_person.items():
        others = [d for p, values in by_person.items() if p != held for d in values]
        margin = max(0.0, max(others)) + 0.05
        wrong += sum(d > margin for d in ds)  # an upright held-out portrait would be turned
        missed += sum(-d <= margin for d in ds)  # its half-turned copy would not be
        total += len(ds)
    print(f"upside-down margin: shipped {UPSIDE_DOWN_MARGIN}; largest half-turned-over-upright difference "
          f"{max(differences.values()):.3f}")
    print(f"leave-one-person-out ({len(by_person)} people): upright turned {wrong}/{total}, "
          f"upside-down missed {missed}/{total}")
    print(f"skipping that check: shipped full-range score >= {UPRIGHT_SCORE}; upright portraits that reach it "
          f"{sum(v >= UPRIGHT_SCORE for v in sure[0].values())}/{len(sure[0])}; half-turned ones score at most "
          f"{max(sure[2].values()):.3f}")
    through = sum(v >= max(w for f, w in sure[2].items() if person(f) != person(file)) + 0.07
                  for file, v in sure[2].items())
    print(f"leave-one-person-out: half-turned portraits over the limit 0.07 above the others' {through}/{len(sure[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
