"""The durable outbox on SQLite and on a real PostgreSQL server, and the folder transport."""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid

import pg
import pytest

from photocore.deliver.outbox import DEAD, DELIVERED, PENDING, OutboxError, Policy, connect_outbox, new_key
from photocore.deliver.transports.folder import FolderTransport
from photocore.deliver.worker import Worker

from conftest import NEUTRAL, wait_for

PHOTO = NEUTRAL[0].read_bytes()
KEY = base64.b64decode(new_key())


@pytest.fixture(scope="module")
def postgres():
    if not pg.available():
        pytest.fail("PostgreSQL binaries are missing: .ci/run installs the postgresql package")
    server = pg.PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def outbox(request, tmp_path):
    if request.param == "sqlite":
        location = str(tmp_path / "outbox.sqlite3")
    else:
        location = request.getfixturevalue("postgres").fresh_database(f"t{uuid.uuid4().hex[:12]}")
    box = connect_outbox(location, KEY, Policy(base_delay=0.01, max_delay=0.05, max_attempts=3, lease=1.0))
    yield box
    box.close()


def enqueue(box, n=1, destination="folder-a"):
    return [box.enqueue(photo_id=f"p-{i}", credential="police.resident-id-card", destination=destination,
                        filename="police.resident-id-card.jpg", data=PHOTO, jws=f"jws-{i}")[0] for i in range(n)]


def test_the_location_picks_the_store(outbox):
    from photocore.deliver.outbox_postgres import PostgresOutbox
    from photocore.deliver.outbox_sqlite import SqliteOutbox
    assert type(outbox) is (PostgresOutbox if outbox.location.startswith("postgresql://") else SqliteOutbox)


def test_enqueue_is_idempotent_per_photo_credential_destination(outbox):
    first, added = outbox.enqueue(photo_id="p", credential="c", destination="d", filename="f.jpg", data=PHOTO, jws="j")
    again, added_again = outbox.enqueue(photo_id="p", credential="c", destination="d", filename="f.jpg", data=PHOTO,
                                        jws="j")
    assert added and not added_again and first == again
    assert outbox.enqueue(photo_id="p", credential="c", destination="other", filename="f.jpg", data=PHOTO,
                          jws="j")[1]
    assert outbox.counts() == {PENDING: 2}


def test_claim_settle_retry_and_dead_letters(outbox):
    a, b, c = enqueue(outbox, 3)
    claimed = {d.id: d for d, _ in outbox.claim(3)}
    assert set(claimed) == {a, b, c} and outbox.claim(3) == []  # leased rows are not handed out twice
    assert claimed[a].data == PHOTO and claimed[a].attempt == 1
    start = time.time()
    outbox.delivered(claimed[a], "receipt-1", "ok", start)
    assert outbox.failed(claimed[b], "deliver.http_500", "boom", False, None, start) == PENDING
    assert outbox.failed(claimed[c], "deliver.http_400", "bad", True, None, start) == DEAD
    (again, _), = wait_for(lambda: outbox.claim(3), 5, "the failed row to come due (base_delay 0.01 s)")
    assert again.id == b and again.attempt == 2
    outbox.failed(again, "deliver.http_503", "busy", False, 0.0, start)
    (third, _), = outbox.claim(3)
    assert outbox.failed(third, "deliver.http_503", "busy", False, 0.0, start) == DEAD  # max_attempts = 3
    counts = outbox.counts()
    assert counts == {DELIVERED: 1, DEAD: 2}
    assert {r["id"] for r in outbox.rows("dead")} == {b, c}
    assert outbox.retry(c) and outbox.counts()[PENDING] == 1


@pytest.mark.slow
def test_expired_lease_is_claimed_again(outbox):
    (row,) = enqueue(outbox, 1)
    leased = time.monotonic()  # before the claim: the lease starts inside it
    assert outbox.claim(1)  # a worker that then dies without settling
    assert outbox.claim(1) == []
    (delivery, _), = wait_for(lambda: outbox.claim(1), 10, "the expired lease to be claimed again")
    assert time.monotonic() - leased >= 0.9  # not before the 1 s lease ran out
    assert delivery.id == row and delivery.attempt == 2


