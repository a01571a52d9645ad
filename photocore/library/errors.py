"""The library service's errors: one class, stable codes, and the HTTP answer each code gets.

Every refusal the service gives is an RFC 9457 problem document (``application/problem+json``)
with ``type`` ``urn:photocore:problem:<code>``, a ``title``, the HTTP ``status`` and a ``detail``
for people. Clients branch on ``code`` (also in the body), never on the text.
"""

from __future__ import annotations

from ..errors import PhotocoreError

# code -> (HTTP status, title). A code not listed here answers 400.
STATUS = {
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
        return STATUS.get(self.code, (400, ""))[0]

    def problem(self) -> dict:
        status, title = STATUS.get(self.code, (400, "Bad request"))
        return {"type": f"urn:photocore:problem:{self.code}", "title": title, "status": status,
                "detail": self.message, "code": self.code}


def not_found() -> LibraryError:
    """The one answer for a wrong agency, an unknown person, an expired or revoked grant and a
    purged capture: the same body every time, so the answer says nothing about which it was."""
    return LibraryError("no such photo, request or grant for this client", code="library.not_found")
