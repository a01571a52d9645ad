"""Convert one capture into each credential's photo: check, then render what passed.

"Analyse once, judge many, render few": the models run once, every credential is judged from
the same measurements, and each distinct output is rendered once for all credentials that
share it. A credential whose checks fail gets no photo, only its reasons: never a silently
wrong photo.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from .analysis import Analysis, analyse
from .backgrounds import Background, choose
from .catalogue import PhotoProfile, load_catalogue
from .credentials import judge_credentials
from .deadline import Deadline
from .decode import Capture, ImageSource, decode
from .judge import FAIL, NOT_ASSESSED, Result
from .measures import Measurement, measure_all
from .render import Failure, Rendition, render_all

if TYPE_CHECKING:  # signing loads the crypto libraries: only when asked to sign
    from .sign.stage import SignedPhoto, SigningOptions


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
    def not_assessed(self) -> list[dict[str, str]]:
        """The credential's requirements nobody judged automatically: the clerk checks them by eye."""
        return [{"code": v.code, "message_zh": v.message_zh, "message_en": v.message_en}
                for v in self.result.verdicts if v.status == NOT_ASSESSED]


@dataclass
class Conversion:
    outcomes: list[Outcome]
    analysis: Analysis  # the analysis every credential was judged and rendered from
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage that ran
    signed: dict[str, SignedPhoto] = field(default_factory=dict)  # credential id -> SignedPhoto, when signing
    measurements: dict[str, Measurement] = field(default_factory=dict)  # measure name -> Measurement

    @property
    def turned_degrees(self) -> int:
        """How far the capture was turned (counter-clockwise) because it was on its side or upside down."""
        return 90 * self.analysis.quarter_turns

    @property
    def distinct_renders(self) -> int:
        return len({o.rendition.render_key for o in self.outcomes if o.rendition is not None})


def _no_deadline(step: str) -> None:
    pass


def _c2pa_room(room: int, signing: SigningOptions, profile: PhotoProfile) -> int:
    """Bytes to keep free under ``profile``'s maximum for an embedded C2PA manifest."""
    return room if signing.wants_c2pa(profile) else 0


def convert(source: Analysis | Capture | ImageSource, credentials: Iterable[str], *, catalogue: str | None = None,
            captured_at: datetime | None = None, signing: SigningOptions | None = None,
            deadline: Deadline | float | None = None, background: Background = None,
            largest: bool = False) -> Conversion:
    """Check ``source`` against each credential id, render those that pass, and sign them
    when ``signing`` (a ``photocore.sign.stage.SigningOptions``) is given.

    ``source`` is an ``Analysis`` (from ``photocore.analyse``: the face models do not run
    again, the photos are cut from the capture it was made from), a ``Capture`` (analysed
    here), or what ``decode`` reads (bytes, a path, a binary file). ``timings`` holds the
    stages that ran: no "decode" or "analyse" for an ``Analysis``.

    ``deadline`` (seconds, or a ``Deadline`` already running since the capture arrived) caps
    the whole conversion: past it, ``DeadlineExceeded`` (``capture.deadline``). ``background``
    (white, blue, red, grey or #RRGGBB for all, or {credential id: colour}) picks among the
    colours a credential allows (``photocore.backgrounds.choose``). ``largest``: credentials that
    accept a range of pixel sizes get the largest the capture allows instead of their nominal
    size, at the DPI that keeps the printed size."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if deadline is not None and not isinstance(deadline, Deadline):
        deadline = Deadline(deadline)
    check = deadline.check if deadline is not None else _no_deadline
    loaded = load_catalogue(catalogue)  # once: it looks at the catalogue files' stamps
    profiles = [loaded.get(c) for c in credentials]
    backgrounds = choose(profiles, background)  # a colour no credential allows fails before any work
    if isinstance(source, Analysis):
        analysis = source
    else:
        decoded = source if isinstance(source, Capture) else decode(source, deadline=deadline)
        timings["decode"] = time.perf_counter() - start
        check("decode")
        mark = time.perf_counter()
        analysis = analyse(decoded)
        timings["analyse"] = time.perf_counter() - mark
        check("analysis")
    capture = analysis.capture  # upright: a capture on its side was turned before it was analysed
    if capture is None:
        raise TypeError("convert needs an Analysis made by photocore.analyse (it keeps the capture to render "
                        "from); this one has none")
    mark = time.perf_counter()
    measurements = measure_all(analysis)
    results = judge_credentials(measurements, analysis, profiles, captured_at, backgrounds=backgrounds)
    timings["judge"] = time.perf_counter() - mark
    check("judging")
    passing = [p for p in profiles if results[p.id].compliant]
    reserve: Callable[[PhotoProfile], int] | None = None
    if signing is not None and any(signing.wants_c2pa(p) for p in passing):
        from .sign.stage import c2pa_reserve
        reserve = partial(_c2pa_room, c2pa_reserve(signing), signing)
    renditions = render_all(capture, analysis, passing, timings=timings, reserve=reserve, check=check,
                            backgrounds=backgrounds, largest=largest)
    outcomes = [Outcome(p.id, results[p.id], renditions.get(p.id)) for p in profiles]
    signed: dict[str, SignedPhoto] = {}
    if signing is not None:
        check("rendering")
        from .sign.stage import sign_outcomes
        mark = time.perf_counter()
        signed = sign_outcomes(outcomes, loaded, signing)
        timings["sign"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start
    return Conversion(outcomes, analysis, timings, signed, measurements)
