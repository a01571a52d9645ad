"""Typed errors with stable codes.

Every failure a caller can meet (bad bytes, bad configuration, a capture with no face) is one
of these classes. ``code`` is stable and documented in the README; ``message`` is for people.
Callers branch on the class or the code, never on the message text.
"""

from __future__ import annotations


class PhotocoreError(Exception):
    """Base of every error photocore raises on purpose."""

    code = "photocore.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class DecodeError(PhotocoreError):
    """The input bytes are not an image we can use.

    Codes: ``decode.empty``, ``decode.truncated``, ``decode.corrupt``, ``decode.unsupported``,
    ``decode.too_large`` (pixels or pixel memory over the limit), ``decode.too_complex`` (more
    JPEG scans than any encoder writes), ``decode.unreadable`` (the file itself could not be read).
    """

    code = "decode.corrupt"


class DeadlineExceeded(PhotocoreError):
    """The capture took longer than the per-capture deadline the operator set."""

    code = "capture.deadline"


class AnalysisError(PhotocoreError):
    """The face models could not run on this capture (not: "no face", which is a verdict)."""

    code = "analysis.failed"


class ConfigError(PhotocoreError):
    """A configuration value or file is invalid."""

    code = "config.invalid"
