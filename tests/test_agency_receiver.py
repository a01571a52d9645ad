"""The reference agency receiver (examples/agency_receiver), run as a real HTTP server on port 0.

Deliveries are real: a key store made with init_keys, a photo from tests/data signed with
build_manifest/sign_manifest, Standard Webhooks signatures computed here as the sender does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from photocore.catalogue import load_catalogue
from photocore.sign import CaptureInfo, build_manifest, init_keys, load_signer, sign_manifest

pytest.importorskip("standardwebhooks", reason="the receiver's v1 (HMAC) check uses standardwebhooks")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # examples/ is not an installed package
    sys.path.insert(0, str(ROOT))

from examples.agency_receiver.receiver import Config, make_server  # noqa: E402

PHOTO = (ROOT / "tests" / "data" / "faces" / "london_neutral_001.jpg").read_bytes()
CREDENTIAL = "police.resident-id-card"
SECRET = "whsec_" + base64.b64encode(b"agency-receiver-test-secret-0123").decode()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two key stores: the trusted one, and another root the receiver does not know."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOCORE_KEY_PASSPHRASE", "agency receiver test")
        trusted, other = tmp_path_factory.mktemp("trusted"), tmp_path_factory.mktemp("other")
        init_keys(trusted)
        init_keys(other)
        return {"root": trusted / "root.pem", "signer": load_signer(trusted), "other_signer": load_signer(other)}


def signed(signer, photo: bytes = PHOTO, photo_id: str | None = None) -> tuple[str, str]:
    """(photo_id, compact JWS) for ``photo``."""
    photo_id = photo_id or str(uuid.uuid4())
    manifest = build_manifest(photo, credential=CREDENTIAL, catalogue=load_catalogue(), verdicts=[],
                              capture=CaptureInfo("zs-001", "op-7"), image={"format": "jpeg"}, signer=signer,
                              photo_id=photo_id)
    return photo_id, sign_manifest(manifest, signer)


@pytest.fixture
def start(keys, tmp_path):
    """start(**config) -> (server, store dir): a receiver serving in a thread, stopped after the test."""
    servers = []

    def _start(**options):
        options = {"webhook_secret": SECRET, **options}
        store = tmp_path / f"store{len(servers)}"
        server = make_server(Config(trust=keys["root"], store=store, host="127.0.0.1", port=0, quiet=True, **options))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server, store

    yield _start
    for server in servers:
        server.shutdown()
        server.server_close()


def hmac_signature(msg_id: str, stamp: int, body: bytes, secret: str = SECRET) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def json_body(photo_id: str, jws: str, photo: bytes = PHOTO, **extra) -> bytes:
    return json.dumps({"photo_id": photo_id, "credential": CREDENTIAL, "jws": jws,
                       "image_base64": base64.b64encode(photo).decode(), **extra}).encode()


def post(server, body: bytes, *, key: str | None = None, stamp: int | None = None, signature: str | None = None,
         content_type: str = "application/json", headers: dict | None = None):
    """(status, headers, JSON answer); signs with SECRET unless ``signature`` is given."""
    key = key or str(uuid.uuid4())
    stamp = int(time.time()) if stamp is None else stamp
    sent = {"Content-Type": content_type, "Idempotency-Key": key, "webhook-id": key, "webhook-timestamp": str(stamp),
            "webhook-signature": signature or hmac_signature(key, stamp, body), **(headers or {})}
    request = urllib.request.Request(server.url + "/photos", data=body, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def count(server) -> int:
    """GET /photos/count: the number of distinct photos stored (one photo stored twice counts 1)."""
    with urllib.request.urlopen(server.url + "/photos/count", timeout=10) as response:
        return json.loads(response.read())["count"]


def deliveries(store) -> list[tuple[str, str]]:
    """(idempotency key, photo id) of every delivery stored, from the receiver's own database:
    what "stored once" is checked on, as ``count`` cannot tell once from twice."""
    with closing(sqlite3.connect(store / "receiver.db")) as db:
        return db.execute("SELECT idempotency_key, photo_id FROM deliveries ORDER BY rowid").fetchall()


def test_accepts_a_valid_delivery_and_stores_it_exactly(keys, start):
    server, store = start()
    with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
        assert response.status == 200
    photo_id, jws = signed(keys["signer"])
    status, _, answer = post(server, json_body(photo_id, jws))
    assert status == 201, answer
    assert answer["photo_id"] == photo_id and uuid.UUID(answer["receipt_id"])
    assert (store / "photos" / f"{photo_id}.jpg").read_bytes() == PHOTO
    assert (store / "photos" / f"{photo_id}.jws").read_text() == jws
    assert count(server) == 1


def test_same_idempotency_key_twice_gives_the_same_receipt_and_stores_once(keys, start):
    server, store = start()
    photo_id, jws = signed(keys["signer"])
    body, key = json_body(photo_id, jws), str(uuid.uuid4())
    first = post(server, body, key=key)
    second = post(server, body, key=key)
    assert (first[0], second[0]) == (201, 200)
    assert second[2]["receipt_id"] == first[2]["receipt_id"] and second[2]["duplicate"] is True
    assert count(server) == 1 and deliveries(store) == [(key, photo_id)]


def test_concurrent_duplicates_store_exactly_once(keys, start):
    server, store = start()
    photo_id, jws = signed(keys["signer"])
    body, key = json_body(photo_id, jws), str(uuid.uuid4())
    barrier, answers = threading.Barrier(10), []

    def send():
        barrier.wait()
        answers.append(post(server, body, key=key))

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a[0] for a in answers)
    assert statuses == [200] * 9 + [201]
    assert len({a[2]["receipt_id"] for a in answers}) == 1
    assert count(server) == 1 and deliveries(store) == [(key, photo_id)]
    assert sorted(p.name for p in (store / "photos").iterdir()) == sorted([f"{photo_id}.jpg", f"{photo_id}.jws"])


def test_bad_hmac_and_missing_signature_are_refused(keys, start):
    server, _ = start()
    photo_id, jws = signed(keys["signer"])
    body = json_body(photo_id, jws)
    wrong = hmac_signature("x", int(time.time()), body,
                           "whsec_" + base64.b64encode(b"another secret 0123456789").decode())
    status, _, answer = post(server, body, signature=wrong)
    assert (status, answer["error"]) == (401, "webhook.bad_signature")
    status, _, answer = post(server, body, signature="v1,not base64!")
    assert (status, answer["error"]) == (401, "webhook.bad_signature")
    assert count(server) == 0


def test_stale_timestamp_is_refused(keys, start):
    server, _ = start()
    photo_id, jws = signed(keys["signer"])
    status, _, answer = post(server, json_body(photo_id, jws), stamp=int(time.time()) - 600)
    assert (status, answer["error"]) == (401, "webhook.stale_timestamp")


def test_ed25519_v1a_signature(keys, start, tmp_path):
    private = ed25519.Ed25519PrivateKey.generate()
    public_file = tmp_path / "webhook.pub.pem"
    public_file.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    server, _ = start(webhook_secret=None, webhook_public_key=public_file)
    photo_id, jws = signed(keys["signer"])
    body, key, stamp = json_body(photo_id, jws), str(uuid.uuid4()), int(time.time())
    v1a = "v1a," + base64.b64encode(private.sign(f"{key}.{stamp}.".encode() + body)).decode()
    assert post(server, body, key=key, stamp=stamp, signature=hmac_signature(key, stamp, body))[0] == 401  # v1 unknown
    status, _, answer = post(server, body, key=key, stamp=stamp, signature=f"v1,bogus {v1a}")
    assert status == 201, answer


def test_multipart_delivery_with_binary_body(keys, start):
    server, store = start()
    photo_id, jws = signed(keys["signer"])
    boundary = uuid.uuid4().hex
    parts = [(f'name="{k}"', v.encode()) for k, v in (("photo_id", photo_id), ("credential", CREDENTIAL), ("jws", jws))]
    parts.append(('name="photo"; filename="x.jpg"\r\nContent-Type: image/jpeg', PHOTO))
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; {h}\r\n\r\n".encode() + v + b"\r\n"
                    for h, v in parts) + f"--{boundary}--\r\n".encode()
    content_type = f"multipart/form-data; boundary={boundary}"
    forged = hmac_signature("other-id", int(time.time()), body)
    assert post(server, body, content_type=content_type, signature=forged)[0] == 401  # HMAC over the raw bytes
    status, _, answer = post(server, body, content_type=content_type)
    assert status == 201, answer
    assert (store / "photos" / f"{photo_id}.jpg").read_bytes() == PHOTO


def test_tampered_photo_is_a_permanent_error(keys, start):
    server, _ = start()
    photo_id, jws = signed(keys["signer"])
    tampered = PHOTO[:-10] + bytes(b ^ 1 for b in PHOTO[-10:])
    status, _, answer = post(server, json_body(photo_id, jws, tampered))
    assert (status, answer["error"]) == (422, "verify.tampered_image")
    assert count(server) == 0


def test_jws_from_another_root_is_untrusted(keys, start):
    server, _ = start()
    photo_id, jws = signed(keys["other_signer"])
    status, _, answer = post(server, json_body(photo_id, jws))
    assert (status, answer["error"]) == (422, "verify.untrusted_chain")


def test_revoked_station_key(keys, start, tmp_path):
    revoked = tmp_path / "revoked.json"
    revoked.write_text(json.dumps({"revoked": [keys["signer"].kid]}))
    server, _ = start(revoked=revoked)
    photo_id, jws = signed(keys["signer"])
    status, _, answer = post(server, json_body(photo_id, jws))
    assert (status, answer["error"]) == (422, "verify.revoked")


def test_same_photo_under_a_new_key_keeps_its_receipt_and_a_different_one_conflicts(keys, start):
    server, store = start()
    photo_id, jws = signed(keys["signer"])
    first = post(server, json_body(photo_id, jws))
    again = post(server, json_body(photo_id, jws))  # re-enqueued: a new outbox row id
    assert (first[0], again[0]) == (201, 200) and again[2]["receipt_id"] == first[2]["receipt_id"]
    other = PHOTO + b"\0"
    _, other_jws = signed(keys["signer"], other, photo_id=photo_id)
    status, _, answer = post(server, json_body(photo_id, other_jws, other))
    assert (status, answer["error"]) == (409, "receiver.photo_id_conflict")
    assert count(server) == 1 and (store / "photos" / f"{photo_id}.jpg").read_bytes() == PHOTO
    assert [p for _, p in deliveries(store)] == [photo_id, photo_id]  # two keys, one photo; not the conflict
    assert sorted(p.name for p in (store / "photos").iterdir()) == sorted([f"{photo_id}.jpg", f"{photo_id}.jws"])


def test_fields_must_match_the_signed_manifest(keys, start):
    server, _ = start()
    _, jws = signed(keys["signer"])
    status, _, answer = post(server, json_body("someone-else", jws))
    assert (status, answer["error"]) == (422, "receiver.manifest_mismatch")


@pytest.mark.parametrize("body, code", [
    (b"{not json", "request.malformed_json"),
    (b"[1, 2]", "request.malformed_json"),
    (json.dumps({"photo_id": "p", "credential": CREDENTIAL, "jws": "a.b.c", "image_base64": "***"}).encode(),
     "request.bad_base64"),
    (json.dumps({"photo_id": "p", "credential": CREDENTIAL, "image_base64": "AAAA"}).encode(), "request.missing_field"),
    (json.dumps({"photo_id": "../etc", "credential": CREDENTIAL, "jws": "a.b.c", "image_base64": "AAAA"}).encode(),
     "request.bad_photo_id"),
])
def test_malformed_body_is_400(start, body, code):
    server, _ = start()
    status, _, answer = post(server, body)
    assert (status, answer["error"]) == (400, code) and answer["message"]


def test_idempotency_key_required_and_bound_to_webhook_id(keys, start):
    server, _ = start()
    photo_id, jws = signed(keys["signer"])
    body = json_body(photo_id, jws)
    stamp, key = int(time.time()), "row-1"
    status, _, answer = post(server, body, stamp=stamp, key=key, headers={"Idempotency-Key": "row-2"})
    assert (status, answer["error"]) == (400, "request.idempotency_key_mismatch")


def test_bearer_token(keys, start):
    server, _ = start(bearer_token="s3cret")
    photo_id, jws = signed(keys["signer"])
    body = json_body(photo_id, jws)
    status, headers, answer = post(server, body)
    assert (status, answer["error"], headers["WWW-Authenticate"]) == (401, "auth.bearer", "Bearer")
    assert post(server, body, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert post(server, body, headers={"Authorization": "Bearer s3cret"})[0] == 201


def test_fault_injection_status_sequence_then_success(keys, start):
    server, store = start(status_sequence=[503, 429])
    photo_id, jws = signed(keys["signer"])
    body, key = json_body(photo_id, jws), str(uuid.uuid4())
    first, second, third = (post(server, body, key=key) for _ in range(3))
    assert (first[0], first[1]["Retry-After"]) == (503, "1")
    assert (second[0], second[1]["Retry-After"], second[2]["error"]) == (429, "1", "fault.injected")
    assert third[0] == 201 and deliveries(store) == [(key, photo_id)]


@pytest.mark.slow
def test_fault_injection_fail_every_and_delay(keys, start):
    server, _ = start()
    server.receiver.fail_every, server.receiver.delay = 2, 0.3
    photo_id, jws = signed(keys["signer"])
    body, key = json_body(photo_id, jws), str(uuid.uuid4())
    began = time.monotonic()
    statuses = [post(server, body, key=key)[0] for _ in range(4)]
    assert statuses == [201, 500, 200, 500]
    assert time.monotonic() - began >= 4 * 0.3


@pytest.mark.slow
def test_command_line_runs_the_receiver(keys, tmp_path):
    import subprocess
    env = {**os.environ, "AGENCY_WEBHOOK_SECRET": SECRET}
    process = subprocess.Popen([sys.executable, "-m", "examples.agency_receiver.receiver", "--port", "0", "--trust",
                                str(keys["root"]), "--store", str(tmp_path / "cli"), "--webhook-secret-env",
                                "AGENCY_WEBHOOK_SECRET", "--quiet"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line
        server = type("Server", (), {"url": line.split()[-1]})
        photo_id, jws = signed(keys["signer"])
        assert post(server, json_body(photo_id, jws))[0] == 201
        assert count(server) == 1
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_token_that_can_never_verify_is_422_not_500(keys, start):
    """A corrupt certificate in x5c (the X.509 version byte flipped) is permanent: 422, so the
    sender dead-letters it instead of retrying."""
    server, _ = start()
    photo_id, jws = signed(keys["signer"])
    compact, disclosure, _ = jws.split("~")
    head, payload, signature = compact.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    der = bytearray(base64.b64decode(header["x5c"][0]))
    der[12] ^= 1  # Certificate > TBSCertificate > [0] version: INTEGER 2 (v3) becomes 3
    header["x5c"][0] = base64.b64encode(bytes(der)).decode()
    head = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    status, _, answer = post(server, json_body(photo_id, f"{head}.{payload}.{signature}~{disclosure}~"))
    assert (status, answer["error"]) == (422, "verify.malformed"), answer
    assert count(server) == 0


def test_revocation_list_beside_the_trust_anchor_is_read_by_default(keys, start):
    revoked = Path(keys["root"]).parent / "revoked.json"
    before = revoked.read_text()
    revoked.write_text(json.dumps({"revoked": [keys["signer"].kid]}))
    try:
        server, _ = start()
        photo_id, jws = signed(keys["signer"])
        status, _, answer = post(server, json_body(photo_id, jws))
        assert (status, answer["error"]) == (422, "verify.revoked")
    finally:
        revoked.write_text(before)
