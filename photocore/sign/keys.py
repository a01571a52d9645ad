"""The key store: an issuing root (CA) and station signing certificates under it.

Modelled on ICAO 9303's CSCA and Document Signer: a station key may only sign during its
private-key usage period (90 days by default), while its certificate stays valid for that
period plus the photos' lifetime (10 years), so a photo verifies for its whole life without a
timestamp server. Several station keys may be valid at once (rotation); a key id listed in
``revoked.json`` is no longer trusted. Private keys are PKCS#8, encrypted with the passphrase in
``PHOTOCORE_KEY_PASSPHRASE``; nothing secret is ever written in clear.

    DIR/root.pem             the trust anchor an agency is given
    DIR/root.key.pem         the root's private key (encrypted)
    DIR/stations/<kid>.pem   station certificates; <kid>.key.pem their keys (encrypted)
    DIR/revoked.json         {"revoked": [kid, ...]}
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import KeyStoreError
from .signer import FileSigner, SigningKey, thumbprint

ENV_PASSPHRASE = "PHOTOCORE_KEY_PASSPHRASE"
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def passphrase() -> bytes:
    value = os.environ.get(ENV_PASSPHRASE)
    if not value:
        raise KeyStoreError(f"set {ENV_PASSPHRASE} to the key passphrase (it is never written to disk)",
                            code="keys.passphrase_missing")
    return value.encode("utf-8")


def _new_key(alg: str) -> SigningKey:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise KeyStoreError(f"unknown algorithm {alg!r}: use EdDSA (Ed25519) or ES256", code="keys.invalid")


def _hash_for(key: SigningKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _write_key(path: Path, key: SigningKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase()))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _read_key(path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), passphrase())
    except ValueError as exc:
        raise KeyStoreError(f"cannot decrypt {path.name}: wrong {ENV_PASSPHRASE}?", code="keys.bad_passphrase") from exc
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc}", code="keys.missing") from exc


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "photocore"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key_usage(**flags: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: flags.get(n, False) for n in names})


def init_keys(directory: str | os.PathLike[str], alg: str = "EdDSA", station: str = "station-1", usage_days: int = 90,
              lifetime_days: int = 3653, root_days: int = 7305, not_before: dt.datetime | None = None) -> Path:
    """Create the issuing root and a first station certificate in ``directory``.

    ``not_before`` back-dates the root (for migrating an existing archive, and for tests).
    """
    root_dir = Path(directory)
    if not str(directory).strip():
        raise KeyStoreError("the key store folder must be named (an empty path is refused)", code="config.empty_path")
    if root_dir.exists() and not root_dir.is_dir():
        raise KeyStoreError(f"{root_dir} is a file, not a folder: choose a new folder for the key store",
                            code="keys.exists")
    if (root_dir / "root.pem").exists():
        raise KeyStoreError(f"{root_dir} already holds a key store; use `photocore keys add`", code="keys.exists")
    passphrase()  # fail before creating anything
    try:
        for folder in (root_dir, root_dir / "stations"):
            if not folder.exists():
                folder.mkdir(parents=True, mode=0o700)
                os.chmod(folder, 0o700)  # whatever the umask: it holds the private keys
    except OSError as exc:
        raise KeyStoreError(f"cannot create the key store in {root_dir}: {exc.strerror or exc}",
                            code="keys.unwritable") from exc
    key = _new_key(alg)
    now = not_before or _now()
    name = _name("photocore issuing root")
    root = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=root_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, _hash_for(key)))
    _write_key(root_dir / "root.key.pem", key)
    (root_dir / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (root_dir / "revoked.json").write_text(json.dumps({"revoked": []}, indent=2) + "\n", encoding="utf-8")
    add_station_key(root_dir, station=station, usage_days=usage_days, lifetime_days=lifetime_days, alg=alg)
    return root_dir


def add_station_key(directory: str | os.PathLike[str], station: str = "station-1", usage_days: int = 90,
                    lifetime_days: int = 3653, alg: str | None = None, not_before: dt.datetime | None = None) -> str:
    """Issue a new station certificate under the root (rotation); returns its kid."""
    root_dir = Path(directory)
    root_cert = load_root(root_dir)
    root_public = root_cert.public_key()
    if not isinstance(root_public, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise KeyStoreError(f"the root certificate's key is {type(root_public).__name__}, not EdDSA or ES256",
                            code="keys.invalid")
    root_key = _read_key(root_dir / "root.key.pem")
    if not isinstance(root_key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyStoreError(f"the root private key is {type(root_key).__name__}, not EdDSA or ES256",
                            code="keys.invalid")
    alg = alg or ("EdDSA" if isinstance(root_key, ed25519.Ed25519PrivateKey) else "ES256")
    key = _new_key(alg)
    start = not_before or _now()
    cert = (x509.CertificateBuilder().subject_name(_name(f"photocore capture station {station}"))
            .issuer_name(root_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start - dt.timedelta(minutes=5))
            .not_valid_after(start + dt.timedelta(days=usage_days + lifetime_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.PrivateKeyUsagePeriod(start - dt.timedelta(minutes=5),
                                                      start + dt.timedelta(days=usage_days)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_public), critical=False)
            .sign(root_key, _hash_for(root_key)))
    der = cert.public_bytes(serialization.Encoding.DER)
    kid = thumbprint(der)
    _write_key(root_dir / "stations" / f"{kid}.key.pem", key)
    (root_dir / "stations" / f"{kid}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return kid


def load_root(directory: str | os.PathLike[str]) -> x509.Certificate:
    path = Path(directory) / "root.pem"
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise KeyStoreError(f"no key store at {directory} (run `photocore keys init`)", code="keys.missing") from exc


def revoked(directory: str | os.PathLike[str]) -> set[str]:
    path = Path(directory) / "revoked.json"
    if not path.exists():
        return set()
    try:
        return set(json.loads(path.read_text(encoding="utf-8"))["revoked"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyStoreError(f"{path} is not a revocation list", code="keys.invalid") from exc


def revoke(directory: str | os.PathLike[str], kid: str) -> None:
    if not (Path(directory) / "stations" / f"{kid}.pem").exists():
        raise KeyStoreError(f"no station key {kid!r} in {directory}", code="keys.unknown_kid")
    ids = revoked(directory) | {kid}
    (Path(directory) / "revoked.json").write_text(json.dumps({"revoked": sorted(ids)}, indent=2) + "\n",
                                                  encoding="utf-8")


def usage_period(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    """The private-key usage period (UTC), or the validity when the extension is absent."""
    try:
        period = cert.extensions.get_extension_for_class(x509.PrivateKeyUsagePeriod).value
    except x509.ExtensionNotFound:
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    # either end may be absent (RFC 5280 4.2.1.4 in RFC 3280): the validity bounds it there
    start = cert.not_valid_before_utc if period.not_before is None else period.not_before.replace(tzinfo=dt.UTC)
    end = cert.not_valid_after_utc if period.not_after is None else period.not_after.replace(tzinfo=dt.UTC)
    return start, end


def list_keys(directory: str | os.PathLike[str]) -> list[dict]:
    if not (Path(directory) / "root.pem").is_file():
        raise KeyStoreError(f"no key store at {directory} (run `photocore keys init`)", code="keys.missing")
    out, gone = [], revoked(directory)
    for path in sorted((Path(directory) / "stations").glob("*.pem")):
        if path.name.endswith(".key.pem"):
            continue
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        start, end = usage_period(cert)
        out.append({"kid": path.stem, "subject": cert.subject.rfc4514_string(), "usage_from": start.isoformat(),
                    "usage_until": end.isoformat(), "valid_until": cert.not_valid_after_utc.isoformat(),
                    "revoked": path.stem in gone})
    return out


def load_signer(directory: str | os.PathLike[str], at: dt.datetime | None = None) -> FileSigner:
    """The newest station key allowed to sign now (in its usage period, not revoked)."""
    at = at or _now()
    candidates = []
    stations = Path(directory) / "stations"
    for entry in list_keys(directory):
        start, end = dt.datetime.fromisoformat(entry["usage_from"]), dt.datetime.fromisoformat(entry["usage_until"])
        if not entry["revoked"] and start <= at <= end:
            # certificates carry whole seconds: the file's write time orders keys issued together
            candidates.append((start, (stations / f"{entry['kid']}.pem").stat().st_mtime_ns, entry["kid"]))
    if not candidates:
        raise KeyStoreError(f"no station key in {directory} may sign now (all expired or revoked); "
                            "issue one with `photocore keys add`", code="keys.no_usable_key")
    kid = max(candidates)[2]
    cert = x509.load_pem_x509_certificate((stations / f"{kid}.pem").read_bytes())
    return FileSigner(_read_key(stations / f"{kid}.key.pem"),
                      [cert.public_bytes(serialization.Encoding.DER), load_root(directory).public_bytes(
                          serialization.Encoding.DER)])
