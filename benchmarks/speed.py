"""Speed of decode, analysis and all measures, on one core, medians over repeated runs.

Inputs are built from examples/sample_capture.jpg: a 12-megapixel JPEG (4000x3000, the face
scaled up as a counter camera would see it) and a 1280x720 frame (a kiosk's live preview,
passed as pixels, so no decode). Targets: analysis + measures <= 60 ms for 12 MP (decode
reported separately), <= 30 ms per 720p frame.

    .venv/bin/python benchmarks/speed.py [--runs 21] [--all-cores]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

import photocore
from photocore.analysis import analyse
from photocore.judge import judge, load_profile
from photocore.measures import measure_all

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample_capture.jpg"


def twelve_megapixel_jpeg() -> bytes:
    face = np.asarray(Image.open(SAMPLE).convert("RGB").resize((3000, 3000), Image.LANCZOS))
    canvas = cv2.copyMakeBorder(face, 0, 0, 500, 500, cv2.BORDER_REPLICATE)  # 4000 x 3000
    out = io.BytesIO()
    Image.fromarray(canvas).save(out, "JPEG", quality=92)
    return out.getvalue()


def frame_720p() -> np.ndarray:
    face = np.asarray(Image.open(SAMPLE).convert("RGB").resize((720, 720), Image.LANCZOS))
    return np.ascontiguousarray(cv2.copyMakeBorder(face, 0, 0, 280, 280, cv2.BORDER_REPLICATE))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000


def bench(label: str, make_capture, runs: int) -> None:
    profile = load_profile("capture")
    stages = {"decode": [], "analyse": [], "measure+judge": [], "analyse+measure+judge": []}
    for i in range(runs + 2):
        capture, t_decode = timed(make_capture)
        analysis, t_analyse = timed(lambda capture=capture: analyse(capture))
        _, t_measure = timed(lambda analysis=analysis: judge(measure_all(analysis), profile))
        if i < 2:
            continue  # warm-up: model load, first-call allocations
        stages["decode"].append(t_decode)
        stages["analyse"].append(t_analyse)
        stages["measure+judge"].append(t_measure)
        stages["analyse+measure+judge"].append(t_analyse + t_measure)
    print(f"\n{label} ({runs} runs, median / min ms)")
    for stage, values in stages.items():
        print(f"  {stage:24} {statistics.median(values):8.1f} {min(values):8.1f}")


def pin_one_core() -> None:
    """Run on one core, as the per-core figures in the notes are: a shared machine's other
    cores come and go, one core's time does not."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    args = parser.parse_args(argv)
    if not args.all_cores:
        pin_one_core()
    print(f"cores used: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")
    data = twelve_megapixel_jpeg()
    print(f"12 MP JPEG: 4000x3000, {len(data) / 1e6:.1f} MB")
    bench("12 MP capture", lambda: photocore.decode(data), args.runs)
    frame = frame_720p()
    bench("720p frame (pixels in)", lambda: photocore.from_pixels(frame), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
