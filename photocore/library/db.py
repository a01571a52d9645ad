"""The library's tables, on SQLite (embedded, one host) or PostgreSQL (several processes and hosts).

SQLAlchemy Core keeps one schema and one set of statements for both; the service holds no state
of its own between requests, so any number of processes can share one database. Times are Unix
seconds (UTC). No ID number, pickup code, photo or secret is ever stored in clear: persons are
HMAC keys, codes are HMACs, objects live encrypted in the object store, and each capture's data
key is stored wrapped.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from .errors import LibraryError

metadata = MetaData()

captures = Table(
    "captures", metadata,
    Column("id", String(36), primary_key=True),
    Column("person_key", String(64), nullable=False, index=True),
    Column("station", Text, nullable=False),
    Column("operator", Text),
    Column("device", Text),
    Column("captured_at", Float, nullable=False),
    Column("published_at", Float, nullable=False),
    Column("catalogue_version", Text, nullable=False),
    Column("signer_kid", Text, nullable=False),
    Column("verdicts", Text, nullable=False),  # JSON {credential: {code: status}} of what the station signed
    Column("has_master", Integer, nullable=False, default=0),
    Column("wrapped_key", LargeBinary),  # NULL once the capture is deleted: its objects are unreadable
    Column("kek_id", Text, nullable=False),
    Column("signature", LargeBinary, nullable=False),  # the station's compact JWS over all its photos, sealed
    Column("keep_until", Float, nullable=False),  # end of its longest reuse window
    Column("deleted_at", Float),  # the citizen deleted it; purged at the next run
)

photos = Table(
    "photos", metadata,
    Column("id", String(36), primary_key=True),  # the photo id the station signed
    Column("capture_id", String(36), ForeignKey("captures.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("credential", Text, nullable=False),
    Column("agency", Text, nullable=False),
    Column("object", Text, nullable=False),  # the sealed photo (shared by credentials with the same bytes)
    Column("extension", Text, nullable=False),
    Column("disclosure", LargeBinary, nullable=False),  # this photo's SD-JWT disclosure, sealed
    Column("sha256", String(64), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("valid_until", Float, nullable=False),  # end of this credential's reuse window
)
Index("photos_by_credential", photos.c.capture_id, photos.c.credential)

pickup_codes = Table(
    "pickup_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("proof", String(64), nullable=False),  # HMAC of the code and the ID number's last six digits
    Column("person_key", String(64), nullable=False),
    Column("capture_id", String(36), ForeignKey("captures.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("failures", Integer, nullable=False, default=0),
)

requests = Table(
    "requests", metadata,
    Column("id", String(36), primary_key=True),
    Column("agency", Text, nullable=False),
    Column("client_id", Text, nullable=False),
    Column("person_key", String(64), nullable=False, index=True),
    Column("credential", Text, nullable=False),
    Column("application_ref", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("callback_url", Text),
    Column("status", String(16), nullable=False),  # pending, approved, refused, expired
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("decided_at", Float),
    Column("grant_id", String(36)),
)

grants = Table(
    "grants", metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), nullable=False, unique=True),
    Column("person_key", String(64), nullable=False, index=True),
    Column("photo_id", String(36), ForeignKey("photos.id", ondelete="CASCADE"), nullable=False),
    Column("agency", Text, nullable=False),
    Column("credential", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float),
)

audit = Table(
    "audit", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at", Float, nullable=False),
    Column("action", Text, nullable=False),
    Column("actor", Text, nullable=False),  # "station:<id>", "agency:<id>/<client>", "citizen", "service"
    Column("person_key", String(64), index=True),
    Column("capture_id", String(36)),
    Column("photo_id", String(36)),
    Column("credential", Text),
    Column("agency", Text),
    Column("reference", Text),  # the agency's application reference, a request id, ...
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(  # one row: the chain's last seq and hash (appenders lock it)
    "audit_head", metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

checkpoints = Table(
    "checkpoints", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at", Float, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signature", Text, nullable=False),  # base64url Ed25519 over "photocore-audit:<seq>:<hash>"
    Column("public_key", Text, nullable=False),
)

used_assertions = Table(  # private_key_jwt jti values seen, until their assertion expires
    "used_assertions", metadata,
    Column("jti", String(200), primary_key=True),
    Column("expires_at", Float, nullable=False, index=True),
)

throttle = Table(  # failed logins per client address and per pickup code
    "throttle", metadata,
    Column("key", String(80), primary_key=True),
    Column("window_start", Float, nullable=False),
    Column("failures", Integer, nullable=False),
)


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction. On SQLite, writers of all threads and processes queue on a lock
    first (a thread lock, then ``flock`` on ``<database>.lock``), so a waiting writer wakes the
    moment the writer before it commits, instead of sleeping in SQLite's busy handler (which
    backs off in steps of up to 100 ms: that was the SQLite p99)."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        with engine.begin() as conn:
            yield conn
        return
    path = engine.url.database + ".lock"
    with _write_locks_guard:
        lock = _write_locks.setdefault(path, threading.Lock())
    with lock:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with engine.begin() as conn:
                yield conn
        finally:
            os.close(fd)  # releases the flock


def reading(engine: Engine):
    """A connection for reads only: on SQLite it does not take the write lock; on PostgreSQL each
    statement is its own transaction (no BEGIN and ROLLBACK round trips around a lookup)."""
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    return engine.connect().execution_options(read_only=True)


def erase_freed(engine: Engine) -> None:
    """SQLite: move the write-ahead log into the database file and empty it, so the bytes of
    deleted rows (a deleted capture's wrapped key) are no longer on disk; secure_delete has
    zeroed them in the database file itself. Run by the retention job."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        sqlite = raw.driver_connection
        assert sqlite is not None  # an open pooled connection has its sqlite3 connection
        sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        raw.close()


def database_url(database: str | None, data_dir: Path) -> str:
    """SQLAlchemy URL: postgresql://... as given (psycopg 3 driver), else SQLite in the data dir."""
    if database:
        if database.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + database.split("://", 1)[1]
        if database.startswith(("sqlite://", "postgresql+psycopg://")):
            return database
        raise LibraryError(f"database URL {database!r}: use postgresql://... or sqlite:///PATH", code="library.config")
    return f"sqlite:///{data_dir / 'library.sqlite3'}"


def open_database(url: str) -> Engine:
    """An engine with the schema created (idempotently). SQLite: WAL, full sync, private file."""
    try:
        if url.startswith("sqlite"):
            path = url.split("sqlite:///", 1)[1]
            if path and not os.path.exists(path):
                Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            # connections are kept (opening one runs the pragmas below): one per request thread
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=48,
                                   max_overflow=16)

            @event.listens_for(engine, "connect")
            def _pragmas(conn, _record):
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")  # the audit log is durable
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA secure_delete=ON")  # deleted rows (wrapped keys) zeroed, not left as free space
                cur.close()
                conn.isolation_level = None  # we issue BEGIN IMMEDIATE ourselves

            @event.listens_for(engine, "begin")
            def _begin(conn):  # writers take the lock up front (no deadlocked upgrades); readers don't
                conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE")
        else:
            # no pre-ping (a round trip per request); connections older than 10 minutes are replaced
            engine = create_engine(url, pool_size=48, max_overflow=16, pool_recycle=600)
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # processes starting together create the schema one at a time
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7240105)")
            metadata.create_all(conn)
        return engine
    except SQLAlchemyError as exc:
        raise LibraryError(f"cannot open the library database: {type(exc).__name__}: {str(exc).splitlines()[0]}",
                           code="library.unavailable") from exc
