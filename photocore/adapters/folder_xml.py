"""A folder drop with an XML sidecar, both named by the application reference.

For application ``SQ2026000123`` the drop gets ``SQ2026000123.xml`` then ``SQ2026000123.jpg``
(the photo last: a system that picks up photos finds the sidecar already there). The XML holds
the references, the photo's size and SHA-256, when and where it was signed, and the signature
itself (the SD-JWT the agency verifies, and the SM2 sidecar when there is one)::

    <?xml version='1.0' encoding='UTF-8'?>
    <photoDelivery version="1">
      <reference>SQ2026000123</reference>
      <credential>hrss.social-security-card</credential>
      <agency>hrss</agency>
      <photoId>0b1c2d3e-...</photoId>
      <file name="SQ2026000123.jpg" mediaType="image/jpeg" bytes="31877" sha256="9f2c..." width="358" .../>
      <issuedAt>2026-11-28T02:14:09Z</issuedAt>
      <station>zs-001</station>
      <signature format="sd-jwt">eyJhbGciOi...~WyJ...~</signature>
    </photoDelivery>

Carried by the folder and SFTP transports (and S3, as objects). Settings
(``[system.folder-xml]``): ``name = "{reference}"`` (fields: reference, photo_id, credential,
agency, yyyy, mm, dd; "/" makes sub-folders), ``timezone`` for the date fields (default UTC).
Without an application reference at push, the photo id stands in for it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ..deliver.transports.base import Delivery, File
from .base import FILE_TRANSPORTS, Adapter, Facts, NameTemplate, Payload

ROOT = "photoDelivery"


class FolderXml(Adapter):
    transports = FILE_TRANSPORTS
    settings_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1}, "timezone": {"type": "string"}},
    }

    def __init__(self, settings: dict[str, Any] | None = None, *, system: str = "system"):
        super().__init__(settings, system=system)
        self.base_name = NameTemplate(self.settings.get("name", "{reference}"), f"{system}: folder-xml.name",
                                 self.settings.get("timezone", "UTC"))

    def sidecar(self, delivery: Delivery, f: Facts, photo_name: str) -> bytes:
        root = ET.Element(ROOT, {"version": "1"})
        for tag, text in (("reference", f.reference), ("credential", f.credential), ("agency", f.agency),
                          ("photoId", f.photo_id)):
            ET.SubElement(root, tag).text = text
        attributes = {"name": photo_name.rsplit("/", 1)[-1], "mediaType": f.media_type, "bytes": str(f.bytes),
                      "sha256": f.sha256}
        attributes |= {k: str(v) for k, v in (("width", f.width), ("height", f.height), ("dpi", f.dpi)) if v}
        ET.SubElement(root, "file", attributes)
        ET.SubElement(root, "issuedAt").text = f.issued_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        if f.station:
            ET.SubElement(root, "station").text = f.station
        ET.SubElement(root, "signature", {"format": "sd-jwt"}).text = delivery.jws
        if delivery.sm2 is not None:
            ET.SubElement(root, "sm2", {"format": "json"}).text = delivery.sm2.decode("utf-8")
        ET.indent(root)
        return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"

    def payload(self, delivery: Delivery) -> Payload:
        f = self.facts(delivery)
        base = self.base_name(f)
        photo = f"{base}.{f.extension}"
        return Payload(files=(File(f"{base}.xml", self.sidecar(delivery, f, photo), "application/xml"),
                              File(photo, delivery.data, f.media_type)))
