"""Lookups of one document by id on SQLite without SQLAlchemy's per-query overhead.

A read through SQLAlchemy Core costs tens of microseconds of Python before SQLite is asked;
the plain driver with a cached statement costs a few. Each thread gets its own reading
connection (sqlite3 connections must not be shared between threads); WAL mode means these
readers never wait for the projector's writes.
"""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy.engine import Engine


class SqlitePointReads:
    """`doc(table, id)` on per-thread read-only connections to one SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    @classmethod
    def for_engine(cls, engine: Engine) -> SqlitePointReads | None:
        """Point reads for a file-backed SQLite engine; None for any other database."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        return cls(database)

    def doc(self, table: str, key: str) -> bytes | None:
        row = self._connection().execute(f"SELECT doc FROM {table} WHERE id = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=True)
            conn.execute("PRAGMA query_only = 1")  # this connection only ever reads
            self._local.conn = conn
        return conn
