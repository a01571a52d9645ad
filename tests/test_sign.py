"""Signing and verification: keys, JWS manifests, tampering, trust, revocation, expiry, C2PA, SM2."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from photocore.catalogue import load_catalogue
from photocore.sign import (
    CaptureInfo,
    FileSigner,
    KeyStoreError,
    ManifestSigner,
    add_station_key,
    build_manifest,
    init_keys,
    list_keys,
    load_root,
    load_signer,
    revoke,
    revoked,
    sign_manifest,
    verify,
)
from photocore.sign.manifest import manifest_common, photo_entry

from conftest import NEUTRAL

PHOTO = NEUTRAL[0].read_bytes()


@pytest.fixture(autouse=True)
def passphrase(monkeypatch):
    monkeypatch.setenv("PHOTOCORE_KEY_PASSPHRASE", "correct horse battery staple")


def signed(store, photo=PHOTO, signer=None, issued_at=None):
    signer = signer or load_signer(store)
    manifest = build_manifest(photo, credential="police.resident-id-card", catalogue=load_catalogue(), verdicts=[],
                              capture=CaptureInfo("zs-001", "op-7", "2026-11-28T09:00:00+08:00", "kiosk-3"),
                              image={"format": "jpeg"}, signer=signer, issued_at=issued_at)
    return sign_manifest(manifest, signer)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A key store; its passphrase in the environment while this module runs, then restored."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOCORE_KEY_PASSPHRASE", "correct horse battery staple")
        path = tmp_path_factory.mktemp("keys")
        init_keys(path)
        yield path


def test_key_store_layout_and_encrypted_keys(store):
    assert (store / "root.pem").exists() and (store / "revoked.json").exists()
    (entry,) = list_keys(store)
    key_pem = (store / "stations" / f"{entry['kid']}.key.pem").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in key_pem
    cert = x509.load_pem_x509_certificate((store / "stations" / f"{entry['kid']}.pem").read_bytes())
    period = cert.extensions.get_extension_for_class(x509.PrivateKeyUsagePeriod).value
    assert period.not_after.replace(tzinfo=dt.UTC) < cert.not_valid_after_utc  # ICAO: usage < validity
    with pytest.raises(KeyStoreError) as info:
        init_keys(store)
    assert info.value.code == "keys.exists"


def test_wrong_or_missing_passphrase(store, monkeypatch):
    monkeypatch.setenv("PHOTOCORE_KEY_PASSPHRASE", "wrong")
    with pytest.raises(KeyStoreError) as info:
        load_signer(store)
    assert info.value.code == "keys.bad_passphrase"
    monkeypatch.delenv("PHOTOCORE_KEY_PASSPHRASE")
    with pytest.raises(KeyStoreError) as info:
        load_signer(store)
    assert info.value.code == "keys.passphrase_missing"


def test_round_trip_and_header(store):
    token = signed(store)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "EdDSA" and header["kid"] == list_keys(store)[0]["kid"] and len(header["x5c"]) == 2
    result = verify(PHOTO, token, load_root(store))
    assert result.valid and result.code is None
    manifest = result.manifest
    assert manifest["credential"] == "police.resident-id-card" and manifest["capture"]["station_id"] == "zs-001"
    assert manifest["catalogue"]["content_hash"] == load_catalogue().content_hash


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_single_bit_flips_are_detected_with_the_right_code(store):
    token = signed(store)
    root = load_root(store)
    compact, disclosure, _ = token.split("~")
    header, payload, signature = compact.split(".")
    for bit in range(0, len(PHOTO) * 8, len(PHOTO) * 8 // 23):
        assert verify(_flip(PHOTO, bit), token, root).code == "verify.tampered_image"
    manifest = _unb64(payload)
    for bit in range(0, len(manifest) * 8, len(manifest) * 8 // 23):
        flipped = f"{header}.{_b64(_flip(manifest, bit))}.{signature}~{disclosure}~"
        assert verify(PHOTO, flipped, root).code == "verify.bad_signature", bit
    entry = _unb64(disclosure)  # the photo's own entry: credential, photo id, hash, verdicts
    for bit in range(0, len(entry) * 8, len(entry) * 8 // 23):
        flipped = f"{compact}~{_b64(_flip(entry, bit))}~"
        assert verify(PHOTO, flipped, root).code == "verify.bad_signature", bit
    raw = _unb64(signature)
    for bit in range(0, len(raw) * 8, 7):
        flipped = f"{header}.{payload}.{_b64(_flip(raw, bit))}~{disclosure}~"
        assert verify(PHOTO, flipped, root).code == "verify.bad_signature", bit
    assert verify(PHOTO, "not a jws", root).code == "verify.malformed"
    assert verify(PHOTO, compact, root).code == "verify.malformed"  # the disclosure is required
    assert verify(PHOTO, f"{_b64(b'{}')}.{payload}.{signature}~{disclosure}~", root).code == "verify.malformed"


def test_garbled_tokens_give_a_code_never_an_exception(store):
    import random

    from photocore.sign.verify import CODES
    token, root = signed(store), load_root(store)
    rng = random.Random(5)
    invalid = 0
    for _ in range(300):
        chars = list(token)
        for _ in range(rng.randint(1, 5)):
            chars[rng.randrange(len(chars))] = rng.choice("~.-_=Az09{}\x00é")
        result = verify(PHOTO, "".join(chars), root)  # a change may be a no-op (same char, padding bits)
        assert result.valid or result.code in CODES
        invalid += not result.valid
    assert invalid >= 250


def test_one_signature_per_capture_and_each_agency_sees_only_its_own_credential(store):
    signer = load_signer(store)
    capture = CaptureInfo("zs-001", "op-7", "2026-11-28T09:00:00+08:00", "kiosk-3")
    issued = dt.datetime.now(dt.UTC)
    credentials = ["police.resident-id-card", "disability.disability-certificate", "hrss.social-security-card"]
    common = manifest_common(catalogue=load_catalogue(), capture=capture, signer=signer, issued_at=issued)
    entries = [photo_entry(PHOTO, credential=c, verdicts=[], image={"format": "jpeg"}) for c in credentials]
    manifests = [{**common, **entry} for entry in entries]
    tokens = ManifestSigner(signer).sign_all(common, entries)
    assert len({t.split("~")[0] for t in tokens}) == 1  # one JWS, one signature
    root = load_root(store)
    for credential, manifest, token in zip(credentials, manifests, tokens, strict=True):
        result = verify(PHOTO, token, root)
        assert result.valid and result.manifest == manifest  # the whole manifest, as built
        revealed = b"".join(_unb64(part) for part in token.replace("~", ".").split(".") if part)
        for other in credentials:
            assert (other.encode() in revealed) == (other == credential)
    payload = json.loads(_unb64(tokens[0].split("~")[0].split(".")[1]))
    assert len(payload["photos"]) == 16  # three digests and 13 decoys: the count is not revealed
    # an entry signed at another time cannot be passed off under this signature
    other_capture = sign_manifest(manifests[1], signer)
    mixed = f"{tokens[0].split('~')[0]}~{other_capture.split('~')[1]}~"
    assert verify(PHOTO, mixed, root).code == "verify.bad_signature"


def test_photo_ids_are_random_version_4_uuids():
    import uuid

    from photocore.sign.manifest import new_photo_ids
    ids = new_photo_ids(500)
    assert len(set(ids)) == 500
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 and str(uuid.UUID(i)) == i
               for i in ids)


def test_wrong_root_is_untrusted(store, tmp_path):
    other = tmp_path / "other"
    init_keys(other)
    assert verify(PHOTO, signed(store), load_root(other)).code == "verify.untrusted_chain"


def test_rotation_and_revocation(tmp_path):
    init_keys(tmp_path)
    first = list_keys(tmp_path)[0]["kid"]
    old_token = signed(tmp_path)
    second = add_station_key(tmp_path, station="station-2")
    assert load_signer(tmp_path).kid == second  # the newest key signs
    root = load_root(tmp_path)
    assert verify(PHOTO, old_token, root).valid  # both keys valid at once
    revoke(tmp_path, first)
    assert revoked(tmp_path) == {first}
    assert verify(PHOTO, old_token, root, revoked(tmp_path)).code == "verify.revoked"
    assert verify(PHOTO, signed(tmp_path), root, revoked(tmp_path)).valid
    with pytest.raises(KeyStoreError):
        revoke(tmp_path, "no-such-kid")


def test_expired_certificate_and_key_usage_period(tmp_path):
    now = dt.datetime.now(dt.UTC)
    init_keys(tmp_path, not_before=now - dt.timedelta(days=60))
    # a station key that could sign from -40 to -10 days, with a certificate valid until -9 days
    old = add_station_key(tmp_path, usage_days=30, lifetime_days=1, not_before=now - dt.timedelta(days=40))
    stations = tmp_path / "stations"
    key = serialization.load_pem_private_key((stations / f"{old}.key.pem").read_bytes(),
                                             b"correct horse battery staple")
    cert = x509.load_pem_x509_certificate((stations / f"{old}.pem").read_bytes())
    stale = FileSigner(key, [cert.public_bytes(serialization.Encoding.DER)])
    root = load_root(tmp_path)
    expired = verify(PHOTO, signed(tmp_path, signer=stale), root)  # signed now: certificate expired
    assert expired.code == "verify.expired" and "not valid" in expired.message
    late = verify(PHOTO, signed(tmp_path, signer=stale, issued_at=now - dt.timedelta(days=9, hours=12)), root)
    assert late.code == "verify.expired" and "may only sign" in late.message  # certificate valid, key usage over
    assert verify(PHOTO, signed(tmp_path, signer=stale, issued_at=now - dt.timedelta(days=20)), root).valid
    assert load_signer(tmp_path).kid != old  # a key past its usage period is never chosen


def test_es256_store(tmp_path):
    init_keys(tmp_path, alg="ES256")
    token = signed(tmp_path)
    assert json.loads(_unb64(token.split(".")[0]))["alg"] == "ES256"
    assert verify(PHOTO, token, load_root(tmp_path)).valid


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_independent_jose_and_sd_jwt_libraries_verify_our_signature(tmp_path, alg):
    from jwcrypto import jwk, jws
    from sd_jwt.verifier import SDJWTVerifier
    init_keys(tmp_path, alg=alg)
    token = signed(tmp_path)
    compact, disclosure, _ = token.split("~")
    leaf = x509.load_der_x509_certificate(base64.b64decode(json.loads(_unb64(compact.split(".")[0]))["x5c"][0]))
    key = jwk.JWK.from_pem(leaf.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    obj = jws.JWS()  # jwcrypto: the compact JWS
    obj.deserialize(compact)
    obj.verify(key, alg=alg)
    assert json.loads(obj.payload)["capture"]["station_id"] == "zs-001"
    tampered = jws.JWS()
    header, payload, signature = compact.split(".")
    tampered.deserialize(f"{header}.{_b64(_flip(_unb64(payload), 9))}.{signature}")
    with pytest.raises(jws.InvalidJWSSignature):
        tampered.verify(key, alg=alg)
    # the OpenWallet Foundation's SD-JWT implementation: signature, digest and disclosure
    claims = SDJWTVerifier(token, lambda issuer, header: key).get_verified_payload()
    (entry,) = claims["photos"]
    assert entry["credential"] == "police.resident-id-card"
    assert entry["image"]["sha256"] == __import__("hashlib").sha256(PHOTO).hexdigest()
    foreign = signed(tmp_path).split("~")[1]  # an entry this signature does not cover is not disclosed
    assert SDJWTVerifier(f"{compact}~{foreign}~", lambda issuer, header: key).get_verified_payload()["photos"] == []


def test_c2pa_manifest_read_back_trusted(store):
    import photocore
    from photocore.render import render_all
    from photocore.sign.c2pa import embed, read
    capture = photocore.decode(NEUTRAL[1])
    profile = load_catalogue().get("police.resident-id-card")
    photo = render_all(capture, photocore.analyse(capture), [profile])[profile.id].data
    out = embed(photo, load_signer(store), credential=profile.id, station_id="zs-001", captured_at=None,
                title="police.resident-id-card.jpg")
    state, manifest = read(out, (store / "root.pem").read_text())
    assert state == "Trusted"
    custom = {a["label"]: a["data"] for a in manifest["assertions"]}
    assert custom["org.photocore.rendition"]["credential"] == profile.id
    assert read(_flip(out, len(out) * 8 - 20000), (store / "root.pem").read_text())[0] == "Invalid"
    other = store.parent / "c2pa-other"
    init_keys(other)
    assert read(out, (other / "root.pem").read_text())[0] != "Trusted"


@pytest.mark.slow
def test_sm2_detached_signature(store):
    from photocore.sign.manifest import signed_payload
    from photocore.sign.sm2 import Sm2Signer, create_key, verify_sidecar
    public = create_key(store)
    token = signed(store)
    sidecar = Sm2Signer(store).sidecar(signed_payload(token))
    ok, signed_bytes = verify_sidecar(sidecar, public)
    assert ok and signed_bytes == signed_payload(token)  # the same bytes the JWS signs
    record = json.loads(sidecar)
    record["signature"] = record["signature"][:-2] + ("00" if record["signature"][-2:] != "00" else "01")
    assert not verify_sidecar(json.dumps(record).encode(), public)[0]


def cli(*args, env):
    """The installed ``photocore`` command, as an operator runs it."""
    exe = str(Path(sys.executable).with_name("photocore"))
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_cli_keys_convert_sign_and_verify(tmp_path):
    env = {**__import__("os").environ, "PHOTOCORE_KEY_PASSPHRASE": "pw-for-cli"}

    def run(*args):
        return cli(*args, env=env)

    keys, out = tmp_path / "keys", tmp_path / "out"
    assert run("keys", "init", str(keys)).returncode == 0
    proc = run("convert", str(NEUTRAL[1]), "--out", str(out), "--credential", "police.resident-id-card",
               "--credential", "hrss.social-security-card", "--sign", "--keys", str(keys), "--station", "zs-9")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert all(r["signature"] == f"{r['file']}.jws" and (out / r["signature"]).exists() for r in rows)
    photo = out / rows[0]["file"]
    proc = run("verify", str(photo), "--trust", str(keys / "root.pem"), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["valid"]
    photo.write_bytes(_flip(photo.read_bytes(), 5000))
    proc = run("verify", str(photo), "--trust", str(keys / "root.pem"))
    assert proc.returncode == 1 and "verify.tampered_image" in proc.stdout
    proc = run("verify", str(tmp_path / "missing.jpg"), "--trust", str(keys / "root.pem"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    env.pop("PHOTOCORE_KEY_PASSPHRASE")
    proc = run("keys", "init", str(tmp_path / "k2"))
    assert proc.returncode == 2 and "keys.passphrase_missing" in proc.stderr


def test_convert_with_c2pa_stays_inside_the_byte_window(store):
    import photocore
    from photocore.sign.c2pa import read
    from photocore.sign.stage import SigningOptions
    options = SigningOptions(load_signer(store), CaptureInfo("zs-001"), c2pa=True)
    conversion = photocore.convert(NEUTRAL[1], ["police.resident-id-card", "police.driving-licence"], signing=options)
    profile = load_catalogue().get("police.resident-id-card")
    for credential, photo in conversion.signed.items():
        kb_max = load_catalogue().get(credential).kb_max
        assert photo.c2pa and len(photo.data) <= kb_max * 1024, (credential, len(photo.data))
        assert read(photo.data, (store / "root.pem").read_text())[0] == "Trusted"
        assert verify(photo.data, photo.jws, load_root(store)).valid  # the JWS covers the final bytes
    assert profile.kb_max == 30


@pytest.mark.slow
def test_cli_sm2_signature_of_a_capture_verifies_for_each_photo(tmp_path):
    env = {**__import__("os").environ, "PHOTOCORE_KEY_PASSPHRASE": "pw-for-sm2"}

    def run(*args):
        return cli(*args, env=env)

    keys, out = tmp_path / "keys", tmp_path / "out"
    assert run("keys", "init", str(keys), "--sm2").returncode == 0
    proc = run("convert", str(NEUTRAL[1]), "--out", str(out), "--credential", "police.resident-id-card",
               "--credential", "hrss.social-security-card", "--sign", "--keys", str(keys), "--sm2")
    assert proc.returncode == 0, proc.stderr
    photos = sorted(out.glob("*.jpg"))
    assert len(photos) == 2
    public = str(keys / "sm2.public.hex")
    for photo in photos:
        proc = run("verify", str(photo), "--trust", str(keys / "root.pem"), "--sm2-public", public, "--json")
        assert proc.returncode == 0 and json.loads(proc.stdout)["valid"], proc.stdout
    sidecar = photos[0].with_name(photos[0].name + ".sm2.json")
    record = json.loads(sidecar.read_text())
    record["signature"] = record["signature"][:-2] + ("00" if record["signature"][-2:] != "00" else "01")
    sidecar.write_text(json.dumps(record))
    proc = run("verify", str(photos[0]), "--trust", str(keys / "root.pem"), "--sm2-public", public)
    assert proc.returncode == 1 and "verify.bad_signature" in proc.stdout
