"""Verify a signed photo: anyone with the root certificate and a standard JOSE library can.

The token is an SD-JWT (RFC 9901, see ``manifest``): a compact JWS, then the photo's own
disclosure. Checks, each failure with its own code:
- the token is well formed: a JWS with an algorithm we accept and the certificate chain in
  ``x5c``, then exactly one disclosure (``verify.malformed``);
- the signature verifies with the station certificate's key, and the disclosure's digest is
  one the station signed (``verify.bad_signature``);
- the chain leads to the trusted root (``verify.untrusted_chain``);
- every certificate was valid, and the station key inside its usage period, when the manifest
  says it was signed (``verify.expired``);
- the station key is not on the revocation list (``verify.revoked``); with no list at all the
  result says ``revocation: "unknown"`` (``revoked_beside`` finds the key store's list);
- the photo's SHA-256 equals the manifest's (``verify.tampered_image``).

The chain is walked here with pyca/cryptography's primitives because its X.509 path builder
only admits the Web PKI's algorithms, and Ed25519 is not among them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError

from ..errors import VerifyInputError
from .keys import DOCUMENT_SIGNING, usage_period
from .manifest import PER_PHOTO, PHOTOS, SD_ALG, disclosure_digest, unb64url
from .signer import ALGORITHMS, public_jwk, registry, thumbprint

CODES = ("verify.malformed", "verify.bad_signature", "verify.untrusted_chain", "verify.expired", "verify.revoked",
         "verify.tampered_image")


@dataclass(frozen=True)
class Verification:
    valid: bool
    code: str | None  # None when valid
    message: str
    manifest: dict = field(default_factory=dict)
    kid: str | None = None
    # "checked": a revocation list was consulted (perhaps empty); "unknown": there was none, so a
    # revoked station key would not have been noticed
    revocation: str = "unknown"

    def to_dict(self) -> dict:
        return {"valid": self.valid, "code": self.code, "message": self.message, "kid": self.kid,
                "manifest": self.manifest, "revocation": self.revocation}


# What parsing a hostile token or certificate may raise: each is ``verify.malformed``, never an
# internal error (cryptography parses certificate fields lazily, so these come on first use too).
_UNREADABLE = (ValueError, KeyError, TypeError, binascii.Error, x509.InvalidVersion, UnsupportedAlgorithm)


class _Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _split(token: str) -> tuple[str, str]:
    """(compact JWS, disclosure) from ``JWS~disclosure~``."""
    parts = token.strip().split("~")
    if len(parts) != 3 or parts[2] or not parts[1] or not token.isascii():
        raise _Invalid("verify.malformed", "not a photocore signature: a compact JWS, then one disclosure, "
                                           "each followed by '~' (SD-JWT, RFC 9901)")
    return parts[0], parts[1]


def _segments(token: str) -> tuple[dict, list[x509.Certificate], list[bytes]]:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise _Invalid("verify.malformed", "not a compact JWS (three non-empty dot-separated parts)")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
        ders = [base64.b64decode(c, validate=True) for c in header["x5c"]]
        certs = [x509.load_der_x509_certificate(d) for d in ders]
    except _UNREADABLE as exc:
        raise _Invalid("verify.malformed", f"unreadable JWS header or certificate chain: {exc}") from exc
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS or not certs:
        raise _Invalid("verify.malformed", f"algorithm must be one of {', '.join(ALGORITHMS)}, with an x5c chain")
    if header.get("kid") != thumbprint(ders[0]):
        raise _Invalid("verify.malformed", "the kid does not name the signing certificate")
    return header, certs, ders


def _check_chain(certs: list[x509.Certificate], root: x509.Certificate, at: dt.datetime) -> None:
    """The chain leads to ``root``, then every certificate was valid (and the key usable) ``at``."""
    chain = [c for c in certs if c != root]  # x5c may end with the root itself
    if not chain:
        raise _Invalid("verify.untrusted_chain", "the JWS carries no station certificate")
    for child, parent in zip(chain, chain[1:] + [root], strict=True):
        try:
            if not parent.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                raise _Invalid("verify.untrusted_chain", "a certificate in the chain is not a CA")
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound) as exc:
            raise _Invalid("verify.untrusted_chain", "the certificate chain does not lead to the trusted root") from exc
    leaf = chain[0]
    try:
        if DOCUMENT_SIGNING not in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value:
            raise _Invalid("verify.untrusted_chain", "the station certificate is not for document signing")
    except x509.ExtensionNotFound:
        raise _Invalid("verify.untrusted_chain", "the station certificate has no extended key usage") from None
    except _UNREADABLE as exc:
        raise _Invalid("verify.malformed", f"the station certificate cannot be read: {exc}") from exc
    try:
        for cert in chain + [root]:
            if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
                raise _Invalid("verify.expired", f"{cert.subject.rfc4514_string()} was not valid at {at.isoformat()}")
        start, end = usage_period(leaf)
    except (AttributeError, *_UNREADABLE) as exc:  # AttributeError: a usage period without one of its ends
        raise _Invalid("verify.malformed", f"a certificate in the chain cannot be read: {exc}") from exc
    if not start <= at <= end:
        raise _Invalid("verify.expired", f"the station key may only sign from {start:%Y-%m-%d} to {end:%Y-%m-%d}")


def _verified_payload(compact: str, root: x509.Certificate, revoked: Collection[str] | None,
                      at_of: Callable[[bytes], dt.datetime]) -> tuple[bytes, str, dict]:
    """(payload, kid, header) of a compact JWS signed by a station under ``root``; ``at_of(payload)``
    says when it was signed (the chain and usage period are checked at that time)."""
    header, certs, ders = _segments(compact)
    kid = header["kid"]
    try:
        key = public_jwk(ders[0])
    except (JoseError, *_UNREADABLE) as exc:
        raise _Invalid("verify.malformed", f"the station certificate's key cannot be read: {exc}") from exc
    try:
        payload = jws.deserialize_compact(compact, key, registry=registry()).payload
    except BadSignatureError as exc:
        raise _Invalid("verify.bad_signature", "the signature does not match the manifest") from exc
    except (JoseError, ValueError, TypeError) as exc:
        raise _Invalid("verify.malformed", f"the JWS cannot be read: {exc}") from exc
    _check_chain(certs, root, at_of(payload))
    if kid in set(revoked or ()):
        raise _Invalid("verify.revoked", f"station key {kid} has been revoked")
    return payload, kid, header


def verify_compact(compact: str, root: x509.Certificate, revoked: Collection[str] | None = None,
                   at: dt.datetime | None = None) -> Verification:
    """Verify a plain compact JWS a station signed now (e.g. a publish request's binding): the
    ``manifest`` of the result is its JSON payload. ``revoked``: the revoked kids, or None when
    no revocation list is known (the result then says ``revocation="unknown"``)."""
    at = at or dt.datetime.now(dt.UTC)
    kid = None
    revocation = _revocation(revoked)
    try:
        payload, kid, _ = _verified_payload(compact, root, revoked, lambda _payload: at)
        body = json.loads(payload)
        if not isinstance(body, dict):
            raise _Invalid("verify.malformed", "the payload is not a JSON object")
    except _Invalid as invalid:
        return Verification(False, invalid.code, invalid.message, kid=kid, revocation=revocation)
    except ValueError as exc:
        return Verification(False, "verify.malformed", f"the payload is not JSON: {exc}", kid=kid,
                            revocation=revocation)
    return Verification(True, None, f"signed by station key {kid}", body, kid, revocation)


def verify(photo: bytes, token: str, root: x509.Certificate, revoked: Collection[str] | None = None,
           at: dt.datetime | None = None) -> Verification:
    """Verify ``photo`` against its JWS ``token`` with ``root`` as the only trust anchor.

    ``revoked``: the revoked station kids (e.g. ``revoked_beside(trust_path)``), or None when no
    revocation list is known: the result then says ``revocation="unknown"``."""
    kid = None
    revocation = _revocation(revoked)
    manifest: dict = {}

    def signed_at(payload: bytes) -> dt.datetime:
        nonlocal manifest
        manifest = _disclosed_manifest(payload, disclosure)
        try:
            when = dt.datetime.fromisoformat(manifest["issued_at"])
            manifest["image"]["sha256"]
        except (ValueError, KeyError, TypeError) as exc:
            raise _Invalid("verify.malformed", "the manifest lacks issued_at or image.sha256") from exc
        if when.tzinfo is None:
            raise _Invalid("verify.malformed", "issued_at has no time zone")
        return when

    try:
        compact, disclosure = _split(token)
        _payload, kid, _ = _verified_payload(compact, root, revoked, signed_at)
        if hashlib.sha256(photo).hexdigest() != manifest["image"]["sha256"]:
            raise _Invalid("verify.tampered_image", "the photo is not the one that was signed (hash differs)")
    except _Invalid as invalid:
        return Verification(False, invalid.code, invalid.message, kid=kid, revocation=revocation)
    return Verification(True, None, f"{manifest['credential']} photo {manifest['photo_id']}, signed by station key "
                                    f"{kid} at {manifest['issued_at']}", manifest, kid, revocation)


def verify_many(items: Iterable[tuple[bytes, str]], root: x509.Certificate,
                revoked: Collection[str] | None = None) -> list[Verification]:
    """Verify many (photo, token) pairs, as ``verify`` does one by one, but check each distinct
    station signature once: a capture's photos share one (a library ingesting a 184-credential
    conversion checks one signature and chain, then a digest and a hash per photo)."""
    shared: dict[str, tuple[tuple[dict, set[str]], str] | _Invalid] = {}
    out = []
    revocation = _revocation(revoked)
    for photo, token in items:
        kid = None
        try:
            compact, disclosure = _split(token)
            if compact not in shared:
                try:
                    payload, kid, _ = _verified_payload(compact, root, revoked, _issued_at)
                    shared[compact] = (_signed_part(payload), kid)
                except _Invalid as invalid:
                    shared[compact] = invalid
            known = shared[compact]
            if isinstance(known, _Invalid):
                raise known
            signed_part, kid = known
            manifest = _disclosed_manifest(signed_part, disclosure)
            if hashlib.sha256(photo).hexdigest() != manifest.get("image", {}).get("sha256"):
                raise _Invalid("verify.tampered_image", "the photo is not the one that was signed (hash differs)")
            out.append(Verification(True, None, f"{manifest['credential']} photo {manifest['photo_id']}", manifest, kid,
                                    revocation))
        except _Invalid as invalid:
            out.append(Verification(False, invalid.code, invalid.message, kid=kid, revocation=revocation))
    return out


def _revocation(revoked: Collection[str] | None) -> str:
    return "unknown" if revoked is None else "checked"


def _issued_at(payload: bytes) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(json.loads(payload)["issued_at"])
    except (ValueError, KeyError, TypeError) as exc:
        raise _Invalid("verify.malformed", "the manifest lacks issued_at") from exc
    if when.tzinfo is None:
        raise _Invalid("verify.malformed", "issued_at has no time zone")
    return when


def _signed_part(payload: bytes) -> tuple[dict, set[str]]:
    """(the photos' common manifest, the entry digests the station signed) from the payload."""
    try:
        signed = json.loads(payload)
        digests = {e["..."] for e in signed[PHOTOS] if isinstance(e, dict) and isinstance(e.get("..."), str)}
        if signed["_sd_alg"] != SD_ALG:
            raise ValueError(f"digest algorithm {signed['_sd_alg']!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise _Invalid("verify.malformed", f"the signed manifest cannot be read: {exc}") from exc
    return {k: v for k, v in signed.items() if k not in (PHOTOS, "_sd_alg")}, digests


def _disclosed_manifest(payload: bytes | tuple[dict, set[str]], disclosure: str) -> dict:
    """The photo's manifest: the signed common part plus the photo's own disclosed entry,
    accepted only if the station signed that entry's digest."""
    common, digests = _signed_part(payload) if isinstance(payload, bytes) else payload
    if disclosure_digest(disclosure) not in digests:
        raise _Invalid("verify.bad_signature", "the photo's manifest entry is not one the station signed")
    try:
        _salt, entry = json.loads(unb64url(disclosure))
        if set(entry) != set(PER_PHOTO):
            raise ValueError("unexpected fields")
    except (ValueError, TypeError, binascii.Error) as exc:
        raise _Invalid("verify.malformed", f"the photo's manifest entry cannot be read: {exc}") from exc
    return {**common, **entry}


def load_trust(path: str | os.PathLike[str]) -> x509.Certificate:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        return x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except (OSError, ValueError) as exc:
        raise VerifyInputError(f"cannot read the trust anchor {path}: {exc}", code="verify.bad_trust") from exc


def revoked_beside(trust_path: str | os.PathLike[str]) -> set[str] | None:
    """The revoked station kids from ``revoked.json`` in the trust anchor's folder (where
    ``photocore keys`` publishes it beside ``root.pem``), or None when there is no such file.

    A list that exists but cannot be read is an error (``verify.bad_revocation``), never
    "nothing revoked"."""
    path = Path(trust_path).parent / "revoked.json"
    try:
        data = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise VerifyInputError(f"cannot read the revocation list {path}: {exc}", code="verify.bad_revocation") from exc
    try:
        kids = json.loads(data)["revoked"]
        if not isinstance(kids, list) or not all(isinstance(k, str) for k in kids):
            raise TypeError("'revoked' must be a list of kids")
    except (ValueError, KeyError, TypeError) as exc:
        raise VerifyInputError(f"cannot read the revocation list {path}: {exc}", code="verify.bad_revocation") from exc
    return set(kids)
