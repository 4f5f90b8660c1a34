"""Handlers of sweep commands: submit, ask trials, record a trial's end, cancel.

A trial is an ordinary backtest job, made by the same code as a submit, and saved in one commit
with the sweep's TrialAsked: a crash keeps both or neither, so a restart repeats no trial and
loses none. Everything a handler decides is read back from the event log.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Protocol
from uuid import UUID

from commands.backtests import BacktestCommands, check_submitter
from commands.errors import ConcurrencyConflict, NotFound, UnknownReference
from commands.idempotency import Outcome, Remember, run_idempotent
from commands.messages import CancelSweep, SubmitBacktest, SubmitSweep
from commands.quotas import NoQuota, WaitingWorkQuota
from commands.store import EventStore
from commands.sweep_views import SweepView, sweep_view
from domain.backtest_job import WAITING_STATUSES, BacktestJob, JobStatus
from domain.errors import DomainError, InvalidValue
from domain.sweep import Sweep, Trial, TrialStatus
from domain.sweep_settings import Method

log = logging.getLogger(__name__)
_RETRIES = 8


class TrialSampler(Protocol):
    """Chooses the parameters of a sweep's next trial from what the sweep recorded."""

    def suggest(self, sweep: Sweep, number: int) -> dict[str, Any]:
        """The parameter values of trial `number` (the sweep's next), derived only from the
        sweep's own events, so the same log gives the same answer after a restart."""


class SpaceSampler:
    """Grid and random trials: a pure function of the space, the seed and the trial number."""

    def suggest(self, sweep: Sweep, number: int) -> dict[str, Any]:
        return sweep.suggest(number)


