"""Insert-or-replace by primary key, in one statement per batch of rows."""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def upsert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert or replace rows by their `id` (SQLite and PostgreSQL; others delete, then insert)."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        # Straight to the driver's executemany: SQLAlchemy's per-row parameter handling cost
        # more than SQLite's own work, and rebuilds write hundreds of thousands of rows.
        names = tuple(rows[0])
        conn.exec_driver_sql(
            _sqlite_upsert(table.name, names), [tuple(row[n] for n in names) for row in rows]
        )
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        conn.execute(sa.delete(table).where(table.c.id.in_([r["id"] for r in rows])))
        conn.execute(sa.insert(table), rows)
        return
    statement = insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name != "id"}
    conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=updates), rows)


@cache
def _sqlite_upsert(table: str, columns: tuple[str, ...]) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )
