"""SM2 with SM3 (GM/T 0003, GM/T 0009) for national-crypto deployments: a detached signature.

JOSE has no SM2 algorithm, so the bytes the JWS signs (its payload: the capture's manifest
with the digests of each photo's entry) are signed again with SM2, once per capture, and
written beside each photo as ``<name>.sm2.json``; the photo's own entry is then checked
against those digests exactly as for the JWS:
``{"alg": "SM2-SM3", "uid": ..., "public_key": hex(04||x||y), "manifest": base64url(bytes),
"signature": hex(r||s)}``. The SM2 key is generated and used through snowland-smx (pysmx),
whose nonces come from a CSPRNG (not ``gmssl`` 3.2.2, whose nonce comes from ``random``); it is
stored encrypted (AES-256-GCM under a scrypt key from ``PHOTOCORE_KEY_PASSPHRASE``). For a
密评 level-3 deployment the key belongs in a certified signing device: implement ``sign`` for it
as for any Signer. Needs the optional extra ``photocore[sm2]``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import Sm2Unavailable
from .keys import KeyStoreError, passphrase

DEFAULT_UID = "1234567812345678"  # GM/T 0009 default signer identity
KEY_FILE = "sm2.key.json"
PUBLIC_FILE = "sm2.public.hex"


def _pysmx():
    try:
        from pysmx import SM2
    except ImportError as exc:
        raise Sm2Unavailable("SM2 needs the optional extra: pip install 'photocore[sm2]'") from exc
    return SM2


def _kek(salt: bytes) -> AESGCM:
    return AESGCM(Scrypt(salt=salt, length=32, n=2 ** 15, r=8, p=1).derive(passphrase()))


def create_key(directory) -> str:
    """Generate the station's SM2 key in ``directory``; returns the public key (hex, 04||x||y)."""
    sm2 = _pysmx()
    pair = sm2.generate_keypair()
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = _kek(salt).encrypt(nonce, pair.privateKey, b"photocore-sm2")
    public = "04" + pair.publicKey.hex()
    record = {"kdf": "scrypt", "salt": salt.hex(), "nonce": nonce.hex(), "key": sealed.hex(), "public_key": public}
    path = Path(directory) / KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
    (Path(directory) / PUBLIC_FILE).write_text(public + "\n", encoding="ascii")
    return public


class Sm2Signer:
    def __init__(self, directory, uid: str = DEFAULT_UID):
        self._sm2 = _pysmx()
        try:
            record = json.loads((Path(directory) / KEY_FILE).read_text(encoding="utf-8"))
            self._private = _kek(bytes.fromhex(record["salt"])).decrypt(
                bytes.fromhex(record["nonce"]), bytes.fromhex(record["key"]), b"photocore-sm2")
        except OSError as exc:
            raise KeyStoreError(f"no SM2 key in {directory} (keys init --sm2)", code="keys.missing") from exc
        except Exception as exc:
            raise KeyStoreError("cannot decrypt the SM2 key: wrong passphrase?", code="keys.bad_passphrase") from exc
        self.public_key = record["public_key"]
        self.uid = uid

    def sign(self, data: bytes) -> bytes:
        while True:
            # the nonce k: from the OS CSPRNG, in [1, n-1] (GM/T 0003), 64 hex digits as Sign takes it
            nonce = f"{secrets.randbelow(self._sm2.sm2_N - 1) + 1:064x}"
            signature = self._sm2.Sign(data, self._private, nonce, 64, uid=self.uid)
            if signature:  # Sign returns None for the rare nonce that must be redrawn
                return signature

    def sidecar(self, manifest_bytes: bytes) -> bytes:
        return json.dumps({"alg": "SM2-SM3", "uid": self.uid, "public_key": self.public_key,
                           "manifest": base64.urlsafe_b64encode(manifest_bytes).decode().rstrip("="),
                           "signature": self.sign(manifest_bytes).hex()}, indent=2).encode("utf-8")


def verify_sidecar(sidecar: bytes, public_key_hex: str) -> tuple[bool, bytes]:
    """(valid, manifest bytes) for an ``.sm2.json`` against the station's published SM2 key."""
    sm2 = _pysmx()
    record = json.loads(sidecar)
    manifest = base64.urlsafe_b64decode(record["manifest"] + "=" * (-len(record["manifest"]) % 4))
    if record.get("public_key", "").lower() != public_key_hex.strip().lower():
        return False, manifest
    public = bytes.fromhex(public_key_hex.strip()[2:])  # drop the 04 prefix: pysmx takes x||y
    ok = bool(sm2.Verify(bytes.fromhex(record["signature"]), manifest, public, 64, uid=record["uid"]))
    return ok, manifest
