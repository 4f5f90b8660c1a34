"""The BacktestJob aggregate: one requested backtest, from submission to a final state."""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import IllegalTransition, InvalidValue
from domain.market import check_exchange, check_pair, check_timeframe, parse_timerange


class JobStatus(StrEnum):
    """Where a job is in its life; the last three are final."""

    SUBMITTED = "submitted"
    QUEUED = "queued"  # waiting again after a lost attempt
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Priority(StrEnum):
    """How urgently a waiting job wants a worker (for fair dispatch)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
WAITING_STATUSES = frozenset({JobStatus.SUBMITTED, JobStatus.QUEUED})

# A result summary is a flat mapping of metric name to number (or None when freqtrade has none).
ResultSummary = dict[str, float | int | None]
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class BacktestJob(Aggregate):
    """A backtest of one registered strategy version over given pairs, timeframe and range."""

    class Submitted(Aggregate.Created):
        """A researcher asked for a backtest; it waits for a worker."""

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
        submitted_by: str
        parameters: dict[str, Any]
        priority: str
        sweep_id: UUID | None
        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Jobs submitted before version 2 ran with the strategy's defaults, at normal
            priority, outside any sweep."""
            state["parameters"] = {}
            state["priority"] = Priority.NORMAL.value
            state["sweep_id"] = None

    class Dispatched(Aggregate.Event):
        """The job was sent to a queue of remote workers, as message `message_id`, for run
        `attempt`; later attempts of one dispatch come from the queue delivering it again."""

        attempt: int
        message_id: str

        def apply(self, job: BacktestJob) -> None:
            job.undispatched = False

    class RetryRequested(Aggregate.Event):
        """Someone asked to run a failed job again: it waits for its next attempt."""

        requested_by: str

        def apply(self, job: BacktestJob) -> None:
            job.status = JobStatus.QUEUED
            job.error = None
            job.finished_at = None
            job.cancel_requested_by = None
            job.undispatched = True
            job.progress_phase = None
            job.progress_fraction = 0.0

    class Started(Aggregate.Event):
        """A worker claimed the job for run `attempt`; it holds it until `lease_expires_at`.
        A remote worker's claim also records `claim_sha256`, the SHA-256 (hex) of the secret
        the claim handed out: only reports that carry that secret speak for the attempt. Empty
        for the local executor's own runs (and for attempts started before version 2)."""

        attempt: int
        worker: str
        lease_expires_at: datetime
        claim_sha256: str
        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Attempts started before version 2 recorded no claim secret."""
            state["claim_sha256"] = ""

        def apply(self, job: BacktestJob) -> None:
            job.status = JobStatus.RUNNING
            job.attempt = self.attempt
            job.worker = self.worker
            job.lease_expires_at = self.lease_expires_at
            job.claim_sha256s[self.attempt] = self.claim_sha256
            job.started_at = self.timestamp
            job.progress_phase = None
            job.progress_fraction = 0.0

    class LeaseRenewed(Aggregate.Event):
        """The worker is alive and keeps the job until `expires_at`."""

        expires_at: datetime

        def apply(self, job: BacktestJob) -> None:
            job.lease_expires_at = self.expires_at

    class Requeued(Aggregate.Event):
        """The running attempt was lost (worker died, lease ran out); the job waits again."""

        reason: str

        def apply(self, job: BacktestJob) -> None:
            job.status = JobStatus.QUEUED
            job.worker = None
            job.lease_expires_at = None
            job.error = self.reason
            job.progress_phase = None
            job.progress_fraction = 0.0

    class ProgressReported(Aggregate.Event):
        """The running attempt reached `fraction` (0..1) of its current `phase`."""

        phase: str
        fraction: float

        def apply(self, job: BacktestJob) -> None:
            job.progress_phase = self.phase
            job.progress_fraction = self.fraction

    class Completed(Aggregate.Event):
        """The run produced a result: headline metrics and where its artifacts are kept."""

        summary: dict[str, float | int | None]
        artifacts: dict[str, str]

        def apply(self, job: BacktestJob) -> None:
            job.status = JobStatus.COMPLETED
            job.summary = dict(self.summary)
            job.artifacts = dict(self.artifacts)
            job.error = None
            job.lease_expires_at = None
            job.progress_fraction = 1.0
            job.finished_at = self.timestamp

    class Failed(Aggregate.Event):
        """The job ended without a result; `reason` says why in words a person can act on."""

        reason: str

        def apply(self, job: BacktestJob) -> None:
            job.status = JobStatus.FAILED
            job.error = self.reason
            job.finished_at = self.timestamp
            job.lease_expires_at = None

    class CancelRequested(Aggregate.Event):
        """Someone asked to stop the job; a running worker stops and confirms with Cancelled."""

        requested_by: str

        def apply(self, job: BacktestJob) -> None:
            job.cancel_requested_by = self.requested_by

    class Cancelled(Aggregate.Event):
        """The job was stopped before it finished."""

        reason: str

        def apply(self, job: BacktestJob) -> None:
            job.status = JobStatus.CANCELLED
            job.error = self.reason
            job.finished_at = self.timestamp
            job.lease_expires_at = None

    @event(Submitted)
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
        submitted_by: str,
        parameters: dict[str, Any],
        priority: str,
        sweep_id: UUID | None,
    ) -> None:
        check_submission(
            pairs,
            timeframe,
            timerange,
            exchange,
            stake_amount,
            max_open_trades,
            starting_balance,
            fee,
            priority,
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
        self.submitted_by = submitted_by
        self.parameters = dict(parameters)
        self.priority = Priority(priority)
        self.sweep_id = sweep_id
        self.status = JobStatus.SUBMITTED
        self.attempt = 0
        self.worker: str | None = None
        self.progress_phase: str | None = None
        self.progress_fraction = 0.0
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.error: str | None = None
        self.summary: ResultSummary | None = None
        self.artifacts: dict[str, str] = {}
        self.lease_expires_at: datetime | None = None
        self.cancel_requested_by: str | None = None
        self.claim_sha256s: dict[int, str] = {}  # attempt -> its claim secret's SHA-256 ("": none)
        self.undispatched = True  # no queue message was sent since submission (or retry)

    @property
    def is_final(self) -> bool:
        """True once the job completed, failed or was cancelled; nothing changes it after."""
        return self.status in FINAL_STATUSES

    @property
    def needs_dispatch(self) -> bool:
        """True when the job waits to run and no queue message was sent for it since it was
        submitted or retried (a lost attempt runs again from the same message)."""
        return (
            self.status in WAITING_STATUSES
            and self.cancel_requested_by is None
            and self.undispatched
        )

    def dispatch(self, message_id: str) -> None:
        """Record that the job was sent to the remote workers' queue. It is recorded after the
        send, so a worker may have claimed the job from that message already: the record then
        names the attempt it started."""
        if self.is_final or not self.undispatched:
            raise IllegalTransition("backtest job", self._state_name(), "dispatch")
        if not message_id:
            raise InvalidValue("message_id", "a dispatch needs the queue's message id")
        attempt = self.attempt + 1 if self.status in WAITING_STATUSES else self.attempt
        self.trigger_event(self.Dispatched, attempt=attempt, message_id=message_id)

    def retry(self, requested_by: str) -> None:
        """Run a failed job again, as its next attempt."""
        if self.status is not JobStatus.FAILED:
            raise IllegalTransition("backtest job", self._state_name(), "retry")
        self.trigger_event(self.RetryRequested, requested_by=requested_by)

    def start(
        self, attempt: int, worker: str, lease_expires_at: datetime, claim_sha256: str = ""
    ) -> None:
        """A worker claims the job for run `attempt` (the next attempt number); a remote
        worker's claim names the SHA-256 of the secret its reports will carry."""
        if self.status not in WAITING_STATUSES or self.cancel_requested_by is not None:
            raise IllegalTransition("backtest job", self._state_name(), "start")
        if attempt != self.attempt + 1:
            raise InvalidValue("attempt", f"expected attempt {self.attempt + 1}, got {attempt}")
        if not worker:
            raise InvalidValue("worker", "a worker name is required")
        if claim_sha256 and not _SHA256_HEX.fullmatch(claim_sha256):
            raise InvalidValue("claim_sha256", "a SHA-256 digest in 64 lowercase hex digits")
        self.trigger_event(
            self.Started,
            attempt=attempt,
            worker=worker,
            lease_expires_at=lease_expires_at,
            claim_sha256=claim_sha256,
        )

    def claimed_with(self, attempt: int, secret_sha256: str) -> bool:
        """True when `attempt` was claimed with a secret whose SHA-256 is `secret_sha256`
        (compared in constant time). An attempt without a recorded secret matches nothing."""
        recorded = self.claim_sha256s.get(attempt, "")
        return bool(recorded) and hmac.compare_digest(recorded, secret_sha256)

    def renew_lease(self, attempt: int, expires_at: datetime) -> None:
        """The worker running `attempt` is alive; extend its hold on the job."""
        self._check_running_attempt(attempt, "renew the lease")
        self.trigger_event(self.LeaseRenewed, expires_at=expires_at)

    def requeue(self, attempt: int, reason: str) -> None:
        """The running `attempt` was lost; the job waits for the next attempt."""
        self._check_running_attempt(attempt, "requeue")
        if not reason:
            raise InvalidValue("reason", "a requeue needs a reason")
        self.trigger_event(self.Requeued, reason=reason)

    def lease_expired(self, now: datetime) -> bool:
        """True when the job is running and its worker stopped renewing before `now`."""
        return (
            self.status is JobStatus.RUNNING
            and self.lease_expires_at is not None
            and self.lease_expires_at < now
        )

    def _check_running_attempt(self, attempt: int, action: str) -> None:
        if self.status is not JobStatus.RUNNING:
            raise IllegalTransition("backtest job", self._state_name(), action)
        if attempt != self.attempt:
            raise IllegalTransition(
                "backtest job", f"on attempt {self.attempt}", f"{action} for attempt {attempt}"
            )

    def report_progress(self, phase: str, fraction: float) -> None:
        """The running attempt reports how far it got."""
        if self.status is not JobStatus.RUNNING:
            raise IllegalTransition("backtest job", self._state_name(), "report progress")
        if not 0.0 <= fraction <= 1.0:
            raise InvalidValue("fraction", f"must be between 0 and 1, got {fraction}")
        if not phase:
            raise InvalidValue("phase", "a phase name is required")
        self.trigger_event(self.ProgressReported, phase=phase, fraction=fraction)

    def complete(self, summary: ResultSummary, artifacts: dict[str, str] | None = None) -> None:
        """The running attempt produced a result."""
        if self.status is not JobStatus.RUNNING:
            raise IllegalTransition("backtest job", self._state_name(), "complete")
        self.trigger_event(self.Completed, summary=dict(summary), artifacts=dict(artifacts or {}))

    def fail(self, reason: str) -> None:
        """The job cannot produce a result; allowed from any state that is not final."""
        if self.is_final:
            raise IllegalTransition("backtest job", self._state_name(), "fail")
        if not reason:
            raise InvalidValue("reason", "a failure needs a reason")
        self.trigger_event(self.Failed, reason=reason)

    def request_cancel(self, requested_by: str) -> bool:
        """Ask the job to stop; returns False when a cancel was already requested (no new event)."""
        if self.is_final:
            raise IllegalTransition("backtest job", self._state_name(), "cancel")
        if self.cancel_requested_by is not None:
            return False
        self.trigger_event(self.CancelRequested, requested_by=requested_by)
        return True

    def cancel(self, reason: str) -> None:
        """Stop the job: at once when no worker has it, or when its worker confirms a request."""
        if self.is_final:
            raise IllegalTransition("backtest job", self._state_name(), "cancel")
        if self.status is JobStatus.RUNNING and self.cancel_requested_by is None:  # worker first
            raise IllegalTransition("backtest job", "running without a cancel request", "cancel")
        self.trigger_event(self.Cancelled, reason=reason)

    def _state_name(self) -> str:
        if self.cancel_requested_by is not None and not self.is_final:
            return f"{self.status.value} (cancel requested)"
        return self.status.value


