"""The durable outbox: one row per (photo, credential, destination), delivered at least once,
stored once by any receiver that honours the idempotency key (the row id).

A claimed row carries a lease: a worker that dies (even by SIGKILL) leaves rows that become
claimable again when the lease runs out, and the receiver's deduplication makes the repeat
harmless. Photo bytes are stored encrypted (AES-256-GCM, the row id as associated data, key
from ``PHOTOCORE_OUTBOX_KEY`` or a key file). Every attempt is written to the ``attempts`` table.

``Outbox`` is the interface and everything the databases share: the row states, the retry
policy, dead letters, sealing, and the statements themselves (standard SQL, ``?`` placeholders).
A store says only what differs: how to connect and begin a transaction, two column types, and
how concurrent workers keep off each other's rows. ``SqliteOutbox`` (``outbox_sqlite``) serves
the workers of one machine, ``PostgresOutbox`` (``outbox_postgres``) workers on several.
``connect_outbox`` picks one by location; ``open_outbox`` from options and the environment.
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import ConfigError, OutboxError
from .transports.base import Delivery

ENV_KEY = "PHOTOCORE_OUTBOX_KEY"
ENV_HOME = "PHOTOCORE_HOME"
ENV_DATABASE = "PHOTOCORE_DATABASE_URL"
PENDING, DELIVERING, DELIVERED, DEAD = "pending", "delivering", "delivered", "dead"

SCHEMA = """
CREATE TABLE IF NOT EXISTS destinations (
    id TEXT PRIMARY KEY,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    photo_id TEXT NOT NULL,
    credential TEXT NOT NULL,
    destination TEXT NOT NULL,
    filename TEXT NOT NULL,
    payload {blob} NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    lease_until DOUBLE PRECISION,
    created_at DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    receipt_id TEXT,
    last_error TEXT,
    UNIQUE (photo_id, credential, destination)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS attempts (
    id {serial} PRIMARY KEY,
    outbox_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    code TEXT,
    detail TEXT
);
"""


@dataclass(frozen=True)
class Policy:
    """Retry policy: exponential backoff with full jitter, then dead letters."""

    base_delay: float = 2.0
    max_delay: float = 600.0
    max_attempts: int = 12
    max_age: float = 72 * 3600.0
    lease: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1)))


def load_key(key_file: str | None = None) -> bytes:
    """The 32-byte outbox key from ``key_file`` or $PHOTOCORE_OUTBOX_KEY (base64)."""
    text = None
    if key_file:
        try:
            text = Path(key_file).read_text(encoding="ascii").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the outbox key file {key_file}: {exc}", code="config.outbox_key") from exc
    else:
        text = os.environ.get(ENV_KEY)
    if not text:
        raise ConfigError(f"set {ENV_KEY} (base64 of 32 random bytes; `photocore outbox keygen` makes one) "
                          "or pass --outbox-key-file", code="config.outbox_key")
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ConfigError("the outbox key is not base64", code="config.outbox_key") from exc
    if len(key) != 32:
        raise ConfigError("the outbox key must be 32 bytes (AES-256)", code="config.outbox_key")
    return key


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode("ascii")


class Cursor(Protocol):
    """What the shared statements need of a DB-API cursor (sqlite3's and psycopg's both fit)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, args: Sequence[Any] = (), /) -> object: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def cursor(self) -> Cursor: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...


