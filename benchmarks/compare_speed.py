"""Speed of `check` on a 12 MP capture, two source trees compared in the same run.

A machine shared with other work drifts by tens of percent within a minute, so two separate
runs of benchmarks/speed.py cannot show a 10% difference. Here one worker process per tree
(PYTHONPATH selects its photocore; each prints which one it imported) times the same stages
as speed.py on the same 12 MP JPEG, both on the same one core, and the two workers take turns
capture by capture, so both see the same load. Reported: the median per stage for each tree and their
ratio, the median of the per-turn ratios, and the same for the check's CPU time (all threads of
the worker: what the work costs when other processes take the core away now and then).

    .venv/bin/python benchmarks/compare_speed.py BEFORE_TREE [AFTER_TREE] [--runs 61]

e.g. ``git worktree add /tmp/before <commit>`` and
``.venv/bin/python benchmarks/compare_speed.py /tmp/before .`` (AFTER_TREE defaults to this one).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("decode", "analyse", "measure+judge", "analyse+measure+judge", "check",
          "analyse+measure+judge CPU", "check CPU")


def worker() -> int:
    """Time one capture per line read from stdin; answer with one JSON line of stage times."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import cv2

    cv2.setNumThreads(1)
    from speed import timed, twelve_megapixel_jpeg

    import photocore
    from photocore.analysis import analyse
    from photocore.judge import judge, load_profile
    from photocore.measures import measure_all

    data = twelve_megapixel_jpeg()
    profile = load_profile("capture")

    def once() -> dict:
        cpu = time.process_time()
        capture, t_decode = timed(lambda: photocore.decode(data))
        cpu_decoded = time.process_time()
        analysis, t_analyse = timed(lambda: analyse(capture))
        _, t_measure = timed(lambda: judge(measure_all(analysis), profile))
        return {"decode": t_decode, "analyse": t_analyse, "measure+judge": t_measure,
                "analyse+measure+judge": t_analyse + t_measure, "check": t_decode + t_analyse + t_measure,
                "analyse+measure+judge CPU": (time.process_time() - cpu_decoded) * 1000,
                "check CPU": (time.process_time() - cpu) * 1000}

    for _ in range(2):  # warm-up: model load, first-call allocations
        once()
    print(json.dumps({"photocore": photocore.__file__}), flush=True)
    for _ in sys.stdin:
        print(json.dumps(once()), flush=True)
    return 0


def start(tree: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.Popen([sys.executable, __file__, "--worker"], env=env, cwd=ROOT / "benchmarks", text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return proc, json.loads(proc.stdout.readline())["photocore"]


def turn(proc: subprocess.Popen) -> dict:
    proc.stdin.write("run\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--worker"]:  # started by ``start``
        return worker()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?", default=ROOT)
    parser.add_argument("--runs", type=int, default=61, help="captures per tree")
    args = parser.parse_args(argv)
    workers = {}
    for name, tree in (("before", args.before), ("after", args.after)):
        workers[name] = start(tree.resolve())
        print(f"{name:6} imports {workers[name][1]}")
    times = {"before": [], "after": []}
    for i in range(args.runs):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        for name in order:
            times[name].append(turn(workers[name][0]))
    for proc, _ in workers.values():
        proc.stdin.close()
        proc.wait()

    print(f"\n12 MP capture, {args.runs} turns each, medians in ms")
    print(f"  {'stage':26} {'before':>8} {'after':>8} {'ratio':>7}")
    for stage in STAGES:
        before = statistics.median(t[stage] for t in times["before"])
        after = statistics.median(t[stage] for t in times["after"])
        print(f"  {stage:26} {before:8.1f} {after:8.1f} {after / before:7.3f}")
    print("  median of per-turn ratios: " + ", ".join(
        f"{stage} "
        f"{statistics.median(a[stage] / b[stage] for a, b in zip(times['after'], times['before'], strict=True)):.3f}"
        for stage in ("analyse+measure+judge", "check", "analyse+measure+judge CPU", "check CPU")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
