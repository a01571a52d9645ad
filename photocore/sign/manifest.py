"""The signed manifest of a rendition, modelled on ICAO 9303's Document Security Object.

The DSO signs hashes of the data groups rather than the data; here the "data group" is the
photo file's SHA-256, beside what an agency needs to trust it: the credential, the catalogue
version and content hash it was made against, the verdict summary, where and when it was
captured, and who signed. The manifest is the payload of a JWS (RFC 7515, compact) written
beside the photo as ``<name>.jws``; the header names the station certificate by its SHA-256
thumbprint (``kid``) and carries the chain (``x5c``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass

from joserfc import jws

from .signer import Signer, public_jwk, registry, thumbprint

MANIFEST_TYPE = "photocore.rendition-manifest"
JWS_TYPE = "photocore-manifest+jws"


@dataclass(frozen=True)
class CaptureInfo:
    station_id: str
    operator_id: str | None = None
    captured_at: str | None = None  # ISO 8601
    device: str | None = None


def build_manifest(photo: bytes, *, credential: str, catalogue, verdicts, capture: CaptureInfo,
                   image: dict, signer: Signer, photo_id: str | None = None,
                   issued_at: dt.datetime | None = None, photo_sha256: str | None = None) -> dict:
    """The manifest for one credential's photo (``photo_sha256`` may be passed when known)."""
    issued_at = issued_at or dt.datetime.now(dt.timezone.utc)
    return {
        "type": MANIFEST_TYPE,
        "version": 1,
        "photo_id": photo_id or str(uuid.uuid4()),
        "credential": credential,
        "catalogue": {"version": catalogue.version, "content_hash": catalogue.content_hash},
        "image": {"sha256": photo_sha256 or hashlib.sha256(photo).hexdigest(), "bytes": len(photo), **image},
        "verdicts": [{"code": v.code, "status": v.status} for v in verdicts],
        "capture": {k: v for k, v in vars(capture).items() if v is not None},
        "issued_at": issued_at.isoformat(timespec="seconds"),
        "signer": {"kid": thumbprint(signer.chain[0]), "alg": signer.alg},
    }


def canonical(manifest: dict) -> bytes:
    return json.dumps(manifest, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


class ManifestSigner:
    """Signs manifests with one signer; the JOSE registry, key and header are built once."""

    def __init__(self, signer: Signer):
        self.signer = signer
        self.kid = thumbprint(signer.chain[0])
        self._header = {"alg": signer.alg, "typ": JWS_TYPE, "kid": self.kid,
                        "x5c": [base64.b64encode(der).decode("ascii") for der in signer.chain]}
        self._registry = registry(signer)
        self._key = public_jwk(signer.chain[0])  # joserfc wants a key object; the signer does the signing

    def sign(self, manifest: dict) -> str:
        """The manifest as a compact JWS."""
        return jws.serialize_compact(self._header, canonical(manifest), self._key, registry=self._registry)


def sign_manifest(manifest: dict, signer: Signer) -> str:
    """The manifest as a compact JWS signed by ``signer`` (one-off; use ManifestSigner for many)."""
    return ManifestSigner(signer).sign(manifest)
