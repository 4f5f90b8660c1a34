"""The event-store contract, run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from commands.backtests import BacktestCommands
from commands.errors import ConcurrencyConflict
from commands.messages import CancelBacktest
from commands.store import EventStore
from commands.strategies import StrategyCommands
from domain.backtest_job import BacktestJob
from domain.errors import IllegalTransition
from tests.factories import LEASE, new_job, register, strategy_code, submit


def test_commits_get_increasing_positions_read_back_in_order(event_store: EventStore) -> None:
    assert event_store.max_position() == 0
    jobs = [new_job() for _ in range(3)]
    positions = [event_store.commit(job) for job in jobs]
    assert positions == sorted(positions) and len(set(positions)) == 3
    assert event_store.max_position() == positions[-1]
    read = event_store.read(0, 10)
    assert [e.position for e in read] == positions
    assert [e.event.originator_id for e in read] == [j.id for j in jobs]
    assert isinstance(read[0].event, BacktestJob.Submitted)


def test_read_pages_by_position_and_limit(event_store: EventStore) -> None:
    for _ in range(5):
        event_store.commit(new_job())
    first = event_store.read(0, 2)
    rest = event_store.read(first[-1].position, 100)
    assert len(first) == 2 and len(rest) == 3
    assert first[-1].position < rest[0].position
    assert event_store.read(rest[-1].position, 10) == []


def test_several_aggregates_commit_together_or_not_at_all(event_store: EventStore) -> None:
    job = new_job()
    event_store.commit(job)
    stale = event_store.load(job.id, "job")
    fresh = event_store.load(job.id, "job")
    fresh.start(attempt=1, worker="w1", lease_expires_at=LEASE)
    event_store.commit(fresh)
    head = event_store.max_position()
    other = new_job()
    stale.fail("late")
    with pytest.raises(ConcurrencyConflict):
        event_store.commit(other, stale)
    assert event_store.max_position() == head
    assert not event_store.exists(other.id), "the other aggregate's events must roll back too"


def test_only_aggregates_are_saved_and_a_refusal_writes_nothing(event_store: EventStore) -> None:
    job = new_job()
    (event,) = job.collect_events()
    other = new_job()
    with pytest.raises(TypeError, match="only aggregates"):
        event_store.save(other, event)
    assert event_store.max_position() == 0
    assert other.pending_events, "the refused call must not take the other aggregate's events"


def test_one_aggregates_history_comes_with_its_log_positions(event_store: EventStore) -> None:
    job, other = new_job(), new_job()
    event_store.commit(job, other)
    job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
    event_store.commit(job)
    event_store.commit(new_job())
    job.report_progress("backtest", 0.5)
    event_store.commit(job)
    history = event_store.aggregate_history(job.id)
    everything = {
        (e.event.originator_id, e.event.originator_version): e.position
        for e in event_store.read(0, 100)
    }
    assert [e.event.originator_version for e in history] == [1, 2, 3]
    assert [e.position for e in history] == [everything[(job.id, v)] for v in (1, 2, 3)]
    assert [type(e.event) for e in history] == [
        BacktestJob.Submitted,
        BacktestJob.Started,
        BacktestJob.ProgressReported,
    ]
    assert event_store.aggregate_history(new_job().id) == []


def test_an_aggregate_reloads_to_the_same_state(event_store: EventStore) -> None:
    job = new_job()
    job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
    job.report_progress("backtest", 0.5)
    event_store.commit(job)
    loaded: BacktestJob = event_store.load(job.id, "job")
    assert (loaded.status, loaded.progress_fraction, loaded.version) == (job.status, 0.5, 3)
    assert [type(e).__name__ for e in event_store.aggregate_events(job.id)] == [
        "Submitted", "Started", "ProgressReported",
    ]  # fmt: skip


def test_concurrent_submissions_are_all_kept(event_store: EventStore) -> None:
    StrategyCommands(event_store).register_strategy_version(register(), "alice")
    commands = BacktestCommands(event_store)
    with ThreadPoolExecutor(8) as pool:
        views = list(
            pool.map(lambda i: commands.submit_backtest(submit(), f"user{i}")[0], range(40))
        )
    assert len({v.id for v in views}) == 40
    positions = [e.position for e in event_store.read(0, 1000)]
    assert positions == sorted(positions) and len(positions) == len(set(positions))


def test_racing_cancels_one_wins_the_others_conflict(event_store: EventStore) -> None:
    StrategyCommands(event_store).register_strategy_version(register(), "alice")
    commands = BacktestCommands(event_store)
    view, _ = commands.submit_backtest(submit(), "alice")
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def cancel(i: int) -> None:
        barrier.wait()
        try:
            commands.cancel_backtest(CancelBacktest(job_id=view.id), f"user{i}", admin=True)
            outcomes.append("ok")
        except (ConcurrencyConflict, IllegalTransition):
            outcomes.append("refused")

    threads = [threading.Thread(target=cancel, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") >= 1
    job: BacktestJob = event_store.load(view.id, "job")
    assert job.status.value == "cancelled"
    kinds = [type(e).__name__ for e in event_store.aggregate_events(view.id)]
    assert kinds == ["Submitted", "CancelRequested", "Cancelled"], "nothing is lost or doubled"


def test_concurrent_registrations_get_distinct_numbers(event_store: EventStore) -> None:
    commands = StrategyCommands(event_store)
    with ThreadPoolExecutor(4) as pool:
        views = list(
            pool.map(
                lambda i: commands.register_strategy_version(
                    register(code=strategy_code(stoploss=-(i + 1) / 1000)), "a"
                )[0],
                range(8),
            )
        )
    assert sorted(v.version for v in views) == list(range(1, 9))


def test_idempotency_holds_across_a_restart(event_store_factory: Callable[[], EventStore]) -> None:
    first_store = event_store_factory()
    StrategyCommands(first_store).register_strategy_version(register(), "alice")
    job, _ = BacktestCommands(first_store).submit_backtest(submit(), "alice", "retry-me")
    reopened = event_store_factory()
    again, outcome = BacktestCommands(reopened).submit_backtest(submit(), "alice", "retry-me")
    assert again == job and outcome.replayed
    if getattr(event_store_factory, "durable", False):
        assert reopened is not first_store
        assert reopened.max_position() == first_store.max_position()
