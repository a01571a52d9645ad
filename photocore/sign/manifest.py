"""The signed manifest of a photo, modelled on ICAO 9303's Document Security Object.

The DSO signs hashes of the data groups rather than the data; here the "data group" is the
photo file's SHA-256, beside what an agency needs to trust it: the credential, the catalogue
version and content hash it was made against, the verdict summary, where and when it was
captured, and who signed.

Why one signature per capture, not per photo: a capture's photos for 184 credentials would
need 184 signatures (about 7 ms of raw Ed25519 alone), yet a manifest listing every
credential would tell the police which other credentials (a disability certificate, say) the
same person applied for. So, like the ISO 18013-5 mobile licence's MSO, the station signs once
over salted digests of each photo's entry, and each agency is given only its own entry. The
format is SD-JWT (RFC 9901): the sidecar ``<name>.jws`` is the compact JWS (RFC 7515, header
with ``alg``, ``kid`` = the certificate's SHA-256 thumbprint, and the ``x5c`` chain), then
``~``, then the one disclosure for that photo, then ``~``. Any JOSE library verifies the JWS;
any SD-JWT library also checks the disclosure. Decoy digests pad the count to a multiple of
16, so the signed part does not reveal how many credentials were asked for, only roughly.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from json.encoder import encode_basestring as quote

from joserfc import jws

from .signer import Signer, public_jwk, registry, thumbprint

MANIFEST_TYPE = "photocore.rendition-manifest"
JWS_TYPE = "photocore-manifest+sd-jwt"
SD_ALG = "sha-256"
PHOTOS = "photos"  # the signed payload's array of per-photo digests
PER_PHOTO = ("credential", "photo_id", "image", "verdicts")  # disclosed to the photo's agency only
DIGEST_BLOCK = 16  # decoys pad the digests to a multiple of this


@dataclass(frozen=True)
class CaptureInfo:
    station_id: str
    operator_id: str | None = None
    captured_at: str | None = None  # ISO 8601
    device: str | None = None


def manifest_common(*, catalogue, capture: CaptureInfo, signer: Signer, issued_at: dt.datetime | None = None) -> dict:
    """What all photos of one capture share: the part every agency sees."""
    issued_at = issued_at or dt.datetime.now(dt.UTC)
    return {
        "type": MANIFEST_TYPE,
        "version": 2,
        "catalogue": {"version": catalogue.version, "content_hash": catalogue.content_hash},
        "capture": {k: v for k, v in vars(capture).items() if v is not None},
        "issued_at": issued_at.isoformat(timespec="seconds"),
        "signer": {"kid": thumbprint(signer.chain[0]), "alg": signer.alg},
    }


def photo_entry(photo: bytes, *, credential: str, verdicts, image: dict, photo_id: str | None = None,
                photo_sha256: str | None = None) -> dict:
    """One credential's photo: the part only that credential's agency sees."""
    return {
        "credential": credential,
        "photo_id": photo_id or new_photo_ids(1)[0],
        "image": {"sha256": photo_sha256 or hashlib.sha256(photo).hexdigest(), "bytes": len(photo), **image},
        "verdicts": verdict_summary(verdicts),
    }


def new_photo_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs from one read of the system's random source (a read
    per id, as ``uuid4`` does, is a slow system call in sandboxes; a capture needs hundreds)."""
    h = os.urandom(16 * count).hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-{'89ab'[int(h[i + 16], 16) & 3]}{h[i + 17:i + 20]}-"
            f"{h[i + 20:i + 32]}" for i in range(0, len(h), 32)]


def verdict_summary(verdicts) -> dict:
    """{requirement code: status}: what was judged and how, without values or messages."""
    return {v.code: v.status for v in verdicts}


def build_manifest(photo: bytes, *, credential: str, catalogue, verdicts, capture: CaptureInfo,
                   image: dict, signer: Signer, photo_id: str | None = None,
                   issued_at: dt.datetime | None = None, photo_sha256: str | None = None) -> dict:
    """The manifest for one credential's photo: what its agency sees once the signature and
    the photo's disclosure are verified."""
    return {**manifest_common(catalogue=catalogue, capture=capture, signer=signer, issued_at=issued_at),
            **photo_entry(photo, credential=credential, verdicts=verdicts, image=image, photo_id=photo_id,
                          photo_sha256=photo_sha256)}


