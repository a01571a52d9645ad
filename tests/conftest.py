"""Shared fixtures: real faces from tests/data (see its ATTRIBUTION.md), checked once each.

Also the rules every test module keeps:
- ``wait_for(check, timeout, what)``: wait on a condition, with a deadline, never on a guessed
  ``time.sleep`` (a loaded machine makes any guess too short).
- The environment: a test sets variables with ``monkeypatch`` (a module or session fixture with
  ``pytest.MonkeyPatch.context()``); ``_environment_restored`` fails a module that leaves a
  PHOTOCORE_/AGENCY_/AWS_ variable changed behind it.
- Markers (``--strict-markers``, pyproject.toml): ``slow`` (seconds or more each, or an expensive
  module fixture) and ``postgres`` (starts the private PostgreSQL server of tests/pg.py);
  ``make test-fast`` runs ``-m "not slow and not postgres"``.
"""

from __future__ import annotations

import io
import os
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import photocore

DATA = Path(__file__).parent / "data" / "faces"
NEUTRAL = sorted(DATA.glob("london_neutral_*.jpg"))
SMILING = sorted(DATA.glob("london_smiling_*.jpg"))
SUNGLASSES = [DATA / "interfaces_004.jpg", DATA / "interfaces_010.jpg"]
TWO_FACES = DATA / "misc_two_people.jpg"


@cache
def _report(path: str):
    return photocore.check(path)


def report_for(path) -> photocore.CheckReport:
    return _report(str(path))


def statuses(report) -> dict[str, str]:
    return {v.code: v.status for v in report.results[0].verdicts}


def jpeg_bytes(array: np.ndarray, quality: int = 92) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "JPEG", quality=quality)
    return out.getvalue()


def load_rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="session")
def neutral_report():
    return report_for(NEUTRAL[0])


def wait_for(check, timeout: float, what: str, interval: float = 0.05):
    """Call ``check()`` until it returns something true and return that; after ``timeout``
    seconds an AssertionError naming ``what``. Exceptions from ``check`` propagate (a check can
    assert that what it waits on is still alive)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
    return result


_GUARDED_ENV = ("PHOTOCORE_", "AGENCY_", "AWS_")


def _guarded_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(_GUARDED_ENV)}


@pytest.fixture(scope="module", autouse=True)
def _environment_restored(request):
    """Set up before, and torn down after, every other fixture of a module: what the module's
    tests and fixtures set in the environment must be gone when it ends."""
    before = _guarded_env()
    yield
    after = _guarded_env()
    if after != before:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        pytest.fail(f"{request.module.__name__} left environment variables changed: {changed} "
                    "(set them with monkeypatch or pytest.MonkeyPatch.context())", pytrace=False)


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 for a module's tests (tests/servers.py)."""
    from servers import MotoServer
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log").start()
    yield server
    server.stop()
