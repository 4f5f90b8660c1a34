"""Every BacktestJob transition, legal and illegal, from every state."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.backtest_job import BacktestJob, JobStatus
from domain.errors import IllegalTransition, InvalidValue
from tests.factories import LEASE, new_job


def _submitted() -> BacktestJob:
    return new_job()


def _submitted_cancel_requested() -> BacktestJob:
    job = new_job()
    job.request_cancel("bob")
    return job


def _running() -> BacktestJob:
    job = new_job()
    job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
    return job


def _running_cancel_requested() -> BacktestJob:
    job = _running()
    job.request_cancel("bob")
    return job


def _queued() -> BacktestJob:
    job = _running()
    job.requeue(attempt=1, reason="worker w1 died")
    return job


def _completed() -> BacktestJob:
    job = _running()
    job.complete({"total_trades": 3})
    return job


def _failed() -> BacktestJob:
    job = new_job()
    job.fail("no data")
    return job


def _cancelled() -> BacktestJob:
    job = new_job()
    job.cancel("stop")
    return job


STATES: dict[str, Callable[[], BacktestJob]] = {
    "submitted": _submitted,
    "submitted+cancel": _submitted_cancel_requested,
    "running": _running,
    "running+cancel": _running_cancel_requested,
    "queued": _queued,
    "completed": _completed,
    "failed": _failed,
    "cancelled": _cancelled,
}

ACTIONS: dict[str, Callable[[BacktestJob], object]] = {
    "start": lambda j: j.start(attempt=j.attempt + 1, worker="w2", lease_expires_at=LEASE),
    "progress": lambda j: j.report_progress("backtest", 0.5),
    "complete": lambda j: j.complete({"total_trades": 1}),
    "fail": lambda j: j.fail("boom"),
    "request_cancel": lambda j: j.request_cancel("carol"),
    "cancel": lambda j: j.cancel("stopped"),
    "renew_lease": lambda j: j.renew_lease(attempt=j.attempt, expires_at=LEASE),
    "requeue": lambda j: j.requeue(attempt=j.attempt, reason="lease ran out"),
}

# (state, action) -> the status after it, or None when the state machine refuses it.
LEGAL: dict[tuple[str, str], JobStatus] = {
    ("submitted", "start"): JobStatus.RUNNING,
    ("submitted", "fail"): JobStatus.FAILED,
    ("submitted", "request_cancel"): JobStatus.SUBMITTED,
    ("submitted", "cancel"): JobStatus.CANCELLED,
    ("submitted+cancel", "fail"): JobStatus.FAILED,
    ("submitted+cancel", "request_cancel"): JobStatus.SUBMITTED,
    ("submitted+cancel", "cancel"): JobStatus.CANCELLED,
    ("running", "progress"): JobStatus.RUNNING,
    ("running", "complete"): JobStatus.COMPLETED,
    ("running", "fail"): JobStatus.FAILED,
    ("running", "request_cancel"): JobStatus.RUNNING,
    ("running+cancel", "progress"): JobStatus.RUNNING,
    ("running+cancel", "complete"): JobStatus.COMPLETED,
    ("running+cancel", "fail"): JobStatus.FAILED,
    ("running+cancel", "request_cancel"): JobStatus.RUNNING,
    ("running+cancel", "cancel"): JobStatus.CANCELLED,
    ("running", "renew_lease"): JobStatus.RUNNING,
    ("running", "requeue"): JobStatus.QUEUED,
    ("running+cancel", "renew_lease"): JobStatus.RUNNING,
    ("running+cancel", "requeue"): JobStatus.QUEUED,
    ("queued", "start"): JobStatus.RUNNING,
    ("queued", "fail"): JobStatus.FAILED,
    ("queued", "request_cancel"): JobStatus.QUEUED,
    ("queued", "cancel"): JobStatus.CANCELLED,
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("state", STATES)
def test_transition(state: str, action: str) -> None:
    job = STATES[state]()
    version_before = job.version
    expected = LEGAL.get((state, action))
    if expected is None:
        with pytest.raises(IllegalTransition):
            ACTIONS[action](job)
        assert job.version == version_before, "a refused command must not add an event"
    else:
        ACTIONS[action](job)
        assert job.status is expected


def test_a_second_cancel_request_adds_no_event() -> None:
    job = _running_cancel_requested()
    version = job.version
    assert job.request_cancel("dave") is False
    assert job.version == version
    assert job.cancel_requested_by == "bob"


def test_start_needs_the_next_attempt_number() -> None:
    job = new_job()
    with pytest.raises(InvalidValue, match="attempt"):
        job.start(attempt=2, worker="w1", lease_expires_at=LEASE)


@pytest.mark.parametrize("fraction", [-0.1, 1.01])
def test_progress_fraction_stays_within_zero_and_one(fraction: float) -> None:
    job = _running()
    with pytest.raises(InvalidValue, match="fraction"):
        job.report_progress("backtest", fraction)


def test_events_record_the_life_of_a_job() -> None:
    job = _running()
    job.report_progress("backtest", 0.25)
    job.complete({"total_trades": 7, "profit_total": 0.12})
    names = [type(e).__name__ for e in job.collect_events()]
    assert names == ["Submitted", "Started", "ProgressReported", "Completed"]
    assert job.summary == {"total_trades": 7, "profit_total": 0.12}
    assert job.started_at is not None and job.finished_at is not None
    assert job.finished_at >= job.started_at
    assert job.progress_fraction == 1.0


def test_a_failed_job_keeps_the_reason() -> None:
    job = _running()
    job.fail("strategy raised ZeroDivisionError")
    assert job.status is JobStatus.FAILED
    assert job.error == "strategy raised ZeroDivisionError"
    assert job.is_final


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("pairs", {"pairs": ()}),
        ("pairs", {"pairs": ("BTC/USDT", "BTC/USDT")}),
        ("pairs[1]", {"pairs": ("BTC/USDT", "BTCUSDT")}),
        ("pairs", {"pairs": ("BTC/USDT", "ETH/BTC")}),
        ("timeframe", {"timeframe": "7m"}),
        ("timerange", {"timerange": "20240301-20240101"}),
        ("timerange", {"timerange": "20240230-20240301"}),
        ("timerange", {"timerange": "2024-01-01"}),
        ("exchange", {"exchange": "Binance!"}),
        ("stake_amount", {"stake_amount": 0.0}),
        ("max_open_trades", {"max_open_trades": -1}),
        ("fee", {"fee": 0.5}),
    ],
)
def test_submission_rejects_bad_values_naming_the_field(
    field: str, overrides: dict[str, object]
) -> None:
    with pytest.raises(InvalidValue) as caught:
        new_job(**overrides)
    assert caught.value.field == field


def test_a_requeued_job_starts_again_as_the_next_attempt() -> None:
    job = _queued()
    assert job.worker is None and job.error == "worker w1 died" and job.lease_expires_at is None
    job.start(attempt=2, worker="w2", lease_expires_at=LEASE)
    assert (job.status, job.attempt, job.worker) == (JobStatus.RUNNING, 2, "w2")


def test_a_stale_attempt_cannot_touch_the_current_one() -> None:
    job = _queued()
    job.start(attempt=2, worker="w2", lease_expires_at=LEASE)
    for act in (
        lambda: job.renew_lease(attempt=1, expires_at=LEASE),
        lambda: job.requeue(attempt=1, reason="late"),
    ):
        with pytest.raises(IllegalTransition):
            act()


def test_lease_expiry() -> None:
    from datetime import timedelta

    job = _running()
    assert not job.lease_expired(LEASE - timedelta(seconds=1))
    assert job.lease_expired(LEASE + timedelta(seconds=1))
    job.complete({})
    assert not job.lease_expired(LEASE + timedelta(seconds=1)), "a finished job holds no lease"
