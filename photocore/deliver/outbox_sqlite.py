"""The outbox in one SQLite file (WAL): for the delivery workers of one machine.

The file is created owner-only before SQLite opens it: it holds portraits, and SQLite gives its
-wal and -shm files the database file's mode. A writing transaction takes the database's write
lock as it begins (``BEGIN IMMEDIATE``), so two workers never pick the same row and the claim
needs no row lock.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import ConfigError
from ..private_files import file_mode, mkdir_private
from .outbox import Cursor, Outbox


def _create_private(path: Path) -> None:
    """Create the file (and its folder) readable by its owner only, unless it exists."""
    try:
        mkdir_private(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot create the outbox database {path}: {exc.strerror or exc}",
                          code="config.outbox_unwritable") from exc
    try:
        os.fchmod(fd, file_mode())
    finally:
        os.close(fd)


class SqliteOutbox(Outbox):
    """The outbox in the SQLite file at ``location`` (a path)."""

    BLOB = "BLOB"
    SERIAL = "INTEGER"  # INTEGER PRIMARY KEY is the rowid, which SQLite numbers itself
    ROW_LOCK = ""  # BEGIN IMMEDIATE already holds the write lock

    def _connect(self) -> sqlite3.Connection:
        _create_private(Path(self.location))
        conn = sqlite3.connect(self.location, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _begin(self, cur: Cursor, immediate: bool) -> None:
        cur.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
