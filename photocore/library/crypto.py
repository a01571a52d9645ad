"""Keys of the shared photo library, and encryption at rest.

- One **service secret** (``--secret env:NAME|file:PATH``, 32 random bytes in base64) from which
  HKDF derives a key per purpose: the person key (HMAC-SHA256 of the normalised ID number, so the
  ID number is never stored), pickup-code hashes, session cookies, access tokens and the audit
  checkpoint signing key. Every process of a deployment gets the same secret and so agrees.
- **Envelope encryption**: every capture has its own random 256-bit data key; its objects (the
  master image, each photo and its signature) are sealed with AES-256-GCM under it, with the
  object's name as associated data. The data key is stored only wrapped by the key-encryption
  key (a ``KeyWrapper``: the local one below, or a KMS/HSM implementing the same two methods).
  Deleting a capture deletes its wrapped key, so copies of its objects in backups of the object
  store can no longer be read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import LibraryError

PICKUP_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
PICKUP_LENGTH = 10  # 10 x 5 bits = 50 bits of entropy (at least 40 asked)


def parse_secret(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise LibraryError(f"{what} is not base64", code="library.config") from exc
    if len(key) != 32:
        raise LibraryError(f"{what} must be 32 bytes (base64 of 32 random bytes)", code="library.config")
    return key


def new_secret() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


class KeyWrapper(Protocol):
    """Wraps and unwraps data keys: the local key below, or a KMS / HSM client."""

    key_id: str

    def wrap(self, data_key: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...


class LocalKeyWrapper:
    """AES-256-GCM with a key-encryption key held in memory (from env:/file:, never written)."""

    def __init__(self, kek: bytes):
        self._aead = AESGCM(kek)
        self.key_id = "local:" + hashlib.sha256(b"photocore-kek-id" + kek).hexdigest()[:16]

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:12], wrapped[12:], context)
        except Exception as exc:  # InvalidTag: another key, or altered bytes
            raise LibraryError("a capture's data key cannot be unwrapped with the configured key-encryption key",
                               code="library.bad_key") from exc


def seal(data_key: bytes, name: str, plain: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(data_key).encrypt(nonce, plain, name.encode())


def unseal(data_key: bytes, name: str, sealed: bytes) -> bytes:
    try:
        return AESGCM(data_key).decrypt(sealed[:12], sealed[12:], name.encode())
    except Exception as exc:
        raise LibraryError(f"stored object {name} cannot be decrypted (altered, or another key)",
                           code="library.bad_key") from exc


@dataclass(frozen=True)
class ServiceKeys:
    """The per-purpose keys derived from the one service secret."""

    person: bytes
    pickup: bytes
    session: bytes
    token: bytes
    checkpoint: ed25519.Ed25519PrivateKey
    kek: bytes  # used when no external KeyWrapper is configured

    @classmethod
    def derive(cls, secret: bytes) -> ServiceKeys:
        def sub(purpose: str) -> bytes:
            return HKDF(hashes.SHA256(), 32, salt=b"photocore-library-v1", info=purpose.encode()).derive(secret)

        return cls(person=sub("person-key"), pickup=sub("pickup-code"), session=sub("session"), token=sub("token"),
                   checkpoint=ed25519.Ed25519PrivateKey.from_private_bytes(sub("audit-checkpoint")),
                   kek=sub("key-encryption-key"))

    def person_key(self, id_number: str) -> str:
        """The pseudonymous key of a person: HMAC-SHA256 of the normalised ID number."""
        return hmac.new(self.person, normalise_id_number(id_number).encode(), hashlib.sha256).hexdigest()

    def pickup_hash(self, code: str) -> str:
        return hmac.new(self.pickup, b"code:" + normalise_code(code).encode(), hashlib.sha256).hexdigest()

    def pickup_proof(self, code: str, last_six: str) -> str:
        """What the stored pickup row holds instead of the ID number's last six digits."""
        msg = b"proof:" + normalise_code(code).encode() + b":" + last_six.strip().upper().encode()
        return hmac.new(self.pickup, msg, hashlib.sha256).hexdigest()


def normalise_id_number(id_number: str) -> str:
    """Resident ID numbers: digits and a final X, whitespace and case ignored."""
    text = "".join(str(id_number).split()).upper()
    if not text or len(text) > 64 or not text.isascii() or not text.isalnum():
        raise LibraryError("the ID number must be 1-64 letters and digits", code="library.malformed")
    return text


def last_six(id_number: str) -> str:
    return normalise_id_number(id_number)[-6:]


def new_pickup_code() -> str:
    raw = "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(PICKUP_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_code(code: str) -> str:
    """Crockford's reading rules: case, dashes and spaces ignored; O reads 0, I and L read 1."""
    text = "".join(ch for ch in str(code).upper() if ch not in "- ")
    return text.translate(str.maketrans("OIL", "011"))[:64]
