"""Captures per second of `photocore batch` over ../shared/faces/london: 1 and 2 local worker
processes, and a Dask LocalCluster with 2 workers, in one run. Target: 2 workers at least 1.8x
one worker. Wall time includes starting the workers and loading their models.

    .venv/bin/python benchmarks/batch.py [--credential ID ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from photocore.batch import run_batch
from photocore.batch.job import BatchSettings
from photocore.batch.run import find_captures, local_executor
from photocore.catalogue import load_catalogue

FACES = Path(__file__).resolve().parents[1].parent / "shared" / "faces" / "london"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--credential", action="append", help="default: all 184")
    parser.add_argument("--faces", default=str(FACES))
    args = parser.parse_args(argv)
    credentials = tuple(args.credential or load_catalogue().credentials)
    n = len(find_captures(args.faces))
    print(f"{n} captures from {args.faces}, {len(credentials)} credentials each")
    rates = {}
    for label, workers in (("local, 1 worker", 1), ("local, 2 workers", 2), ("dask LocalCluster, 2 workers", None)):
        with tempfile.TemporaryDirectory() as out:
            settings = BatchSettings(out_dir=out, credentials=credentials)
            if workers:
                executor = local_executor(workers)
                summary = run_batch(args.faces, out, settings, executor, workers=workers)
                executor.shutdown()
            else:
                import dask
                from distributed import Client, LocalCluster
                # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers, which switches off
                # glibc's adaptive mmap threshold: every large numpy/OpenCV buffer is then a fresh
                # mmap with page faults, and rendering runs ~1.7x slower. Workers for photocore
                # should be started without it (see README, batch).
                dask.config.set({"distributed.nanny.pre-spawn-environ": {}})
                with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, Client(cluster) as client:
                    summary = run_batch(args.faces, out, settings, client.get_executor(), workers=2)
            rates[label] = summary["captures"] / summary["seconds"]
            print(f"{label:30} {rates[label]:6.2f} captures/s ({summary['seconds']} s, {summary['photos']} photos)")
    print(f"scaling 1 -> 2 local workers: {rates['local, 2 workers'] / rates['local, 1 worker']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
