"""Shared fixtures: real faces from tests/data (see its ATTRIBUTION.md), checked once each."""

from __future__ import annotations

import io
from functools import lru_cache
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


@lru_cache(maxsize=None)
def _report(path: str):
    return photocore.check(path)


def report_for(path) -> "photocore.CheckReport":
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
