"""Delivery over HTTP to the reference receiver on 127.0.0.1: faults, retries, dead letters,
webhook signatures, and a worker killed with SIGKILL again and again, losing nothing."""

from __future__ import annotations

import base64
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

import photocore
from photocore.deliver.outbox import DEAD, DELIVERED, Policy, connect_outbox, new_key
from photocore.deliver.push import push
from photocore.deliver.systems import System, load_systems
from photocore.deliver.worker import Worker
from photocore.sign import CaptureInfo, init_keys, load_signer
from photocore.sign.stage import SigningOptions

from conftest import NEUTRAL, wait_for

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from examples.agency_receiver.receiver import Config, make_server  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"delivery-test-secret-0123456789ab").decode()
CREDENTIALS = ["police.resident-id-card", "police.driving-licence", "hrss.social-security-card"]


@pytest.fixture(scope="module")
def signed_dir(tmp_path_factory):
    """Real signed photos, as `photocore convert --sign` writes them (the key passphrase in the
    environment for this module only)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOCORE_KEY_PASSPHRASE", "delivery-tests")
        root = tmp_path_factory.mktemp("signed")
        init_keys(root / "keys")
        options = SigningOptions(load_signer(root / "keys"), CaptureInfo("zs-001"))
        conversion = photocore.convert(NEUTRAL[1], CREDENTIALS, signing=options)
        out = root / "photos"
        out.mkdir()
        for credential, signed in conversion.signed.items():
            (out / f"{credential}.jpg").write_bytes(signed.data)
            (out / f"{credential}.jpg.jws").write_text(signed.jws, encoding="ascii")
        assert len(conversion.signed) == len(CREDENTIALS)
        yield root


@pytest.fixture
def receiver(signed_dir, tmp_path):
    servers = []

    def start(**options):
        config = Config(trust=signed_dir / "keys" / "root.pem", store=tmp_path / f"store{len(servers)}", port=0,
                        quiet=True, **options)
        server = make_server(config)
        # shutdown() waits for the loop's next poll: 0.05 s, not the default 0.5 s per test
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def stored(server) -> tuple[int, int, int]:
    """(deliveries stored, distinct photos among them, photo files) in the receiver's own
    database and folder. ``receiver.count()`` counts distinct photo ids, so it cannot see one
    photo stored twice under two idempotency keys; "stored once" needs all three equal."""
    store = Path(server.receiver.config.store)
    with closing(sqlite3.connect(store / "receiver.db")) as db:
        rows, photos = db.execute("SELECT COUNT(*), COUNT(DISTINCT photo_id) FROM deliveries").fetchone()
    files = sum(1 for p in (store / "photos").glob("*") if p.suffix != ".jws") if (store / "photos").exists() else 0
    return rows, photos, files


def outbox_at(tmp_path, **policy):
    return connect_outbox(str(tmp_path / "outbox.sqlite3"), base64.b64decode(new_key()),
                  Policy(**{"base_delay": 0.05, "max_delay": 0.2, "max_attempts": 6, "lease": 5.0, **policy}))


def http_system(url, **settings):
    return System("agency", ("*",), "http", {"url": url, **settings})


def drain(box, threads=1, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        Worker(box, threads=threads, once=True).run(install_signals=False)
        due = box.next_due()
        if due is None:
            return
        time.sleep(min(due, 0.3))
    raise AssertionError(f"outbox not drained: {box.counts()}")


def test_signed_photos_reach_the_receiver_with_webhook_signatures(signed_dir, receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENCY_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("AGENCY_TOKEN", "t0ken")
    server = receiver(webhook_secret=SECRET, bearer_token="t0ken")
    box = outbox_at(tmp_path)
    system = http_system(f"{server.url}/photos", webhook={"secret": "env:AGENCY_WEBHOOK_SECRET"},
                         auth={"type": "bearer", "token": "env:AGENCY_TOKEN"})
    assert push(box, [signed_dir / "photos"], system)["queued"] == 3
    assert push(box, [signed_dir / "photos"], system)["already_queued"] == 3
    drain(box, threads=2)
    assert box.counts() == {DELIVERED: 3} and server.receiver.count() == 3
    assert all(r["receipt_id"] for r in box.rows())
    stored = sorted((server.receiver.config.store / "photos").glob("*.jpg"))
    originals = sorted(p.read_bytes() for p in (signed_dir / "photos").glob("*.jpg"))
    assert sorted(p.read_bytes() for p in stored) == originals


def test_multipart_and_ed25519_webhook(signed_dir, receiver, tmp_path, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "wh.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    (tmp_path / "wh.pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    server = receiver(webhook_public_key=tmp_path / "wh.pub")
    box = outbox_at(tmp_path)
    push(box, [signed_dir / "photos"], http_system(f"{server.url}/photos", mode="multipart",
                                                   webhook={"ed25519_key": f"file:{tmp_path / 'wh.key'}"}))
    drain(box)
    assert box.counts() == {DELIVERED: 3} and server.receiver.count() == 3


def test_a_malformed_webhook_key_dead_letters_the_rows_and_deliver_says_so(signed_dir, receiver, tmp_path):
    """The defect the review found: the thread died, rows stayed 'delivering', deliver exited 0."""
    (tmp_path / "bad.key").write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    server = receiver()
    box = outbox_at(tmp_path)
    push(box, [signed_dir / "photos"], http_system(f"{server.url}/photos",
                                                   webhook={"ed25519_key": f"file:{tmp_path / 'bad.key'}"}))
    stats = Worker(box, threads=2, once=True).run(install_signals=False)
    assert (stats.dead, stats.threads_lost) == (3, 0)
    assert box.counts() == {DEAD: 3} and server.receiver.count() == 0
    for row in box.rows(DEAD):
        assert row["last_error"].startswith("deliver.bad_config: ValueError")
        assert [a["outcome"] for a in box.history(row["id"])] == ["dead"]


def test_a_delivery_thread_that_dies_is_counted(tmp_path):
    """An error no row can record (the outbox itself broken under the worker) is not silent."""
    import sqlite3
    box = outbox_at(tmp_path)
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
        db.execute("DROP TABLE outbox")
    stats = Worker(box, threads=2, once=True).run(install_signals=False)
    assert stats.threads_lost == 2


@pytest.mark.slow
def test_faults_are_retried_with_backoff_and_retry_after(signed_dir, receiver, tmp_path):
    server = receiver(status_sequence=[503, 500, 429, 502])
    box = outbox_at(tmp_path)
    push(box, [signed_dir / "photos" / "police.resident-id-card.jpg"], http_system(f"{server.url}/photos"))
    drain(box)
    (row,) = box.rows()
    assert row["status"] == DELIVERED and row["attempts"] == 5 and server.receiver.count() == 1


def test_permanent_errors_go_straight_to_dead_letters(signed_dir, receiver, tmp_path):
    server = receiver()
    box = outbox_at(tmp_path)
    photos = tmp_path / "tampered"
    photos.mkdir()
    source = signed_dir / "photos" / "police.resident-id-card.jpg"
    data = bytearray(source.read_bytes())
    data[4000] ^= 1
    (photos / source.name).write_bytes(bytes(data))
    (photos / f"{source.name}.jws").write_text(source.with_name(source.name + ".jws").read_text())
    push(box, [photos], http_system(f"{server.url}/photos"))
    stats = Worker(box, once=True).run(install_signals=False)
    (row,) = box.rows()
    assert stats.dead == 1 and row["status"] == DEAD and row["attempts"] == 1
    assert "verify.tampered_image" in row["last_error"] and server.receiver.count() == 0
    assert box.retry(row["id"]) and box.counts() == {"pending": 1}


@pytest.mark.slow
def test_timeouts_and_refused_connections_retry_and_store_once(signed_dir, receiver, tmp_path):
    server = receiver(delay=1.5)  # stores, then answers too late for the sender
    box = outbox_at(tmp_path)
    push(box, [signed_dir / "photos" / "police.driving-licence.jpg"], http_system(f"{server.url}/photos", timeout=0.5))
    Worker(box, once=True).run(install_signals=False)
    (row,) = box.rows()
    assert row["status"] == "pending" and "deliver.http_timeout" in row["last_error"]
    server.receiver.delay = 0.0
    drain(box)
    assert box.rows()[0]["status"] == DELIVERED and stored(server) == (1, 1, 1)  # stored once, not per attempt
    refused = outbox_at(tmp_path / "refused")
    (tmp_path / "refused").mkdir(exist_ok=True)
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    push(refused, [signed_dir / "photos" / "police.driving-licence.jpg"], http_system(f"http://127.0.0.1:{port}/x"))
    Worker(refused, once=True).run(install_signals=False)
    assert "deliver.http_unreachable" in refused.rows()[0]["last_error"] and refused.rows()[0]["status"] == "pending"


def test_systems_file_validation_names_the_key(tmp_path):
    path = tmp_path / "systems.toml"
    path.write_text('[[system]]\nid = "x"\ncredentials = ["police.*"]\ntransport = "http"\n'
                    '[system.http]\nurl = "ftp://nope"\nauth = { type = "bearer", token = "plain-secret" }\n')
    with pytest.raises(photocore.ConfigError) as info:
        load_systems(path)
    assert "system.0.http.url" in info.value.message and "system.0.http.auth.token" in info.value.message
    systems = load_systems(ROOT / "examples" / "systems.toml")
    assert systems["police-exit-entry"].takes("police.passport")
    assert systems["maritime-archive"].takes("fisheries.deck-officer-certificate")
    assert not systems["hrss-card"].takes("police.passport")


@pytest.mark.slow
def test_worker_killed_with_sigkill_loses_nothing_and_stores_each_once(signed_dir, receiver, tmp_path):
    """The delivery worker as a subprocess, SIGKILLed 25 times mid-work: each time once the
    receiver has taken 1, 2 or 3 more requests from it (its other threads' posts in flight),
    never at a guessed moment."""
    from photocore.catalogue import load_catalogue
    from photocore.sign.manifest import build_manifest, sign_manifest
    server = receiver(delay=0.1)  # stores, then answers: posts are in flight when the kill lands
    key = new_key()
    env = {**os.environ, "PHOTOCORE_OUTBOX_KEY": key, "PHOTOCORE_HOME": str(tmp_path / "home")}
    box = connect_outbox(str(tmp_path / "home" / "outbox.sqlite3"), base64.b64decode(key))
    box.register_destination("agency", http_system(f"{server.url}/photos").destination_config())
    signer, catalogue = load_signer(signed_dir / "keys"), load_catalogue()
    photo = (signed_dir / "photos" / "police.resident-id-card.jpg").read_bytes()
    total = 120
    for _ in range(total):
        manifest = build_manifest(photo, credential="police.resident-id-card", catalogue=catalogue, verdicts=[],
                                  capture=CaptureInfo("zs-001"), image={"format": "jpeg"}, signer=signer)
        box.enqueue(photo_id=manifest["photo_id"], credential="police.resident-id-card", destination="agency",
                    filename="police.resident-id-card.jpg", data=photo, jws=sign_manifest(manifest, signer))
    # each kill costs the rows in flight an attempt, and the next worker claims those first: 25 kills
    # may interrupt one row more than the default 12 times, which dead-letters it by design
    command = [sys.executable, "-m", "photocore.cli", "deliver", "--max-attempts", "30",
               "--workers", "4", "--lease", "1"]
    kills = 0
    while kills < 25:
        requests = server.receiver.requests
        worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def at_work(worker=worker, enough=requests + 1 + kills % 3):
            assert worker.poll() is None, f"the worker exited ({worker.returncode}) before it was killed"
            return server.receiver.requests >= enough

        wait_for(at_work, 60, f"kill {kills + 1}: the worker's requests at the receiver", interval=0.005)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
    delivered_before_drain = server.receiver.count()
    once = command[:-4] + ["--once", "--workers", "4"]
    final = subprocess.run(once, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr

    def drained():  # rows leased by a killed worker come due again after the 1 s lease
        if box.next_due() is None:
            return True
        subprocess.run(once, env=env, capture_output=True, timeout=120)
        return box.next_due() is None

    wait_for(drained, 60, "the outbox to drain", interval=0.5)
    assert kills == 25 and 0 < delivered_before_drain < total
    assert box.counts() == {DELIVERED: total}
    assert stored(server) == (total, total, total)  # every photo stored exactly once


@pytest.mark.slow
def test_sigterm_finishes_the_current_attempt(signed_dir, receiver, tmp_path):
    server = receiver(delay=1.0)
    key = new_key()
    env = {**os.environ, "PHOTOCORE_OUTBOX_KEY": key, "PHOTOCORE_HOME": str(tmp_path / "home")}
    box = connect_outbox(str(tmp_path / "home" / "outbox.sqlite3"), base64.b64decode(key))
    push(box, [signed_dir / "photos"], http_system(f"{server.url}/photos"))
    worker = subprocess.Popen([sys.executable, "-m", "photocore.cli", "deliver"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)

    def posting():
        assert worker.poll() is None, worker.communicate()
        return server.receiver.requests >= 1

    wait_for(posting, 60, "the worker's first request (answered after 1 s)")  # SIGTERM lands mid-attempt
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    counts = box.counts()
    assert counts.get(DELIVERED, 0) >= 1 and counts.get("delivering", 0) == 0  # nothing left half-done
    assert server.receiver.count() == counts[DELIVERED]


def _tls_material(directory: Path):
    """A private CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(subject, key, issuer, issuer_key, ca=False, server=False):
        builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(
                ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def write(stem, cert, key):
        (directory / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{stem}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                                  serialization.PrivateFormat.PKCS8,
                                                                  serialization.NoEncryption()))

    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = issue("test ca", ca_key, "test ca", ca_key, ca=True)
    write("ca", ca, ca_key)
    write("server", issue("127.0.0.1", server_key, "test ca", ca_key, server=True), server_key)
    write("client", issue("counter-zs-001", client_key, "test ca", ca_key), client_key)


def test_mutual_tls(signed_dir, receiver, tmp_path):
    import ssl
    _tls_material(tmp_path)
    server = receiver()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp_path / "ca.pem"))
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED  # the agency only talks to counters it issued a certificate
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = server.url.replace("http://", "https://") + "/photos"
    box = outbox_at(tmp_path)
    mtls = {"cert": str(tmp_path / "client.pem"), "key": str(tmp_path / "client.key"), "ca": str(tmp_path / "ca.pem")}
    push(box, [signed_dir / "photos" / "police.resident-id-card.jpg"], http_system(url, mtls=mtls))
    drain(box)
    assert box.counts() == {DELIVERED: 1}, [r["last_error"] for r in box.rows()]
    assert server.receiver.count() == 1
    anonymous = outbox_at(tmp_path / "anon")
    (tmp_path / "anon").mkdir(exist_ok=True)
    push(anonymous, [signed_dir / "photos" / "police.driving-licence.jpg"], http_system(url, timeout=5))
    Worker(anonymous, once=True).run(install_signals=False)
    row = anonymous.rows()[0]
    assert row["status"] == "pending" and server.receiver.count() == 1  # refused: no client certificate


@pytest.mark.slow
def test_photocore_deliver_exits_non_zero_when_a_thread_dies(signed_dir, tmp_path):
    """Started with the wrong outbox key, no row can be opened: deliver stops with exit 3 and the
    rows wait, leased, for a worker with the right key."""
    exe = str(Path(sys.executable).with_name("photocore"))
    env = {**os.environ, "PHOTOCORE_HOME": str(tmp_path), "PHOTOCORE_OUTBOX_KEY": new_key()}
    env.pop("PHOTOCORE_DATABASE_URL", None)
    queued = subprocess.run([exe, "push", str(signed_dir / "photos"), "--endpoint", "http://127.0.0.1:9/photos"],
                            env=env, capture_output=True, text=True)
    assert queued.returncode == 0, queued.stderr
    run = subprocess.run([exe, "deliver", "--once"], env={**env, "PHOTOCORE_OUTBOX_KEY": new_key()},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 3 and "deliver.thread_lost" in run.stderr, (run.returncode, run.stderr[-800:])
    assert "Traceback" not in run.stderr
    status = subprocess.run([exe, "outbox", "status", "--json"], env=env, capture_output=True, text=True)
    assert "delivered" not in status.stdout and "dead" not in status.stdout, status.stdout
