"""Opens the event store on SQLite (embedded default), PostgreSQL, or memory (unit tests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import Notification

from adapters.private_files import private_sqlite_file
from commands.store import EventStore, StoredEvent, partition_of_digit

MAPPER_TOPIC = "adapters.msgspec_mapper:MsgspecMapper"
# Aggregates are cached and fast-forwarded on each load (only events newer than the cached copy
# are read), so a submit does not re-decode the strategy version and its source every time.
CACHE = {"AGGREGATE_CACHE_MAXSIZE": "10000", "AGGREGATE_CACHE_FASTFORWARD": "y"}


def event_store_env(url: str) -> dict[str, str]:
    """eventsourcing's environment for a store URL: sqlite:///path, postgresql://..., memory://."""
    if url.startswith("memory:"):
        return {"PERSISTENCE_MODULE": "eventsourcing.popo", "MAPPER_TOPIC": MAPPER_TOPIC}
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        private_sqlite_file(path)
        return CACHE | {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "MAPPER_TOPIC": MAPPER_TOPIC,
        }
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        env = CACHE | {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": "10",
            "POSTGRES_LOCK_TIMEOUT": "10",
            "MAPPER_TOPIC": MAPPER_TOPIC,
        }
        return env
    raise ValueError(
        f"unsupported event store URL {url!r}: use sqlite:///, postgresql:// or memory://"
    )


class SqliteEventStore(EventStore):
    """The event store on SQLite, whose partitioned reads are filtered by SQLite itself."""

    def read_partition(
        self, after: int, limit: int, *, stop: int, part: int, parts: int
    ) -> tuple[list[StoredEvent], int]:
        """As EventStore.read_partition, but rows of other partitions are never fetched: the
        ids are stored as hex text, and a partition is a set of last digits."""
        recorder: Any = self.recorder
        digits = [f"{d:x}" for d in range(16) if partition_of_digit(d, parts) == part]
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {recorder.events_table_name} WHERE rowid > ? AND rowid <= ? "
            f"AND substr(originator_id, -1) IN ({', '.join('?' * len(digits))}) "
            "ORDER BY rowid LIMIT ?"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, [after, stop, *digits, limit])
            rows = cursor.fetchall()
        events = decode_rows(self, rows, "rowid", recorder.convert_originator_id)
        # Fewer rows than asked for: none of this partition is left up to `stop`.
        return events, events[-1].position if len(rows) == limit else stop

    def aggregate_history(self, aggregate_id: UUID) -> list[StoredEvent]:
        recorder: Any = self.recorder
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {recorder.events_table_name} WHERE originator_id = ? "
            "ORDER BY originator_version"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, [aggregate_id.hex])  # how eventsourcing stores ids here
            return decode_rows(self, cursor.fetchall(), "rowid", recorder.convert_originator_id)


def decode_rows(
    store: EventStore,
    rows: Sequence[Any],
    position_column: str,
    convert: Callable[[Any], Any] | None,
) -> list[StoredEvent]:
    """Rows of eventsourcing's events table, decoded with the store's mapper; `convert` turns
    a stored id into the aggregate's id (None: it already is one)."""
    decode = store.mapper.to_domain_event
    # An aggregate's events sit close together in a page: convert each id once, which also
    # lets the projector's dicts and sets match ids by identity instead of comparing them.
    ids: dict[Any, Any] = {}

    def originator_id(raw: Any) -> Any:
        if convert is None:
            return raw
        found = ids.get(raw)
        if found is None:
            found = ids[raw] = convert(raw)
        return found

    return [
        StoredEvent(
            row[position_column],
            decode(
                Notification(
                    id=row[position_column],
                    originator_id=originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
            ),
        )
        for row in rows
    ]


def open_event_store(url: str, *, create_tables: bool = True) -> EventStore:
    """The event store for `url`; tables are created on first use unless `create_tables` is
    False (processes opening a store that exists at the same moment: PostgreSQL refuses
    concurrent `CREATE TABLE IF NOT EXISTS` with "tuple concurrently updated")."""
    env = event_store_env(url)
    if not create_tables:
        env["CREATE_TABLE"] = "no"
    if url.startswith("sqlite:///"):
        return SqliteEventStore(env=env)
    if url.startswith(("postgresql://", "postgres://")):
        # Imported here: psycopg and libpq add about 9 MB to every process that loads them.
        from adapters.postgres_event_store import PostgresEventStore

        return PostgresEventStore(env=env)
    return EventStore(env=env)