class Outbox(ABC):
    """The outbox on one database; a subclass says how to reach it, the rest is here. Each
    thread gets its own connection (neither driver shares one between threads)."""

    BLOB: ClassVar[str]  # column type of the sealed payloads
    SERIAL: ClassVar[str]  # an integer primary key the database numbers itself
    ROW_LOCK: ClassVar[str]  # closes the selects that pick rows to change: keeps concurrent workers apart

    def __init__(self, location: str, key: bytes, policy: Policy | None = None):
        self.location = location
        self.policy = policy or Policy()
        self._aead = AESGCM(key)
        self._local = threading.local()
        with self._tx() as cur:
            for statement in SCHEMA.format(blob=self.BLOB, serial=self.SERIAL).split(";"):
                if statement.strip():
                    cur.execute(statement)

    # -- what a store provides -----------------------------------------------------------
    @abstractmethod
    def _connect(self) -> Connection:
        """A new connection to ``self.location``, for the calling thread."""

    @abstractmethod
    def _begin(self, cur: Cursor, immediate: bool) -> None:
        """Start a transaction on ``cur`` (``immediate``: it will write); ``_tx`` ends it."""

    # -- connections ---------------------------------------------------------------------
    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def _tx(self, immediate: bool = True) -> Iterator[Cursor]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        conn = self._connection()
        cur = conn.cursor()
        self._begin(cur, immediate)
        try:
            yield cur
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def close(self) -> None:
        """Close the calling thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- payloads ------------------------------------------------------------------------
    def _seal(self, row_id: str, delivery: dict) -> bytes:
        nonce = os.urandom(12)
        plain = json.dumps({"data": base64.b64encode(delivery["data"]).decode(), "jws": delivery["jws"],
                            "sm2": base64.b64encode(delivery["sm2"]).decode() if delivery.get("sm2") else None,
                            "reference": delivery.get("reference")})
        return nonce + self._aead.encrypt(nonce, plain.encode(), row_id.encode())

    def _open(self, row_id: str, sealed: bytes) -> dict:
        try:
            plain = json.loads(self._aead.decrypt(bytes(sealed[:12]), bytes(sealed[12:]), row_id.encode()))
        except Exception as exc:
            raise OutboxError(f"cannot decrypt outbox row {row_id}: wrong {ENV_KEY}?", code="outbox.bad_key") from exc
        return {"data": base64.b64decode(plain["data"]), "jws": plain["jws"],
                "sm2": base64.b64decode(plain["sm2"]) if plain["sm2"] else None,
                "reference": plain.get("reference")}  # rows sealed before references existed have none

    # -- writing -------------------------------------------------------------------------
    def register_destination(self, destination_id: str, config: dict) -> None:
        with self._tx() as cur:
            cur.execute("INSERT INTO destinations (id, config) VALUES (?, ?) "
                        "ON CONFLICT (id) DO UPDATE SET config = excluded.config", (destination_id, json.dumps(config)))

    def destination(self, destination_id: str) -> dict:
        with self._tx(immediate=False) as cur:
            cur.execute("SELECT config FROM destinations WHERE id = ?", (destination_id,))
            row = cur.fetchone()
        if row is None:
            raise OutboxError(f"unknown destination {destination_id!r}", code="outbox.unknown_destination")
        return json.loads(row[0])

    def enqueue(self, *, photo_id: str, credential: str, destination: str, filename: str, data: bytes, jws: str,
                sm2: bytes | None = None, reference: str | None = None) -> tuple[str, bool]:
        """(row id, newly added). Enqueuing the same (photo, credential, destination) twice adds nothing.
        ``reference`` (the agency's application reference, for adapters' names) is sealed with the photo."""
        row_id = str(uuid.uuid4())
        payload = self._seal(row_id, {"data": data, "jws": jws, "sm2": sm2, "reference": reference})
        now = time.time()
        with self._tx() as cur:
            cur.execute("INSERT INTO outbox (id, photo_id, credential, destination, filename, payload, status, "
                        "attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) "
                        "ON CONFLICT (photo_id, credential, destination) DO NOTHING",
                        (row_id, photo_id, credential, destination, filename, payload, PENDING, now, now))
            added = cur.rowcount == 1
            if not added:
                cur.execute("SELECT id FROM outbox WHERE photo_id = ? AND credential = ? AND destination = ?",
                            (photo_id, credential, destination))
                row_id = cur.fetchone()[0]
        return row_id, added

    # -- claiming and settling -----------------------------------------------------------
    def claim(self, limit: int = 1) -> list[tuple[Delivery, str]]:
        """Lease up to ``limit`` due rows: [(delivery, destination id)]. A row whose lease ran out
        after its last allowed attempt (its worker died each time) is dead-lettered instead."""
        now = time.time()
        with self._tx() as cur:
            self._abandon_exhausted(cur, now)
            cur.execute("UPDATE outbox SET status = 'delivering', lease_until = ?, attempts = attempts + 1 "
                        "WHERE id IN (SELECT id FROM outbox WHERE (status = 'pending' AND next_attempt_at <= ?) "
                        "OR (status = 'delivering' AND lease_until < ?) "
                        f"ORDER BY next_attempt_at LIMIT ? {self.ROW_LOCK}) "
                        "RETURNING id, photo_id, credential, destination, filename, payload, attempts",
                        (now + self.policy.lease, now, now, limit))
            rows = cur.fetchall()
        out = []
        for row_id, photo_id, credential, destination, filename, payload, attempts in rows:
            body = self._open(row_id, payload)
            out.append((Delivery(row_id, photo_id, credential, filename, body["data"], body["jws"], body["sm2"],
                                 attempts, body["reference"]), destination))
        return out

    def _abandon_exhausted(self, cur: Cursor, now: float) -> None:
        cur.execute("SELECT id, attempts FROM outbox WHERE status = 'delivering' AND lease_until < ? "
                    f"AND attempts >= ? {self.ROW_LOCK}", (now, self.policy.max_attempts))
        for row_id, attempts in cur.fetchall():
            detail = (f"the lease ran out after attempt {attempts} of {self.policy.max_attempts}: "
                      "the worker stopped mid-delivery")
            cur.execute("UPDATE outbox SET status = 'dead', lease_until = NULL, last_error = ? WHERE id = ?",
                        (f"deliver.interrupted: {detail}", row_id))
            cur.execute("INSERT INTO attempts (outbox_id, attempt, started_at, finished_at, outcome, code, detail) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", (row_id, attempts, now, now, "dead", "deliver.interrupted",
                                                         detail))

    def _audit(self, cur: Cursor, delivery: Delivery, started: float, outcome: str, code: str | None,
               detail: str) -> None:
        cur.execute("INSERT INTO attempts (outbox_id, attempt, started_at, finished_at, outcome, code, detail) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (delivery.id, delivery.attempt, started, time.time(), outcome, code, detail[:2000]))

    def delivered(self, delivery: Delivery, receipt_id: str | None, detail: str, started: float) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE outbox SET status = 'delivered', delivered_at = ?, receipt_id = ?, "
                        "lease_until = NULL, last_error = NULL WHERE id = ?", (time.time(), receipt_id, delivery.id))
            self._audit(cur, delivery, started, "delivered", None, detail)

    def failed(self, delivery: Delivery, code: str, message: str, permanent: bool, retry_after: float | None,
               started: float) -> str:
        """Record a failed attempt; returns the row's new status (pending again, or dead)."""
        with self._tx() as cur:
            cur.execute("SELECT created_at FROM outbox WHERE id = ?", (delivery.id,))
            created = cur.fetchone()[0]
            too_many = delivery.attempt >= self.policy.max_attempts
            too_old = time.time() - created > self.policy.max_age
            status = DEAD if permanent or too_many or too_old else PENDING
            next_at = time.time() + self.policy.delay(delivery.attempt, retry_after)
            cur.execute("UPDATE outbox SET status = ?, next_attempt_at = ?, lease_until = NULL, last_error = ? "
                        "WHERE id = ?", (status, next_at, f"{code}: {message}"[:2000], delivery.id))
            self._audit(cur, delivery, started, "dead" if status == DEAD else "retry", code, message)
        return status

    # -- operators -----------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._tx(immediate=False) as cur:
            cur.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")
            return {status: n for status, n in cur.fetchall()}

    def history(self, row_id: str) -> list[dict]:
        """Every attempt of one row, oldest first: what an operator reads about a dead letter."""
        with self._tx(immediate=False) as cur:
            cur.execute("SELECT attempt, started_at, finished_at, outcome, code, detail FROM attempts "
                        "WHERE outbox_id = ? ORDER BY attempt, started_at", (row_id,))
            names = ("attempt", "started_at", "finished_at", "outcome", "code", "detail")
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def rows(self, status: str | None = None, limit: int = 100) -> list[dict]:
        sql = ("SELECT id, photo_id, credential, destination, status, attempts, next_attempt_at, receipt_id, "
               "last_error FROM outbox")
        args: tuple = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        sql += " ORDER BY created_at LIMIT ?"
        with self._tx(immediate=False) as cur:
            cur.execute(sql, args + (limit,))
            names = ("id", "photo_id", "credential", "destination", "status", "attempts", "next_attempt_at",
                     "receipt_id", "last_error")
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def retry(self, row_id: str) -> bool:
        """Put a dead (or waiting) row back in the queue now, attempts reset."""
        with self._tx() as cur:
            cur.execute("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, lease_until = NULL "
                        "WHERE id = ? AND status IN ('dead', 'pending')", (time.time(), row_id))
            return cur.rowcount == 1

    def next_due(self) -> float | None:
        """Seconds until the next pending row is due (0 if one is due), None when nothing is left."""
        with self._tx(immediate=False) as cur:
            cur.execute("SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END) "
                        "FROM outbox WHERE status IN ('pending', 'delivering')")
            value = cur.fetchone()[0]
        return None if value is None else max(0.0, value - time.time())


def connect_outbox(location: str, key: bytes, policy: Policy | None = None) -> Outbox:
    """The outbox at ``location``: a postgresql:// URL, else the path of a SQLite file."""
    if location.startswith(("postgresql://", "postgres://")):
        from .outbox_postgres import PostgresOutbox  # psycopg is needed only for a shared outbox

        return PostgresOutbox(location, key, policy)
    from .outbox_sqlite import SqliteOutbox

    return SqliteOutbox(location, key, policy)


def open_outbox(data_dir: str | None = None, database: str | None = None, key_file: str | None = None,
                policy: Policy | None = None) -> Outbox:
    """The outbox named by the options or environment: PostgreSQL URL, else SQLite in the data dir."""
    database = database or os.environ.get(ENV_DATABASE)
    if not database:
        home = data_dir or os.environ.get(ENV_HOME) or str(Path.home() / ".photocore")
        database = str(Path(home) / "outbox.sqlite3")
    return connect_outbox(database, load_key(key_file), policy)
