"""The outbox in PostgreSQL: for delivery workers on several machines sharing the work.

The selects that pick rows to change lock them with ``FOR UPDATE SKIP LOCKED``: each worker
takes rows no other worker holds, without waiting for it. psycopg begins a transaction with the
first statement, and takes ``%s`` placeholders where the shared statements have ``?``.
"""

from __future__ import annotations

import psycopg

from .outbox import Cursor, Outbox


class _QmarkCursor(psycopg.Cursor):
    """psycopg's cursor for statements written with ``?`` placeholders (they hold no other ``?``)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query.replace("?", "%s"), params, prepare=prepare, binary=binary)


class PostgresOutbox(Outbox):
    """The outbox in the PostgreSQL database at ``location`` (a postgresql:// URL)."""

    BLOB = "BYTEA"
    SERIAL = "BIGSERIAL"
    ROW_LOCK = "FOR UPDATE SKIP LOCKED"

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.location, autocommit=False, cursor_factory=_QmarkCursor)

    def _begin(self, cur: Cursor, immediate: bool) -> None:
        pass  # psycopg begins the transaction with its first statement
