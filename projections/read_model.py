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
from domain.sweep import Sweep
from projections.backtest_jobs import project_job
from projections.catalog import (
    project_promotion,
    project_strategy,
    project_version,
    promotion_id_of,
)
from projections.ports import ArtifactStore, Changes, ReadModelWriter
from projections.results import RunResult, result_view, unavailable
from projections.sweep_documents import project_sweep

log = logging.getLogger(__name__)


class ReadModelProjector:
    """Keeps backtest jobs, sweeps and the strategy catalog of one read store up to date.

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
        # A store without transactions (DynamoDB) can be switched to a rebuilt table under a
        # running projector: its runner re-reads the position while idle.
        self.recheck_position = hasattr(store, "load_marks")
        # Replaying into empty tables (a rebuild), a document exists only if this projector
        # wrote it, so lookups of every other id can be skipped: most would find nothing.
        self._written: set[UUID] | None = set() if fresh else None

    def position(self) -> int:
        return self.store.position(self.name)

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        if not events:
            return
        ids = _documents_to_load(events)
        changes = Changes(
            jobs=self.store.load_jobs(self._stored(ids[_JOB])),
            strategies=self.store.load_strategies(self._stored(ids[_STRATEGY])),
            versions=self.store.load_versions(self._stored(ids[_VERSION])),
            promotions=self.store.load_promotions(self._stored(ids[_PROMOTION])),
            sweeps=self.store.load_sweeps(self._stored(ids[_SWEEP])),
        )
        touched = Changes(
            jobs={}, strategies={}, versions={}, results={}, trades={}, promotions={}, sweeps={},
            marks={},
        )  # fmt: skip
        # A store without transactions (DynamoDB) may hold documents newer than its position
        # after a crash between the two writes: events its documents already show are skipped,
        # or they would be applied twice on top of themselves.
        load_marks = getattr(self.store, "load_marks", None)
        shown: dict[UUID, int] = load_marks(set().union(*ids)) if load_marks else {}
        for stored in events:
            event = stored.event
            if shown and shown.get(event.originator_id, 0) >= stored.position:
                continue
            _apply(event, changes, touched)
            touched.marks[event.originator_id] = stored.position
            if (pid := promotion_id_of(event)) is not None:
                touched.marks[pid] = stored.position
            if type(event) is BacktestJob.Completed:
                self._add_result(event, touched)
        self.store.commit(self.name, after, events[-1].position, touched)
        if self._written is not None:
            for documents in (
                touched.jobs,
                touched.strategies,
                touched.versions,
                touched.promotions,
                touched.sweeps,
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


_JOB, _STRATEGY, _VERSION, _PROMOTION, _SWEEP = range(5)
_KINDS: dict[type, tuple[int | None, bool]] = {}  # event class -> (its document kind, creates?)


def _kind_of(cls: type) -> tuple[int | None, bool]:
    """Which document an event class changes, and whether it creates its aggregate; cached,
    because a rebuild asks once per event and there are only a few dozen classes."""
    known = _KINDS.get(cls)
    if known is None:
        kind = (
            _JOB if issubclass(cls, BacktestJob.Event)
            else _STRATEGY if issubclass(cls, Strategy.Event)
            else _VERSION if issubclass(cls, StrategyVersion.Event)
            else _SWEEP if issubclass(cls, Sweep.Event)
            else None
        )  # fmt: skip
        known = _KINDS[cls] = (kind, issubclass(cls, Aggregate.Created))
    return known


def _documents_to_load(events: Sequence[StoredEvent]) -> list[set[UUID]]:
    """Per document kind, the ids a batch changes, less the aggregates it creates: a creation
    event is an aggregate's first, so there is no stored document to load for them."""
    ids: list[set[UUID]] = [set(), set(), set(), set(), set()]
    created: set[UUID] = set()
    for stored in events:
        event = stored.event
        kind, creates = _kind_of(type(event))
        if kind is None:
            continue
        if creates:
            created.add(event.originator_id)
        else:
            ids[kind].add(event.originator_id)
        if kind == _VERSION and (pid := promotion_id_of(event)) is not None:
            ids[_PROMOTION].add(pid)
    for kind in (_JOB, _STRATEGY, _VERSION, _SWEEP):
        ids[kind] -= created
    return ids


def _apply(event: Any, current: Changes, touched: Changes) -> None:
    key = event.originator_id
    kind = _kind_of(type(event))[0]
    if kind == _JOB:
        job = project_job(current.jobs.get(key), event)
        if job is not None:
            current.jobs[key] = touched.jobs[key] = job
    elif kind == _STRATEGY:
        strategy = project_strategy(current.strategies.get(key), event)
        if strategy is not None:
            current.strategies[key] = touched.strategies[key] = strategy
    elif kind == _VERSION:
        version = project_version(current.versions.get(key), event)
        if version is not None:
            current.versions[key] = touched.versions[key] = version
        pid = promotion_id_of(event)
        if pid is not None:
            promotion = project_promotion(current.promotions.get(pid), event)
            if promotion is not None:
                current.promotions[pid] = touched.promotions[pid] = promotion
    elif kind == _SWEEP:
        sweep = project_sweep(current.sweeps.get(key), event)
        if sweep is not None:
            current.sweeps[key] = touched.sweeps[key] = sweep
