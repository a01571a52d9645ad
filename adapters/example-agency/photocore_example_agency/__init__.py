"""A card bureau's drop folder, as an agency integrator would write it for photocore.

The bureau's card system polls ``<yyyymmdd>/<application number>/`` and expects:

- ``info.json``: its own field names (``applyNo``, ``certType``, ``photoSha256``, ...);
- ``photo.jws``: photocore's signature, which the bureau verifies against the issuing root;
- ``photo.jpg``: the photo, last, so a folder with a photo is complete.

Nothing here knows how the files travel: the systems file picks the transport (a folder on
a share, or SFTP), and photocore's outbox does the retrying.
"""

from __future__ import annotations

import json
from typing import Any

from photocore.adapters import Adapter, Delivery, File, NameTemplate, Payload


class CardBureauDrop(Adapter):
    transports = ("folder", "sftp")
    settings_schema = {
        "type": "object", "additionalProperties": False,
        "properties": {"bureau": {"type": "string", "minLength": 1}, "timezone": {"type": "string"}},
    }
    metadata_schema = {
        "type": "object", "additionalProperties": False,
        "required": ["applyNo", "certType", "bureau", "photoSha256", "photoBytes", "signedAt"],
        "properties": {"applyNo": {"type": "string"}, "certType": {"type": "string"}, "bureau": {"type": "string"},
                       "photoSha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                       "photoBytes": {"type": "integer", "minimum": 1}, "signedAt": {"type": "string"},
                       "station": {"type": "string"}},
    }

    def __init__(self, settings: dict[str, Any] | None = None, *, system: str = "system"):
        super().__init__(settings, system=system)
        self.folder = NameTemplate("{yyyy}{mm}{dd}/{reference}", f"{system}: example-card-drop",
                                   self.settings.get("timezone", "Asia/Shanghai"))
        self.bureau = self.settings.get("bureau", system)

    def payload(self, delivery: Delivery) -> Payload:
        facts = self.facts(delivery)
        folder = self.folder(facts)
        info = {"applyNo": facts.reference, "certType": facts.credential, "bureau": self.bureau,
                "photoSha256": facts.sha256, "photoBytes": facts.bytes,
                "signedAt": facts.issued_at.isoformat(timespec="seconds")}
        if facts.station:
            info["station"] = facts.station
        files = [File(f"{folder}/info.json", json.dumps(info, ensure_ascii=False, indent=2).encode("utf-8"),
                      "application/json"),
                 File(f"{folder}/photo.jws", delivery.jws.encode("ascii"), "application/jose")]
        if delivery.sm2 is not None:
            files.append(File(f"{folder}/photo.sm2.json", delivery.sm2, "application/json"))
        return Payload(files=(*files, File(f"{folder}/photo.{facts.extension}", delivery.data, facts.media_type)))