@pytest.mark.slow
def test_a_row_whose_worker_dies_every_time_is_dead_lettered_at_claim(outbox):
    """max_attempts holds even when no attempt ever settles (a worker killed mid-delivery)."""
    (row,) = enqueue(outbox, 1)
    for attempt in range(1, 4):  # max_attempts = 3, each claim leases and the worker dies
        claimed = wait_for(lambda: outbox.claim(1), 5, f"claim {attempt}: the expired lease claimed again")
        assert claimed[0][0].attempt == attempt

    def dead_lettered():
        assert outbox.claim(1) == []  # the row that used up its attempts is never handed out again
        return outbox.counts().get(DEAD) == 1

    wait_for(dead_lettered, 5, "the row to be dead-lettered at claim")
    (dead,) = outbox.rows(DEAD)
    assert dead["id"] == row and dead["last_error"].startswith("deliver.interrupted")
    assert [a["code"] for a in outbox.history(row)] == ["deliver.interrupted"]


def test_concurrent_claims_never_share_a_row(outbox):
    enqueue(outbox, 40)
    got, lock = [], threading.Lock()

    def claim_all():
        while True:
            batch = outbox.claim(2)
            if not batch:
                return
            with lock:
                got.extend(d.id for d, _ in batch)

    threads = [threading.Thread(target=claim_all) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 40 and len(set(got)) == 40


def test_photos_are_encrypted_at_rest(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    box = connect_outbox(str(path), KEY)
    box.enqueue(photo_id="p", credential="c", destination="d", filename="f.jpg", data=PHOTO, jws="j")
    box.close()
    wal = tmp_path / "outbox.sqlite3-wal"
    raw = path.read_bytes() + wal.read_bytes() if wal.exists() else path.read_bytes()
    assert PHOTO[1000:1064] not in raw and PHOTO[:64] not in raw
    wrong = connect_outbox(str(path), base64.b64decode(new_key()))
    with pytest.raises(OutboxError) as info:
        wrong.claim(1)
    assert info.value.code == "outbox.bad_key"


def test_worker_delivers_through_the_folder_transport(outbox, tmp_path):
    drop = tmp_path / "drop"
    outbox.register_destination("folder-a", {"transport": "folder", "settings": {"directory": str(drop)}})
    enqueue(outbox, 5)
    stats = Worker(outbox, threads=2, once=True).run(install_signals=False)
    assert stats.delivered == 5 and outbox.counts() == {DELIVERED: 5}
    photos = sorted(p for p in drop.iterdir() if p.suffix == ".jpg")
    assert len(photos) == 5 and all(p.read_bytes() == PHOTO for p in photos)
    assert all(p.with_name(p.name + ".jws").exists() for p in photos)
    assert not [p for p in drop.iterdir() if p.name.endswith(".tmp")]


def test_folder_transport_is_idempotent_and_reports_permanent_errors(tmp_path):
    from photocore.deliver.transports.base import Delivery, DeliveryError
    delivery = Delivery("row-1", "photo-1", "police.resident-id-card", "police.resident-id-card.jpg", PHOTO, "jws")
    transport = FolderTransport(str(tmp_path / "drop"))
    assert transport.send(delivery).detail == "written"
    assert transport.send(delivery).detail == "already delivered"
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() != 0:  # root ignores directory permissions
        with pytest.raises(DeliveryError) as info:
            FolderTransport(str(locked)).send(delivery)
        assert info.value.permanent
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    with pytest.raises(DeliveryError) as info:
        FolderTransport(str(blocked / "sub")).send(delivery)
    assert not info.value.permanent  # a missing mount may come back


def test_rate_limit_spaces_deliveries(tmp_path):
    box = connect_outbox(str(tmp_path / "outbox.sqlite3"), KEY)
    box.register_destination("slow-agency", {"transport": "folder", "settings": {"directory": str(tmp_path / "d")},
                                             "rate_limit": 20})
    enqueue(box, 10, destination="slow-agency")
    start = time.perf_counter()
    stats = Worker(box, threads=4, once=True).run(install_signals=False)
    elapsed = time.perf_counter() - start
    assert stats.delivered == 10
    assert elapsed >= 9 / 20 * 0.95  # ten deliveries at 20 per second: at least 0.45 s, whatever the threads


def test_push_finds_signed_photos_in_nested_batch_output(tmp_path):
    from photocore.deliver.push import signed_photos
    for rel in ("district-a/chen/police.passport.jpg", "district-b/2019/li/police.passport.jpg"):
        photo = tmp_path / rel
        photo.parent.mkdir(parents=True)
        photo.write_bytes(PHOTO)
        photo.with_name(photo.name + ".jws").write_text("x.y.z")
    (tmp_path / "district-a" / "chen" / "unsigned.jpg").write_bytes(PHOTO)
    (tmp_path / "report.json").write_text("[]")
    found = signed_photos([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["district-a/chen/police.passport.jpg",
                                                                  "district-b/2019/li/police.passport.jpg"]
