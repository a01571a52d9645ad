"""The access log: append-only, hash-chained, with signed checkpoints (as Certificate
Transparency's logs, RFC 9162, but a plain chain).

Each row's hash is SHA-256 over the previous row's hash and the row's own fields, so changing,
inserting or removing any row breaks every hash after it. Appenders lock the one-row head
table, so rows from many processes form one chain. Every ``CHECKPOINT_EVERY`` rows (and when the
purge job runs) the service signs ``(seq, hash)`` with its Ed25519 checkpoint key: someone who
rewrote the whole chain would also need that key. ``verify`` walks the log from the first row.
No ID number, photo, code or secret is ever written here: persons appear as their HMAC key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import threading
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from .db import audit, audit_head, checkpoints, reading, writing

GENESIS = "0" * 64
CHECKPOINT_EVERY = 256
FIELDS = ("seq", "at", "action", "actor", "person_key", "capture_id", "photo_id", "credential", "agency", "reference")
ACTIONS = ("ingest", "view", "download", "request", "approve", "refuse", "pull", "revoke", "delete", "purge", "login")


# Built once: every audited request appends a row.
_HEAD_FOR_UPDATE = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
_INSERT = insert(audit)
_MOVE_HEAD = (update(audit_head).where(audit_head.c.id == 1)
              .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))


def row_hash(prev_hash: str, row: dict) -> str:
    body = json.dumps([row.get(k) for k in FIELDS], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def ensure_head(engine: Engine) -> None:
    try:
        with writing(engine) as conn:
            if conn.execute(select(audit_head.c.id)).first() is None:
                conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
    except IntegrityError:
        pass  # another process starting at the same time made it


def _checkpoint_message(seq: int, digest: str) -> bytes:
    return f"photocore-audit:{seq}:{digest}".encode()


def public_key_text(key: ed25519.Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def append(conn: Connection, signing_key: ed25519.Ed25519PrivateKey | None = None, **row) -> int:
    """Append one row inside the caller's transaction (so the row and the change it records
    commit together, or neither). Returns the row's seq."""
    return append_many(conn, signing_key, [row])[-1]


def append_many(conn: Connection, signing_key: ed25519.Ed25519PrivateKey | None, rows: list[dict]) -> list[int]:
    """Append rows in order under one lock of the head; returns their seqs."""
    head = conn.execute(_HEAD_FOR_UPDATE).one()
    seq, prev, values = head.seq, head.hash, []
    for fields in rows:
        assert fields["action"] in ACTIONS, fields["action"]
        seq += 1
        row = {k: fields.get(k) for k in FIELDS}
        row.update(seq=seq, at=round(time.time(), 6))
        digest = row_hash(prev, row)
        values.append({**row, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(_INSERT, values)
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})
    if signing_key is not None:
        for v in values:
            if v["seq"] % CHECKPOINT_EVERY == 0:
                _write_checkpoint(conn, signing_key, v["seq"], v["hash"])
    return [v["seq"] for v in values]


class Recorder:
    """Group commit for reads that must be logged before they are answered (agency pulls,
    citizen views and downloads): concurrent requests hand their rows to one writer thread per
    process, which appends everything waiting in one transaction. Each caller returns only
    once its row is durable, so nothing is served unlogged; the head is locked once per batch
    instead of once per request."""

    def __init__(self, engine: Engine, signing_key: ed25519.Ed25519PrivateKey | None, max_batch: int = 128):
        self.engine, self.signing_key, self.max_batch = engine, signing_key, max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, daemon=True, name="photocore-audit")
                    self._thread.start()

    def record(self, **row) -> None:
        """Append ``row``; returns once it is committed (raises if it could not be)."""
        assert row["action"] in ACTIONS, row["action"]
        self._start()
        done, outcome = threading.Event(), []

        def settle(error: Exception | None) -> None:
            if error is not None:
                outcome.append(error)
            done.set()

        self._queue.put((row, settle))
        done.wait()
        if outcome:
            raise outcome[0]

    async def record_async(self, **row) -> None:
        """``record`` for the event loop: the request waits for the commit without holding a thread."""
        import asyncio
        assert row["action"] in ACTIONS, row["action"]
        self._start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(error: Exception | None) -> None:
            loop.call_soon_threadsafe(_settle_future, future, error)

        self._queue.put((row, settle))
        await future

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            error = None
            try:
                with writing(self.engine) as conn:
                    append_many(conn, self.signing_key, [row for row, _ in batch])
            except Exception as exc:  # noqa: BLE001 - the database went away: every waiting request fails, none is served
                from .errors import LibraryError
                error = LibraryError("the access log cannot be written", code="library.unavailable")
                error.__cause__ = exc
            for _, settle in batch:
                settle(error)


