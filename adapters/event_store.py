"""Opens the event store on SQLite (embedded default), PostgreSQL, or memory (unit tests)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from commands.store import EventStore

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
        path.parent.mkdir(parents=True, exist_ok=True)
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


def open_event_store(url: str) -> EventStore:
    """The event store for `url`; tables are created on first use."""
    return EventStore(env=event_store_env(url))
