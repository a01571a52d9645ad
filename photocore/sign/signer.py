"""The signer interface, the file-key signer, and the glue that lets joserfc use any signer.

A signer is anything with ``alg`` ("EdDSA" for Ed25519, or "ES256"), ``chain`` (the station
certificate first, then any intermediates, as DER) and ``sign(data) -> bytes`` returning the
signature in its JOSE form (Ed25519: 64 raw bytes; ES256: r || s, 32 bytes each, not DER).

To sign with an HSM, a cloud KMS or a certified SM crypto device, write a class with those
three members that forwards ``sign`` to the device (converting an ECDSA DER signature with
``der_to_raw``) and pass it wherever a signer is taken: nothing else changes, because the
JOSE serialisation stays joserfc's and only the raw signature comes from the device.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any, Protocol, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import ECKey, OKPKey
from joserfc.jws import JWSRegistry

from ..errors import KeyStoreError

ALGORITHMS = ("EdDSA", "ES256")
DELIBERATE = ("EdDSA",)  # names joserfc calls deprecated that photocore uses on purpose

SigningKey: TypeAlias = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey  # what the key store makes


class Signer(Protocol):
    alg: str
    chain: list[bytes]

    def sign(self, data: bytes) -> bytes: ...


def thumbprint(cert_der: bytes) -> str:
    """The certificate's SHA-256 thumbprint, base64url without padding (JOSE x5t#S256): the kid."""
    return base64.urlsafe_b64encode(hashlib.sha256(cert_der).digest()).rstrip(b"=").decode()


def der_to_raw(signature: bytes, size: int = 32) -> bytes:
    r, s = decode_dss_signature(signature)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


class FileSigner:
    """A station key held in a PKCS#8 file (development, or where no device is mandated)."""

    def __init__(self, private_key: PrivateKeyTypes, chain: list[bytes]) -> None:
        self.chain = chain
        if isinstance(private_key, ed25519.Ed25519PrivateKey):
            self.alg = "EdDSA"
        elif isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.name == "secp256r1":
            self.alg = "ES256"
        else:
            raise KeyStoreError("station keys are Ed25519 or ECDSA P-256", code="keys.invalid")
        self._key: SigningKey = private_key

    @property
    def kid(self) -> str:
        return thumbprint(self.chain[0])

    @property
    def private_key(self) -> SigningKey:
        """The key itself, for tools that need it (C2PA's file signer); a device signer has none."""
        return self._key

    def sign(self, data: bytes) -> bytes:
        if isinstance(self._key, ed25519.Ed25519PrivateKey):  # alg "EdDSA"
            return self._key.sign(data)
        return der_to_raw(self._key.sign(data, ec.ECDSA(hashes.SHA256())))


class _SignerAlgorithm(JWSAlgModel):
    """A JWS algorithm whose signing is done by a ``Signer`` (verification is joserfc's own)."""

    def __init__(self, signer: Signer, key_type: str) -> None:
        self.name = signer.alg
        self.description = f"{signer.alg} through a photocore signer"
        self.key_type = key_type
        self._signer = signer

    def sign(self, msg: bytes, key: Any) -> bytes:  # Any: JWSAlgModel's own signature
        return self._signer.sign(msg)

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool:  # pragma: no cover - never used for signing
        raise NotImplementedError


def public_jwk(cert_der: bytes) -> OKPKey | ECKey:
    """The certificate's public key as a joserfc key."""
    public = x509.load_der_x509_certificate(cert_der).public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return OKPKey.import_key(pem) if isinstance(public, ed25519.Ed25519PublicKey) else ECKey.import_key(pem)


class _Deliberate(JWSAlgModel):
    """One of joserfc's own algorithms, without its deprecation notice.

    joserfc flags "EdDSA" as superseded by RFC 9864's "Ed25519" with a SecurityWarning each time
    a registry hands it out. "EdDSA" is kept on purpose: it is what other JOSE libraries (and
    agencies' verifiers) accept today. Quieting it per registry, rather than with a process-wide
    warnings filter, leaves the warning to anyone else in the process who uses EdDSA by accident
    (and ``warnings.catch_warnings`` is not thread-safe, while verification runs in threads)."""

    def __init__(self, algorithm: JWSAlgModel) -> None:
        self._algorithm = algorithm
        self.name, self.description = algorithm.name, algorithm.description
        self.key_type, self.recommended = algorithm.key_type, algorithm.recommended
        self.security_warning = None

    def check_key(self, key: Any) -> None:
        self._algorithm.check_key(key)

    def sign(self, msg: bytes, key: Any) -> bytes:
        return self._algorithm.sign(msg, key)

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool:
        return self._algorithm.verify(msg, sig, key)


def allowing(algorithms: Iterable[str]) -> JWSRegistry:
    """joserfc's JWS registry restricted to ``algorithms``, "EdDSA" among them without its
    deprecation warning (see ``_Deliberate``). Used wherever photocore verifies a JWS."""
    names = list(algorithms)
    reg = JWSRegistry(algorithms=names)
    reg.algorithms = {**JWSRegistry.algorithms,
                      **{n: _Deliberate(JWSRegistry.algorithms[n]) for n in names if n in DELIBERATE}}
    return reg


def registry(signer: Signer | None = None, algorithms: Iterable[str] = ALGORITHMS) -> JWSRegistry:
    """A JWS registry that accepts our header (x5c makes it larger than joserfc's 512-byte
    default) and, when ``signer`` is given, signs through it."""
    reg = allowing(algorithms)
    reg.max_header_length = 16384
    reg.max_payload_length = 1_000_000
    if signer is not None:
        key_type = "OKP" if signer.alg == "EdDSA" else "EC"
        reg.algorithms = {**reg.algorithms, signer.alg: _SignerAlgorithm(signer, key_type)}
    return reg
