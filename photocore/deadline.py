"""A per-capture deadline: the operator's cap on how long one capture may take.

Decoding is bounded by limits read from the headers; what is left (a slow machine, a huge but
legal file, many credentials) is capped by checking a ``Deadline`` between the steps of the
work, and between the chunks Pillow reads while decoding. Passing it is ``capture.deadline``.
"""

from __future__ import annotations

import time

from .errors import ConfigError, DeadlineExceeded


class Deadline:
    """``seconds`` from now; ``check(step)`` raises DeadlineExceeded once they have passed."""

    def __init__(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ConfigError(f"a deadline must be a positive number of seconds, not {seconds!r}",
                              code="config.invalid")
        self.seconds = float(seconds)
        self._ends = time.monotonic() + self.seconds

    @classmethod
    def optional(cls, seconds: float | None) -> Deadline | None:
        return None if seconds is None else cls(seconds)

    def remaining(self) -> float:
        return self._ends - time.monotonic()

    def check(self, step: str) -> None:
        if time.monotonic() > self._ends:
            raise DeadlineExceeded(f"the capture took longer than its deadline of {self.seconds:g} s "
                                   f"(stopped while: {step})")
