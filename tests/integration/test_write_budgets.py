"""The write budgets' contract, in this process's memory and in the shared SQL database (SQLite
and a real PostgreSQL): a bucket per user, refilled with time, a refused write spends nothing,
and two replicas' limiters on one database count a user's writes together."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.sql_engine import create_engine
from adapters.sql_write_budgets import SqlWriteBudgets
from app.rate_limit import Budgets, WriteBudgets
from tests.support.postgres import PostgresServer

PER_MINUTE = 6  # one write back every 10 s


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def replicas(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[Clock], tuple[Budgets, Budgets]]:
    """Two limiters as two replicas would hold them (memory: one process's, shared)."""

    def make(clock: Clock) -> tuple[Budgets, Budgets]:
        if request.param == "memory":
            one = WriteBudgets(PER_MINUTE, clock)
            return one, one
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'read.db'}"
        else:
            server: PostgresServer = request.getfixturevalue("postgres")
            url = server.new_database()
        limiters = []
        for _ in range(2):
            budgets = SqlWriteBudgets(create_engine(url), PER_MINUTE, PER_MINUTE / 60, clock)
            budgets.create()
            limiters.append(budgets)
        return limiters[0], limiters[1]

    return make


def test_replicas_count_a_user_s_writes_together(
    replicas: Callable[[Clock], tuple[Budgets, Budgets]],
) -> None:
    clock = Clock()
    a, b = replicas(clock)
    for n in range(PER_MINUTE):
        assert (a if n % 2 else b).spend("alice", 1) == 0.0
    assert a.spend("alice", 1) == 10.0 and b.spend("alice", 1) == 10.0
    assert a.spend("bob", 1) == 0.0  # bob's bucket is his own
    clock.now += 20  # two writes back
    assert b.spend("alice", 3) == 10.0  # a refused write spends nothing...
    assert a.spend("alice", 2) == 0.0  # ...so both are still there
    assert b.spend("alice", 1) == 10.0
    clock.now += 3600
    assert a.spend("alice", PER_MINUTE) == 0.0  # refilled to the brim, never beyond
    assert b.spend("alice", 1) == 10.0
