"""The Sweep aggregate: a search over a strategy version's parameters, one backtest per trial."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.backtest_job import JobStatus, check_submission
from domain.errors import IllegalTransition, InvalidValue, UnknownItem
from domain.strategy_source import ParameterSpec
from domain.sweep_settings import Direction, Method, plan_trials
from domain.sweep_space import Dimension, grid_point, parse_space, random_point


class SweepStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class TrialStatus(StrEnum):
    """A trial is pending from being asked until its backtest ends."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Trial:
    number: int
    parameters: dict[str, Any]
    job_id: UUID
    status: TrialStatus = TrialStatus.PENDING
    objective: float | None = None


@dataclass(frozen=True)
class Best:
    trial: int
    parameters: dict[str, Any]
    objective: float


class Sweep(Aggregate):
    """Trials of one strategy version over a parameter space, each run as a backtest job."""

    class Created(Aggregate.Created):
        """A researcher asked for a sweep. `declared` holds the ParameterSpec records of the
        swept parameters as the version declared them, so the space reads without the version."""

        strategy: str
        strategy_version: int
        code_sha256: str
        pairs: tuple[str, ...]
        timeframe: str
        timerange: str
        exchange: str
        stake_amount: float | None
        max_open_trades: int | None
        starting_balance: float | None
        fee: float | None
        space: dict[str, Any]
        declared: list[dict[str, Any]]
        method: str
        max_trials: int
        objective: str
        direction: str
        seed: int
        submitted_by: str
        priority: str

    class TrialAsked(Aggregate.Event):
        """Trial `number` was given `parameters` and submitted as backtest `job_id`."""

        number: int
        parameters: dict[str, Any]
        job_id: UUID

        def apply(self, sweep: Sweep) -> None:
            sweep.trials.append(Trial(self.number, dict(self.parameters), self.job_id))
            sweep.trial_of_job[self.job_id] = self.number

    class TrialFinished(Aggregate.Event):
        """Trial `number`'s backtest ended as `job_status`; `objective` is its metric (None
        when the job did not complete or its result lacks the metric)."""

        number: int
        job_status: str
        objective: float | None

        def apply(self, sweep: Sweep) -> None:
            trial = sweep.trials[self.number]
            trial.status = TrialStatus(self.job_status)
            trial.objective = self.objective
            if self.objective is not None and sweep._better(self.number, self.objective):
                sweep.best = Best(self.number, dict(trial.parameters), self.objective)

    class Completed(Aggregate.Event):
        """Every trial ended and at least one completed."""

        def apply(self, sweep: Sweep) -> None:
            sweep.status = SweepStatus.COMPLETED

    class Failed(Aggregate.Event):
        """The sweep stopped without a usable result (say, every trial failed)."""

        reason: str

        def apply(self, sweep: Sweep) -> None:
            sweep.status = SweepStatus.FAILED
            sweep.error = self.reason

    class Cancelled(Aggregate.Event):
        """Someone stopped the sweep: no trial is asked after this; finished trials stay."""

        requested_by: str

        def apply(self, sweep: Sweep) -> None:
            sweep.status = SweepStatus.CANCELLED
            sweep.cancelled_by = self.requested_by

    @event(Created)
    def __init__(
        self,
        strategy: str,
        strategy_version: int,
        code_sha256: str,
        pairs: tuple[str, ...],
        timeframe: str,
        timerange: str,
        exchange: str,
        stake_amount: float | None,
        max_open_trades: int | None,
        starting_balance: float | None,
        fee: float | None,
        space: dict[str, Any],
        declared: list[dict[str, Any]],
        method: str,
        max_trials: int,
        objective: str,
        direction: str,
        seed: int,
        submitted_by: str,
        priority: str,
    ) -> None:
        check_submission(
            pairs, timeframe, timerange, exchange,
            stake_amount, max_open_trades, starting_balance, fee, priority,
        )  # fmt: skip
        self.dimensions, self.total = plan_sweep(
            strategy, strategy_version, space, declared, method, max_trials, objective, direction
        )
        self.strategy = strategy
        self.strategy_version = strategy_version
        self.code_sha256 = code_sha256
        self.pairs = tuple(pairs)
        self.timeframe = timeframe
        self.timerange = timerange
        self.exchange = exchange
        self.stake_amount = stake_amount
        self.max_open_trades = max_open_trades
        self.starting_balance = starting_balance
        self.fee = fee
        self.space = dict(space)
        self.method = Method(method)
        self.max_trials = max_trials
        self.objective = objective
        self.direction = Direction(direction)
        self.seed = seed
        self.submitted_by = submitted_by
        self.priority = priority
        self.status = SweepStatus.RUNNING
        self.trials: list[Trial] = []  # trial n at index n
        self.trial_of_job: dict[UUID, int] = {}
        self.best: Best | None = None
        self.error: str | None = None
        self.cancelled_by: str | None = None

    # --- what the sweep knows -------------------------------------------------------------------

    @property
    def asked(self) -> int:
        return len(self.trials)

    @property
    def done(self) -> int:
        """Trials whose backtest completed."""
        return sum(t.status is TrialStatus.COMPLETED for t in self.trials)

    @property
    def failed(self) -> int:
        """Trials whose backtest failed or was cancelled."""
        return sum(t.status in (TrialStatus.FAILED, TrialStatus.CANCELLED) for t in self.trials)

    @property
    def pending(self) -> int:
        """Trials asked whose backtest has not ended (waiting or running)."""
        return sum(t.status is TrialStatus.PENDING for t in self.trials)

    @property
    def is_final(self) -> bool:
        return self.status is not SweepStatus.RUNNING

    def wants_trials(self, in_flight: int) -> int:
        """How many trials to ask now to keep at most `in_flight` pending."""
        if self.is_final:
            return 0
        return max(0, min(in_flight - self.pending, self.total - self.asked))

    def suggest(self, number: int) -> dict[str, Any]:
        """The parameters of trial `number` for the samplers that need only the space: grid
        and random (a tpe sweep asks its sampler, which learns from the finished trials)."""
        if self.method is Method.GRID:
            return grid_point(self.dimensions, number)
        if self.method is Method.RANDOM:
            return random_point(self.dimensions, self.seed, number)
        raise InvalidValue("method", f"{self.method.value} trials come from their own sampler")

    # --- what happens to it ---------------------------------------------------------------------

    def ask_trial(self, number: int, parameters: dict[str, Any], job_id: UUID) -> None:
        """Record trial `number` (the next one) as submitted as backtest `job_id`."""
        if self.is_final:
            raise IllegalTransition("sweep", self.status.value, "ask a trial")
        if number != self.asked:
            raise InvalidValue("number", f"the next trial is {self.asked}, not {number}")
        if number >= self.total:
            raise IllegalTransition("sweep", f"at its {self.total} trials", "ask another")
        if set(parameters) != {d.name for d in self.dimensions}:
            raise InvalidValue("parameters", "a trial sets exactly the swept parameters")
        for dimension in self.dimensions:
            if not dimension.contains(parameters[dimension.name]):
                raise InvalidValue(
                    f"parameters.{dimension.name}",
                    f"{parameters[dimension.name]!r} is outside the sweep's space",
                )
        self.trigger_event(self.TrialAsked, number=number, parameters=parameters, job_id=job_id)

    def finish_trial(self, job_id: UUID, job_status: str, objective: float | None) -> bool:
        """Record how the trial of backtest `job_id` ended, then complete (or fail) the sweep
        when it was the last; False when it was recorded already. A failed trial never fails
        the sweep by itself: only a sweep whose every trial failed fails."""
        number = self.trial_of_job.get(job_id)
        if number is None:
            raise UnknownItem("trial of backtest", str(job_id))
        if self.trials[number].status is not TrialStatus.PENDING:
            return False
        if job_status not in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
            raise InvalidValue("job_status", f"{job_status!r} is not a final job status")
        if job_status != JobStatus.COMPLETED or (
            objective is not None and not math.isfinite(objective)
        ):
            objective = None
        self.trigger_event(
            self.TrialFinished, number=number, job_status=job_status, objective=objective
        )
        if not self.is_final and self.asked == self.total and self.pending == 0:
            if self.done:
                self.trigger_event(self.Completed)
            else:
                self.trigger_event(self.Failed, reason=f"all {self.total} trials failed")
        return True

    def cancel(self, requested_by: str) -> None:
        """Stop asking trials; the caller cancels the pending trials' backtests."""
        if self.is_final:
            raise IllegalTransition("sweep", self.status.value, "cancel")
        self.trigger_event(self.Cancelled, requested_by=requested_by)

    def fail(self, reason: str) -> None:
        """Stop the sweep because it cannot go on (its trials cannot be submitted)."""
        if self.is_final:
            raise IllegalTransition("sweep", self.status.value, "fail")
        if not reason:
            raise InvalidValue("reason", "a failure needs a reason")
        self.trigger_event(self.Failed, reason=reason)

    def _better(self, number: int, objective: float) -> bool:
        best = self.best
        return improves(
            self.direction,
            number,
            objective,
            None if best is None else (best.trial, best.objective),
        )


def plan_sweep(
    strategy: str,
    strategy_version: int,
    space: dict[str, Any],
    declared: list[dict[str, Any]],
    method: str,
    max_trials: int,
    objective: str,
    direction: str,
) -> tuple[tuple[Dimension, ...], int]:
    """The dimensions of a sweep's space and how many trials it runs, from its Created values
    (InvalidValue naming the field when they do not make a sweep)."""
    specs = tuple(ParameterSpec.from_dict(d) for d in declared)
    owner = f"strategy {strategy} v{strategy_version}"
    dimensions = parse_space(space, specs, owner)
    return dimensions, plan_trials(dimensions, method, max_trials, objective, direction)


def improves(direction: str, number: int, objective: float, best: tuple[int, float] | None) -> bool:
    """Whether trial `number`'s `objective` beats the best so far (trial, objective): a tie
    keeps the earlier trial."""
    if best is None:
        return True
    best_trial, best_objective = best
    if objective == best_objective:
        return number < best_trial
    if direction == Direction.MAXIMIZE:
        return objective > best_objective
    return objective < best_objective
