"""The library service's errors: one class, stable codes, and the HTTP answer each code gets.

Every refusal the service gives is an RFC 9457 problem document (``application/problem+json``)
with ``type`` ``urn:photocore:problem:<code>``, a ``title``, the HTTP ``status`` and a ``detail``
for people. Clients branch on ``code`` (also in the body), never on the text.
"""

from __future__ import annotations

from ..errors import LIBRARY_STATUS as STATUS  # code -> (HTTP status, title); re-exported
from ..errors import LibraryError

__all__ = ["STATUS", "LibraryError", "not_found"]


def not_found() -> LibraryError:
    """The one answer for a wrong agency, an unknown person, an expired or revoked grant and a
    purged capture: the same body every time, so the answer says nothing about which it was."""
    return LibraryError("no such photo, request or grant for this client", code="library.not_found")
