"""Convert one capture into each credential's photo: check, then render what passed.

"Analyse once, judge many, render few": the models run once, every credential is judged from
the same measurements, and each distinct output is rendered once for all credentials that
share it. A credential whose checks fail gets no photo, only its reasons: never a silently
wrong photo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from .analysis import analyse
from .backgrounds import choose
from .catalogue import load_catalogue
from .credentials import judge_credentials
from .deadline import Deadline
from .decode import decode
from .judge import FAIL, NOT_ASSESSED, Result
from .measures import measure_all
from .render import Failure, Rendition, render_all


@dataclass(frozen=True)
class Outcome:
    credential: str
    result: Result  # the credential's verdicts
    rendition: Rendition | None  # None when the checks failed

    @property
    def ok(self) -> bool:
        return self.result.compliant and self.rendition is not None and self.rendition.ok

    @property
    def failures(self) -> list[Failure]:
        out = [Failure(v.code, v.message_zh, v.message_en, f"value {v.value}, limit {v.limit}")
               for v in self.result.verdicts if v.status == FAIL]
        if self.rendition is not None:
            out += list(self.rendition.failures)
        return out

    @property
    def not_assessed(self) -> list[dict]:
        """The credential's requirements nobody judged automatically: the clerk checks them by eye."""
        return [{"code": v.code, "message_zh": v.message_zh, "message_en": v.message_en}
                for v in self.result.verdicts if v.status == NOT_ASSESSED]


@dataclass
class Conversion:
    outcomes: list[Outcome]
    analysis: object
    timings: dict = field(default_factory=dict)  # seconds per stage
    signed: dict = field(default_factory=dict)  # credential id -> SignedPhoto, when signing
    measurements: dict = field(default_factory=dict)  # measure name -> Measurement

    @property
    def turned_degrees(self) -> int:
        """How far the capture was turned (counter-clockwise) because it was on its side or upside down."""
        return 90 * self.analysis.quarter_turns

    @property
    def distinct_renders(self) -> int:
        return len({o.rendition.render_key for o in self.outcomes if o.rendition is not None})


def convert(source, credentials, *, catalogue: str | None = None, captured_at: datetime | None = None,
            signing=None, deadline: Deadline | float | None = None, background=None,
            largest: bool = False) -> Conversion:
    """Check ``source`` against each credential id, render those that pass, and sign them
    when ``signing`` (a ``photocore.sign.stage.SigningOptions``) is given.

    ``deadline`` (seconds, or a ``Deadline`` already running since the capture arrived) caps
    the whole conversion: past it, ``DeadlineExceeded`` (``capture.deadline``). ``background``
    (white, blue, red, grey or #RRGGBB for all, or {credential id: colour}) picks among the
    colours a credential allows (``photocore.backgrounds.choose``). ``largest``: credentials that
    accept a range of pixel sizes get the largest the capture allows instead of their nominal
    size, at the DPI that keeps the printed size."""
    timings = {}
    start = time.perf_counter()
    if deadline is not None and not isinstance(deadline, Deadline):
        deadline = Deadline(deadline)
    check = deadline.check if deadline is not None else (lambda step: None)
    profiles = [load_catalogue(catalogue).get(c) for c in credentials]
    backgrounds = choose(profiles, background)  # a colour no credential allows fails before any work
    capture = source if hasattr(source, "analysis") else decode(source, deadline=deadline)
    timings["decode"] = time.perf_counter() - start
    check("decode")
    mark = time.perf_counter()
    analysis = analyse(capture)
    capture = capture.turned(analysis.quarter_turns)  # a capture on its side is rendered upright
    timings["analyse"] = time.perf_counter() - mark
    check("analysis")
    mark = time.perf_counter()
    measurements = measure_all(analysis)
    results = judge_credentials(measurements, analysis, profiles, captured_at)
    timings["judge"] = time.perf_counter() - mark
    check("judging")
    passing = [p for p in profiles if results[p.id].compliant]
    reserve = None
    if signing is not None and any(signing.wants_c2pa(p) for p in passing):
        from .sign.stage import c2pa_reserve
        room = c2pa_reserve(signing)
        reserve = lambda profile: room if signing.wants_c2pa(profile) else 0  # noqa: E731
    renditions = render_all(capture, analysis, passing, timings=timings, reserve=reserve, check=check,
                            backgrounds=backgrounds, largest=largest)
    outcomes = [Outcome(p.id, results[p.id], renditions.get(p.id)) for p in profiles]
    signed = {}
    if signing is not None:
        check("rendering")
        from .sign.stage import sign_outcomes
        mark = time.perf_counter()
        signed = sign_outcomes(outcomes, load_catalogue(catalogue), signing)
        timings["sign"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start
    return Conversion(outcomes, analysis, timings, signed, measurements)
