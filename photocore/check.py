"""The check stage: measure a capture once, then judge it against each requested profile."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .analysis import Analysis, analyse
from .backgrounds import Background, choose
from .catalogue import load_catalogue
from .credentials import judge_credentials
from .decode import Capture, ImageSource, decode
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

    def to_dict(self, file: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"file": file} if file is not None else {}
        out.update({"faces": self.faces, "turned_degrees": 90 * self.analysis.quarter_turns,
                    "results": [r.to_dict() for r in self.results]})
        return out


def check(source: Analysis | Capture | ImageSource, credentials: list[str] | tuple[str, ...] = (), *,
          catalogue: str | None = None, captured_at: datetime | None = None,
          background: Background = None) -> CheckReport:
    """Judge a capture (an ``Analysis``, a ``Capture``, or what ``decode`` reads: bytes, a path).

    Without ``credentials`` the capture is judged as a master capture ("capture"); otherwise
    against each credential of the catalogue (built-in, or with the ``catalogue`` overlay).
    The models run once; every credential is judged from the same measurements. ``background``
    (as for ``convert``: a name or #RRGGBB for all, or {credential id: colour}) is the colour the
    clothing is judged against where a credential allows several.
    """
    loaded = load_catalogue(catalogue)  # once: it looks at the catalogue files' stamps
    profiles = [loaded.get(c) for c in credentials if c != "capture"]  # unknown ids fail early
    backgrounds = choose(profiles, background) if background is not None else None
    if isinstance(source, Analysis):
        analysis = source
    else:
        analysis = analyse(source if isinstance(source, Capture) else decode(source))
    measurements = measure_all(analysis)
    results = []
    if not credentials or "capture" in credentials:
        results.append(judge(measurements, load_profile("capture"), "capture"))
    by_id = judge_credentials(measurements, analysis, profiles, captured_at, backgrounds=backgrounds)
    results.extend(by_id[p.id] for p in profiles)
    return CheckReport(faces=len(analysis.faces), results=tuple(results), measurements=measurements,
                       analysis=analysis)
