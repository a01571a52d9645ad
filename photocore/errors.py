"""Typed errors with stable codes.

Every failure a caller can meet (bad bytes, bad configuration, a capture with no face) is one
of these classes, and every exception class photocore defines is in this module (the modules
that raise them re-export them under their old names). Every stable code is listed, with its
class, exit status and meaning, in ``photocore/error_codes.toml``, which generates the README's
tables (``python -m photocore.docs_tables``). ``code`` is stable; ``message`` is for people.
Callers branch on the class or the code, never on the message text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapters.contract import ContractReport


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


class CatalogueError(ConfigError):
    """The catalogue (built-in or overlay) is invalid; ``problems`` lists every finding."""

    code = "catalogue.invalid"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        head = f"{len(problems)} problem(s) in the credential catalogue"
        super().__init__(head + ":\n  " + "\n  ".join(problems))


class SheetError(PhotocoreError):
    """A print sheet cannot be made as asked.

    Codes: ``sheet.unknown_paper``, ``sheet.unknown_format``, ``sheet.size_unknown`` (no
    credential millimetres and no DPI in the file), ``sheet.size_mismatch`` (the photo's shape is
    not the credential's), ``sheet.photo_too_large`` (not even one copy fits the paper),
    ``sheet.too_many_copies``.
    """

    code = "sheet.invalid"


class KeyStoreError(PhotocoreError):
    """Codes: keys.passphrase_missing, keys.exists, keys.missing, keys.no_usable_key, keys.bad_passphrase,
    keys.unknown_kid, keys.invalid."""

    code = "keys.invalid"


class VerifyInputError(PhotocoreError):
    """A signature, trust anchor or revocation list that cannot be read (not: a signature that does
    not verify, which is a result)."""

    code = "verify.unusable"


class C2paUnavailable(PhotocoreError):
    """C2PA embedding without the optional ``c2pa`` extra installed."""

    code = "sign.c2pa_unavailable"


class Sm2Unavailable(PhotocoreError):
    """SM2 signing without the optional ``sm2`` extra installed."""

    code = "sign.sm2_unavailable"


class DeliveryError(PhotocoreError):
    """A delivery failed. ``permanent``: retrying cannot help (dead letter at once)."""

    code = "deliver.failed"

    def __init__(self, message: str, *, code: str = "deliver.failed", permanent: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.permanent = permanent
        self.retry_after = retry_after


class OutboxError(PhotocoreError):
    """The delivery outbox refuses an operation (an unknown destination, a wrong key)."""

    code = "outbox.error"


class AcceptError(PhotocoreError):
    """station.bad_id_number, station.checklist, station.expired, station.not_converted, and the
    library's publish codes when the library refuses or cannot be reached."""

    code = "station.accept_failed"


class PublishError(PhotocoreError):
    """Codes: publish.unusable (the folder or options), publish.unreachable (the network), and the
    library's own codes (library.invalid_signature, library.unsigned, ...) when it refuses."""

    code = "publish.unusable"

    def __init__(self, message: str, *, code: str | None = None, refused: bool = False) -> None:
        super().__init__(message, code=code)
        self.refused = refused  # the library said no (exit 1), rather than: we could not ask (exit 2)


# The library service: code -> (HTTP status, title). A code not listed here answers 400.
LIBRARY_STATUS: dict[str, tuple[int, str]] = {
    "library.not_found": (404, "Not found"),
    "library.unauthorized": (401, "Authentication required"),
    "library.forbidden": (403, "Not allowed"),
    "library.rate_limited": (429, "Too many attempts"),
    "library.locked": (429, "Locked after repeated failures"),
    "library.too_large": (413, "Upload too large"),
    "library.malformed": (400, "Malformed request"),
    "library.unknown_field": (400, "Unknown field"),
    "library.unsigned": (422, "Unsigned photo"),
    "library.invalid_signature": (422, "Signature refused"),
    "library.unknown_credential": (422, "Unknown credential"),
    "library.conflict": (409, "Conflict"),
    "library.csrf": (403, "Form expired or forged"),
    "library.bad_token": (401, "Invalid token"),
    "library.replayed": (401, "Assertion already used"),
    "library.invalid_client": (401, "Unknown or unauthenticated client"),
    "library.unavailable": (503, "Storage unavailable"),
    "library.bad_key": (500, "Stored data cannot be decrypted with the configured key"),
    "library.config": (500, "Service misconfigured"),
}


class LibraryError(PhotocoreError):
    """A request the shared photo library refuses, or a configuration it cannot run with."""

    code = "library.malformed"

    @property
    def status(self) -> int:
        return LIBRARY_STATUS.get(self.code, (400, ""))[0]

    def problem(self) -> dict[str, Any]:
        status, title = LIBRARY_STATUS.get(self.code, (400, "Bad request"))
        return {"type": f"urn:photocore:problem:{self.code}", "title": title, "status": status,
                "detail": self.message, "code": self.code}


class TokenError(LibraryError):
    """A token endpoint refusal: our stable code, plus RFC 6749's ``error`` for OAuth libraries."""

    def __init__(self, message: str, *, code: str = "library.invalid_client", error: str = "invalid_client") -> None:
        super().__init__(message, code=code)
        self.error = error

    def problem(self) -> dict[str, Any]:
        return {**super().problem(), "error": self.error, "error_description": self.message}


class BearerError(LibraryError):
    """A missing or refused access token: 401 with ``WWW-Authenticate: Bearer`` (RFC 6750)."""

    code = "library.unauthorized"

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(message, code="library.unauthorized")
        self.error = error

    def www_authenticate(self) -> str:
        return 'Bearer realm="photocore"' + (f', error="{self.error}"' if self.error else "")


class AgencyApiError(PhotocoreError):
    """The library refused (``code`` is its problem code, ``status`` the HTTP status), or could not
    be reached (``agency.unreachable``)."""

    code = "agency.unreachable"

    def __init__(self, message: str, *, code: str, status: int | None = None,
                 problem: dict[str, Any] | None = None) -> None:
        super().__init__(message, code=code)
        self.status, self.problem = status, problem or {}


class ContractError(AssertionError):
    """An adapter broke its contract (``photocore.adapters.contract``); ``report`` says where.
    An ``AssertionError``, not a ``PhotocoreError``: it is a test failure, not a refusal."""

    def __init__(self, report: ContractReport) -> None:
        self.report = report
        super().__init__(report.summary())
