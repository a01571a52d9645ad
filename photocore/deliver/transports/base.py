"""What every transport takes and returns, and how it reports failure.

A transport pushes one ``Delivery`` to one agency system and returns a ``Receipt``, or raises
``DeliveryError`` saying whether trying again could help (``permanent``) and when
(``retry_after``). Transports are idempotent: the outbox row id travels as the idempotency key
(HTTP ``Idempotency-Key`` and ``webhook-id``, S3 ``If-None-Match: *`` on a key derived from
it, SFTP/folder names derived from it), so a delivery repeated after a crash is stored once.

``send(delivery)`` carries the transport's own layout (``<photo id>-<file name>`` plus its
``.jws``; HTTP's JSON or multipart body). An adapter (``photocore.adapters``) brings the
consuming system's layout instead and hands the transport what to carry: ``File`` s, written in
order by the file and object stores (``put``; the last one marks the delivery complete), or one
``Request`` body for HTTP (``post``).
"""

from __future__ import annotations

import posixpath
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Self

from ...errors import ConfigError, DeliveryError


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
    reference: str | None = None  # the agency's application reference, when the push named one


@dataclass(frozen=True)
class Receipt:
    receipt_id: str | None  # the agency's id for the photo, when it gives one
    detail: str = ""


def check_config(transport: str, cfg: dict, allowed: set[str], required: tuple[str, ...]) -> None:
    """Unknown and missing keys of a transport's settings, as one ConfigError naming them."""
    unknown = sorted(set(cfg) - allowed)
    missing = [key for key in required if not cfg.get(key)]
    if unknown or missing:
        parts = (([f"unknown key(s) {unknown}"] if unknown else [])
                 + ([f"{', '.join(missing)} required"] if missing else []))
        raise ConfigError(f"{transport}: {'; '.join(parts)}", code="config.invalid")


@dataclass(frozen=True)
class File:
    """One named file (or object) of a delivery, as an adapter lays it out."""

    name: str  # relative, "/"-separated: sub-folders (or key parts) are allowed, ".." is not
    data: bytes
    content_type: str = "application/octet-stream"
    metadata: Mapping[str, str] = field(default_factory=dict)  # S3 user metadata; files ignore it


@dataclass(frozen=True)
class Request:
    """The body of one HTTP request, as an adapter lays it out (the transport adds auth, the
    idempotency key and webhook signatures)."""

    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


def check_path(name: str) -> str:
    """A file name a transport may write under its folder or prefix: relative, "/"-separated,
    no "." or ".." parts, no empty parts, no NUL or backslash. Returns it; raises a permanent
    ``DeliveryError`` (``deliver.bad_name``) otherwise."""
    parts = name.split("/")
    if (not name or "\\" in name or "\0" in name or name.startswith("/")
            or any(part in ("", ".", "..") for part in parts) or posixpath.normpath(name) != name):
        raise DeliveryError(f"unsafe file name {name!r}: relative, '/'-separated, no '.' or '..' parts",
                            code="deliver.bad_name", permanent=True)
    return name


CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "bmp": "image/bmp",
                 "jp2": "image/jp2", "jws": "application/sd-jwt", "json": "application/json", "xml": "application/xml"}


def content_type_of(name: str) -> str:
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def native_files(delivery: Delivery) -> list[File]:
    """The transports' own layout, used without an adapter: ``<photo id>-<file name>`` with its
    ``.jws`` (and ``.sm2.json``) beside it, sidecars first and the photo last."""
    name = f"{delivery.photo_id}-{delivery.filename}"
    meta = {"photo-id": delivery.photo_id, "credential": delivery.credential}
    files = [File(f"{name}.jws", delivery.jws.encode("ascii"), CONTENT_TYPES["jws"], meta)]
    if delivery.sm2 is not None:
        files.append(File(f"{name}.sm2.json", delivery.sm2, CONTENT_TYPES["json"], meta))
    return files + [File(name, delivery.data, content_type_of(name), meta)]


class Transport(ABC):
    """What the delivery workers send through: a transport below, or an adapter on one
    (``photocore.adapters.Adapted``)."""

    @abstractmethod
    def send(self, delivery: Delivery) -> Receipt:
        """Deliver once; a failure is a ``DeliveryError`` saying whether a retry can help."""

    @abstractmethod
    def close(self) -> None:
        """Release what the transport holds open (connections, an event loop)."""


class FileTransport(Transport):
    """A transport that stores named files: folder, sftp, s3."""

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: dict) -> Self:
        """The transport from a destination's settings (with ``"transport"``)."""

    @abstractmethod
    def put(self, files: Sequence[File], delivery: Delivery) -> Receipt:
        """Store ``files`` in order, each atomically; the last marks the delivery complete (when it
        is already there with the same bytes, nothing is written: "already delivered")."""

    @abstractmethod
    def fetch(self, name: str) -> bytes | None:
        """What is stored under ``name`` (relative, as given to ``put``), or None: for checking."""

    def send(self, delivery: Delivery) -> Receipt:
        """The transports' own layout, without an adapter (``native_files``)."""
        return self.put(native_files(delivery), delivery)


class RequestTransport(Transport):
    """A transport that posts one request per delivery: http."""

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: dict) -> Self:
        """The transport from a destination's settings (with ``"transport"``)."""

    @abstractmethod
    def post(self, request: Request, delivery: Delivery) -> Receipt: ...


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
                    raise ConfigError(f"environment variable {name} (for a delivery secret) is not set",
                                      code="config.secret_missing")
                self._value = os.environ[name]
            elif kind == "file":
                try:
                    with open(name, encoding="utf-8") as fh:
                        self._value = fh.read().strip()
                except OSError as exc:
                    raise ConfigError(f"cannot read the secret file {name}: {exc}",
                                      code="config.secret_missing") from exc
            else:
                raise ConfigError(f"secret reference {self.reference!r} must be env:NAME or file:PATH",
                                  code="config.invalid")
        return self._value
