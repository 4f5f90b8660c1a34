"""Integration fixtures: each port's adapters, including a real PostgreSQL started by the suite."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.dynamodb.read_store import DynamoReadStore
from adapters.event_store import open_event_store
from adapters.memory_read_store import InMemoryReadStore
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from commands.store import EventStore
from tests.support.aws import boto3_client
from tests.support.postgres import PostgresServer, running_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


def _url(kind: str, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / name}.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def event_store_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], EventStore]]:
    """Opens the same store again on each call (a 'restart'), closing them all at the end."""
    url = _url(request.param, request, tmp_path, "events")
    opened: list[EventStore] = []
    shared: list[EventStore] = []

    def factory() -> EventStore:
        if url == "memory://":  # memory cannot survive a reopen; hand back the same store
            if not shared:
                shared.append(open_event_store(url))
            return shared[0]
        store = open_event_store(url)
        opened.append(store)
        return store

    factory.durable = url != "memory://"  # type: ignore[attr-defined]
    yield factory
    for store in opened + shared:
        store.close()


@pytest.fixture
def event_store(event_store_factory: Callable[[], EventStore]) -> EventStore:
    return event_store_factory()


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("dynamodb-moto", marks=pytest.mark.aws),
        pytest.param("dynamodb-local", marks=pytest.mark.aws),
    ]
)
def read_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[InMemoryReadStore | SqlReadStore | DynamoReadStore]:
    if request.param == "memory":
        yield InMemoryReadStore()
        return
    if request.param.startswith("dynamodb"):
        server = request.getfixturevalue(
            "moto_server" if request.param == "dynamodb-moto" else "dynamodb_local"
        )
        table = f"tradai-t-{uuid.uuid4().hex[:12]}"
        dynamo = DynamoReadStore(table, client=boto3_client("dynamodb", server.endpoint))
        dynamo.create()
        yield dynamo
        dynamo.drop()
        return
    store = SqlReadStore(create_engine(_url(request.param, request, tmp_path, "read")))
    store.create()
    yield store
    store.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """An event store URL and a read model URL on the same kind of database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}", f"sqlite:///{tmp_path / 'read.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.new_database()
    return url, url
