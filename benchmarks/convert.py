"""Speed of converting one 12-megapixel capture for all 184 credentials, on one core.

Medians over repeated runs, per stage (decode, analyse, judge, source pixels, render, encode)
and in total; and, in the same run, the floor: decoding the capture plus encoding the
distinct renditions alone. Targets: total <= 300 ms, total <= 2x the floor, peak RSS <= 600 MB.

    .venv/bin/python benchmarks/convert.py [--runs 11]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import sys
import time

import numpy as np
from PIL import Image

import photocore
from photocore.catalogue import load_catalogue
from photocore.convert import convert
from photocore.render.encode import save

sys.path.insert(0, os.path.dirname(__file__))
from speed import pin_one_core, twelve_megapixel_jpeg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args(argv)
    pin_one_core()
    data = twelve_megapixel_jpeg()
    catalogue = load_catalogue()
    credentials = list(catalogue.credentials)
    stages: dict[str, list[float]] = {}
    floors = []
    for run in range(args.runs + 1):
        conversion = convert(data, credentials)
        # the floor: decode the capture at the size the renders need, encode each distinct output once
        renditions = {o.rendition.render_key: (o.rendition, catalogue.get(o.credential))
                      for o in conversion.outcomes if o.rendition and o.rendition.ok}
        # RGB or grey, as made
        pixels = {key: np.asarray(Image.open(io.BytesIO(r.data))) for key, (r, _) in renditions.items()}
        max_scale = max(r.frame.scale for r, _ in renditions.values())
        start = time.perf_counter()
        capture = photocore.decode(data)
        capture.pixels(int(max(capture.width, capture.height) * min(1.0, max_scale) * 1.02))
        sizes = {}
        for key, (rendition, profile) in renditions.items():  # one encode each, as the renderer encodes it
            sizes[key] = len(save(Image.fromarray(pixels[key]), rendition.format, profile.dpi, rendition.quality))
        floor = time.perf_counter() - start
        for key, (rendition, _) in renditions.items():  # same settings: the same size, give or take re-encoding
            assert abs(sizes[key] - rendition.bytes) < 0.1 * rendition.bytes, (key, sizes[key], rendition.bytes)
        if run == 0:
            continue  # warm-up: model load
        floors.append(floor)
        for stage, seconds in conversion.timings.items():
            stages.setdefault(stage, []).append(seconds)
    ok = sum(o.ok for o in conversion.outcomes)
    print(f"12 MP capture, {len(credentials)} credentials ({ok} produced), "
          f"{conversion.distinct_renders} distinct renders, {args.runs} runs, one core")
    print(f"{'stage':10} {'median ms':>10}")
    for stage in ("decode", "analyse", "judge", "source", "render", "encode", "total"):
        print(f"{stage:10} {statistics.median(stages[stage]) * 1000:10.1f}")
    total, floor = statistics.median(stages["total"]), statistics.median(floors)
    print(f"{'floor':10} {floor * 1000:10.1f}   "
          "(decode the capture + one encode per distinct rendition at its final quality)")
    # each run's own: the machine's noise cancels more
    ratios = [t / f for t, f in zip(stages["total"], floors, strict=True)]
    print(f"ratio total / floor: {total / floor:.2f} (of the medians); per run: median {statistics.median(ratios):.2f},"
          f" range {min(ratios):.2f}-{max(ratios):.2f}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
