"""Orientation without EXIF, over ../shared/faces: each portrait as it is and turned 90, 180 and
270 degrees. Reports how often an upright portrait is turned (must be 0) and how often a turned
one is put upright, and, for the upside-down margin, a leave-one-person-out check: the margin a
fold would choose from the other people (their largest half-turned-over-upright score difference,
never below 0 since a tie must not turn a picture, plus 0.05) against the held-out person's portraits.

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
from photocore.analysis import UPSIDE_DOWN_MARGIN, upright_scores


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
    for row in rows:
        upright = np.asarray(Image.open(faces / row["file"]).convert("RGB"))
        for k in (0, 1, 2, 3):
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(np.rot90(upright, k))).save(buf, "JPEG", quality=92)
            analysis = photocore.analyse(photocore.decode(buf.getvalue()))
            outcome[k][(k + analysis.quarter_turns) % 4 == 0] += 1
            if k == 0:
                scores = upright_scores(analysis.small)
                differences[row["file"]] = scores[2] - scores[0]
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
