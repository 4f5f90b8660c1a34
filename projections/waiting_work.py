"""How much work each user has waiting or running, followed from the event log, and the quota
command handlers ask before they accept more (BACKEND_MAX_QUEUED_PER_USER).

A standalone backtest counts one until it ends; a sweep counts every trial it will run until
that trial ends (its trials' jobs are not counted again). Every replica follows the shared log,
so each knows every user's work, up to its lag behind the log: the bound is exact once the
log is read, and may be passed by the submits in flight at one moment (at most one batch).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from commands.errors import QuotaExceeded
from commands.store import StoredEvent
from domain.backtest_job import BacktestJob
from domain.errors import DomainError, InvalidValue
from domain.sweep import Sweep, plan_sweep

_JOB_ENDED = (BacktestJob.Completed, BacktestJob.Failed, BacktestJob.Cancelled)


class WaitingWork:
    """A subscriber (kept in memory, read from position 0 at each start) and the quota port."""

    name = "waiting-work"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._position = 0
        self._waiting: Counter[str] = Counter()
        self._submitter: dict[UUID, str] = {}  # standalone jobs, ended ones too (for retries)
        self._open_jobs: set[UUID] = set()
        self._sweeps: dict[UUID, tuple[str, int]] = {}  # open sweep -> (user, trials left)

    def position(self) -> int:
        return self._position

    def waiting(self, user: str) -> int:
        """The backtests and sweep trials of `user` that have not ended."""
        with self._lock:
            return self._waiting[user]

    def admit(self, user: str, cost: int) -> None:
        """Raise QuotaExceeded unless `user` may add `cost` more (a limit of 0: no bound)."""
        if self.limit <= 0:
            return
        if cost > self.limit:  # never fits: no use trying again later
            raise InvalidValue(
                "max_trials",
                f"this asks for {cost} backtests at once; at most {self.limit} of a user's may "
                f"wait or run (BACKEND_MAX_QUEUED_PER_USER): ask for fewer trials",
            )
        waiting = self.waiting(user)
        if waiting + cost > self.limit:
            raise QuotaExceeded(user, waiting, cost, self.limit)

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        with self._lock:
            for stored in events:
                self._apply(stored.event)
            if events:
                self._position = events[-1].position

    def _apply(self, event: Any) -> None:
        if isinstance(event, BacktestJob.Event):
            self._job(event)
        elif isinstance(event, Sweep.Event):
            self._sweep(event)

    def _job(self, event: BacktestJob.Event) -> None:
        job_id = event.originator_id
        if isinstance(event, BacktestJob.Submitted):
            if event.sweep_id is None:  # a trial counts with its sweep
                self._submitter[job_id] = event.submitted_by
                self._open(job_id)
        elif isinstance(event, BacktestJob.RetryRequested):
            self._open(job_id)
        elif isinstance(event, _JOB_ENDED) and job_id in self._open_jobs:
            self._open_jobs.discard(job_id)
            self._waiting[self._submitter[job_id]] -= 1

    def _open(self, job_id: UUID) -> None:
        user = self._submitter.get(job_id)
        if user is not None and job_id not in self._open_jobs:
            self._open_jobs.add(job_id)
            self._waiting[user] += 1

    def _sweep(self, event: Sweep.Event) -> None:
        sweep_id = event.originator_id
        if isinstance(event, Sweep.Created):
            total = _planned_trials(event)
            self._sweeps[sweep_id] = (event.submitted_by, total)
            self._waiting[event.submitted_by] += total
            return
        if sweep_id not in self._sweeps:
            return
        user, left = self._sweeps[sweep_id]
        if isinstance(event, Sweep.TrialFinished) and left > 0:
            self._sweeps[sweep_id] = (user, left - 1)
            self._waiting[user] -= 1
        elif isinstance(event, Sweep.Completed | Sweep.Failed | Sweep.Cancelled):
            del self._sweeps[sweep_id]  # a cancelled sweep's running trials end soon after
            self._waiting[user] -= left


def _planned_trials(event: Sweep.Created) -> int:
    try:
        _, total = plan_sweep(
            event.strategy, event.strategy_version, dict(event.space), list(event.declared),
            event.method, event.max_trials, event.objective, event.direction,
        )  # fmt: skip
    except DomainError:  # a sweep stored under older rules: at most its max_trials
        return event.max_trials
    return total
