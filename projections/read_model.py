"""The SQL/DynamoDB read-model projector: applies a batch of events and writes it atomically."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate

from commands.store import StoredEvent
from domain.backtest_job import BacktestJob
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion
from projections.backtest_jobs import project_job
from projections.catalog import (
    project_promotion,
    project_strategy,
    project_version,
    promotion_id_of,
)
from projections.ports import ArtifactStore, Changes, ReadModelWriter
from projections.results import RunResult, result_view, unavailable

log = logging.getLogger(__name__)


class ReadModelProjector:
    """Keeps backtest jobs and the strategy catalog of one read store up to date.

    A whole batch is applied in memory and written with its last position in one transaction,
    so the model is exactly-once and rebuilds cost one round trip per batch, not per event.
    """

    def __init__(
        self,
        store: ReadModelWriter,
        name: str = "read_model",
        artifacts: ArtifactStore | None = None,
        *,
        fresh: bool = False,
    ) -> None:
        self.store = store
        self.name = name
        self.artifacts = artifacts
        # Replaying into empty tables (a rebuild), a document exists only if this projector
        # wrote it, so lookups of every other id can be skipped: most would find nothing.
        self._written: set[UUID] | None = set() if fresh else None

    def position(self) -> int:
        return self.store.position(self.name)

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        if not events:
            return
        created = _created(events)
        changes = Changes(
            jobs=self.store.load_jobs(self._stored(_ids(events, BacktestJob.Event) - created)),
            strategies=self.store.load_strategies(
                self._stored(_ids(events, Strategy.Event) - created)
            ),
            versions=self.store.load_versions(
                self._stored(_ids(events, StrategyVersion.Event) - created)
            ),
            promotions=self.store.load_promotions(
                self._stored({p for e in events if (p := promotion_id_of(e.event)) is not None})
            ),
        )
        touched = Changes(jobs={}, strategies={}, versions={}, results={}, trades={}, promotions={})
        for stored in events:
            _apply(stored.event, changes, touched)
            if isinstance(stored.event, BacktestJob.Completed):
                self._add_result(stored.event, touched)
        self.store.commit(self.name, after, events[-1].position, touched)
        if self._written is not None:
            for documents in (
                touched.jobs,
                touched.strategies,
                touched.versions,
                touched.promotions,
            ):
                self._written.update(documents)

    def _stored(self, ids: set[UUID]) -> set[UUID]:
        """The ids whose documents may be stored already (all of them, unless fresh)."""
        return ids if self._written is None else ids & self._written

    def _add_result(self, event: Any, touched: Changes) -> None:
        """Read the run's result artifact into result, trades and equity documents.

        An unreadable artifact does not stop the projection: the result document says why.
        """
        job_id = event.originator_id
        key = event.artifacts.get("result")
        if self.artifacts is None or key is None:
            touched.results[job_id] = unavailable(job_id, event.summary, "no result artifact")
            touched.trades[job_id] = []
            return
        try:
            result = msgspec.json.decode(self.artifacts.read(key), type=RunResult)
        except (OSError, msgspec.DecodeError) as error:
            log.error("result artifact %s of job %s unreadable: %s", key, job_id, error)
            why = f"the result artifact cannot be read ({type(error).__name__})"
            touched.results[job_id] = unavailable(job_id, event.summary, why)
            touched.trades[job_id] = []
            return
        touched.results[job_id] = result_view(job_id, result)
        touched.trades[job_id] = list(result.trades)


def _ids(events: Sequence[StoredEvent], kind: type) -> set[UUID]:
    return {e.event.originator_id for e in events if isinstance(e.event, kind)}  # type: ignore[attr-defined]


def _created(events: Sequence[StoredEvent]) -> set[UUID]:
    """Aggregates created within the batch: a creation event is an aggregate's first, so they
    have no stored document yet to load."""
    return {e.event.originator_id for e in events if isinstance(e.event, Aggregate.Created)}  # type: ignore[attr-defined]


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
        pid = promotion_id_of(event)
        if pid is not None:
            promotion = project_promotion(current.promotions.get(pid), event)
            if promotion is not None:
                current.promotions[pid] = touched.promotions[pid] = promotion
