"""The SFTP transport against a real asyncssh SFTP server on 127.0.0.1 (tests/servers.py)."""

from __future__ import annotations

import hashlib
import logging
import socket

import asyncssh
import pytest
from servers import SftpServer

from photocore.deliver.transports.base import Delivery, DeliveryError
from photocore.deliver.transports.sftp import SftpTransport
from photocore.errors import ConfigError, PhotocoreError

from conftest import DATA

USER, PASSWORD = "agency", "correct horse battery"
PASSWORD_ENV = "PHOTOCORE_TEST_SFTP_PASSWORD"
PHOTO = (DATA / "london_neutral_001.jpg").read_bytes()
JWS = "eyJhbGciOiJFUzI1NiJ9.eyJwaG90byI6IjBiMWMifQ.c2lnbmF0dXJl"


def delivery(photo_id="0b1c2d3e", data=PHOTO, id="outbox-1", sm2=None) -> Delivery:
    return Delivery(id=id, photo_id=photo_id, credential="police.resident-id-card",
                    filename="police.resident-id-card.jpg", data=data, jws=JWS, sm2=sm2)


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    root = tmp_path / "root"
    root.mkdir()
    srv = SftpServer(root, passwords={USER: PASSWORD}).start()
    yield srv
    srv.stop()


@pytest.fixture
def transports():
    made = []

    def make(server, **settings):
        known_hosts = None
        if isinstance(server, SftpServer):  # the server's own host key: checking is the default
            known_hosts = server.root.parent / f"known_hosts-{server.port}"
            known_hosts.write_text(server.known_hosts_line())
        cfg = {"transport": "sftp", "host": "127.0.0.1", "port": server.port, "username": USER,
               "password": f"env:{PASSWORD_ENV}", "directory": "incoming", "timeout": 5,
               "known_hosts": str(known_hosts) if known_hosts else None, **settings}
        made.append(SftpTransport.from_config({k: v for k, v in cfg.items() if v is not None}))
        return made[-1]

    yield make
    for transport in made:
        transport.close()


def listing(server) -> list[str]:
    return sorted(p.name for p in (server.root / "incoming").iterdir())


def test_delivers_photo_and_sidecars_with_exact_bytes(server, transports, caplog):
    d = delivery(sm2=b'{"alg":"SM2","sig":"3045"}')
    name = f"{d.photo_id}-{d.filename}"
    with caplog.at_level(logging.WARNING):
        transport = transports(server, known_hosts=None, insecure_skip_host_key_check=True)
        receipt = transport.send(d)
        transport.send(delivery(photo_id="another"))  # same connection, no second warning
    assert receipt.receipt_id == f"incoming/{name}" and receipt.detail == "uploaded"
    folder = server.root / "incoming"
    assert (folder / name).read_bytes() == PHOTO
    assert (folder / f"{name}.jws").read_bytes() == JWS.encode("ascii")
    assert (folder / f"{name}.sm2.json").read_bytes() == d.sm2
    # no temporary files left behind
    assert listing(server) == sorted([name, f"{name}.jws", f"{name}.sm2.json",
                                      f"another-{d.filename}", f"another-{d.filename}.jws"])
    warnings = [r for r in caplog.records if "host key is NOT checked" in r.getMessage()]
    assert len(warnings) == 1


def test_redelivery_is_idempotent(server, transports):
    transport = transports(server)
    d = delivery()
    transport.send(d)
    photo = server.root / "incoming" / f"{d.photo_id}-{d.filename}"
    before, files = photo.stat(), listing(server)
    again = transports(server).send(d)  # a fresh transport, as after a crash
    assert again.detail == "already delivered" and again.receipt_id == f"incoming/{photo.name}"
    assert listing(server) == files == sorted([photo.name, f"{photo.name}.jws"])
    after = photo.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten


def test_wrong_password_is_permanent(server, transports, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "wrong password")
    with pytest.raises(DeliveryError) as caught:
        transports(server).send(delivery())
    assert caught.value.permanent and caught.value.code == "deliver.sftp_permanent"
    assert "wrong password" not in str(caught.value) and "wrong password" not in repr(caught.value.__cause__)
    assert not (server.root / "incoming").exists()


