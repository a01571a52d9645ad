"""A JSON API: one HTTP POST per photo with the photo and its facts as JSON fields.

The default body is ``multipart/form-data`` with two parts, ``metadata`` (``application/json``)
then ``photo`` (the file, byte-exact, named ``<reference>.<ext>``). ``photo = "base64"`` sends
one ``application/json`` document instead, the photo in its ``photo`` field. The multipart
boundary is derived from the outbox row id, so a retry sends the very same bytes.

Settings (``[system.json-api]``)::

    photo = "multipart"                   # or "base64"
    filename = "{reference}.{ext}"        # the photo part's file name
    fields = { reference = "applyNo", credential = "certType", photo = "zp" }   # rename fields
    extra = { channel = "counter" }       # constant fields added to the JSON
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from ..deliver.transports.base import Delivery, Request
from .base import Adapter, NameTemplate, Payload

FIELDS = ("reference", "photo_id", "credential", "agency", "issued_at", "station", "sha256", "bytes", "media_type",
          "width", "height", "dpi", "signature", "sm2")
_FIELD_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"}


class JsonApi(Adapter):
    transports = ("http",)
    settings_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {
            "photo": {"enum": ["multipart", "base64"]},
            "filename": {"type": "string", "minLength": 1},
            "fields": {"type": "object", "propertyNames": {"enum": [*FIELDS, "photo", "metadata"]},
                       "additionalProperties": _FIELD_NAME},
            "extra": {"type": "object", "propertyNames": _FIELD_NAME, "additionalProperties": {"type": "string"}},
        },
    }

    def __init__(self, settings: dict[str, Any] | None = None, *, system: str = "system"):
        super().__init__(settings, system=system)
        self.mode = self.settings.get("photo", "multipart")
        self.filename = NameTemplate(self.settings.get("filename", "{reference}.{ext}"), f"{system}: json-api.filename")
        self.names = {name: name for name in (*FIELDS, "photo", "metadata")} | self.settings.get("fields", {})
        self.extra = dict(self.settings.get("extra", {}))
        required = ["reference", "photo_id", "credential", "sha256", "bytes", "issued_at", "signature"]
        properties: dict[str, Any] = {self.names[k]: {"type": "string", "minLength": 1} for k in FIELDS}
        properties |= {self.names[k]: {"type": "integer", "minimum": 1} for k in ("bytes", "width", "height", "dpi")}
        properties[self.names["sha256"]] = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
        if self.mode == "base64":
            properties[self.names["photo"]] = {"type": "string", "contentEncoding": "base64"}
            required.append("photo")
        self.metadata_schema = {"type": "object", "required": [self.names[k] for k in required],
                                "properties": properties}

    def document(self, delivery: Delivery) -> dict[str, Any]:
        """The JSON fields, under the system's names."""
        f = self.facts(delivery)
        values: dict[str, Any] = {
            "reference": f.reference, "photo_id": f.photo_id, "credential": f.credential, "agency": f.agency,
            "issued_at": f.issued_at.isoformat(timespec="seconds").replace("+00:00", "Z"), "station": f.station,
            "sha256": f.sha256, "bytes": f.bytes, "media_type": f.media_type, "width": f.width, "height": f.height,
            "dpi": f.dpi, "signature": delivery.jws,
            "sm2": delivery.sm2.decode("utf-8") if delivery.sm2 is not None else None}
        doc = {self.names[k]: v for k, v in values.items() if v is not None}
        if self.mode == "base64":
            doc[self.names["photo"]] = base64.b64encode(delivery.data).decode("ascii")
        return {**self.extra, **doc}

    def payload(self, delivery: Delivery) -> Payload:
        doc = json.dumps(self.document(delivery), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if self.mode == "base64":
            return Payload(request=Request(doc, "application/json"))
        f = self.facts(delivery)
        parts = [(self.names["metadata"], None, "application/json", doc),
                 (self.names["photo"], self.filename(f), f.media_type, delivery.data)]
        body, content_type = multipart(parts, seed=delivery.id)
        return Payload(request=Request(body, content_type))


def multipart(parts: list[tuple[str, str | None, str, bytes]], seed: str) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body of (field, file name or None, content type, bytes) parts,
    with a boundary derived from ``seed`` (deterministic) that occurs in none of the parts."""
    counter = 0
    while True:
        boundary = "photocore-" + hashlib.sha256(f"{seed}/{counter}".encode()).hexdigest()[:40]
        if not any(boundary.encode("ascii") in data for *_, data in parts):
            break
        counter += 1
    out = bytearray()
    for field, filename, content_type, data in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
        out += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
                .encode("ascii"))
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode("ascii")
    return bytes(out), f"multipart/form-data; boundary={boundary}"