def _settle_future(future, error: Exception | None) -> None:
    if future.done():  # the request was cancelled (client gone) meanwhile
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _write_checkpoint(conn: Connection, key: ed25519.Ed25519PrivateKey, seq: int, digest: str) -> None:
    signature = base64.urlsafe_b64encode(key.sign(_checkpoint_message(seq, digest))).decode().rstrip("=")
    conn.execute(insert(checkpoints).values(seq=seq, at=time.time(), hash=digest, signature=signature,
                                            public_key=public_key_text(key)))


def checkpoint(engine: Engine, key: ed25519.Ed25519PrivateKey) -> int | None:
    """Sign the chain's current head (if not signed already); returns its seq."""
    with writing(engine) as conn:
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
                            .with_for_update()).one()
        if head.seq == 0:
            return None
        if conn.execute(select(checkpoints.c.seq).where(checkpoints.c.seq == head.seq)).first() is None:
            _write_checkpoint(conn, key, head.seq, head.hash)
        return head.seq


@dataclass
class AuditReport:
    intact: bool
    rows: int
    checkpoints: int
    problems: list[str]

    def to_dict(self) -> dict:
        return {"intact": self.intact, "rows": self.rows, "checkpoints": self.checkpoints, "problems": self.problems}


def verify(engine: Engine, public_key: str | None = None, limit_problems: int = 20) -> AuditReport:
    """Walk the whole chain: every hash, every link, no gaps, the head, and every checkpoint's
    signature (against ``public_key``, the service's, when given) and hash."""
    problems: list[str] = []
    hashes: dict[int, str] = {}
    signed = {}
    with reading(engine) as conn:
        for cp in conn.execute(select(checkpoints).order_by(checkpoints.c.seq)):
            signed[cp.seq] = cp
        prev_seq, prev_hash, n = 0, GENESIS, 0
        for r in conn.execute(select(audit).order_by(audit.c.seq)).mappings():
            n += 1
            if r["seq"] != prev_seq + 1:
                problems.append(f"rows missing or inserted: row {r['seq']} follows row {prev_seq}")
            if r["prev_hash"] != prev_hash:
                problems.append(f"row {r['seq']}: the link to the previous row is broken")
            if row_hash(r["prev_hash"], dict(r)) != r["hash"]:
                problems.append(f"row {r['seq']}: its contents were changed (hash differs)")
            if r["seq"] in signed:
                hashes[r["seq"]] = r["hash"]
            elif r["seq"] % CHECKPOINT_EVERY == 0:  # appenders always sign these: one removed hides a rewrite
                problems.append(f"checkpoint {r['seq']} is missing: the signed checkpoints were removed")
            prev_seq, prev_hash = r["seq"], r["hash"]
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    if head is not None and (head.seq, head.hash) != (prev_seq, prev_hash):
        problems.append(f"the log ends at row {prev_seq} but its head says row {head.seq}: rows were removed")
    for seq, cp in signed.items():
        if seq not in hashes:
            problems.append(f"checkpoint {seq} names a row that is no longer in the log")
        elif hashes[seq] != cp.hash:
            problems.append(f"checkpoint {seq} does not match the log: the chain was rewritten")
        if public_key and cp.public_key != public_key:
            problems.append(f"checkpoint {seq} is signed by another key")
        try:
            raw = base64.urlsafe_b64decode(cp.public_key + "=" * (-len(cp.public_key) % 4))
            sig = base64.urlsafe_b64decode(cp.signature + "=" * (-len(cp.signature) % 4))
            ed25519.Ed25519PublicKey.from_public_bytes(raw).verify(sig, _checkpoint_message(seq, cp.hash))
        except (InvalidSignature, ValueError):
            problems.append(f"checkpoint {seq}: bad signature")
    return AuditReport(not problems, n, len(signed), problems[:limit_problems])


def rows_for_person(conn: Connection, person_key: str, limit: int = 200) -> list[dict]:
    result = conn.execute(select(audit).where(audit.c.person_key == person_key).order_by(audit.c.seq.desc())
                          .limit(limit)).mappings()
    return [dict(r) for r in result]


def count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(audit)).scalar_one()
