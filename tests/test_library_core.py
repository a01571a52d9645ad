"""The shared photo library's core on real parts: `photocore serve` under uvicorn as a
subprocess, the `photocore publish | audit verify | library purge` commands, the in-process
``Library`` on SQLite and encrypted files, and a service killed with SIGKILL mid-publish.

One key store and one signed conversion (three credentials) serve the whole module; the
kill test converts all 184 credentials once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from library_service import assert_problem, serve
from servers import free_port, stop_process
from sqlalchemy import select

from photocore.library import audit
from photocore.library.config import LibraryConfig
from photocore.library.crypto import PICKUP_ALPHABET, PICKUP_LENGTH, new_pickup_code
from photocore.library.db import captures, photos
from photocore.library.errors import LibraryError
from photocore.library.publish import binding_token, conversion_files, publish
from photocore.library.service import Library
from photocore.sign import list_keys, load_signer

from conftest import wait_for

pytestmark = pytest.mark.slow  # a real service per test, kill tests, a 184-credential signed conversion

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample_capture.jpg"
_SCRIPT = Path(sys.executable).with_name("photocore")
PHOTOCORE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "photocore.cli"]
PASSPHRASE = "library-core-tests"
ID = "11010519491231002X"  # last six "31002X": the X never occurs in hex digests
OTHER_ID = "440305198807150017"
CREDENTIALS = ("police.resident-id-card", "police.passport", "hrss.social-security-card")
CODE_RE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")


# -- helpers -------------------------------------------------------------------------------

def cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*PHOTOCORE, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def error_code(result: subprocess.CompletedProcess) -> str | None:
    try:
        return json.loads(result.stdout)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


class Service:
    """`photocore serve` as a child process on a free port; stopped (or SIGKILLed) by its test."""

    def __init__(self, data_dir: Path, *options, log: Path | None = None):
        self.data_dir, self.options = Path(data_dir), [str(o) for o in options]
        self.log = log or self.data_dir.parent / f"serve-{self.data_dir.name}.log"
        self.process: subprocess.Popen | None = None
        self.port = self.url = None

    def start(self) -> Service:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = serve(self.port, self.data_dir, self.log, self.options)  # in this process's environment
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing, as a host losing power."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(timeout=15)
        self.process = None

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


@dataclass
class Station:
    keys: Path
    out: Path
    root: Path
    revoked: Path  # the revocation list the module's services read (initially empty)
    kid: str

    def signer(self):
        return load_signer(self.keys)

    def files(self, folder: Path | None = None) -> dict[str, bytes]:
        return conversion_files(folder or self.out)

    def copy(self, dest: Path) -> Path:
        shutil.copytree(self.out, dest)
        return dest


def compact_of(files: dict[str, bytes]) -> str:
    token = next(v for k, v in sorted(files.items()) if k.endswith(".jws"))
    return token.decode("ascii").strip().split("~", 1)[0]


def kiosk_publish(library: Library, station: Station, id_number: str = ID, folder: Path | None = None):
    """The library call a kiosk makes: the same verification as the HTTP upload."""
    files = station.files(folder)
    return library.publish(id_number, files, binding_token(station.signer(), compact_of(files), id_number))


def stored_objects(files: dict[str, bytes]) -> int:
    """Objects a capture takes: each distinct photo once (the station's one signature is sealed
    into the capture's row)."""
    return len({hashlib.sha256(d).digest() for n, d in files.items() if not n.endswith(".jws")})


def count(db: Path, sql: str, *params) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchone()[0]


def object_files(data_dir: Path) -> list[Path]:
    base = data_dir / "objects" / "captures"
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []


def multipart_fields(station: Station, files: dict[str, bytes], id_number: str, binding_for: str | None = None):
    binding = binding_token(station.signer(), compact_of(files), binding_for or id_number)
    return ({"id_number": id_number, "binding": binding},
            [("files", (name, data, "application/octet-stream")) for name, data in files.items()])


def new_library(data_dir: Path, station: Station, **options) -> Library:
    return Library(LibraryConfig(data_dir=data_dir, trust=[station.root], **options))


# -- fixtures ------------------------------------------------------------------------------

LIBRARY_ENV = ("PHOTOCORE_HOME", "PHOTOCORE_DATABASE_URL", "PHOTOCORE_STORE", "PHOTOCORE_LIBRARY_SECRET",
               "PHOTOCORE_LIBRARY_KEK", "PHOTOCORE_LIBRARY_CONFIG")


@pytest.fixture(scope="module", autouse=True)
def _no_library_environment(tmp_path_factory):
    """Neither the tests nor the processes they start see a developer's library settings; the
    default home is a folder that must never be made (every command names its data folder)."""
    home = tmp_path_factory.mktemp("home") / "never"
    with pytest.MonkeyPatch.context() as mp:
        for name in LIBRARY_ENV:
            mp.delenv(name, raising=False)
        mp.setenv("PHOTOCORE_HOME", str(home))
        yield
    assert not home.exists()


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    root = tmp_path_factory.mktemp("station")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOCORE_KEY_PASSPHRASE", PASSPHRASE)
        keys, out = root / "keys", root / "out"
        made = cli("keys", "init", keys, "--station", "zs-001")
        assert made.returncode == 0, made.stderr
        args = [a for c in CREDENTIALS for a in ("--credential", c)]
        made = cli("convert", SAMPLE, *args, "--out", out, "--sign", "--keys", keys, "--station", "zs-001")
        assert made.returncode == 0, made.stdout + made.stderr
        revoked = root / "revoked.json"
        revoked.write_text(json.dumps({"revoked": []}))
        yield Station(keys=keys, out=out, root=keys / "root.pem", revoked=revoked, kid=list_keys(keys)[0]["kid"])


def _module_service(station, tmp_path_factory, name: str):
    """A service trusting the station and reading its revocation list, for the whole module (its
    data folder made by the service itself)."""
    data = tmp_path_factory.mktemp(name) / "data"
    svc = Service(data, "--trust", station.root, "--revoked", station.revoked).start()
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def service(station, tmp_path_factory):
    """The service stations publish to successfully."""
    yield from _module_service(station, tmp_path_factory, "service")


@pytest.fixture(scope="module")
def refusing(station, tmp_path_factory):
    """A service that has never stored the module's conversion: every upload here is refused."""
    yield from _module_service(station, tmp_path_factory, "refusing")


@pytest.fixture(scope="module")
def published(station, service):
    result = cli("publish", station.out, "--person", ID, "--to", service.url, "--keys", station.keys, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def library(station, tmp_path):
    lib = new_library(tmp_path / "lib", station)
    yield lib
    lib.engine.dispose()


# -- publishing: the CLI contract ----------------------------------------------------------

def test_publish_prints_capture_and_pickup_code_and_is_idempotent(station, service, published):
    db = service.data_dir / "library.sqlite3"
    assert set(published) >= {"capture_id", "pickup_code"} and published["photos"] == 3 and published["new"]
    assert CODE_RE.fullmatch(published["pickup_code"])
    # at least 40 bits: 10 symbols from a 32-letter alphabet, drawn uniformly
    assert len(set(PICKUP_ALPHABET)) == len(PICKUP_ALPHABET) == 32 and PICKUP_LENGTH * math.log2(32) >= 40
    codes = [new_pickup_code() for _ in range(3000)]
    assert len(set(codes)) == len(codes) and all(CODE_RE.fullmatch(c) for c in codes)
    assert {ch for c in codes for ch in c.replace("-", "")} == set(PICKUP_ALPHABET)

    capture = published["capture_id"]
    assert count(db, "SELECT count(*) FROM photos WHERE capture_id = ?", capture) == 3
    objects_before = object_files(service.data_dir)
    assert len(objects_before) == stored_objects(station.files()) >= 3  # each distinct photo once

    again = cli("publish", station.out, "--person", ID, "--to", service.url, "--keys", station.keys, "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["capture_id"] == capture and second["new"] is False
    assert count(db, "SELECT count(*) FROM photos") == 3 and count(db, "SELECT count(*) FROM captures") == 1
    assert object_files(service.data_dir) == objects_before
    assert count(db, "SELECT count(*) FROM pickup_codes WHERE capture_id = ?", capture) == 1  # the newest code

    # the same conversion filed under another ID number: refused, nothing added
    other = cli("publish", station.out, "--person", OTHER_ID, "--to", service.url, "--keys", station.keys, "--json")
    assert other.returncode == 1, other.stdout + other.stderr
    assert error_code(other) == "library.conflict"
    assert count(db, "SELECT count(*) FROM captures") == 1 and count(db, "SELECT count(*) FROM photos") == 3


def _nothing_stored(svc: Service) -> None:
    assert count(svc.data_dir / "library.sqlite3", "SELECT count(*) FROM captures") == 0
    assert count(svc.data_dir / "library.sqlite3", "SELECT count(*) FROM photos") == 0
    assert count(svc.data_dir / "library.sqlite3", "SELECT count(*) FROM pickup_codes") == 0
    captures_dir = svc.data_dir / "objects" / "captures"
    assert not captures_dir.exists() or not any(captures_dir.iterdir())


def test_tampered_photo_is_refused_and_nothing_is_stored(station, refusing, tmp_path):
    folder = station.copy(tmp_path / "tampered")
    photo = folder / "police.passport.jpg"
    data = bytearray(photo.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one byte
    photo.write_bytes(bytes(data))
    result = cli("publish", folder, "--person", ID, "--to", refusing.url, "--keys", station.keys, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert error_code(result) == "library.invalid_signature"
    _nothing_stored(refusing)


def test_unsigned_photos_are_refused(station, refusing, tmp_path):
    # a folder without any signature is unusable input (exit 2), nothing is sent
    folder = station.copy(tmp_path / "unsigned")
    for jws in folder.glob("*.jws"):
        jws.unlink()
    result = cli("publish", folder, "--person", ID, "--to", refusing.url, "--keys", station.keys, "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "publish.unsigned" in result.stderr
    # one photo whose signature is missing: not silently left out, the publish is refused
    folder = station.copy(tmp_path / "one-unsigned")
    (folder / "police.passport.jpg.jws").unlink()
    result = cli("publish", folder, "--person", ID, "--to", refusing.url, "--keys", station.keys, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    assert error_code(result) == "publish.unsigned"
    # and the library itself refuses an upload with a photo that has no signature
    files = station.files()
    files["extra.jpg"] = SAMPLE.read_bytes()
    data, parts = multipart_fields(station, files, ID)
    assert_problem(httpx.post(refusing.url + "/v1/captures", data=data, files=parts), 422, "library.unsigned")
    _nothing_stored(refusing)


def test_revoked_station_key_is_refused_at_once(station, refusing):
    station.revoked.write_text(json.dumps({"revoked": [station.kid]}))
    try:
        result = cli("publish", station.out, "--person", ID, "--to", refusing.url, "--keys", station.keys, "--json")
    finally:
        station.revoked.write_text(json.dumps({"revoked": []}))
    assert result.returncode == 1, result.stdout + result.stderr
    assert error_code(result) == "library.invalid_signature"
    assert "revoked" in json.loads(result.stdout)["error"]["message"]
    _nothing_stored(refusing)


def test_untrusted_root_is_refused(station, tmp_path):
    other = tmp_path / "other-keys"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOCORE_KEY_PASSPHRASE", PASSPHRASE)
        assert cli("keys", "init", other, "--station", "elsewhere").returncode == 0
    lib = Library(LibraryConfig(data_dir=tmp_path / "lib", trust=[other / "root.pem"]))
    try:
        with pytest.raises(LibraryError) as refused:
            kiosk_publish(lib, station)
        assert refused.value.code == "library.invalid_signature" and "untrusted_chain" in refused.value.message
        with lib.engine.connect() as conn:
            assert conn.execute(select(captures)).first() is None
        assert object_files(tmp_path / "lib") == []
    finally:
        lib.engine.dispose()


def test_binding_for_another_person_is_refused(station, refusing):
    data, parts = multipart_fields(station, station.files(), ID, binding_for=OTHER_ID)
    body = assert_problem(httpx.post(refusing.url + "/v1/captures", data=data, files=parts), 422,
                          "library.invalid_signature")
    assert "another person" in body["detail"]
    # no binding at all
    data["binding"] = ""
    assert httpx.post(refusing.url + "/v1/captures", data=data, files=parts).status_code in (400, 422)
    _nothing_stored(refusing)


def test_bad_uploads_get_typed_problems(station, refusing):
    url = refusing.url + "/v1/captures"
    data, parts = multipart_fields(station, station.files(), ID)
    assert_problem(httpx.post(url, data={**data, "comment": "hi"}, files=parts), 400, "library.unknown_field")

    # oversized: refused from Content-Length before anything is read ...
    with socket.create_connection(("127.0.0.1", refusing.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/captures HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 1000000000\r\n\r\n--b\r\n")
        answer = b""
        while b"}" not in answer:  # the headers, then the problem document (it may come in two pieces)
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
    answer = answer.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413") and "library.too_large" in answer and "problem+json" in answer
    # ... and, streamed without a length (chunked), once the limit is passed
    def stream():
        yield b'--XYZ\r\nContent-Disposition: form-data; name="files"; filename="big.jpg"\r\n\r\n'
        for _ in range(70):
            yield b"\0" * (1 << 20)
        yield b"\r\n--XYZ--\r\n"
    response = httpx.post(url, content=stream(), headers={"Content-Type": "multipart/form-data; boundary=XYZ"},
                          timeout=60)
    assert_problem(response, 413, "library.too_large")

    # malformed multipart
    assert_problem(httpx.post(url, content=b"--x\r\nnonsense", headers={"Content-Type": "multipart/form-data"}),
                   400, "library.malformed")
    truncated = (b'--XYZ\r\nContent-Disposition: form-data; name="id_number"\r\n\r\n' + ID.encode() +
                 b'\r\n--XYZ\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\nabc')
    assert_problem(httpx.post(url, content=truncated, headers={"Content-Type": "multipart/form-data; boundary=XYZ"}),
                   400, "library.malformed")
    assert_problem(httpx.post(url, json={"id_number": ID}), 400, "library.malformed")
    # unknown routes: the one not-found problem
    for response in (httpx.get(refusing.url + "/v1/no-such-thing"), httpx.post(refusing.url + "/nowhere")):
        assert_problem(response, 404, "library.not_found")
    _nothing_stored(refusing)


# -- nothing in clear on disk --------------------------------------------------------------

def test_no_id_number_code_or_photo_in_clear_and_private_modes(station, service, published):
    needles = {"id number": ID.encode(), "id number lower": ID.lower().encode(), "last six": ID[-6:].encode(),
               "pickup code": published["pickup_code"].encode(),
               "pickup code raw": published["pickup_code"].replace("-", "").encode()}
    for name, data in station.files().items():
        if name.endswith(".jws"):
            needles[name] = data[len(data) // 2:len(data) // 2 + 64]
        else:
            needles[name + " head"] = data[:64]
            needles[name + " middle"] = data[len(data) // 2:len(data) // 2 + 64]
    files = [p for p in service.data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "library.sqlite3" for p in files)
    assert len(object_files(service.data_dir)) == stored_objects(station.files())
    for path in files:
        blob = path.read_bytes()
        for what, needle in needles.items():
            assert needle not in blob, f"{what} found in clear in {path.relative_to(service.data_dir)}"
    for path in [service.data_dir, *service.data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, f"{path} is {oct(mode)}"
        else:
            assert mode == 0o600, f"{path} is {oct(mode)}"
    # and the service log holds none of it either
    log = service.log.read_bytes()
    assert ID.encode() not in log and published["pickup_code"].encode() not in log


# -- the citizen's pickup login ------------------------------------------------------------

def test_pickup_login_lock_and_rate_limit(station, library):
    answer = kiosk_publish(library, station)
    code, person = answer.pickup_code, library.keys.person_key(ID)
    assert library.login_with_code(code, ID[-6:], "10.0.0.1") == person
    assert library.login_with_code(code.lower().replace("-", ""), ID[-6:].lower(), "10.0.0.1") == person
    with pytest.raises(LibraryError) as wrong:
        library.login_with_code(code, "123456", "10.0.0.2")
    assert wrong.value.code == "library.unauthorized"
    for _ in range(3):  # five failures in all (from several addresses) lock the code
        with pytest.raises(LibraryError) as wrong:
            library.login_with_code(code, "654321", "10.0.0.3")
        assert wrong.value.code == "library.unauthorized"
    with pytest.raises(LibraryError) as locked:
        library.login_with_code(code, "000000", "10.0.0.4")
    assert locked.value.code == "library.locked"
    with pytest.raises(LibraryError) as locked:
        library.login_with_code(code, ID[-6:], "10.0.0.5")  # the right digits no longer open it
    assert locked.value.code == "library.locked"

    # a new receipt (publishing again) gives a fresh code
    fresh = kiosk_publish(library, station).pickup_code
    assert fresh != code and library.login_with_code(fresh, ID[-6:], "10.0.0.6") == person
    # twenty failures from one address: that address is stopped, even with a right code
    for i in range(20):
        with pytest.raises(LibraryError) as wrong:
            library.login_with_code(new_pickup_code(), ID[-6:], "192.0.2.7")
        assert wrong.value.code == "library.unauthorized", i
    with pytest.raises(LibraryError) as limited:
        library.login_with_code(fresh, ID[-6:], "192.0.2.7")
    assert limited.value.code == "library.rate_limited"
    assert library.login_with_code(fresh, ID[-6:], "192.0.2.8") == person  # other clients are not


# -- deletion and retention ----------------------------------------------------------------

def test_delete_capture_destroys_its_key_at_once_and_purge_removes_the_rest(station, library, tmp_path):
    answer = kiosk_publish(library, station)
    person, capture = library.keys.person_key(ID), answer.capture_id
    agency = library.catalogue.get("police.passport").agency
    request = library.create_request(agency=agency, client_id="c1", id_number=ID, credential="police.passport",
                                     application_ref="APP-1", purpose="passport renewal")
    library.decide(person, request["request_id"], approve=True)
    pulled = library.pull(agency, "c1", request["request_id"])
    assert pulled.data == (station.out / "police.passport.jpg").read_bytes()
    photo_ids = [p["photo_id"] for p in library.overview(person)["captures"][0]["photos"]]
    assert library.citizen_photo(person, photo_ids[0]).data
    folder = tmp_path / "lib" / "objects" / "captures" / capture
    backup = tmp_path / "backup"
    shutil.copytree(folder, backup)  # a copy of the objects in someone's backup
    with library.engine.connect() as conn:
        wrapped = bytes(conn.execute(select(captures.c.wrapped_key)).scalar_one())

    library.delete_capture(person, capture)
    with library.engine.connect() as conn:
        row = conn.execute(select(captures).where(captures.c.id == capture)).one()
    assert row.wrapped_key is None and row.deleted_at is not None
    assert not folder.exists()
    for attempt in (lambda: library.pull(agency, "c1", request["request_id"]),
                    lambda: library.citizen_photo(person, photo_ids[0]),
                    lambda: library.delete_capture(person, capture)):
        with pytest.raises(LibraryError) as gone:
            attempt()
        assert gone.value.code == "library.not_found"
    assert library.overview(person)["captures"] == []
    with pytest.raises(LibraryError) as deleted:  # a station cannot bring it back while the rows remain
        kiosk_publish(library, station)
    assert deleted.value.code == "library.conflict"
    assert len([p for p in backup.rglob("*") if p.is_file()]) == stored_objects(station.files())  # unreadable now

    counts = library.purge()
    assert counts["purged"] == 1
    db = tmp_path / "lib" / "library.sqlite3"
    for table in ("captures", "photos", "grants", "pickup_codes"):
        assert count(db, f"SELECT count(*) FROM {table}") == 0, table
    actions = [r[0] for r in sqlite3.connect(db).execute("SELECT action FROM audit ORDER BY seq")]
    assert actions[-2:] == ["delete", "purge"] and "pull" in actions
    # nor is the wrapped key left anywhere on disk (free pages, the write-ahead log)
    for path in (tmp_path / "lib").rglob("*"):
        assert not path.is_file() or wrapped[12:] not in path.read_bytes(), path.name


def test_purge_command_windows_and_orphans(station, library, tmp_path):
    data = tmp_path / "lib"
    answer = kiosk_publish(library, station)
    # the CLI on the same data folder: nothing due yet
    result = cli("library", "purge", "--data-dir", data, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"purged": 0, "expired_requests": 0, "orphans": 0}

    # orphans: objects of a publish that never committed, swept once an hour old
    store = library.store
    store.put("captures/0b5e0b5e-0000-4000-8000-000000000001/x.jpg", b"ciphertext")
    store.put("captures/0b5e0b5e-0000-4000-8000-000000000002/x.jpg", b"ciphertext")
    old = time.time() - 7200
    os.utime(data / "objects" / "captures" / "0b5e0b5e-0000-4000-8000-000000000001", (old, old))
    result = cli("library", "purge", "--data-dir", data, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"purged": 0, "expired_requests": 0, "orphans": 1}
    remaining = {p.name for p in (data / "objects" / "captures").iterdir()}
    assert remaining == {answer.capture_id, "0b5e0b5e-0000-4000-8000-000000000002"}

    # past every reuse window: purged, rows and objects
    with library.engine.connect() as conn:
        keep_until = conn.execute(select(captures.c.keep_until)).scalar_one()
        windows = conn.execute(select(photos.c.credential, photos.c.valid_until)).fetchall()
    assert keep_until == max(v for _, v in windows) and keep_until > time.time() + 300 * 86400
    assert library.purge(now=keep_until - 1) == {"purged": 0, "expired_requests": 0, "orphans": 1}
    assert library.purge(now=keep_until + 1) == {"purged": 1, "expired_requests": 0, "orphans": 0}
    assert not any((data / "objects" / "captures").iterdir())
    assert count(data / "library.sqlite3", "SELECT count(*) FROM captures") == 0
    assert count(data / "library.sqlite3", "SELECT count(*) FROM photos") == 0
    verified = cli("audit", "verify", "--data-dir", data, "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["checkpoints"] >= 1


# -- the audit chain ------------------------------------------------------------------------

def _copy_library(source: Path, dest: Path) -> Path:
    dest.mkdir()
    shutil.copy2(source / "library.secret", dest / "library.secret")
    with sqlite3.connect(source / "library.sqlite3") as src, sqlite3.connect(dest / "library.sqlite3") as dst:
        src.backup(dst)
    return dest


def _rehash_from(conn: sqlite3.Connection, first_seq: int) -> None:
    """What someone rewriting the log does: recompute every hash from ``first_seq`` on."""
    cols = ["seq", *audit.FIELDS[1:]]
    rows = conn.execute(f"SELECT {', '.join(cols)}, prev_hash FROM audit ORDER BY seq").fetchall()
    prev = None
    for r in rows:
        row = dict(zip(cols, r[:-1], strict=True))
        if row["seq"] < first_seq:
            prev = conn.execute("SELECT hash FROM audit WHERE seq = ?", (row["seq"],)).fetchone()[0]
            continue
        digest = audit.row_hash(prev, row)
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, row["seq"]))
        prev = digest
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    conn.execute("UPDATE audit_head SET seq = ?, hash = ?", last)


def _sign(key: ed25519.Ed25519PrivateKey, seq: int, digest: str) -> tuple[str, str]:
    sig = base64.urlsafe_b64encode(key.sign(f"photocore-audit:{seq}:{digest}".encode())).decode().rstrip("=")
    return sig, audit.public_key_text(key)


def test_audit_verify_finds_every_alteration(station, library, tmp_path):
    kiosk_publish(library, station)
    with library.engine.begin() as conn:  # enough rows for the 256-row checkpoint
        for i in range(300):
            audit.append(conn, library.keys.checkpoint, action="view", actor="citizen",
                         person_key=library.keys.person_key(ID), reference=f"r{i}")
    head = audit.checkpoint(library.engine, library.keys.checkpoint)
    assert head == 301
    source = tmp_path / "lib"
    intact = cli("audit", "verify", "--data-dir", source, "--json")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert json.loads(intact.stdout) == {"intact": True, "rows": 301, "checkpoints": 2, "problems": []}

    cases = {}

    def case(name):
        def register(tamper):
            copy = _copy_library(source, tmp_path / name)
            with sqlite3.connect(copy / "library.sqlite3") as conn:
                tamper(conn)
            cases[name] = copy
            return tamper
        return register

    @case("changed")
    def _(conn):
        conn.execute("UPDATE audit SET actor = 'agency:police/other' WHERE seq = 120")

    @case("deleted")
    def _(conn):
        conn.execute("DELETE FROM audit WHERE seq = 150")

    @case("inserted")
    def _(conn):  # a forged row in the middle: later rows moved up one
        for seq in range(301, 199, -1):
            conn.execute("UPDATE audit SET seq = ? WHERE seq = ?", (seq + 1, seq))
        prev = conn.execute("SELECT hash FROM audit WHERE seq = 199").fetchone()[0]
        row = {"seq": 200, "at": time.time(), "action": "pull", "actor": "agency:police/x", "person_key": None,
               "capture_id": None, "photo_id": None, "credential": None, "agency": None, "reference": None}
        conn.execute("INSERT INTO audit (seq, at, action, actor, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
                     (200, row["at"], row["action"], row["actor"], prev, audit.row_hash(prev, row)))

    @case("appended")
    def _(conn):  # a well-formed row after the last one, without the head
        last_seq, last_hash = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        row = {"seq": last_seq + 1, "at": time.time(), "action": "view", "actor": "citizen"}
        conn.execute("INSERT INTO audit (seq, at, action, actor, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
                     (last_seq + 1, row["at"], "view", "citizen", last_hash, audit.row_hash(last_hash, row)))

    @case("truncated")
    def _(conn):  # the last rows removed and the head set back to match
        conn.execute("DELETE FROM audit WHERE seq > 295")
        conn.execute("UPDATE audit_head SET seq = 295, hash = (SELECT hash FROM audit WHERE seq = 295)")

    @case("resigned")
    def _(conn):  # rows changed, the chain rehashed and every checkpoint signed again with another key
        conn.execute("UPDATE audit SET actor = 'agency:police/other' WHERE seq = 40")
        _rehash_from(conn, 40)
        key = ed25519.Ed25519PrivateKey.generate()
        for (seq,) in conn.execute("SELECT seq FROM checkpoints").fetchall():
            digest = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()[0]
            sig, public = _sign(key, seq, digest)
            conn.execute("UPDATE checkpoints SET hash = ?, signature = ?, public_key = ? WHERE seq = ?",
                         (digest, sig, public, seq))

    @case("rewritten-unsigned")
    def _(conn):  # the same rewrite with the signed checkpoints simply removed
        conn.execute("UPDATE audit SET actor = 'agency:police/other' WHERE seq = 40")
        _rehash_from(conn, 40)
        conn.execute("DELETE FROM checkpoints")

    expected = {"changed": "row 120: its contents were changed", "deleted": "row 151 follows row 149",
                "inserted": "row 201", "appended": "head says", "truncated": "checkpoint 301 names a row",
                "resigned": "signed by another key", "rewritten-unsigned": "checkpoint 256"}
    runs = {name: subprocess.Popen([*PHOTOCORE, "audit", "verify", "--data-dir", str(path), "--json"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name, path in cases.items()}
    for name, run in runs.items():
        out, err = run.communicate(timeout=120)
        assert run.returncode == 1, f"{name}: {out} {err}"
        report = json.loads(out)
        assert not report["intact"] and any(expected[name] in p for p in report["problems"]), (name, report)
    # no library there: unusable input (exit 2), and verifying makes none
    missing = cli("audit", "verify", "--data-dir", tmp_path / "nowhere", "--json")
    assert missing.returncode == 2 and "library.config" in missing.stderr
    assert not (tmp_path / "nowhere").exists()


# -- a service killed mid-publish ------------------------------------------------------------

def _writing(data: Path) -> bool:
    try:
        return any(os.scandir(data / "objects" / "captures"))
    except OSError:
        return False


def _objects_written(data: Path) -> int:
    """The capture objects complete on disk (a write in progress is a temporary file), -1 before
    any capture folder exists."""
    try:
        folders = [f.path for f in os.scandir(data / "objects" / "captures") if f.is_dir()]
        if not folders:
            return -1
        return sum(1 for folder in folders for e in os.scandir(folder) if not e.name.endswith(".tmp"))
    except OSError:
        return -1


@pytest.fixture(scope="module")
def big_conversion(station, tmp_path_factory):
    out = tmp_path_factory.mktemp("all") / "out"
    made = cli("convert", SAMPLE, "--all", "--out", out, "--sign", "--keys", station.keys, "--station", "zs-001")
    assert made.returncode == 0, made.stdout + made.stderr
    files = conversion_files(out)
    assert sum(1 for n in files if n.endswith(".jws")) == 184
    return out, files


def test_killed_mid_publish_leaves_all_or_nothing(station, big_conversion, tmp_path):
    folder, files = big_conversion
    originals = {name: data for name, data in files.items() if not name.endswith(".jws")}
    signer = station.signer()
    outcomes = []
    # when to kill, each an event, never a guessed time: as the upload is sent; once the capture's
    # folder exists, or 1 or 3 of its objects are complete (the objects take a few milliseconds);
    # once the service has answered
    plans = [("sent", 0), ("objects", 0), ("objects", 1), ("objects", 3), ("answered", 0)]
    for i, (trigger, objects) in enumerate(plans):
        data = tmp_path / f"kill{i}"
        svc = Service(data, "--trust", station.root).start()
        answer: dict = {}

        def upload(answer: dict, url: str) -> None:
            try:
                answer.update(publish(files, ID, url, signer, timeout=30))
            except Exception as exc:  # noqa: BLE001 (the connection dies with the service, however it does)
                answer["error"] = exc

        thread = threading.Thread(target=upload, args=(answer, svc.url))
        thread.start()
        try:
            if trigger == "objects":  # watch closely; an upload that finishes first is killed after it
                wait_for(lambda t=thread, d=data, n=objects: not t.is_alive() or _objects_written(d) >= n, 30,
                         f"{objects} capture objects written", interval=0.0002)
            elif trigger == "answered":
                thread.join(timeout=60)
                assert "error" not in answer and answer.get("new"), answer
            svc.kill()
        finally:
            thread.join(timeout=60)
            svc.stop()
        orphans_before = _writing(data)  # a capture folder, with or without objects in it yet

        svc = Service(data, "--trust", station.root).start()  # restart on the same data folder
        try:
            assert httpx.get(svc.url + "/v1/health").status_code == 200
            lib = new_library(data, station)
            try:
                with lib.engine.connect() as conn:
                    caps = conn.execute(select(captures)).fetchall()
                    rows = conn.execute(select(photos, captures.c.wrapped_key, captures.c.signature)
                                        .join(captures, captures.c.id == photos.c.capture_id)).fetchall()
                if caps:  # all there: every photo row, every object readable and the bytes published
                    assert len(caps) == 1 and len(rows) == 184, (trigger, objects, len(rows))
                    for row in rows:
                        photo = lib._load_photo(row)
                        assert photo.data == originals[f"{row.credential}.{row.extension}"]
                    outcomes.append("complete")
                else:
                    assert rows == []
                    assert count(data / "library.sqlite3", "SELECT count(*) FROM pickup_codes") == 0
                    swept = lib.purge(now=time.time() + 3601)  # orphans are swept once an hour old
                    assert swept["purged"] == 0
                    assert swept["orphans"] == (1 if orphans_before else 0)
                    assert not _writing(data)
                    outcomes.append("nothing" if not orphans_before else "orphans")
                    # and the station's retry stores it whole
                    again = publish(files, ID, svc.url, signer, timeout=60)
                    assert again["new"] and again["photos"] == 184
                    assert count(data / "library.sqlite3", "SELECT count(*) FROM photos") == 184
                assert audit.verify(lib.engine).intact
            finally:
                lib.engine.dispose()
        finally:
            svc.stop()
    assert "orphans" in outcomes, outcomes  # at least one kill landed while objects were being written
    assert outcomes[-1] == "complete", outcomes  # answered: stored, whatever happens to the service then


def test_the_same_new_capture_published_twice_at_once_stays_readable(station, big_conversion, tmp_path):
    """A station's retry racing its first attempt: one of them stores the capture, and what is
    stored is readable (neither overwrites the objects the other's rows point to)."""
    folder, files = big_conversion
    originals = {name: data for name, data in files.items() if not name.endswith(".jws")}
    signer = station.signer()
    compact = compact_of(files)
    for trial in range(3):
        data = tmp_path / f"race{trial}"
        libraries = [new_library(data, station) for _ in range(2)]
        outcomes: list = []
        start = threading.Barrier(2)

        def attempt(lib, start: threading.Barrier, outcomes: list) -> None:
            binding = binding_token(signer, compact, ID)
            start.wait()
            try:
                outcomes.append(lib.publish(ID, files, binding).new)
            except LibraryError as exc:
                outcomes.append(exc.code)

        threads = [threading.Thread(target=attempt, args=(lib, start, outcomes)) for lib in libraries]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        try:
            assert True in outcomes and set(outcomes) <= {True, False, "library.conflict"}, outcomes
            with libraries[0].engine.connect() as conn:
                rows = conn.execute(select(photos, captures.c.wrapped_key, captures.c.signature)
                                    .join(captures, captures.c.id == photos.c.capture_id)).fetchall()
            assert len(rows) == 184
            for row in rows:
                assert libraries[1]._load_photo(row).data == originals[f"{row.credential}.{row.extension}"]
        finally:
            for lib in libraries:
                lib.engine.dispose()
