"""Unit-test fixtures: the in-memory event store and read store (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.event_store import open_event_store
from adapters.memory_read_store import InMemoryReadStore
from commands.backtests import BacktestCommands
from commands.store import EventStore
from commands.strategies import StrategyCommands


@pytest.fixture
def store() -> Iterator[EventStore]:
    store = open_event_store("memory://")
    yield store
    store.close()


@pytest.fixture
def read_store() -> InMemoryReadStore:
    return InMemoryReadStore()


@pytest.fixture
def backtests(store: EventStore) -> BacktestCommands:
    return BacktestCommands(store)


@pytest.fixture
def strategies(store: EventStore) -> StrategyCommands:
    return StrategyCommands(store)
