"""Run a batch: walk the input folder, fan the captures out to an Executor, journal, report.

Captures are found by content (a quick header sniff, never the file name), and nothing under
the input folder is ever written. At most ``2 x workers`` captures are in flight, so memory
stays flat for archives of any size. The executor is any ``concurrent.futures.Executor``: a
``ProcessPoolExecutor`` here (spawned processes, each loading the models once), or Dask's
``client.get_executor()`` for a cluster.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import time
from pathlib import Path

from PIL import Image

from ..errors import ConfigError
from ..orphans import exit_with_parent
from ..private_files import mkdir_private
from .job import BatchSettings, error_record, process
from .journal import Journal
from .report import write_reports

SKIP_DIRS = {".photocore-batch"}


def _looks_like_image(path: Path) -> bool:
    """Content sniff: anything Pillow recognises from the header, plus empty/garbled files that
    carry an image extension (so that a corrupt capture is reported, not silently skipped)."""
    try:
        with Image.open(path) as im:
            im.format  # noqa: B018 - header parsed
        return True
    except Exception:  # noqa: BLE001 - whatever Pillow raises, it does not know the header
        return path.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def find_captures(in_dir) -> list[tuple[str, str]]:
    """[(path, path relative to in_dir)] of every capture below ``in_dir``, sorted."""
    root = Path(in_dir)
    if not root.is_dir():
        raise ConfigError(f"{in_dir} is not a folder", code="batch.no_input")
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if not name.startswith(".") and _looks_like_image(path):
                found.append((str(path), str(path.relative_to(root))))
    return found


def _worker_init(parent: int) -> None:
    """Each worker dies with the batch process, even when that is killed with ``kill -9``, also
    while the worker is still starting."""
    exit_with_parent(parent)


def local_executor(workers: int) -> cf.Executor:
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers must be a whole number of at least 1, not {workers!r}",
                          code="config.invalid_count")
    # spawn, not fork: MediaPipe's graphs hold threads that do not survive a fork
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_worker_init, initargs=(os.getpid(),))


def run_batch(in_dir, out_dir, settings: BatchSettings, executor: cf.Executor, *, workers: int, resume: bool = False,
              show_progress: bool = False) -> dict:
    """Convert every capture below ``in_dir`` into ``out_dir``; returns the summary.

    ``workers``: how many captures ``executor`` runs at once (its processes, or the cluster's
    workers); ``2 x workers`` are submitted at a time, so each worker has the next one waiting.
    ``show_progress`` draws a progress bar with rate and ETA on stderr (tqdm)."""
    if Path(out_dir).resolve().is_relative_to(Path(in_dir).resolve()):
        raise ConfigError("the output folder must not be inside the input folder (the input is never modified)",
                          code="batch.output_inside_input")
    captures = find_captures(in_dir)
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise ConfigError(f"the output folder {out_dir} is a file, not a folder", code="output.unwritable")
    try:
        mkdir_private(out_dir)
        journal = Journal(out_dir, resume)
    except OSError as exc:
        raise ConfigError(f"cannot write to the output folder {out_dir}: {exc.strerror or exc}",
                          code="output.unwritable") from exc
    todo = [(path, rel) for path, rel in captures if not journal.done(rel)]
    started = time.perf_counter()
    progress = None
    if show_progress:
        from tqdm import tqdm
        progress = tqdm(total=len(captures), initial=len(captures) - len(todo), unit="capture", desc="batch",
                        file=sys.stderr, dynamic_ncols=True)
    window = max(2, 2 * workers)
    pending: dict[cf.Future, str] = {}
    queue = iter(todo)
    try:
        while True:
            while len(pending) < window:
                item = next(queue, None)
                if item is None:
                    break
                pending[executor.submit(process, item[0], item[1], settings)] = item[1]
            if not pending:
                break
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                rel = pending.pop(future)
                try:
                    record = future.result()
                except Exception as exc:  # noqa: BLE001 - the worker itself died (killed, out of memory)
                    record = error_record(rel, settings.credentials, "batch.worker_lost",
                                          str(exc) or type(exc).__name__)
                trace = record.pop("traceback", None)
                if trace:  # --debug: where a capture's error came from (above the progress bar)
                    (progress.write if progress else print)(f"{rel}:\n{trace}", file=sys.stderr, end="")
                journal.add(record)
                if progress:
                    progress.update(1)
    finally:
        journal.close()
        if progress:
            progress.close()
    summary = write_reports(out_dir, [journal.records[rel] for _, rel in captures if rel in journal.records])
    summary.update(converted_now=len(todo), seconds=round(time.perf_counter() - started, 2))
    return summary
