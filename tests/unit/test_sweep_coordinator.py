"""The sweep coordinator over the in-memory store, with the executor played by the test."""

from __future__ import annotations

from uuid import UUID

from adapters.memory_read_store import InMemoryReadStore
from commands.backtests import BacktestCommands
from commands.execution import ExecutionCommands
from commands.messages import CancelSweep
from commands.store import EventStore
from commands.sweeps import SweepCommands
from domain.sweep import Sweep, SweepStatus
from projections.sweeps import SweepCoordinator
from tests.factories import submit
from tests.support.sweeps import (
    register_swept_strategy,
    run_pending_trials,
    submit_sweep,
    trial_jobs,
)


def coordinator(
    store: EventStore, positions: InMemoryReadStore, in_flight: int
) -> SweepCoordinator:
    return SweepCoordinator(SweepCommands(store), positions, in_flight=in_flight)


def drain(store: EventStore, subscriber: SweepCoordinator) -> None:
    """What the SubscriberRunner does, on this thread: handle the log up to its end."""
    while events := store.read(subscriber.position(), 7):
        subscriber.handle(events, subscriber.position())


def the_sweep(store: EventStore, sweep_id: UUID) -> Sweep:
    sweep: Sweep = store.load(sweep_id, "sweep")
    return sweep


def test_a_grid_sweep_runs_to_completion_never_more_than_in_flight(store: EventStore) -> None:
    register_swept_strategy(store)
    view, _ = SweepCommands(store).submit_sweep(submit_sweep(), "alice")
    subscriber = coordinator(store, InMemoryReadStore(), in_flight=2)
    rounds = 0
    while not the_sweep(store, view.id).is_final:
        drain(store, subscriber)
        assert the_sweep(store, view.id).pending <= 2
        run_pending_trials(store, view.id)
        rounds += 1
    sweep = the_sweep(store, view.id)
    assert sweep.status is SweepStatus.COMPLETED and rounds == 6 + 1
    assert (sweep.done, sweep.failed, sweep.total) == (12, 0, 12)
    assert sweep.best is not None
    assert sweep.best.parameters == {"buy_fast": 10, "buy_mode": "sma", "sell_ratio": 0.2}
    jobs = trial_jobs(store, view.id)
    assert [job.parameters for job in jobs] == [sweep.suggest(n) for n in range(12)]


def test_failed_trials_are_recorded_and_the_sweep_goes_on(store: EventStore) -> None:
    register_swept_strategy(store)
    view, _ = SweepCommands(store).submit_sweep(submit_sweep(max_trials=4), "alice")
    subscriber = coordinator(store, InMemoryReadStore(), in_flight=4)
    drain(store, subscriber)
    run_pending_trials(store, view.id, lambda p: "fail" if p["sell_ratio"] == 0.1 else 1.0)
    drain(store, subscriber)
    sweep = the_sweep(store, view.id)
    assert sweep.status is SweepStatus.COMPLETED and (sweep.done, sweep.failed) == (2, 2)


def test_jobs_outside_sweeps_are_left_alone(store: EventStore) -> None:
    register_swept_strategy(store)
    job, _ = BacktestCommands(store).submit_backtest(submit(), "alice")
    execution = ExecutionCommands(store)
    execution.claim(job.id, "w", 60)
    execution.complete(job.id, 1, {"sharpe": 1.0}, {})
    positions = InMemoryReadStore()
    drain(store, coordinator(store, positions, in_flight=2))
    assert positions.position("sweep-coordinator") == store.max_position()


def test_a_restart_repeats_no_trial_and_loses_none(store: EventStore) -> None:
    register_swept_strategy(store)
    view, _ = SweepCommands(store).submit_sweep(submit_sweep(), "alice")
    positions = InMemoryReadStore()
    first = coordinator(store, positions, in_flight=3)
    drain(store, first)
    run_pending_trials(store, view.id)
    drain(store, first)
    run_pending_trials(store, view.id)  # these ends happen while no coordinator runs
    asked_before = the_sweep(store, view.id).asked
    assert asked_before == 6

    # A coordinator that lost its position (a crash before saving it) replays the whole log:
    # it asks only what is missing, once.
    replay = coordinator(store, InMemoryReadStore(), in_flight=3)
    drain(store, replay)
    drain(store, replay)
    assert the_sweep(store, view.id).asked == asked_before + 3
    # The restarted coordinator, from its saved position, finds the work done.
    restarted = coordinator(store, positions, in_flight=3)
    drain(store, restarted)
    assert the_sweep(store, view.id).asked == asked_before + 3

    while not the_sweep(store, view.id).is_final:
        run_pending_trials(store, view.id)
        drain(store, restarted)
    sweep = the_sweep(store, view.id)
    assert sweep.status is SweepStatus.COMPLETED and sweep.done == 12
    jobs = trial_jobs(store, view.id)
    assert len(jobs) == 12 and len({job.originator_id for job in jobs}) == 12
    assert [t.number for t in sweep.trials] == list(range(12))
    assert [job.parameters for job in jobs] == [sweep.suggest(n) for n in range(12)]


def test_a_cancelled_sweep_asks_nothing_more(store: EventStore) -> None:
    register_swept_strategy(store)
    commands = SweepCommands(store)
    view, _ = commands.submit_sweep(submit_sweep(), "alice")
    subscriber = coordinator(store, InMemoryReadStore(), in_flight=2)
    drain(store, subscriber)
    commands.cancel_sweep(CancelSweep(sweep_id=view.id), "alice", admin=True)
    drain(store, subscriber)
    sweep = the_sweep(store, view.id)
    assert sweep.status is SweepStatus.CANCELLED
    assert (sweep.asked, sweep.failed, sweep.pending) == (2, 2, 0)
