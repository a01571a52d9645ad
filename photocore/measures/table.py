"""What each measure is, as data beside the limits: ``profiles/measures.toml`` holds one table
per measure with its unit, a line saying what the value is, the decimals it is reported to and
its score mapping (``scores.py``). Read and checked once, when the measures register; a bad
file stops the import with an error naming the measure.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from ..errors import ConfigError
from .scores import Score, score_mapping

SOURCE = "measures.toml"


@dataclass(frozen=True)
class Table:
    unit: str
    description: str
    digits: int | None  # the value is reported rounded to this many decimals; None: as measured
    score: Score | None  # None: the measure never gives a value


_TYPES: dict[str, tuple[type, str]] = {"unit": (str, "a string"), "description": (str, "a string"),
                                       "digits": (int, "a whole number"), "score": (dict, "a table")}
_REQUIRED = ("unit", "description", "score")


def read_tables(text: str, source: str = SOURCE) -> dict[str, Table]:
    """The tables of ``text``, each checked."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: {exc}", code="config.invalid") from exc
    tables = {}
    for name, entry in data.items():
        where = f"{source} [{name}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table", code="config.invalid")
        for key, value in entry.items():
            if key not in _TYPES:
                raise ConfigError(f"{where}: unknown key {key!r} (keys: {', '.join(_TYPES)})", code="config.invalid")
            kind, what = _TYPES[key]
            if not isinstance(value, kind) or isinstance(value, bool) or isinstance(value, int) and value < 0:
                raise ConfigError(f"{where}: {key} must be {what}, not {value!r}", code="config.invalid")
        for key in _REQUIRED:
            if key not in entry:
                raise ConfigError(f"{where}: missing {key!r}", code="config.missing_key")
        tables[name] = Table(entry["unit"], entry["description"], entry.get("digits"),
                             score_mapping(entry["score"], f"{where} score"))
    return tables


TABLES = read_tables(resources.files("photocore.profiles").joinpath(SOURCE).read_text(encoding="utf-8"))


def check_tables(measures: Iterable[str], tables: Iterable[str] = TABLES) -> None:
    """Every table belongs to a measure (a measure without a table fails when it registers)."""
    orphans = sorted(set(tables) - set(measures))
    if orphans:
        raise ConfigError(f"{SOURCE}: no measure is named {', '.join(orphans)} (tables without a measure)",
                          code="config.unknown_measure")
