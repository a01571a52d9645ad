"""What every transport takes and returns, and how it reports failure.

A transport pushes one ``Delivery`` to one agency system and returns a ``Receipt``, or raises
``DeliveryError`` saying whether trying again could help (``permanent``) and when
(``retry_after``). Transports are idempotent: the outbox row id travels as the idempotency key
(HTTP ``Idempotency-Key`` and ``webhook-id``, S3 ``If-None-Match: *`` on a key derived from
it, SFTP/folder names derived from it), so a delivery repeated after a crash is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ...errors import ConfigError, PhotocoreError


@dataclass(frozen=True)
class Delivery:
    id: str  # the outbox row id: the idempotency key
    photo_id: str
    credential: str
    filename: str  # e.g. "police.resident-id-card.jpg"
    data: bytes  # the photo, exactly as signed
    jws: str  # the signed manifest (compact JWS)
    sm2: bytes | None = None  # optional SM2 sidecar
    attempt: int = 1


@dataclass(frozen=True)
class Receipt:
    receipt_id: str | None  # the agency's id for the photo, when it gives one
    detail: str = ""


class DeliveryError(PhotocoreError):
    """A delivery failed. ``permanent``: retrying cannot help (dead letter at once)."""

    code = "deliver.failed"

    def __init__(self, message: str, *, code: str = "deliver.failed", permanent: bool = False,
                 retry_after: float | None = None):
        super().__init__(message, code=code)
        self.permanent = permanent
        self.retry_after = retry_after


def check_config(transport: str, cfg: dict, allowed: set[str], required: tuple[str, ...]) -> None:
    """Unknown and missing keys of a transport's settings, as one ConfigError naming them."""
    unknown = sorted(set(cfg) - allowed)
    missing = [key for key in required if not cfg.get(key)]
    if unknown or missing:
        parts = ([f"unknown key(s) {unknown}"] if unknown else []) + ([f"{', '.join(missing)} required"] if missing else [])
        raise ConfigError(f"{transport}: {'; '.join(parts)}", code="config.invalid")


class Transport(Protocol):
    def send(self, delivery: Delivery) -> Receipt: ...

    def close(self) -> None: ...


@dataclass
class Secret:
    """A secret named by reference (``env:NAME`` or ``file:/path``), resolved when used, never stored."""

    reference: str
    _value: str | None = field(default=None, repr=False)

    def value(self) -> str:
        if self._value is None:
            import os
            kind, _, name = self.reference.partition(":")
            if kind == "env":
                if name not in os.environ:
                    raise PhotocoreError(f"environment variable {name} (for a delivery secret) is not set",
                                         code="config.secret_missing")
                self._value = os.environ[name]
            elif kind == "file":
                try:
                    with open(name, encoding="utf-8") as fh:
                        self._value = fh.read().strip()
                except OSError as exc:
                    raise PhotocoreError(f"cannot read the secret file {name}: {exc}",
                                         code="config.secret_missing") from exc
            else:
                raise PhotocoreError(f"secret reference {self.reference!r} must be env:NAME or file:PATH",
                                     code="config.invalid")
        return self._value
