"""What an adapter is: the consuming system's layout of one delivery, carried by a transport.

A transport (``photocore.deliver.transports``) knows how to reach a system: a folder, an SFTP
server, an S3 bucket, an HTTP endpoint. An adapter knows what that system expects to find
there: which files under which names, which metadata in which format, or which request body.
``Adapter.payload(delivery)`` returns a ``Payload``: ``File`` s for the file and object stores
(written in order; the last marks the delivery complete, so put the photo last) or one
``Request`` for HTTP. The same delivery always gives the same payload (a retry after a crash
must land on the same names with the same bytes), names come from the delivery's references
(application reference, photo id, credential, the signed date), never from the pixels.

An integrator writes a subclass, declares it in their package's entry points under
``photocore.adapters`` and checks it with ``photocore.adapters.contract.check_adapter``::

    [project.entry-points."photocore.adapters"]
    hrss-card-drop = "hrss_photocore.adapter:CardDrop"
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import string
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from jsonschema import Draft202012Validator

from ..deliver.transports.base import Delivery, DeliveryError, File, Request, content_type_of
from ..errors import ConfigError

FILE_TRANSPORTS = ("folder", "sftp", "s3")
REQUEST_TRANSPORTS = ("http",)
NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # one part of an adapter's file name
REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # an application reference


@dataclass(frozen=True)
class Payload:
    """What a transport carries for one delivery: files (folder, sftp, s3) or one request (http)."""

    files: tuple[File, ...] = ()
    request: Request | None = None

    def __post_init__(self) -> None:
        if bool(self.files) == (self.request is not None):
            raise DeliveryError("an adapter's payload is files or a request, exactly one of them",
                                code="deliver.bad_payload", permanent=True)

    @property
    def kind(self) -> str:
        return "files" if self.files else "request"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.files)


def check_name(name: str) -> str:
    """An adapter's file name: "/"-separated parts of letters, digits, ".", "_" and "-", each
    starting with a letter or digit (so never hidden, never ".."), at most 512 characters."""
    if len(name) > 512 or not all(NAME_PART.match(part) for part in name.split("/")):
        raise DeliveryError(f"file name {name!r} is not portable: parts of A-Z a-z 0-9 . _ - starting with a letter "
                            "or digit", code="deliver.bad_name", permanent=True)
    return name


@dataclass(frozen=True)
class Facts:
    """What an adapter may say about a delivery: its references and the signed manifest's facts
    (read from our own signature, not verified: we are the producer). No pixels, no measures."""

    reference: str  # the application reference given at push, else the photo id
    photo_id: str
    credential: str
    agency: str  # the issuing agency: the credential id's first part ("police" of "police.passport")
    extension: str  # of the delivered file name: "jpg", "png", ...
    media_type: str
    sha256: str
    bytes: int
    width: int | None
    height: int | None
    dpi: int | None
    issued_at: dt.datetime  # when the station signed (UTC): a fixed date for names, unlike "now"
    station: str | None
    captured_at: str | None
    catalogue_version: str | None

    def local_date(self, timezone: str = "UTC") -> dt.date:
        return self.issued_at.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def _section(manifest: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``manifest[key]`` when it is an object, else empty (a manifest may lack a section)."""
    value = manifest.get(key)
    return value if isinstance(value, dict) else {}


def facts(delivery: Delivery) -> Facts:
    """The delivery's ``Facts``; a signature that is not ours is a permanent ``deliver.bad_manifest``."""
    from ..sign.manifest import unverified_manifest  # here: the signing package is heavier than adapters need

    try:
        manifest = unverified_manifest(delivery.jws)
        issued = dt.datetime.fromisoformat(manifest["issued_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DeliveryError(f"delivery {delivery.id}: its signature is not a photocore manifest ({exc})",
                            code="deliver.bad_manifest", permanent=True) from exc
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=dt.UTC)
    image, capture, catalogue = (_section(manifest, key) for key in ("image", "capture", "catalogue"))
    extension = delivery.filename.rsplit(".", 1)[-1].lower() if "." in delivery.filename else "bin"
    return Facts(
        reference=delivery.reference or delivery.photo_id, photo_id=delivery.photo_id,
        credential=delivery.credential, agency=delivery.credential.split(".", 1)[0], extension=extension,
        media_type=content_type_of(delivery.filename), sha256=hashlib.sha256(delivery.data).hexdigest(),
        bytes=len(delivery.data), width=image.get("width"), height=image.get("height"), dpi=image.get("dpi"),
        issued_at=issued.astimezone(dt.UTC), station=capture.get("station_id"),
        captured_at=capture.get("captured_at"), catalogue_version=catalogue.get("version"))


