"""The check stage: measure a capture once, then judge it against each requested profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .analysis import Analysis, analyse
from .catalogue import load_catalogue
from .credentials import judge_credentials
from .decode import decode
from .judge import Result, judge, load_profile
from .measures import Measurement, measure_all


@dataclass(frozen=True)
class CheckReport:
    faces: int
    results: tuple[Result, ...]
    measurements: dict[str, Measurement]
    analysis: Analysis

    @property
    def compliant(self) -> bool:
        return all(r.compliant for r in self.results)

    def to_dict(self, file: str | None = None) -> dict:
        out = {"file": file} if file is not None else {}
        out.update({"faces": self.faces, "turned_degrees": 90 * self.analysis.quarter_turns,
                    "results": [r.to_dict() for r in self.results]})
        return out


def check(source, credentials: list[str] | tuple[str, ...] = (), *, catalogue: str | None = None,
          captured_at: datetime | None = None) -> CheckReport:
    """Judge a capture (an ``Analysis``, a ``Capture``, a path or bytes).

    Without ``credentials`` the capture is judged as a master capture ("capture"); otherwise
    against each credential of the catalogue (built-in, or with the ``catalogue`` overlay).
    The models run once; every credential is judged from the same measurements.
    """
    profiles = [load_catalogue(catalogue).get(c) for c in credentials if c != "capture"]  # unknown ids fail early
    if not isinstance(source, Analysis):
        source = analyse(source if hasattr(source, "analysis") else decode(source))
    measurements = measure_all(source)
    results = []
    if not credentials or "capture" in credentials:
        results.append(judge(measurements, load_profile("capture"), "capture"))
    by_id = judge_credentials(measurements, source, profiles, captured_at)
    results.extend(by_id[p.id] for p in profiles)
    return CheckReport(faces=len(source.faces), results=tuple(results), measurements=measurements, analysis=source)
