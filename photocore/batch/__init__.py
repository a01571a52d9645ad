"""Batch conversion of archives: a folder of captures to every credential's photos, with a
journal for --resume and reports for people. Written against concurrent.futures.Executor, so
the same job runs on a local process pool or on a Dask cluster."""

from .run import run_batch

__all__ = ["run_batch"]