class NameTemplate:
    """A file name pattern such as ``"{agency}/{yyyy}/{mm}/{dd}/{reference}/{credential}"``,
    checked when the system is loaded: only these fields, and nothing taken from the pixels."""

    FIELDS = ("reference", "photo_id", "credential", "agency", "yyyy", "mm", "dd", "ext")

    def __init__(self, pattern: str, setting: str, timezone: str = "UTC"):
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
        except ValueError as exc:
            raise ConfigError(f"{setting}: {pattern!r} is not a name pattern: {exc}", code="config.invalid") from None
        unknown = sorted(fields - set(self.FIELDS))
        if unknown or not fields:
            raise ConfigError(f"{setting}: {pattern!r} may use only {{{'}, {'.join(self.FIELDS)}}} (and needs one)",
                              code="config.invalid")
        self.pattern, self.setting, self.timezone = pattern, setting, check_timezone(timezone, setting)
        sample = Facts(reference="REF-1", photo_id="0b1c2d3e", credential="police.passport", agency="police",
                       extension="jpg", media_type="image/jpeg", sha256="0" * 64, bytes=1, width=None, height=None,
                       dpi=None, issued_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC), station=None,
                       captured_at=None, catalogue_version=None)
        try:
            self(sample)
        except DeliveryError as exc:
            raise ConfigError(f"{setting}: {pattern!r} makes {exc.message}", code="config.invalid") from None

    def __call__(self, f: Facts) -> str:
        date = f.local_date(self.timezone)
        return check_name(self.pattern.format(reference=f.reference, photo_id=f.photo_id, credential=f.credential,
                                              agency=f.agency, yyyy=f"{date:%Y}", mm=f"{date:%m}", dd=f"{date:%d}",
                                              ext=f.extension))


def check_timezone(name: str, setting: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{setting}: unknown time zone {name!r} (an IANA name such as Asia/Shanghai)",
                          code="config.invalid") from None
    return name


class Adapter:
    """Base of every adapter. A subclass sets ``transports`` (which transports can carry its
    payload), optionally ``settings_schema`` (JSON Schema of its settings table in the systems
    file) and ``metadata_schema`` (JSON Schema its JSON metadata documents follow, which the
    contract kit checks), and implements ``payload``. Its name is the entry point's name, written
    once, in the package's ``pyproject.toml``."""

    transports: ClassVar[tuple[str, ...]] = ()
    settings_schema: ClassVar[Mapping[str, Any]] = {"type": "object", "additionalProperties": False}
    metadata_schema: Mapping[str, Any] | None = None  # an instance may set its own (fields renamed by settings)

    def __init__(self, settings: Mapping[str, Any] | None = None, *, system: str = "system"):
        self.settings: dict[str, Any] = dict(settings or {})
        self.system = system
        problems = [f"{'.'.join(str(p) for p in e.absolute_path) or '(settings)'}: {e.message}"
                    for e in Draft202012Validator(dict(self.settings_schema)).iter_errors(self.settings)]
        if problems:
            raise ConfigError(f"adapter settings of {system}: " + "; ".join(problems), code="config.invalid")

    def payload(self, delivery: Delivery) -> Payload:  # pragma: no cover - the subclass's job
        raise NotImplementedError

    def facts(self, delivery: Delivery) -> Facts:
        return facts(delivery)
