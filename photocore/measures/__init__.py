"""Quality measures in the ISO/IEC 29794-5 family, one small module each.

Importing this package registers every measure, each with its table in
``profiles/measures.toml`` (unit, decimals, score curve). ``measure_all`` runs each registered
measure once on an analysis; the results are shared by every profile that is judged.
"""

from __future__ import annotations

from ..analysis import Analysis
from . import (  # noqa: F401  (imported to register)
    background,
    clothing,
    colour,
    compression,
    contrast,
    covering,
    cutout,
    exposure,
    expression,
    eye_region,
    eyes_open,
    face_count,
    face_size,
    hair,
    head_size,
    lighting,
    margins,
    mouth,
    occlusion,
    pose,
    sharpness,
    unified_quality,
)
from .base import REGISTRY, Measurement
from .table import check_tables

check_tables(REGISTRY)  # a table naming no measure is a typo, found now rather than never


def measure_all(analysis: Analysis) -> dict[str, Measurement]:
    return {name: fn(analysis) for name, fn in REGISTRY.items()}


__all__ = ["Measurement", "REGISTRY", "measure_all"]
