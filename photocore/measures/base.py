"""What a measure returns, and the registry measures add themselves to (as Pillow's plugins).

A measure is a small pure function of the one ``Analysis``, registered under its own name by
``@measure``. It returns its native value in real units (degrees, pixels, ratios), alone or as a
``Reading`` with details, or ``NotAssessed`` saying why it could not assess the capture. What
stays the same from capture to capture is data beside the limits (``profiles/measures.toml``,
``table.py``): its unit, its decimals and the curve from value to 0-100 quality score (higher
is better). The registry joins the two into the ``Measurement`` the rest of photocore reads.
Judging against limits happens elsewhere (judge.py): a measure never decides pass or fail.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..analysis import Analysis
from ..errors import ConfigError
from .table import SOURCE, TABLES


@dataclass(frozen=True)
class Measurement:
    name: str
    value: float | None  # native value in ``unit``; None when not assessed
    score: int | None  # 0-100, higher is better
    unit: str
    reason: str | None = None  # why the value is None
    details: dict[str, Any] = field(default_factory=dict)  # supporting numbers, for reports and tuning

    @property
    def assessed(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Reading:
    """A measure's value as measured (its table rounds it for the report, after scoring it)."""
    value: float
    details: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, float] = field(default_factory=dict)  # other numbers its score reads (``input``)


@dataclass(frozen=True)
class NotAssessed:
    """Why a measure could not read the capture (its value and score are None)."""
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


Outcome = float | Reading | NotAssessed  # what a measure returns: its value alone, or with more


NO_FACE = "no face was found, so this cannot be measured"

MeasureFn = Callable[[Analysis], Measurement]
REGISTRY: dict[str, MeasureFn] = {}


def measure(fn: Callable[[Analysis], Outcome]) -> MeasureFn:
    """Register ``fn`` under its own name; what it returns becomes a ``Measurement`` with its
    table's unit, rounding and score."""
    name = fn.__name__
    if name in REGISTRY:
        raise ValueError(f"measure {name!r} registered twice")
    if name not in TABLES:
        raise ConfigError(f"{SOURCE} has no table [{name}] for measure {name!r}", code="config.missing_key")
    unit, digits, score = TABLES[name].unit, TABLES[name].digits, TABLES[name].score

    @functools.wraps(fn)
    def run(analysis: Analysis) -> Measurement:
        result = fn(analysis)
        if isinstance(result, NotAssessed):
            return Measurement(name, None, None, unit, result.reason, result.details)
        if not isinstance(result, Reading):
            result = Reading(result)
        if score is None:
            raise ValueError(f"measure {name!r} gave a value, but its table in {SOURCE} has no score")
        value = result.value
        return Measurement(name, value if digits is None else round(value, digits), score(value, result.inputs),
                           unit, None, result.details)

    REGISTRY[name] = run
    return run


def _ranked(values: NDArray[Any], ranks: list[int]) -> list[float]:
    """The entries at positions ``ranks`` of ``values`` sorted (flattened). uint8 values are
    counted per level rather than sorted: the same numbers, several times faster on the
    thousands of pixels of an eye or a lens region."""
    if values.dtype == np.uint8:
        cumulative = np.cumsum(np.bincount(values.ravel(), minlength=256))
        return [int(v) for v in np.searchsorted(cumulative, ranks, side="right")]
    flat = np.sort(values, axis=None)
    return [flat[r].item() for r in ranks]


def percentile(values: NDArray[Any], q: float) -> float:
    """``float(np.percentile(values, q))`` for integer values, by numpy's default ("linear")
    steps; numpy's general machinery costs ~50 µs a call, more than a small eye region."""
    n = values.size
    virtual = (n - 1) * (q / 100)
    if virtual >= n - 1:
        return float(_ranked(values, [n - 1])[0])
    k = math.floor(virtual)
    low, high = _ranked(values, [k, k + 1])
    gamma, step = virtual - k, high - low
    return high - step * (1 - gamma) if gamma >= 0.5 else low + step * gamma


def histogram_median(cumulative: NDArray[Any]) -> float:
    """``np.median`` of the values whose cumulative counts per level (0, 1, ...) are
    ``cumulative``: the middle level, or the mean of the two middle ones, without sorting."""
    n = int(cumulative[-1])
    low, high = np.searchsorted(cumulative, [(n - 1) // 2, n // 2], side="right")
    return (float(low) + float(high)) / 2


def median(values: NDArray[Any]) -> float:
    """``float(np.median(values))`` for integer values: the middle value or the mean of the two."""
    n = values.size
    low, high = _ranked(values, [(n - 1) // 2, n // 2])
    return (low + high) / 2


def variance(x: NDArray[np.floating[Any]]) -> float:
    """``float(np.var(x))`` for a 1-D float array by numpy's own steps (pairwise sums, the
    same divisions), but squaring the deviations in ``x`` itself, which it overwrites:
    one large temporary array fewer."""
    count = np.intp(x.size)
    mean = np.add.reduce(x, keepdims=True)
    np.true_divide(mean, count, out=mean, casting="unsafe")
    np.subtract(x, mean, out=x)
    np.multiply(x, x, out=x)
    total = np.add.reduce(x)
    return float(total.dtype.type(total / count))
