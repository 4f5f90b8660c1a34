"""The `sqs` executor's commands on an in-memory store with a hand-moved clock: dispatches,
claims, idempotent reports per (job, attempt), dead letters, retries, and the queue dispatcher
against a queue kept in a list."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.memory_read_store import InMemoryReadStore
from commands.backtests import BacktestCommands
from commands.execution import ExecutionCommands
from commands.messages import CancelBacktest, RetryBacktest
from commands.remote_execution import Claim, NotTheClaim, RemoteExecution, Report, Settlement
from commands.store import EventStore
from commands.strategies import StrategyCommands
from commands.views import BacktestJobView, job_view
from domain.backtest_job import BacktestJob, JobStatus
from domain.errors import IllegalTransition
from projections.backtest_jobs import project_job
from projections.execution_ports import JobMessage, QueueMessage
from projections.queue_executor import QueueExecutor
from tests.factories import register, submit

LEASE = 30.0
SUMMARY: dict[str, float | int | None] = {"total_trades": 4, "profit_total": 0.1}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeQueue:
    """A JobQueue kept in memory: what was sent, deleted and hidden."""

    def __init__(self, waiting: list[QueueMessage] | None = None) -> None:
        self.sent: list[tuple[str, JobMessage]] = []
        self.waiting = list(waiting or [])
        self.deleted: list[str] = []
        self.hidden: list[tuple[str, int]] = []

    def send(self, message: JobMessage) -> str:
        message_id = f"m-{len(self.sent) + 1}"
        self.sent.append((message_id, message))
        return message_id

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        taken, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        return taken

    def delete(self, receipt: str) -> None:
        self.deleted.append(receipt)

    def hide(self, receipt: str, seconds: int) -> None:
        self.hidden.append((receipt, seconds))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def execution(store: EventStore, clock: Clock) -> ExecutionCommands:
    return ExecutionCommands(store, clock)


@pytest.fixture
def remote(execution: ExecutionCommands) -> RemoteExecution:
    return RemoteExecution(execution)


@pytest.fixture
def new_job(strategies: StrategyCommands, backtests: BacktestCommands) -> Callable[[], UUID]:
    strategies.register_strategy_version(register(), "alice")

    def new() -> UUID:
        return backtests.submit_backtest(submit(), "alice")[0].id

    return new


@pytest.fixture
def job_id(new_job: Callable[[], UUID]) -> UUID:
    return new_job()


def job(execution: ExecutionCommands, job_id: UUID) -> BacktestJob:
    loaded = execution.load(job_id)
    assert loaded is not None
    return loaded


def names(store: EventStore, job_id: UUID) -> list[str]:
    return [type(e).__name__ for e in store.aggregate_events(job_id)]


def events_of(store: EventStore, job_id: UUID, kind: type[object]) -> list[object]:
    return [e for e in store.aggregate_events(job_id) if isinstance(e, kind)]


# The secret each claim handed out, by (job, attempt): the worker's side of a claim.
CLAIM_SECRETS: dict[tuple[UUID, int], str] = {}


def key(job_id: UUID, attempt: int) -> str:
    """The secret of the claim of `attempt` (one no claim handed out when there was none)."""
    return CLAIM_SECRETS.get((job_id, attempt), "never-handed-out")


def claimed(remote: RemoteExecution, job_id: UUID, worker: str = "w1") -> BacktestJob:
    claim = remote.claim(job_id, worker, LEASE)
    assert claim.job is not None, claim
    assert len(claim.secret) >= 43  # 256 bits, base64url
    CLAIM_SECRETS[(job_id, claim.job.attempt)] = claim.secret
    return claim.job


def failed_job(remote: RemoteExecution, job_id: UUID) -> None:
    attempt = claimed(remote, job_id).attempt
    assert (
        remote.settle(job_id, attempt, key(job_id, attempt), Settlement.FAILED, reason="1 / 0")
        is Report.ACCEPTED
    )


# --- dispatch ---------------------------------------------------------------------------------


def test_a_submitted_job_is_dispatched_once(
    store: EventStore, remote: RemoteExecution, execution: ExecutionCommands, job_id: UUID
) -> None:
    assert job(execution, job_id).needs_dispatch
    assert remote.dispatched(job_id, "m-1")
    assert not job(execution, job_id).needs_dispatch
    assert not remote.dispatched(job_id, "m-2")
    dispatches = events_of(store, job_id, BacktestJob.Dispatched)
    assert len(dispatches) == 1
    assert isinstance(dispatches[0], BacktestJob.Dispatched)
    assert (dispatches[0].message_id, dispatches[0].attempt) == ("m-1", 1)


def test_a_retried_job_needs_a_dispatch_again(
    store: EventStore,
    remote: RemoteExecution,
    execution: ExecutionCommands,
    backtests: BacktestCommands,
    job_id: UUID,
) -> None:
    assert remote.dispatched(job_id, "m-1")
    failed_job(remote, job_id)
    assert not job(execution, job_id).needs_dispatch  # a failed job waits for nothing
    backtests.retry_backtest(RetryBacktest(job_id=job_id), "bob", admin=True)
    assert job(execution, job_id).needs_dispatch
    assert remote.dispatched(job_id, "m-2")
    last = events_of(store, job_id, BacktestJob.Dispatched)[-1]
    assert isinstance(last, BacktestJob.Dispatched)
    assert (last.message_id, last.attempt) == ("m-2", 2)


def test_a_lost_attempt_runs_again_from_the_same_message(
    store: EventStore, remote: RemoteExecution, execution: ExecutionCommands, job_id: UUID
) -> None:
    assert remote.dispatched(job_id, "m-1")
    claimed(remote, job_id)
    assert (
        remote.settle(job_id, 1, key(job_id, 1), Settlement.LOST, reason="killed")
        is Report.ACCEPTED
    )
    requeued = job(execution, job_id)
    assert requeued.status is JobStatus.QUEUED
    assert not requeued.needs_dispatch
    assert not remote.dispatched(job_id, "m-2")
    assert len(events_of(store, job_id, BacktestJob.Dispatched)) == 1


def test_a_job_with_a_cancel_request_needs_no_dispatch(
    remote: RemoteExecution, execution: ExecutionCommands, job_id: UUID
) -> None:
    claimed(remote, job_id)
    loaded = job(execution, job_id)
    loaded.request_cancel("bob")
    execution.store.commit(loaded)
    assert (
        remote.settle(job_id, 1, key(job_id, 1), Settlement.LOST, reason="killed")
        is Report.ACCEPTED
    )
    assert job(execution, job_id).status is JobStatus.CANCELLED
    assert not job(execution, job_id).needs_dispatch


# --- claim ------------------------------------------------------------------------------------


def test_a_waiting_job_is_claimed_as_attempt_1(
    remote: RemoteExecution, clock: Clock, job_id: UUID
) -> None:
    started = claimed(remote, job_id, "w1")
    assert (started.status, started.attempt, started.worker) == (JobStatus.RUNNING, 1, "w1")
    assert started.lease_expires_at == clock.now + timedelta(seconds=LEASE)


def test_a_second_claim_during_a_live_lease_waits_and_changes_nothing(
    store: EventStore, remote: RemoteExecution, clock: Clock, job_id: UUID
) -> None:
    claimed(remote, job_id, "w1")
    before = names(store, job_id)
    clock.advance(10)
    claim = remote.claim(job_id, "w2", LEASE)
    assert claim.job is None and not claim.settled
    assert claim.retry_after == pytest.approx(LEASE - 10 + 1)
    assert names(store, job_id) == before


def test_a_claim_after_the_lease_ran_out_settles_the_attempt_and_starts_the_next_at_once(
    store: EventStore,
    remote: RemoteExecution,
    execution: ExecutionCommands,
    clock: Clock,
    job_id: UUID,
) -> None:
    claimed(remote, job_id, "w1")
    commits: list[int] = []
    store.on_commit(commits.append)
    clock.advance(LEASE + 1)
    second = claimed(remote, job_id, "w2")
    assert (second.attempt, second.worker, second.status) == (2, "w2", JobStatus.RUNNING)
    assert names(store, job_id)[-3:] == ["Started", "Requeued", "Started"]
    assert len(commits) == 1  # both events in one commit
    requeued = events_of(store, job_id, BacktestJob.Requeued)[0]
    assert isinstance(requeued, BacktestJob.Requeued)
    assert "attempt 1 lost" in requeued.reason and "w1" in requeued.reason
    assert job(execution, job_id).attempt == 2


def test_a_finished_or_unknown_job_answers_settled(
    store: EventStore, remote: RemoteExecution, job_id: UUID
) -> None:
    claimed(remote, job_id)
    assert (
        remote.settle(job_id, 1, key(job_id, 1), Settlement.COMPLETED, summary=SUMMARY)
        is Report.ACCEPTED
    )
    before = names(store, job_id)
    claim = remote.claim(job_id, "w2", LEASE)
    assert claim == Claim(settled=f"backtest job {job_id} is completed")
    assert names(store, job_id) == before
    unknown = uuid.uuid4()
    claim = remote.claim(unknown, "w2", LEASE)
    assert claim.job is None and claim.retry_after == 0 and "does not exist" in claim.settled
    assert not store.exists(unknown)


def test_a_lost_running_job_with_a_cancel_request_ends_cancelled_on_the_next_claim(
    store: EventStore,
    remote: RemoteExecution,
    execution: ExecutionCommands,
    backtests: BacktestCommands,
    clock: Clock,
    job_id: UUID,
) -> None:
    claimed(remote, job_id, "w1")
    view, _ = backtests.cancel_backtest(CancelBacktest(job_id=job_id), "bob", admin=True)
    assert view.status == "running" and view.cancel_requested  # a worker holds it
    clock.advance(LEASE + 1)
    claim = remote.claim(job_id, "w2", LEASE)
    assert claim.job is None and claim.retry_after == 0
    assert claim.settled == f"backtest job {job_id} is cancelled"
    cancelled = job(execution, job_id)
    assert (cancelled.status, cancelled.attempt) == (JobStatus.CANCELLED, 1)
    assert cancelled.error is not None and "bob" in cancelled.error
    assert names(store, job_id).count("Started") == 1


# --- reports ----------------------------------------------------------------------------------


def test_a_completion_is_recorded_once(
    store: EventStore, remote: RemoteExecution, execution: ExecutionCommands, job_id: UUID
) -> None:
    claimed(remote, job_id)
    artifacts = {"result": f"{job_id}/1/result.zip"}
    first = remote.settle(
        job_id, 1, key(job_id, 1), Settlement.COMPLETED, summary=SUMMARY, artifacts=artifacts
    )
    again = remote.settle(
        job_id, 1, key(job_id, 1), Settlement.COMPLETED, summary=SUMMARY, artifacts=artifacts
    )
    assert (first, again) == (Report.ACCEPTED, Report.ALREADY_RECORDED)
    assert names(store, job_id).count("Completed") == 1
    done = job(execution, job_id)
    assert (done.status, done.summary, done.artifacts) == (
        JobStatus.COMPLETED,
        SUMMARY,
        artifacts,
    )


def test_a_failure_is_recorded_once(
    store: EventStore, remote: RemoteExecution, execution: ExecutionCommands, job_id: UUID
) -> None:
    claimed(remote, job_id)
    first = remote.settle(job_id, 1, key(job_id, 1), Settlement.FAILED, reason="no data")
    again = remote.settle(job_id, 1, key(job_id, 1), Settlement.FAILED, reason="no data")
    assert (first, again) == (Report.ACCEPTED, Report.ALREADY_RECORDED)
    assert names(store, job_id).count("Failed") == 1
    assert job(execution, job_id).error == "no data"


def test_a_report_on_the_wrong_kind_of_settlement_is_not_already_recorded(
    remote: RemoteExecution, job_id: UUID
) -> None:
    claimed(remote, job_id)
    assert (
        remote.settle(job_id, 1, key(job_id, 1), Settlement.FAILED, reason="no data")
        is Report.ACCEPTED
    )
    report = remote.settle(job_id, 1, key(job_id, 1), Settlement.COMPLETED, summary=SUMMARY)
    assert report is Report.ATTEMPT_OVER


@pytest.mark.parametrize("how", list(Settlement))
def test_a_report_on_an_attempt_that_was_taken_over_is_refused(
    store: EventStore,
    remote: RemoteExecution,
    execution: ExecutionCommands,
    clock: Clock,
    job_id: UUID,
    how: Settlement,
) -> None:
    claimed(remote, job_id, "w1")
    clock.advance(LEASE + 1)
    claimed(remote, job_id, "w2")
    before = names(store, job_id)
    report = remote.settle(job_id, 1, key(job_id, 1), how, reason="late", summary=SUMMARY)
    assert report is Report.ATTEMPT_OVER
    assert names(store, job_id) == before
    running = job(execution, job_id)
    assert (running.status, running.attempt, running.worker) == (JobStatus.RUNNING, 2, "w2")


@pytest.mark.parametrize("how", [Settlement.FAILED, Settlement.LOST])
def test_a_late_report_is_not_taken_for_the_same_report_of_the_next_attempt(
    store: EventStore,
    remote: RemoteExecution,
    clock: Clock,
    job_id: UUID,
    how: Settlement,
) -> None:
    claimed(remote, job_id, "w1")
    clock.advance(LEASE + 1)
    claimed(remote, job_id, "w2")
    assert (
        remote.settle(job_id, 2, key(job_id, 2), how, reason="attempt 2 ended") is Report.ACCEPTED
    )
    before = names(store, job_id)
    assert remote.settle(job_id, 1, key(job_id, 1), how, reason="late") is Report.ATTEMPT_OVER
    assert names(store, job_id) == before


def test_lost_attempts_are_requeued_without_a_limit(
    remote: RemoteExecution, execution: ExecutionCommands, job_id: UUID
) -> None:
    for attempt in range(1, 6):
        assert claimed(remote, job_id).attempt == attempt
        assert (
            remote.settle(job_id, attempt, key(job_id, attempt), Settlement.LOST, reason="oom")
            is Report.ACCEPTED
        )
        assert remote.settle(
            job_id, attempt, key(job_id, attempt), Settlement.LOST, reason="oom"
        ) is (Report.ALREADY_RECORDED)
    queued = job(execution, job_id)
    assert (queued.status, queued.attempt) == (JobStatus.QUEUED, 5)
    assert queued.error is not None and "attempt 5 lost: oom" in queued.error
    assert claimed(remote, job_id).attempt == 6


def test_a_released_attempt_is_requeued(
    remote: RemoteExecution, execution: ExecutionCommands, job_id: UUID
) -> None:
    claimed(remote, job_id)
    assert (
        remote.settle(job_id, 1, key(job_id, 1), Settlement.RELEASED, reason="SIGTERM")
        is Report.ACCEPTED
    )
    released = job(execution, job_id)
    assert (released.status, released.worker) == (JobStatus.QUEUED, None)
    assert released.error is not None and "interrupted: SIGTERM" in released.error
    assert remote.settle(job_id, 1, key(job_id, 1), Settlement.RELEASED, reason="SIGTERM") is (
        Report.ALREADY_RECORDED
    )
    assert claimed(remote, job_id).attempt == 2


def test_a_cancel_is_confirmed_once(
    store: EventStore,
    remote: RemoteExecution,
    execution: ExecutionCommands,
    backtests: BacktestCommands,
    job_id: UUID,
) -> None:
    claimed(remote, job_id)
    backtests.cancel_backtest(CancelBacktest(job_id=job_id), "bob", admin=True)
    first = remote.settle(job_id, 1, key(job_id, 1), Settlement.CANCELLED, reason="asked to")
    again = remote.settle(job_id, 1, key(job_id, 1), Settlement.CANCELLED, reason="asked to")
    assert (first, again) == (Report.ACCEPTED, Report.ALREADY_RECORDED)
    assert job(execution, job_id).status is JobStatus.CANCELLED
    assert names(store, job_id).count("Cancelled") == 1


def test_heartbeat_and_progress_speak_only_for_the_current_attempt(
    store: EventStore,
    remote: RemoteExecution,
    backtests: BacktestCommands,
    clock: Clock,
    job_id: UUID,
) -> None:
    claimed(remote, job_id, "w1")
    clock.advance(LEASE + 1)
    claimed(remote, job_id, "w2")
    before = names(store, job_id)
    assert remote.heartbeat(job_id, 1, key(job_id, 1), LEASE) is None
    assert remote.progress(job_id, 1, key(job_id, 1), "backtest", 0.5) is None
    assert names(store, job_id) == before

    clock.advance(5)
    held = remote.heartbeat(job_id, 2, key(job_id, 2), LEASE)
    assert held is not None and held.cancel_requested_by is None
    assert held.lease_expires_at == clock.now + timedelta(seconds=LEASE)
    moved = remote.progress(job_id, 2, key(job_id, 2), "backtest", 0.5)
    assert moved is not None and (moved.progress_phase, moved.progress_fraction) == (
        "backtest",
        0.5,
    )

    backtests.cancel_backtest(CancelBacktest(job_id=job_id), "bob", admin=True)
    held = remote.heartbeat(job_id, 2, key(job_id, 2), LEASE)
    assert held is not None and held.cancel_requested_by == "bob"
    moved = remote.progress(job_id, 2, key(job_id, 2), "backtest", 0.7)
    assert moved is not None and moved.cancel_requested_by == "bob"

    assert (
        remote.settle(job_id, 2, key(job_id, 2), Settlement.CANCELLED, reason="asked to")
        is Report.ACCEPTED
    )
    assert remote.heartbeat(job_id, 2, key(job_id, 2), LEASE) is None
    assert remote.progress(job_id, 2, key(job_id, 2), "backtest", 0.9) is None


# --- claim secrets -----------------------------------------------------------------------------

REPORT_NAMES = ["heartbeat", "progress", *(how.value for how in Settlement)]


def send(
    remote: RemoteExecution, report: str, job_id: UUID, attempt: int, secret: str | None
) -> object:
    """The report named `report` on `attempt`, with an invented result."""
    if report == "heartbeat":
        return remote.heartbeat(job_id, attempt, secret, LEASE)
    if report == "progress":
        return remote.progress(job_id, attempt, secret, "backtest", 0.5)
    how = Settlement(report)
    return remote.settle(job_id, attempt, secret, how, reason="invented", summary=SUMMARY)


@pytest.mark.parametrize("report", REPORT_NAMES)
@pytest.mark.parametrize("whose", ["none", "empty", "another job's", "a guess"])
def test_a_report_without_its_claims_secret_is_refused_and_changes_nothing(
    store: EventStore,
    remote: RemoteExecution,
    execution: ExecutionCommands,
    backtests: BacktestCommands,
    new_job: Callable[[], UUID],
    report: str,
    whose: str,
) -> None:
    job_id, other = new_job(), new_job()
    claimed(remote, job_id, "w1")
    claimed(remote, other, "w2")
    backtests.cancel_backtest(CancelBacktest(job_id=job_id), "alice")  # a cancel to confirm
    secret = {"none": None, "empty": "", "another job's": key(other, 1), "a guess": "x" * 43}
    before = names(store, job_id)
    with pytest.raises(NotTheClaim, match=f"attempt 1 of backtest job {job_id}"):
        send(remote, report, job_id, 1, secret[whose])
    assert names(store, job_id) == before
    held = job(execution, job_id)
    assert (held.status, held.attempt, held.worker) == (JobStatus.RUNNING, 1, "w1")


@pytest.mark.parametrize("report", REPORT_NAMES)
def test_the_secret_of_an_earlier_attempt_speaks_for_no_later_one(
    store: EventStore,
    remote: RemoteExecution,
    clock: Clock,
    job_id: UUID,
    report: str,
) -> None:
    claimed(remote, job_id, "w1")
    clock.advance(LEASE + 1)
    claimed(remote, job_id, "w2")
    before = names(store, job_id)
    with pytest.raises(NotTheClaim):
        send(remote, report, job_id, 2, key(job_id, 1))
    with pytest.raises(NotTheClaim):  # and no claim's secret speaks for an attempt never claimed
        send(remote, report, job_id, 3, key(job_id, 2))
    assert names(store, job_id) == before


def test_each_claim_hands_out_its_own_secret_and_records_only_its_digest(
    store: EventStore, remote: RemoteExecution, clock: Clock, job_id: UUID
) -> None:
    claimed(remote, job_id, "w1")
    clock.advance(LEASE + 1)
    claimed(remote, job_id, "w2")
    first, second = key(job_id, 1), key(job_id, 2)
    assert first != second
    started = events_of(store, job_id, BacktestJob.Started)
    assert [e.claim_sha256 for e in started if isinstance(e, BacktestJob.Started)] == [
        hashlib.sha256(first.encode()).hexdigest(),
        hashlib.sha256(second.encode()).hexdigest(),
    ]
    stored = b"".join(s.state for s in store.recorder.select_events(job_id))
    assert first.encode() not in stored and second.encode() not in stored


def test_a_started_event_of_version_1_decodes_without_a_claim_and_admits_no_report(
    store: EventStore, remote: RemoteExecution, job_id: UUID
) -> None:
    started = claimed(remote, job_id).collect_events()  # nothing pending: the claim was saved
    assert started == []
    current = next(
        s for s in store.recorder.select_events(job_id) if s.topic.endswith("BacktestJob.Started")
    )
    state = msgspec.json.decode(current.state)
    assert state.pop("class_version") == 2
    del state["claim_sha256"]
    old = StoredEvent(current.originator_id, current.originator_version, current.topic,
                      msgspec.json.encode(state))  # fmt: skip
    decoded = store.mapper.to_domain_event(old)
    assert isinstance(decoded, BacktestJob.Started) and decoded.claim_sha256 == ""
    rebuilt: BacktestJob | None = None
    for stored in store.recorder.select_events(job_id):
        event = decoded if stored.topic == old.topic else store.mapper.to_domain_event(stored)
        rebuilt = event.mutate(rebuilt)  # type: ignore[arg-type]
    assert rebuilt is not None and rebuilt.status is JobStatus.RUNNING
    assert not rebuilt.claimed_with(1, "")
    assert not rebuilt.claimed_with(1, hashlib.sha256(key(job_id, 1).encode()).hexdigest())


# --- dead letters -----------------------------------------------------------------------------


def test_a_dead_letter_fails_a_queued_job(
    remote: RemoteExecution, execution: ExecutionCommands, job_id: UUID
) -> None:
    claimed(remote, job_id)
    assert (
        remote.settle(job_id, 1, key(job_id, 1), Settlement.LOST, reason="killed")
        is Report.ACCEPTED
    )
    outcome = remote.dead_letter(job_id, 3)
    assert outcome.settled and outcome.retry_after == 0
    failed = job(execution, job_id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and "dead-lettered after 3 receives" in failed.error
    assert f"/api/v1/backtests/{job_id}/retry" in failed.error


def test_a_dead_letter_waits_for_a_job_whose_worker_is_alive(
    store: EventStore,
    remote: RemoteExecution,
    execution: ExecutionCommands,
    clock: Clock,
    job_id: UUID,
) -> None:
    claimed(remote, job_id)
    before = names(store, job_id)
    clock.advance(20)
    outcome = remote.dead_letter(job_id, 3)
    assert not outcome.settled and outcome.retry_after == pytest.approx(LEASE - 20 + 1)
    assert job(execution, job_id).status is JobStatus.RUNNING
    assert names(store, job_id) == before


def test_a_dead_letter_of_a_final_job_changes_nothing(
    store: EventStore, remote: RemoteExecution, execution: ExecutionCommands, job_id: UUID
) -> None:
    claimed(remote, job_id)
    assert (
        remote.settle(job_id, 1, key(job_id, 1), Settlement.COMPLETED, summary=SUMMARY)
        is Report.ACCEPTED
    )
    before = names(store, job_id)
    outcome = remote.dead_letter(job_id, 3)
    assert outcome.settled and outcome.retry_after == 0
    assert job(execution, job_id).status is JobStatus.COMPLETED
    assert names(store, job_id) == before
    assert remote.dead_letter(uuid.uuid4(), 3).settled


def test_a_dead_letter_fails_a_running_job_whose_lease_ran_out(
    remote: RemoteExecution, execution: ExecutionCommands, clock: Clock, job_id: UUID
) -> None:
    claimed(remote, job_id)
    clock.advance(LEASE + 1)
    outcome = remote.dead_letter(job_id, 4)
    assert outcome.settled and outcome.retry_after == 0
    failed = job(execution, job_id)
    assert failed.status is JobStatus.FAILED and failed.lease_expires_at is None
    assert failed.error is not None and "dead-lettered after 4 receives" in failed.error


# --- retry ------------------------------------------------------------------------------------


def _settle_as(
    remote: RemoteExecution, backtests: BacktestCommands, job_id: UUID, state: str
) -> None:
    if state == "submitted":
        return
    claimed(remote, job_id)
    if state == "queued":
        remote.settle(job_id, 1, key(job_id, 1), Settlement.LOST, reason="killed")
    elif state == "completed":
        remote.settle(job_id, 1, key(job_id, 1), Settlement.COMPLETED, summary=SUMMARY)
    elif state == "cancelled":
        backtests.cancel_backtest(CancelBacktest(job_id=job_id), "bob", admin=True)
        remote.settle(job_id, 1, key(job_id, 1), Settlement.CANCELLED, reason="asked to")


@pytest.mark.parametrize("state", ["submitted", "running", "queued", "completed", "cancelled"])
def test_only_a_failed_job_can_be_retried(
    store: EventStore,
    remote: RemoteExecution,
    execution: ExecutionCommands,
    backtests: BacktestCommands,
    job_id: UUID,
    state: str,
) -> None:
    _settle_as(remote, backtests, job_id, state)
    assert job(execution, job_id).status.value == state
    before = names(store, job_id)
    with pytest.raises(IllegalTransition):
        backtests.retry_backtest(RetryBacktest(job_id=job_id), "bob", admin=True)
    assert names(store, job_id) == before


def test_a_retried_job_waits_again_and_its_projection_equals_the_aggregate(
    store: EventStore,
    remote: RemoteExecution,
    execution: ExecutionCommands,
    backtests: BacktestCommands,
    job_id: UUID,
) -> None:
    claimed(remote, job_id)
    assert remote.progress(job_id, 1, key(job_id, 1), "backtest", 0.4) is not None
    backtests.cancel_backtest(
        CancelBacktest(job_id=job_id), "bob", admin=True
    )  # a request, then a failure
    assert (
        remote.settle(job_id, 1, key(job_id, 1), Settlement.FAILED, reason="1 / 0")
        is Report.ACCEPTED
    )

    view, _ = backtests.retry_backtest(RetryBacktest(job_id=job_id), "carol", admin=True)
    retried = job(execution, job_id)
    assert (retried.status, retried.error, retried.finished_at) == (JobStatus.QUEUED, None, None)
    assert retried.cancel_requested_by is None and retried.progress_fraction == 0.0
    assert view == job_view(retried)

    projected: BacktestJobView | None = None
    for event in store.aggregate_events(job_id):
        projected = project_job(projected, event)
    assert projected == job_view(retried)
    assert projected is not None and projected.status == "queued" and not projected.cancel_requested

    assert claimed(remote, job_id).attempt == 2  # it runs as the next attempt


# --- the queue dispatcher ---------------------------------------------------------------------


def _executor(
    store: EventStore,
    execution: ExecutionCommands,
    queue: FakeQueue,
    dead_letters: FakeQueue | None = None,
    max_receives: int | None = 3,
) -> tuple[QueueExecutor, InMemoryReadStore]:
    positions = InMemoryReadStore()
    executor = QueueExecutor(
        store, execution, queue, positions, dead_letters=dead_letters, max_receives=max_receives
    )
    return executor, positions


def _follow(store: EventStore, executor: QueueExecutor, after: int = 0) -> None:
    executor.handle(store.read(after, 10_000), after)


def test_the_dispatcher_sends_each_job_once_even_when_it_reads_the_log_again(
    store: EventStore,
    execution: ExecutionCommands,
    remote: RemoteExecution,
    backtests: BacktestCommands,
    new_job: Callable[[], UUID],
) -> None:
    queue = FakeQueue()
    executor, _ = _executor(store, execution, queue)
    jobs = [new_job(), new_job()]
    _follow(store, executor)
    assert [(m.job_id, m.attempt) for _, m in queue.sent] == [(jobs[0], 1), (jobs[1], 1)]
    for (message_id, _), job_id in zip(queue.sent, jobs, strict=True):
        dispatched = events_of(store, job_id, BacktestJob.Dispatched)
        assert [d.message_id for d in dispatched if isinstance(d, BacktestJob.Dispatched)] == [
            message_id
        ]

    _follow(store, executor)  # a restart from an old position reads it all again
    assert len(queue.sent) == 2

    claimed(remote, jobs[0])  # a lost attempt is delivered again by the queue, not resent
    remote.settle(jobs[0], 1, key(jobs[0], 1), Settlement.LOST, reason="killed")
    failed_job(remote, jobs[1])
    backtests.retry_backtest(RetryBacktest(job_id=jobs[1]), "bob", admin=True)
    _follow(store, executor, executor.position())  # on from where it stopped
    assert [(m.job_id, m.attempt) for _, m in queue.sent[2:]] == [(jobs[1], 2)]


def test_the_dispatcher_records_its_position(
    store: EventStore, execution: ExecutionCommands, new_job: Callable[[], UUID]
) -> None:
    executor, positions = _executor(store, execution, FakeQueue())
    new_job()
    head = store.max_position()
    _follow(store, executor)
    assert executor.position() == positions.position("queue-dispatcher") == head


def test_the_dispatcher_skips_a_job_cancelled_before_it_was_read(
    store: EventStore,
    execution: ExecutionCommands,
    backtests: BacktestCommands,
    job_id: UUID,
) -> None:
    queue = FakeQueue()
    executor, _ = _executor(store, execution, queue)
    backtests.cancel_backtest(CancelBacktest(job_id=job_id), "bob", admin=True)
    _follow(store, executor)
    assert queue.sent == []
    assert events_of(store, job_id, BacktestJob.Dispatched) == []


def _letter(receipt: str, job_id: UUID | None, receives: int = 4) -> QueueMessage:
    body = None if job_id is None else JobMessage(job_id=job_id, attempt=1)
    return QueueMessage(message_id=f"id-{receipt}", receipt=receipt, job=body, receives=receives)


def test_dead_letters_fail_their_job_or_wait_for_a_live_worker(
    store: EventStore,
    execution: ExecutionCommands,
    remote: RemoteExecution,
    clock: Clock,
    new_job: Callable[[], UUID],
) -> None:
    queued, running = new_job(), new_job()
    claimed(remote, queued)
    remote.settle(queued, 1, key(queued, 1), Settlement.LOST, reason="killed")
    claimed(remote, running)
    clock.advance(10)
    letters = FakeQueue([_letter("r-1", queued), _letter("r-2", running), _letter("r-3", None)])
    executor, _ = _executor(store, execution, FakeQueue(), letters, max_receives=3)

    assert executor.settle_dead_letters(0) == 1
    failed = job(execution, queued)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and "dead-lettered after 3 receives" in failed.error
    assert job(execution, running).status is JobStatus.RUNNING
    assert sorted(letters.deleted) == ["r-1", "r-3"]  # the non-job letter is dropped too
    assert letters.hidden == [("r-2", int(LEASE - 10 + 1) + 1)]


def test_without_a_known_limit_the_receives_come_from_the_letter(
    store: EventStore, execution: ExecutionCommands, job_id: UUID
) -> None:
    letters = FakeQueue([_letter("r-1", job_id, receives=5)])
    executor, _ = _executor(store, execution, FakeQueue(), letters, max_receives=None)
    assert executor.settle_dead_letters(0) == 1
    failed = job(execution, job_id)
    assert failed.error is not None and "dead-lettered after 4 receives" in failed.error
    assert letters.deleted == ["r-1"]


def test_a_dispatch_is_recorded_when_a_worker_claimed_the_job_before_the_record(
    store: EventStore, remote: RemoteExecution, job_id: UUID
) -> None:
    # The send comes first and a fast worker's claim can land before the Dispatched record.
    claimed(remote, job_id)
    assert remote.dispatched(job_id, "m-1")
    dispatches = events_of(store, job_id, BacktestJob.Dispatched)
    assert len(dispatches) == 1
    assert isinstance(dispatches[0], BacktestJob.Dispatched)
    assert dispatches[0].attempt == 1  # the attempt that message started
    assert not remote.dispatched(job_id, "m-2")


def test_the_dispatcher_keeps_a_window_and_sends_fairly(
    store: EventStore,
    execution: ExecutionCommands,
    remote: RemoteExecution,
    strategies: StrategyCommands,
    backtests: BacktestCommands,
) -> None:
    strategies.register_strategy_version(register(), "alice")
    queue = FakeQueue()
    positions = InMemoryReadStore()
    executor = QueueExecutor(store, execution, queue, positions, window=2)

    def submit_as(who: str, **kw: object) -> UUID:
        return backtests.submit_backtest(submit(**kw), who)[0].id  # type: ignore[arg-type]

    alices = [submit_as("alice") for _ in range(5)]
    seen = store.max_position()
    _follow(store, executor)
    assert [m.job_id for _, m in queue.sent] == alices[:2]  # the window is full
    waiting_since = executor.position()
    assert waiting_since < store.max_position()  # a restart would read alice's third again

    bob = submit_as("bob")
    high = submit_as("carol", priority="high")
    claimed(remote, alices[0])  # a worker claims one: one more is sent, the fairest
    _follow(store, executor, seen)
    seen = store.max_position()
    assert [m.job_id for _, m in queue.sent][2:] == [high]
    claimed(remote, alices[1])
    claimed(remote, high)
    _follow(store, executor, seen)
    assert [m.job_id for _, m in queue.sent][3:] == [bob, alices[2]]

    # A new process (a restart) reads from the recorded position: nothing waiting is lost and
    # nothing sent is sent again.
    again = QueueExecutor(store, execution, queue, positions, window=10)
    _follow(store, again, again.position())
    assert sorted(map(str, (m.job_id for _, m in queue.sent[5:]))) == sorted(map(str, alices[3:]))
    assert len(queue.sent) == 7
