"""The SQL/DynamoDB read-model projector: applies a batch of events and writes it atomically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from commands.store import StoredEvent
from domain.backtest_job import BacktestJob
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion
from projections.backtest_jobs import project_job
from projections.catalog import project_strategy, project_version
from projections.ports import Changes, ReadModelWriter


class ReadModelProjector:
    """Keeps backtest jobs and the strategy catalog of one read store up to date.

    A whole batch is applied in memory and written with its last position in one transaction,
    so the model is exactly-once and rebuilds cost one round trip per batch, not per event.
    """

    def __init__(self, store: ReadModelWriter, name: str = "read_model") -> None:
        self.store = store
        self.name = name

    def position(self) -> int:
        return self.store.position(self.name)

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        if not events:
            return
        changes = Changes(
            jobs=self.store.load_jobs(_ids(events, BacktestJob.Event)),
            strategies=self.store.load_strategies(_ids(events, Strategy.Event)),
            versions=self.store.load_versions(_ids(events, StrategyVersion.Event)),
        )
        touched: Changes = Changes(jobs={}, strategies={}, versions={})
        for stored in events:
            _apply(stored.event, changes, touched)
        self.store.commit(self.name, after, events[-1].position, touched)


def _ids(events: Sequence[StoredEvent], kind: type) -> set[UUID]:
    return {e.event.originator_id for e in events if isinstance(e.event, kind)}  # type: ignore[attr-defined]


def _apply(event: Any, current: Changes, touched: Changes) -> None:
    key = event.originator_id
    if isinstance(event, BacktestJob.Event):
        job = project_job(current.jobs.get(key), event)
        if job is not None:
            current.jobs[key] = touched.jobs[key] = job
    elif isinstance(event, Strategy.Event):
        strategy = project_strategy(current.strategies.get(key), event)
        if strategy is not None:
            current.strategies[key] = touched.strategies[key] = strategy
    elif isinstance(event, StrategyVersion.Event):
        version = project_version(current.versions.get(key), event)
        if version is not None:
            current.versions[key] = touched.versions[key] = version
