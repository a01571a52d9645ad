"""Scale-out: two `photocore serve` processes on one PostgreSQL database and one S3-compatible
store (moto's server), with the same secret, agree on everything and keep one audit chain.

The PostgreSQL server is the tests' private one (``tests/pg.py``); the store is moto's S3 server
(``tests/servers.py``). Neither process keeps anything of its own: their data folders stay empty.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pg
import pytest
from servers import MotoServer
from test_library_core import CREDENTIALS, ID, PASSPHRASE, PHOTOCORE, SAMPLE, Service, cli

from photocore.library.config import LibraryConfig
from photocore.library.publish import PublishError, binding_token, conversion_files, publish
from photocore.library.service import Library
from photocore.sign import load_signer
from photocore.sign.verify import load_trust, verify

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # PostgreSQL, an S3 server, two services

SECRET_ENV = "PHOTOCORE_SCALE_TEST_SECRET"
BUCKET = "photo-library"
ID2, ID3 = "32010219800101123X", "510104199012319876"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """PostgreSQL, the S3 server with its bucket, a key store, four conversions, the shared
    secret and AWS credentials in the environment the services inherit."""
    if not pg.available():
        pytest.skip("PostgreSQL binaries are missing: .ci/run installs the postgresql package")
    root = tmp_path_factory.mktemp("scale")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PHOTOCORE_KEY_PASSPHRASE", PASSPHRASE)
        mp.setenv(SECRET_ENV, base64.b64encode(os.urandom(32)).decode())
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("PHOTOCORE_HOME", str(root / "home"))  # nothing may land here
        for name in ("PHOTOCORE_DATABASE_URL", "PHOTOCORE_STORE", "PHOTOCORE_LIBRARY_SECRET", "PHOTOCORE_LIBRARY_KEK",
                     "PHOTOCORE_LIBRARY_CONFIG"):
            mp.delenv(name, raising=False)
        keys = root / "keys"
        made = cli("keys", "init", keys, "--station", "zs-001")
        assert made.returncode == 0, made.stderr
        # three conversions, made side by side: one capture per person
        args = {root / "c1": [a for c in CREDENTIALS for a in ("--credential", c)],
                root / "c2": ["--credential", "police.resident-id-card"],
                root / "c3": ["--credential", "police.passport"],
                root / "c4": ["--credential", "hrss.social-security-card", "--credential", "police.passport"]}
        runs = [subprocess.Popen([*PHOTOCORE, "convert", str(SAMPLE), *a, "--out", str(out), "--sign", "--keys",
                                  str(keys), "--station", "zs-001"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for out, a in args.items()]
        database = moto = None
        try:
            database = pg.PostgresServer().start()
            moto = MotoServer(root / "moto.log").start()
            import boto3
            s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
            s3.create_bucket(Bucket=BUCKET)
            for run in runs:
                out, err = run.communicate(timeout=120)
                assert run.returncode == 0, out + err
            yield {"root": root, "keys": keys, **{c: root / c for c in ("c1", "c2", "c3", "c4")},
                   "database": database.fresh_database("library"), "moto": moto, "s3": s3,
                   "store": f"s3://{BUCKET}/lib?endpoint={moto.url}"}
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
            if moto is not None:
                moto.stop()
            if database is not None:
                database.stop()


@pytest.fixture(scope="module")
def services(world):
    """Processes A and B, started at the same moment on the empty database (both create the
    schema: neither may trip over the other)."""
    options = ["--database", world["database"], "--store", world["store"], "--secret", f"env:{SECRET_ENV}",
               "--trust", world["keys"] / "root.pem"]
    pair = [Service(world["root"] / name, *options, log=world["root"] / f"{name}.log") for name in ("a", "b")]
    threads = [threading.Thread(target=s.start) for s in pair]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert all(s.process is not None for s in pair), [s.log.read_text() for s in pair]
        yield pair
    finally:
        for s in pair:
            s.stop()


def in_process(world) -> Library:
    """A third view of the same deployment: the library call, as a kiosk or the purge job makes it."""
    return Library(LibraryConfig(data_dir=world["root"] / "c", database=world["database"], store=world["store"],
                                 secret=f"env:{SECRET_ENV}", trust=[world["keys"] / "root.pem"]))


def page_login(client: httpx.Client, url: str, code: str, last_six: str) -> httpx.Response:
    form = client.get(url + "/me/login")
    assert form.status_code == 200, form.text
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post(url + "/me/login", data={"code": code, "last6": last_six, "csrf": token, "next": "/me"},
                       headers={"Origin": url})


def photo_ids(folder: Path) -> dict[str, str]:
    return {row["photo_id"]: row["file"] for row in json.loads((folder / "report.json").read_text())}


def audit_verify(world, *extra) -> subprocess.CompletedProcess:
    return cli("audit", "verify", "--database", world["database"], *extra, "--json")


def test_two_processes_share_one_database_and_one_store(world, services):
    a, b = services
    c1 = world["c1"]
    result = cli("publish", c1, "--person", ID, "--to", a.url, "--keys", world["keys"], "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)

    # the citizen logs in at B with the receipt printed from A, and gets A's photos from B
    with httpx.Client(base_url=b.url) as browser:
        login = page_login(browser, b.url, answer["pickup_code"], ID[-6:])
        assert login.status_code == 303 and login.headers["location"] == "/me", login.text
        overview = browser.get("/me")
        assert overview.status_code == 200
        for photo_id, name in photo_ids(c1).items():
            thumb = browser.get(f"/me/photos/{photo_id}/thumb")
            assert thumb.status_code == 200 and thumb.content == (c1 / name).read_bytes()
            assert thumb.headers["cache-control"] == "no-store"
        photo_id, name = next(iter(photo_ids(c1).items()))
        download = browser.get(f"/me/photos/{photo_id}/download")
        assert download.status_code == 200
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            data = archive.read(name)
            token = archive.read(name + ".jws").decode()
        assert data == (c1 / name).read_bytes()
        assert verify(data, token, load_trust(world["keys"] / "root.pem")).valid
        # B's session cookie opens A's pages too: the sessions are stateless, signed with the shared secret
        session = browser.cookies.get("photocore_session")
    with httpx.Client(base_url=a.url, cookies={"photocore_session": session}) as other:
        assert other.get(f"/me/photos/{photo_id}/thumb").content == data

    # a third process sees the same capture and photos
    lib = in_process(world)
    try:
        person = lib.keys.person_key(ID)
        (capture,) = lib.overview(person)["captures"]
        assert capture["capture_id"] == answer["capture_id"]
        assert {p["photo_id"] for p in capture["photos"]} == set(photo_ids(c1))
        for p in capture["photos"]:
            original = (c1 / photo_ids(c1)[p["photo_id"]]).read_bytes()
            assert lib.citizen_photo(person, p["photo_id"], "view").data == original
        # the same conversion for someone else is refused whichever process is asked
        other = cli("publish", c1, "--person", ID2, "--to", b.url, "--keys", world["keys"], "--json")
        assert other.returncode == 1 and json.loads(other.stdout)["error"]["code"] == "library.conflict"
    finally:
        lib.engine.dispose()

    # the bucket holds ciphertext only
    s3 = world["s3"]
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"lib/captures/{answer['capture_id']}/")
    keys = [o["Key"] for o in listing["Contents"]]
    assert len(keys) >= 2 and all(k.endswith(".jpg") for k in keys)
    originals = [(c1 / n).read_bytes() for n in photo_ids(c1).values()]
    for key in keys:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert not body.startswith(b"\xff\xd8") and b"JFIF" not in body and b"eyJ" not in body[:64], key
        assert all(o[:64] not in body and o[1000:1064] not in body for o in originals), key
    assert audit_verify(world, "--secret", f"env:{SECRET_ENV}").returncode == 0

    # nothing was kept by either process itself
    for svc in services:
        assert not svc.data_dir.exists() or not any(svc.data_dir.iterdir())
    assert not (world["root"] / "home").exists()


def test_concurrent_work_on_both_processes_keeps_one_chain(world, services):
    a, b = services
    signer = load_signer(world["keys"])
    lib = in_process(world)
    try:
        code = lib.publish(ID, conversion_files(world["c1"]), _binding(signer, world["c1"], ID)).pickup_code
    finally:
        lib.engine.dispose()
    c1_photos = list(photo_ids(world["c1"]))
    sessions = {}
    for svc in services:
        with httpx.Client() as client:
            assert page_login(client, svc.url, code, ID[-6:]).status_code == 303
            sessions[svc.url] = client.cookies.get("photocore_session")

    start = threading.Barrier(2 + 8 + 2)
    errors: list[str] = []

    def new_capture(svc, folder, id_number):
        start.wait()
        return publish(conversion_files(folder), id_number, svc.url, signer)

    def same_new_capture(svc):  # a station's retry racing its first attempt, at the other process
        start.wait()
        try:
            return publish(conversion_files(world["c4"]), ID3, svc.url, signer)["new"]
        except PublishError as exc:
            return exc.code

    def views(svc, n):
        start.wait()
        with httpx.Client(base_url=svc.url, cookies={"photocore_session": sessions[svc.url]}) as client:
            for i in range(n):
                r = client.get(f"/me/photos/{c1_photos[i % len(c1_photos)]}/thumb")
                if r.status_code != 200:
                    errors.append(f"{svc.url}: {r.status_code} {r.text[:200]}")

    def republish(svc, n):
        start.wait()
        for _ in range(n):
            answer = publish(conversion_files(world["c1"]), ID, svc.url, signer)
            assert answer["new"] is False

    with ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(new_capture, a, world["c2"], ID2), pool.submit(new_capture, b, world["c3"], ID3)]
        futures += [pool.submit(views, svc, 50) for svc in (a, b, a, b, a, b)]
        futures += [pool.submit(republish, svc, 3) for svc in (a, b)]
        races = [pool.submit(same_new_capture, svc) for svc in (a, b)]
        results = [f.result(timeout=120) for f in futures]
        raced = [f.result(timeout=120) for f in races]
    assert errors == []
    assert results[0]["new"] and results[1]["new"] and results[0]["capture_id"] != results[1]["capture_id"]
    assert True in raced and set(raced) <= {True, False, "library.conflict"}, raced

    lib = in_process(world)
    try:
        for id_number, folders in ((ID2, [world["c2"]]), (ID3, [world["c3"], world["c4"]])):
            person = lib.keys.person_key(id_number)
            stored = {p["photo_id"] for c in lib.overview(person)["captures"] for p in c["photos"]}
            expected = {i: folder / name for folder in folders for i, name in photo_ids(folder).items()}
            assert stored == set(expected)
            for photo_id, path in expected.items():  # every photo readable, whichever process stored it
                assert lib.citizen_photo(person, photo_id, "view").data == path.read_bytes()
        from sqlalchemy import select

        from photocore.library.db import audit, audit_head, checkpoints
        with lib.engine.connect() as conn:
            seqs = [r[0] for r in conn.execute(select(audit.c.seq).order_by(audit.c.seq))]
            actors = {r[0] for r in conn.execute(select(audit.c.action))}
            head = conn.execute(select(audit_head.c.seq)).scalar_one()
            signed = [r[0] for r in conn.execute(select(checkpoints.c.seq))]
        # one chain: every seq once, no gap, no fork, the head at its end, a checkpoint at 256
        assert seqs == list(range(1, len(seqs) + 1)) and head == len(seqs) and len(seqs) > 256
        assert 256 in signed and {"ingest", "login", "view"} <= actors
        # S3 orphans (a publish cut short) are swept by the purge job through the same store
        lib.store.put("captures/0b5e0b5e-0000-4000-8000-00000000000a/x.jpg", b"ciphertext")
        assert lib.purge()["orphans"] == 0  # too young
        assert lib.purge(now=time.time() + 3601) == {"purged": 0, "expired_requests": 0, "orphans": 1}
    finally:
        lib.engine.dispose()
    verified = audit_verify(world, "--secret", f"env:{SECRET_ENV}")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["intact"] and report["rows"] == len(seqs) and report["checkpoints"] >= 2

    # without the service's secret, verify says so (exit 2) rather than calling the log altered
    unusable = audit_verify(world)
    assert unusable.returncode == 2 and "--secret" in unusable.stderr
    assert not (world["root"] / "home").exists()


def test_failed_logins_count_across_processes(world, services):
    """Failures at A and B at once count in one place: the address is stopped after 20."""
    a, b = services
    start = threading.Barrier(8)
    statuses: list[int] = []

    def guess(svc):
        start.wait()
        with httpx.Client() as client:
            for _ in range(4):
                wrong = base64.b32encode(os.urandom(7)).decode()[:10]
                statuses.append(page_login(client, svc.url, f"{wrong[:5]}-{wrong[5:]}", "000000").status_code)

    with ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(guess, svc) for svc in (a, b) * 4]:
            f.result(timeout=120)
    assert len(statuses) == 32 and 500 not in statuses, statuses
    assert set(statuses) <= {401, 429} and 429 in statuses, statuses
    for svc in services:  # from this address every attempt is refused now, at either process
        with httpx.Client() as client:
            assert page_login(client, svc.url, "AAAAA-AAAAA", "000000").status_code == 429


def _binding(signer, folder: Path, id_number: str) -> str:
    files = conversion_files(folder)
    token = next(v for k, v in sorted(files.items()) if k.endswith(".jws"))
    return binding_token(signer, token.decode().strip().split("~", 1)[0], id_number)