def _check_positive(field: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise InvalidValue(field, f"must be greater than 0, got {value}")


def check_submission(
    pairs: tuple[str, ...],
    timeframe: str,
    timerange: str,
    exchange: str,
    stake_amount: float | None,
    max_open_trades: int | None,
    starting_balance: float | None,
    fee: float | None,
    priority: str = Priority.NORMAL.value,
) -> None:
    """Refuse values freqtrade could not run, naming the field (InvalidValue)."""
    if not pairs:
        raise InvalidValue("pairs", "at least one pair is required")
    if len(set(pairs)) != len(pairs):
        raise InvalidValue("pairs", "a pair is listed twice")
    for index, pair in enumerate(pairs):
        check_pair(pair, f"pairs[{index}]")
    quotes = sorted({pair.split("/")[1].split(":")[0] for pair in pairs})
    if len(quotes) > 1:
        raise InvalidValue(
            "pairs", f"all pairs must share one quote (stake) currency, not {', '.join(quotes)}"
        )
    check_timeframe(timeframe)
    parse_timerange(timerange)
    check_exchange(exchange)
    _check_positive("stake_amount", stake_amount)
    _check_positive("max_open_trades", max_open_trades)
    _check_positive("starting_balance", starting_balance)
    if fee is not None and not 0.0 <= fee < 0.1:
        raise InvalidValue("fee", f"a fee is a ratio between 0 and 0.1, got {fee}")
    if priority not in Priority.__members__.values():
        raise InvalidValue("priority", f"{priority!r}: one of low, normal, high")
