"""The layout a photo archive on S3 expects: a key prefix by agency, date and application
reference, the photo and a metadata JSON beside it.

    <agency>/<yyyy>/<mm>/<dd>/<reference>/<credential>.json     written first
    <agency>/<yyyy>/<mm>/<dd>/<reference>/<credential>.jpg      written last

The date is the day the station signed the photo (in ``timezone``, default UTC), never the day
of the upload, so a retry a day later lands on the same keys (and the S3 transport's
``If-None-Match: *`` stores each once). ``agency`` defaults to the credential's issuing agency
(``maritime`` for ``maritime.seafarer-passport``). The record's ``photo.key`` is the photo's
key below the transport's ``prefix``. Every object carries ``reference``,
``credential`` and ``photo-id`` as S3 metadata, beside the transport's ``sha256``.

Settings (``[system.s3-archive]``): ``agency = "msa-zhoushan"``, ``timezone = "Asia/Shanghai"``,
``prefix = "{agency}/{yyyy}/{mm}/{dd}/{reference}"`` (the fields of ``NameTemplate``).
Carried by the S3 transport (and by folder and SFTP, as folders).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..deliver.transports.base import Delivery, File
from .base import FILE_TRANSPORTS, NAME_PART, Adapter, NameTemplate, Payload

SCHEMA_ID = "photocore.archive-record/1"
_TEXT = {"type": "string", "minLength": 1}


class S3Archive(Adapter):
    transports = ("s3",) + tuple(t for t in FILE_TRANSPORTS if t != "s3")
    settings_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {"agency": {"type": "string", "pattern": NAME_PART.pattern},
                       "timezone": {"type": "string"}, "prefix": {"type": "string", "minLength": 1}},
    }
    metadata_schema = {
        "type": "object", "additionalProperties": False,
        "required": ["schema", "reference", "agency", "credential", "photo_id", "issued_at", "photo", "signature"],
        "properties": {
            "schema": {"const": SCHEMA_ID}, "reference": _TEXT, "agency": _TEXT, "credential": _TEXT,
            "photo_id": _TEXT, "issued_at": {"type": "string", "format": "date-time"}, "station": _TEXT,
            "captured_at": _TEXT, "catalogue_version": _TEXT, "signature": _TEXT, "sm2": _TEXT,
            "photo": {"type": "object", "additionalProperties": False, "required": ["key", "sha256", "bytes",
                                                                                  "media_type"],
                      "properties": {"key": _TEXT, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                     "bytes": {"type": "integer", "minimum": 1}, "media_type": _TEXT,
                                     "width": {"type": "integer"}, "height": {"type": "integer"},
                                     "dpi": {"type": "integer"}}},
        },
    }

    def __init__(self, settings: dict[str, Any] | None = None, *, system: str = "system"):
        super().__init__(settings, system=system)
        self.agency = self.settings.get("agency")
        self.prefix = NameTemplate(self.settings.get("prefix", "{agency}/{yyyy}/{mm}/{dd}/{reference}"),
                                   f"{system}: s3-archive.prefix", self.settings.get("timezone", "UTC"))

    def payload(self, delivery: Delivery) -> Payload:
        f = self.facts(delivery)
        if self.agency:
            f = dataclasses.replace(f, agency=self.agency)
        folder = self.prefix(f)
        photo_key = f"{folder}/{f.credential}.{f.extension}"
        record: dict[str, Any] = {
            "schema": SCHEMA_ID, "reference": f.reference, "agency": f.agency, "credential": f.credential,
            "photo_id": f.photo_id, "issued_at": f.issued_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "station": f.station, "captured_at": f.captured_at, "catalogue_version": f.catalogue_version,
            "photo": {k: v for k, v in (("key", photo_key), ("sha256", f.sha256), ("bytes", f.bytes),
                                        ("media_type", f.media_type), ("width", f.width), ("height", f.height),
                                        ("dpi", f.dpi)) if v is not None},
            "signature": delivery.jws,
            "sm2": delivery.sm2.decode("utf-8") if delivery.sm2 is not None else None,
        }
        record = {k: v for k, v in record.items() if v is not None}
        meta = {"reference": f.reference, "credential": f.credential, "photo-id": f.photo_id}
        body = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        return Payload(files=(File(f"{folder}/{f.credential}.json", body, "application/json", meta),
                              File(photo_key, delivery.data, f.media_type, meta)))