class SweepCommands:
    """Command handlers for Sweep aggregates and the backtest jobs of their trials."""

    def __init__(
        self,
        store: EventStore,
        backtests: BacktestCommands | None = None,
        tpe: TrialSampler | None = None,
        quota: WaitingWorkQuota | None = None,
    ) -> None:
        self.store = store
        self.quota: WaitingWorkQuota = quota or NoQuota()
        self.backtests = backtests or BacktestCommands(store)
        self.samplers: dict[Method, TrialSampler] = {
            Method.GRID: SpaceSampler(),
            Method.RANDOM: SpaceSampler(),
        }
        if tpe is not None:
            self.samplers[Method.TPE] = tpe

    def submit_sweep(
        self, command: SubmitSweep, actor: str, idempotency_key: str | None = None
    ) -> tuple[SweepView, Outcome]:
        """Create a sweep over a registered version's declared parameters; the coordinator
        then asks its trials."""

        def execute(remember: Remember[SweepView]) -> tuple[SweepView, int]:
            if command.method == Method.TPE and Method.TPE not in self.samplers:
                raise InvalidValue("method", "tpe is not available on this service")
            version = self.backtests.strategy_version(command.strategy, command.strategy_version)
            seed = secrets.randbelow(2**31) if command.seed is None else command.seed
            c = command
            sweep = Sweep(
                strategy=version.name, strategy_version=version.number,
                code_sha256=version.code_sha256, pairs=c.pairs, timeframe=c.timeframe,
                timerange=c.timerange, exchange=c.exchange, stake_amount=c.stake_amount,
                max_open_trades=c.max_open_trades, starting_balance=c.starting_balance,
                fee=c.fee, space=dict(c.space),
                declared=[spec.as_dict() for spec in version.declared], method=c.method,
                max_trials=c.max_trials, objective=c.objective, direction=c.direction,
                seed=seed, submitted_by=actor, priority=c.priority,
            )  # fmt: skip
            self.quota.admit(actor, sweep.total)  # every trial it will run counts
            view = sweep_view(sweep)
            return view, self.store.commit(sweep, remember(view))

        return run_idempotent(self.store, actor, idempotency_key, command, SweepView, execute)

    def ask_trials(self, sweep_id: UUID, in_flight: int) -> list[UUID]:
        """Submit trials until `in_flight` of the sweep's trials wait or run (or all its trials
        were asked); return the new jobs' ids. Safe to call again: it counts from the log."""
        asked: list[UUID] = []
        sweep = self.sweep(sweep_id)
        conflicts = 0
        while sweep.wants_trials(in_flight):
            number = sweep.asked
            sampler = self.samplers.get(sweep.method)
            try:
                if sampler is None:
                    raise InvalidValue("method", f"{sweep.method.value} is not available here")
                parameters = sampler.suggest(sweep, number)
                trial = trial_command(sweep, parameters)
                job = self.backtests.new_job(trial, sweep.submitted_by, sweep.id)
                sweep.ask_trial(number, parameters, job.id)
            except (DomainError, UnknownReference) as error:
                # The same log gives the same refusal on every try: waiting would not help.
                log.warning("sweep %s: trial %s cannot be submitted: %s", sweep_id, number, error)
                sweep = self.sweep(sweep_id)
                if not sweep.is_final:
                    sweep.fail(f"trial {number} could not be submitted: {error}")
                    self.store.commit(sweep)
                return asked
            try:
                self.store.commit(job, sweep)
            except ConcurrencyConflict:
                conflicts += 1
                if conflicts > _RETRIES:
                    raise
                sweep = self.sweep(sweep_id)
                continue
            asked.append(job.id)
        return asked

    def record_trial_end(self, job_id: UUID) -> UUID | None:
        """Record how the trial run by backtest `job_id` ended, completing the sweep after its
        last trial; the sweep's id, or None when the job is no sweep's finished trial or its
        end was recorded already (so a second call does nothing)."""
        job = self._job(job_id)
        if job is None or job.sweep_id is None or not job.is_final:
            return None
        for _ in range(_RETRIES):
            sweep = self.sweep(job.sweep_id)
            objective = None
            if job.status is JobStatus.COMPLETED and job.summary:
                value = job.summary.get(sweep.objective)
                objective = None if value is None else float(value)
            if not sweep.finish_trial(job.id, job.status.value, objective):
                return None
            try:
                self.store.commit(sweep)
            except ConcurrencyConflict:
                continue
            return sweep.id
        raise ConcurrencyConflict(f"sweep {job.sweep_id} kept changing; try again")

    def cancel_sweep(
        self,
        command: CancelSweep,
        actor: str,
        idempotency_key: str | None = None,
        *,
        admin: bool = False,
    ) -> tuple[SweepView, Outcome]:
        """Stop the sweep and cancel its trials' backtests that have not ended (a waiting one
        at once, a running one when its worker stops); finished trials are kept."""

        def execute(remember: Remember[SweepView]) -> tuple[SweepView, int]:
            for attempt in range(_RETRIES):
                sweep = self.sweep(command.sweep_id)
                check_submitter("sweep", sweep.id, sweep.submitted_by, actor, admin)
                sweep.cancel(requested_by=actor)
                jobs = [self._cancel_trial(sweep, t.job_id, actor) for t in pending(sweep)]
                view = sweep_view(sweep)
                try:
                    return view, self.store.commit(sweep, *jobs, remember(view))
                except ConcurrencyConflict:  # a trial started or ended meanwhile
                    if attempt == _RETRIES - 1:
                        raise
            raise AssertionError("unreachable")

        return run_idempotent(self.store, actor, idempotency_key, command, SweepView, execute)

    def _cancel_trial(self, sweep: Sweep, job_id: UUID, actor: str) -> BacktestJob | None:
        job = self._job(job_id)
        if job is None or job.is_final:
            return None  # its end reaches the sweep through the coordinator
        job.request_cancel(requested_by=actor)
        if job.status in WAITING_STATUSES:
            job.cancel(reason=f"cancelled by {actor} with sweep {sweep.id} before it started")
            sweep.finish_trial(job.id, JobStatus.CANCELLED.value, None)
        return job

    def sweep(self, sweep_id: UUID) -> Sweep:
        """Load a sweep or raise NotFound."""
        sweep = self.store.load(sweep_id, "sweep")
        if not isinstance(sweep, Sweep):
            raise NotFound("sweep", str(sweep_id))
        return sweep

    def sweep_of(self, job_id: UUID) -> UUID | None:
        """The sweep whose trial backtest `job_id` is (None: none, or no such job)."""
        job = self._job(job_id, read_only=True)
        return None if job is None else job.sweep_id

    def _job(self, job_id: UUID, *, read_only: bool = False) -> BacktestJob | None:
        if not self.store.exists(job_id):
            return None
        job = self.store.load(job_id, "backtest job", read_only=read_only)
        return job if isinstance(job, BacktestJob) else None


def pending(sweep: Sweep) -> list[Trial]:
    """The trials whose backtest has not ended."""
    return [t for t in sweep.trials if t.status is TrialStatus.PENDING]


def trial_command(sweep: Sweep, parameters: dict[str, Any]) -> SubmitBacktest:
    """The submit of one trial: the sweep's settings with the trial's parameter values."""
    return SubmitBacktest(
        strategy=sweep.strategy,
        strategy_version=sweep.strategy_version,
        pairs=sweep.pairs,
        timeframe=sweep.timeframe,
        timerange=sweep.timerange,
        exchange=sweep.exchange,
        stake_amount=sweep.stake_amount,
        max_open_trades=sweep.max_open_trades,
        starting_balance=sweep.starting_balance,
        fee=sweep.fee,
        parameters=parameters,
        priority=sweep.priority,
    )