def canonical(manifest: dict) -> bytes:
    return json.dumps(manifest, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515), in one pass: a capture's signing makes hundreds."""
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def disclosure_digest(disclosure: str) -> str:
    """RFC 9901: base64url(SHA-256(the disclosure's ASCII))."""
    return b64url(hashlib.sha256(disclosure.encode("ascii")).digest())


def signed_payload(token: str) -> bytes:
    """The bytes the station signed (the JWS payload), shared by all photos of a signing."""
    return unb64url(token.split("~", 1)[0].split(".")[1])


def unverified_manifest(token: str) -> dict:
    """The photo's manifest as the token states it, NOT verified (for the producer's own
    bookkeeping, e.g. routing; agencies use ``verify``). Raises ValueError if unreadable."""
    try:
        compact, disclosure, _ = token.strip().split("~")
        common = json.loads(unb64url(compact.split(".")[1]))
        _salt, entry = json.loads(unb64url(disclosure))
        return {**{k: v for k, v in common.items() if k not in (PHOTOS, "_sd_alg")}, **entry}
    except (IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a photocore signature: {exc}") from exc


class ManifestSigner:
    """Signs manifests with one signer; the JOSE registry, key and header are built once."""

    def __init__(self, signer: Signer):
        self.signer = signer
        self.kid = thumbprint(signer.chain[0])
        self._header = {"alg": signer.alg, "typ": JWS_TYPE, "kid": self.kid,
                        "x5c": [base64.b64encode(der).decode("ascii") for der in signer.chain]}
        self._registry = registry(signer)
        self._key = public_jwk(signer.chain[0])  # joserfc wants a key object; the signer does the signing

    def sign_all(self, common: dict, entries: list[dict]) -> list[str]:
        """One token (``JWS~disclosure~``) per photo entry, all under one signature of ``common``
        and the entries' digests."""
        shared: dict = {}
        salts = b64url(os.urandom(18 * len(entries)))  # 144-bit salts, 24 characters each, from one read
        disclosures = [b64url(_disclosure_json(salts[24 * i:24 * i + 24], entry, shared).encode("utf-8"))
                       for i, entry in enumerate(entries)]
        digests = [disclosure_digest(d) for d in disclosures]
        size = -(-len(digests) // DIGEST_BLOCK) * DIGEST_BLOCK
        noise = os.urandom(32 * (size - len(digests)))  # one system call: they are slow in sandboxes
        digests += [b64url(hashlib.sha256(noise[i:i + 32]).digest()) for i in range(0, len(noise), 32)]
        payload = {**common, "_sd_alg": SD_ALG, PHOTOS: [{"...": d} for d in sorted(digests)]}  # sorted: no order
        token = jws.serialize_compact(self._header, canonical(payload), self._key, registry=self._registry)
        return [f"{token}~{disclosure}~" for disclosure in disclosures]

    def sign(self, manifest: dict) -> str:
        common = {k: v for k, v in manifest.items() if k not in PER_PHOTO}
        return self.sign_all(common, [{k: manifest[k] for k in PER_PHOTO}])[0]


def _disclosure_json(salt: str, entry: dict, shared: dict) -> str:
    """The RFC 9901 array-element disclosure ``[salt, entry]`` as JSON. A capture's photos
    share a few image descriptions and verdict summaries, so those are encoded once (keyed by
    object identity; the objects are kept beside their text so an id cannot be reused)."""
    key = (id(entry["image"]), id(entry["verdicts"]))
    if key not in shared:
        text = f'"image":{_json(entry["image"])},"verdicts":{_json(entry["verdicts"])}'
        shared[key] = (entry["image"], entry["verdicts"], text)
    return (f'["{salt}",{{"credential":{quote(entry["credential"])},"photo_id":{quote(entry["photo_id"])},'
            f'{shared[key][2]}}}]')


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sign_manifest(manifest: dict, signer: Signer) -> str:
    """The manifest as a signed token (one-off; use ManifestSigner.sign_all for a capture's photos)."""
    return ManifestSigner(signer).sign(manifest)
