"""Sweep commands on the in-memory store: submit, trials as backtests, ends, cancel."""

from __future__ import annotations

from uuid import uuid4

import pytest

from commands.errors import NotFound, UnknownReference
from commands.execution import ExecutionCommands
from commands.messages import CancelSweep
from commands.store import EventStore
from commands.sweeps import SweepCommands
from domain.backtest_job import BacktestJob, JobStatus
from domain.errors import IllegalTransition, InvalidValue
from domain.sweep import Sweep
from tests.support.sweeps import register_swept_strategy, run_pending_trials, submit_sweep


@pytest.fixture
def sweeps(store: EventStore) -> SweepCommands:
    register_swept_strategy(store)
    return SweepCommands(store)


def test_submit_records_a_running_sweep_of_the_latest_version(sweeps: SweepCommands) -> None:
    view, _ = sweeps.submit_sweep(submit_sweep(max_trials=5, priority="low"), "alice")
    assert (view.status, view.total, view.done, view.failed) == ("running", 5, 0, 0)
    assert view.strategy_version == 1 and view.submitted_by == "alice"
    assert view.trials == [] and view.best is None
    sweep = sweeps.sweep(view.id)
    assert sweep.seed == 7 and sweep.priority == "low"


def test_submit_picks_and_records_a_seed_when_none_is_given(sweeps: SweepCommands) -> None:
    view, _ = sweeps.submit_sweep(submit_sweep(method="random", seed=None), "alice")
    assert sweeps.sweep(view.id).seed == view.seed


def test_submit_refuses_what_the_version_does_not_declare(sweeps: SweepCommands) -> None:
    with pytest.raises(InvalidValue) as caught:
        sweeps.submit_sweep(submit_sweep(space={"buy_fast": [4]}), "alice")
    assert caught.value.field == "space.buy_fast"
    with pytest.raises(UnknownReference):
        sweeps.submit_sweep(submit_sweep(strategy_version=3), "alice")
    with pytest.raises(InvalidValue, match="tpe is not available"):
        sweeps.submit_sweep(submit_sweep(method="tpe"), "alice")


def test_submit_is_idempotent_with_a_key(sweeps: SweepCommands) -> None:
    first, _ = sweeps.submit_sweep(submit_sweep(), "alice", "key-1")
    again, outcome = sweeps.submit_sweep(submit_sweep(), "alice", "key-1")
    assert again.id == first.id and outcome.replayed


def test_trials_are_backtest_jobs_asked_up_to_in_flight(
    sweeps: SweepCommands, store: EventStore
) -> None:
    view, _ = sweeps.submit_sweep(submit_sweep(priority="low"), "alice")
    jobs = sweeps.ask_trials(view.id, in_flight=3)
    assert len(jobs) == 3
    assert sweeps.ask_trials(view.id, in_flight=3) == []  # three wait already
    sweep = sweeps.sweep(view.id)
    for number, job_id in enumerate(jobs):
        job: BacktestJob = store.load(job_id, "backtest job")
        assert job.sweep_id == view.id and job.status is JobStatus.SUBMITTED
        assert job.parameters == sweep.trials[number].parameters == sweep.suggest(number)
        assert (job.submitted_by, job.priority.value, job.strategy_version) == ("alice", "low", 1)
    # The job and the trial were saved in one commit: the job's event sits right before it.
    history = store.aggregate_history(view.id)
    asked = [e for e in history if isinstance(e.event, Sweep.TrialAsked)]
    for stored in asked:
        job_events = store.aggregate_history(stored.event.job_id)
        assert job_events[0].position == stored.position - 1


def test_trial_ends_are_recorded_once_with_the_objective(
    sweeps: SweepCommands, store: EventStore
) -> None:
    view, _ = sweeps.submit_sweep(submit_sweep(max_trials=3), "alice")
    jobs = sweeps.ask_trials(view.id, in_flight=3)
    outcomes = iter(["fail", 1.5, 2.5])
    run_pending_trials(store, view.id, lambda _: next(outcomes))
    assert sweeps.record_trial_end(jobs[0]) == view.id
    assert sweeps.record_trial_end(jobs[0]) is None  # a second time does nothing
    sweep = sweeps.sweep(view.id)
    assert sweep.status.value == "running" and (sweep.done, sweep.failed) == (0, 1)
    sweeps.record_trial_end(jobs[2])
    sweeps.record_trial_end(jobs[1])
    sweep = sweeps.sweep(view.id)
    assert sweep.status.value == "completed"
    assert sweep.best is not None and (sweep.best.trial, sweep.best.objective) == (2, 2.5)
    assert [t.objective for t in sweep.trials] == [None, 1.5, 2.5]


def test_only_finished_trial_jobs_are_recorded(sweeps: SweepCommands, store: EventStore) -> None:
    view, _ = sweeps.submit_sweep(submit_sweep(), "alice")
    [job_id] = sweeps.ask_trials(view.id, in_flight=1)
    assert sweeps.record_trial_end(job_id) is None  # still waiting
    assert sweeps.record_trial_end(uuid4()) is None
    assert sweeps.sweep_of(job_id) == view.id


def test_a_trial_that_cannot_be_submitted_fails_the_sweep(
    sweeps: SweepCommands, store: EventStore
) -> None:
    view, _ = sweeps.submit_sweep(submit_sweep(), "alice")
    sweeps.backtests.new_job = _refuse  # type: ignore[method-assign]
    assert sweeps.ask_trials(view.id, in_flight=2) == []
    sweep = sweeps.sweep(view.id)
    assert sweep.status.value == "failed"
    assert sweep.error is not None and "trial 0 could not be submitted" in sweep.error


def _refuse(*_: object) -> BacktestJob:
    raise InvalidValue("pairs", "no such market any more")


def test_cancel_cancels_unfinished_trials_and_keeps_finished_ones(
    sweeps: SweepCommands, store: EventStore
) -> None:
    view, _ = sweeps.submit_sweep(submit_sweep(), "alice")
    finished, running, waiting = sweeps.ask_trials(view.id, in_flight=3)
    execution = ExecutionCommands(store)
    job = execution.claim(finished, "w", 60)
    assert job is not None
    execution.complete(finished, job.attempt, {"sharpe": 1.0}, {})
    sweeps.record_trial_end(finished)
    assert execution.claim(running, "w", 60) is not None

    cancelled, _ = sweeps.cancel_sweep(CancelSweep(sweep_id=view.id), "bob", admin=True)

    assert cancelled.status == "cancelled"
    assert [t.status for t in cancelled.trials] == ["completed", "pending", "cancelled"]
    assert store.load(waiting, "job").status is JobStatus.CANCELLED
    still_running: BacktestJob = store.load(running, "job")
    assert still_running.status is JobStatus.RUNNING and still_running.cancel_requested_by == "bob"
    assert store.load(finished, "job").status is JobStatus.COMPLETED
    assert sweeps.ask_trials(view.id, in_flight=3) == []
    # The worker stops the running trial; its end is recorded, the sweep stays cancelled.
    execution.confirm_cancel(running, 1)
    sweeps.record_trial_end(running)
    sweep = sweeps.sweep(view.id)
    assert sweep.status.value == "cancelled" and (sweep.done, sweep.failed) == (1, 2)
    assert sweep.best is not None and sweep.best.trial == 0
    with pytest.raises(IllegalTransition):
        sweeps.cancel_sweep(CancelSweep(sweep_id=view.id), "bob", admin=True)
    with pytest.raises(NotFound):
        sweeps.cancel_sweep(CancelSweep(sweep_id=uuid4()), "bob", admin=True)