def test_missing_secret_is_a_config_error(server, transports, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(PhotocoreError) as caught:
        transports(server).send(delivery())
    assert caught.value.code == "config.secret_missing"


def test_server_down_is_transient_then_recovers(server, transports):
    transport = transports(server)
    transport.send(delivery(photo_id="first"))  # the connection is now open and kept
    server.stop()
    d = delivery(photo_id="second", id="outbox-2")
    with pytest.raises(DeliveryError) as caught:
        transport.send(d)
    assert not caught.value.permanent and caught.value.code == "deliver.sftp_unavailable"
    server.start()  # same port, same host key
    receipt = transport.send(d)
    assert receipt.detail == "uploaded"
    assert (server.root / "incoming" / f"second-{d.filename}").read_bytes() == PHOTO


def test_a_dead_kept_connection_is_remade_within_the_send(server, transports):
    transport = transports(server, directory=None)  # default: the login directory, here the chroot
    assert transport.send(delivery(photo_id="first")).receipt_id == "first-police.resident-id-card.jpg"
    server.stop()
    server.start()
    transport._conn.is_closed = lambda: False  # as when the drop has not been noticed yet
    assert transport.send(delivery(photo_id="second", id="outbox-2")).detail == "uploaded"
    assert (server.root / "second-police.resident-id-card.jpg").read_bytes() == PHOTO


def test_known_hosts_match_and_mismatch(server, transports, tmp_path):
    good = tmp_path / "known_hosts"
    good.write_text(server.known_hosts_line())
    assert transports(server, known_hosts=str(good)).send(delivery()).detail == "uploaded"

    bad = tmp_path / "known_hosts_other"
    bad.write_text(server.known_hosts_line(asyncssh.generate_private_key("ssh-ed25519")))
    with pytest.raises(DeliveryError) as caught:
        transports(server, known_hosts=str(bad)).send(delivery(photo_id="other"))
    assert caught.value.permanent and caught.value.code == "deliver.sftp_host_key"
    assert "not in" in caught.value.message and str(bad) in caught.value.message
    assert not (server.root / "incoming" / "other-police.resident-id-card.jpg").exists()


def test_host_keys_are_checked_unless_explicitly_skipped(server, transports, tmp_path, caplog):
    base = {"transport": "sftp", "host": "127.0.0.1", "username": USER, "password": "env:X"}
    with pytest.raises(ConfigError) as caught:  # neither setting: refused before any connection
        SftpTransport.from_config(base)
    assert caught.value.code == "deliver.sftp_host_key" and "known_hosts" in caught.value.message
    for not_true in (False, "true", 1):
        with pytest.raises(ConfigError):
            SftpTransport.from_config({**base, "insecure_skip_host_key_check": not_true})
    assert SftpTransport.from_config({**base, "known_hosts": "/etc/photocore/known_hosts"}).skip_host_key_check is False
    # a known_hosts file that is not there: a typed error, nothing sent
    with pytest.raises(PhotocoreError) as caught:
        transports(server, known_hosts=str(tmp_path / "absent")).send(delivery())
    assert caught.value.code == "deliver.sftp_host_key"
    assert not (server.root / "incoming").exists()
    # the explicit opt-out works, and says so
    with caplog.at_level(logging.WARNING):
        insecure = transports(server, known_hosts=None, insecure_skip_host_key_check=True)
        assert insecure.skip_host_key_check and insecure.send(delivery()).detail == "uploaded"
    assert any("NOT checked" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_private_key_login(tmp_path, transports):
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(key.export_private_key())
    root = tmp_path / "root"
    root.mkdir()
    srv = SftpServer(root, public_keys={USER: [key.convert_to_public()]}).start()
    try:
        by_path = transports(srv, password=None, private_key_file=str(key_file))
        assert by_path.send(delivery(photo_id="a")).detail == "uploaded"
        by_secret = transports(srv, password=None, private_key=f"file:{key_file}")  # the key's text, by reference
        assert by_secret.send(delivery(photo_id="b")).detail == "uploaded"
        other = tmp_path / "id_other"
        other.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
        with pytest.raises(DeliveryError) as caught:
            transports(srv, password=None, private_key_file=str(other)).send(delivery(photo_id="c"))
        assert caught.value.permanent
    finally:
        srv.stop()
    assert sorted(p.name for p in (root / "incoming").iterdir()) == sorted(
        f"{i}-police.resident-id-card.jpg{ext}" for i in "ab" for ext in ("", ".jws"))


def test_plain_rename_when_server_lacks_posix_rename(tmp_path, transports, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    root = tmp_path / "root"
    root.mkdir()
    srv = SftpServer(root, passwords={USER: PASSWORD}, posix_rename=False).start()
    try:
        transport = transports(srv)
        transport.send(delivery())
        changed = PHOTO[:-2] + b"\x00\xff\xd9"  # other bytes under the same name: replaced, as folder does
        assert transport.send(delivery(data=changed, id="outbox-2")).detail == "uploaded"
    finally:
        srv.stop()
    photo = root / "incoming" / "0b1c2d3e-police.resident-id-card.jpg"
    assert hashlib.sha256(photo.read_bytes()).digest() == hashlib.sha256(changed).digest()
    assert sorted(p.name for p in photo.parent.iterdir()) == [photo.name, f"{photo.name}.jws"]


def test_directory_that_cannot_exist_is_permanent(server, transports):
    (server.root / "blocker").write_bytes(b"a file where a folder should be")
    with pytest.raises(DeliveryError) as caught:
        transports(server, directory="blocker/incoming").send(delivery())
    assert caught.value.permanent and caught.value.code == "deliver.sftp_permanent"


def test_config_is_checked():
    base = {"transport": "sftp", "host": "127.0.0.1", "username": USER, "password": "env:X",
            "known_hosts": "/etc/photocore/known_hosts"}
    with pytest.raises(ConfigError, match="hostname") as caught:
        SftpTransport.from_config({**base, "hostname": "x"})
    assert caught.value.code == "config.invalid"
    with pytest.raises(ConfigError, match="password"):
        SftpTransport.from_config({k: v for k, v in base.items() if k != "password"})
    assert SftpTransport.from_config(base).port == 22


@pytest.mark.slow
def test_silent_server_times_out_as_transient(transports, monkeypatch):
    """A port that accepts but never speaks SSH: the connect timeout fires, and that may pass."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)

        class Port:
            port = silent.getsockname()[1]

        with pytest.raises(DeliveryError) as caught:
            transports(Port, timeout=1, insecure_skip_host_key_check=True).send(delivery())
    assert not caught.value.permanent and caught.value.code == "deliver.sftp_unavailable"
