"""Render time of a print sheet (issue 17 item 5): one credential's photo laid out on a 6-inch,
5-inch and A4 print, as JPEG (300 dpi) and PDF, on one core. Medians over repeated runs.

    .venv/bin/python benchmarks/sheet.py [--runs 11]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from speed import pin_one_core

import photocore
from photocore.sheet import PAPERS, build_sheet

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample_capture.jpg"
CREDENTIALS = ("police.resident-id-card", "police.passport")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args(argv)
    pin_one_core()
    conversion = photocore.convert(SAMPLE, list(CREDENTIALS))
    photos = {o.credential: o.rendition.data for o in conversion.outcomes if o.ok}
    missing = set(CREDENTIALS) - set(photos)
    if missing:
        raise SystemExit(f"the sample capture did not convert for {sorted(missing)}")
    build_sheet(photos[CREDENTIALS[0]], CREDENTIALS[0])  # fonts and modules loaded once, not timed

    print(f"{'credential':26} {'paper':6} {'fmt':4} {'copies':>6} {'median ms':>10} {'bytes':>9}")
    for credential, photo in photos.items():
        for paper in PAPERS:
            for fmt in ("jpeg", "pdf"):
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    sheet = build_sheet(photo, credential, paper=paper, fmt=fmt)
                    times.append((time.perf_counter() - start) * 1000)
                print(f"{credential:26} {paper:6} {fmt:4} {sheet.copies:6d} {statistics.median(times):10.1f} "
                      f"{len(sheet.data):9d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
