"""The executor's logic on the memory pool: dispatch, results, failures, retries, cancel, leases."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from adapters.artifact_store import LocalArtifactStore
from adapters.memory_pool import MemoryWorkerPool
from adapters.memory_read_store import InMemoryReadStore
from commands.backtests import BacktestCommands
from commands.execution import ExecutionCommands
from commands.messages import CancelBacktest
from commands.store import EventStore
from commands.strategies import StrategyCommands
from commands.views import BacktestJobView
from projections.executor import CancelWatcher, Executor
from projections.read_model import ReadModelProjector
from projections.runner import SubscriberRunner
from tests.factories import register, strategy_code, submit


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Node:
    """One executor process: its pool, its executor and the runners feeding them."""

    pool: MemoryWorkerPool
    executor: Executor
    runners: list[SubscriberRunner]

    def stop(self) -> None:
        self.executor.stop()
        for runner in self.runners:
            runner.stop()
        self.pool.stop()


class Harness:
    def __init__(self, store: EventStore, tmp: Path) -> None:
        self.store = store
        self.tmp = tmp
        self.read_store = InMemoryReadStore()
        self.artifacts = LocalArtifactStore(tmp / "artifacts")
        self.clock = Clock()
        self.read_model = SubscriberRunner(
            ReadModelProjector(self.read_store, artifacts=self.artifacts), store, poll_interval=0.05
        )
        store.on_commit(self.read_model.wake)
        self.read_model.start()
        self.backtests = BacktestCommands(store)
        self.strategies = StrategyCommands(store)
        self.nodes: list[Node] = []

    def node(self, name: str = "node-a", size: int = 2, max_attempts: int = 2) -> Node:
        pool = MemoryWorkerPool(size, self.tmp / name)
        pool.start()
        executor = Executor(
            self.store, ExecutionCommands(self.store, self.clock), pool, self.artifacts,
            self.read_store, worker_name=name, lease_seconds=30, max_attempts=max_attempts,
        )  # fmt: skip
        runners = [
            SubscriberRunner(executor, self.store, batch_size=5, poll_interval=0.05),
            SubscriberRunner(
                CancelWatcher(pool, self.store.max_position()), self.store, poll_interval=0.05
            ),
        ]
        for runner in runners:
            self.store.on_commit(runner.wake)
            runner.start()
        node = Node(pool, executor, runners)
        self.nodes.append(node)
        return node

    def submit(self, directive: str = "", name: str = "EmaCross") -> UUID:
        """Register a strategy whose source carries the memory pool's `directive`, submit it."""
        code = f"{directive}\n{strategy_code(name)}"
        self.strategies.register_strategy_version(register(name=name, code=code), "alice")
        view, _ = self.backtests.submit_backtest(submit(strategy=name), "alice")
        return view.id

    def job(self, job_id: UUID) -> BacktestJobView:
        assert self.read_model.wait_for(self.store.max_position(), 5)
        view = self.read_store.get_job(job_id)
        assert view is not None
        return view

    def wait(
        self, job_id: UUID, predicate: Callable[[BacktestJobView], bool], timeout: float = 10
    ) -> BacktestJobView:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.job(job_id)
            if predicate(view):
                return view
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} never got there: {self.job(job_id)}")

    def events(self, job_id: UUID) -> list[str]:
        return [type(e).__name__ for e in self.store.aggregate_events(job_id)]

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
        self.read_model.stop()


@pytest.fixture
def harness(store: EventStore, tmp_path: Path) -> Iterator[Harness]:
    h = Harness(store, tmp_path)
    yield h
    h.close()


def final(view: BacktestJobView) -> bool:
    return view.status in {"completed", "failed", "cancelled"}


def test_a_submitted_job_runs_and_its_result_is_projected(harness: Harness) -> None:
    harness.node()
    job_id = harness.submit()
    view = harness.wait(job_id, final)
    assert view.status == "completed" and view.attempt == 1 and view.worker == "node-a"
    assert harness.events(job_id) == [
        "Submitted",
        "Started",
        "ProgressReported",
        "ProgressReported",
        "Completed",
    ]
    result = harness.read_store.get_result(job_id)
    assert result is not None and result.trade_count == 3 and result.error is None
    assert [round(p.equity, 2) for p in result.equity] == [1000.0, 1010.0, 1005.0, 1012.5]
    trades = harness.read_store.list_trades(job_id, limit=2, cursor=None)
    more = harness.read_store.list_trades(job_id, limit=2, cursor=trades.next_cursor)
    assert len(trades.items) == 2 and len(more.items) == 1 and more.next_cursor is None
    assert harness.artifacts.read(view.artifacts["result"])


def test_a_failing_run_fails_the_job_with_its_reason(harness: Harness) -> None:
    harness.node()
    job_id = harness.submit("# memory-run: fail no candles for BTC/USDT 5m")
    view = harness.wait(job_id, final)
    assert view.status == "failed" and view.error == "no candles for BTC/USDT 5m"


def test_a_lost_attempt_is_retried_then_failed_after_max_attempts(harness: Harness) -> None:
    harness.node(max_attempts=2)
    job_id = harness.submit("# memory-run: lose worker killed by SIGKILL")
    view = harness.wait(job_id, final)
    assert view.status == "failed" and view.attempt == 2
    assert "gave up after 2 attempts" in (view.error or "")
    kinds = harness.events(job_id)
    assert kinds.count("Started") == 2 and kinds.count("Requeued") == 1


def test_cancelling_a_running_job_stops_it(harness: Harness) -> None:
    harness.node()
    job_id = harness.submit("# memory-run: hold")
    harness.wait(job_id, lambda v: v.status == "running")
    harness.backtests.cancel_backtest(CancelBacktest(job_id=job_id), "bob", admin=True)
    view = harness.wait(job_id, final)
    assert view.status == "cancelled" and "bob" in (view.error or "")
    kinds = harness.events(job_id)
    assert (
        kinds[-1] == "Cancelled" and kinds.count("CancelRequested") == 1
    )  # progress may interleave


def test_jobs_wait_for_a_free_worker_and_run_in_order(harness: Harness) -> None:
    harness.node(size=1)
    holder = harness.submit("# memory-run: hold", name="Holder")
    waiting = [harness.submit(name=f"Waiter{i}") for i in range(3)]
    harness.wait(holder, lambda v: v.status == "running")
    time.sleep(0.2)
    assert {harness.job(j).status for j in waiting} == {"submitted"}
    harness.backtests.cancel_backtest(
        CancelBacktest(job_id=waiting[1]), "bob", admin=True
    )  # never runs
    harness.backtests.cancel_backtest(CancelBacktest(job_id=holder), "bob", admin=True)
    views = [harness.wait(j, final) for j in waiting]
    assert [v.status for v in views] == ["completed", "cancelled", "completed"]
    assert views[0].started_at is not None and views[2].started_at is not None
    assert views[0].started_at < views[2].started_at


def test_waiting_jobs_are_served_by_priority_then_fairly_across_submitters(
    harness: Harness,
) -> None:
    harness.node(size=1)
    harness.strategies.register_strategy_version(
        register(name="Holder", code=f"# memory-run: hold\n{strategy_code('Holder')}"), "alice"
    )
    holder, _ = harness.backtests.submit_backtest(submit(strategy="Holder"), "alice")
    harness.wait(holder.id, lambda v: v.status == "running")
    harness.strategies.register_strategy_version(register(name="Quick"), "alice")
    alices = [harness.backtests.submit_backtest(submit(strategy="Quick"), "alice")[0].id
              for _ in range(4)]  # fmt: skip
    bobs = harness.backtests.submit_backtest(submit(strategy="Quick"), "bob")[0].id
    low_one = harness.backtests.submit_backtest(submit(strategy="Quick", priority="low"), "carol")[
        0
    ].id
    high = harness.backtests.submit_backtest(submit(strategy="Quick", priority="high"), "alice")[
        0
    ].id
    time.sleep(0.2)
    harness.backtests.cancel_backtest(CancelBacktest(job_id=holder.id), "alice", admin=True)
    views = {j: harness.wait(j, final) for j in [*alices, bobs, low_one, high]}
    order = sorted(views, key=lambda j: views[j].started_at)  # type: ignore[arg-type,return-value]
    # High first; then alice and bob take turns (alice's first came first); low last.
    assert order == [high, alices[0], bobs, *alices[1:], low_one]


def test_a_restart_loses_no_waiting_job_and_runs_none_twice(harness: Harness) -> None:
    first = harness.node("node-a", size=1)
    harness.strategies.register_strategy_version(
        register(name="Holder", code=f"# memory-run: hold\n{strategy_code('Holder')}"), "alice"
    )
    holder, _ = harness.backtests.submit_backtest(submit(strategy="Holder"), "alice")
    harness.wait(holder.id, lambda v: v.status == "running")
    harness.strategies.register_strategy_version(register(name="Quick"), "alice")
    waiting = [harness.backtests.submit_backtest(submit(strategy="Quick"), who)[0].id
               for who in ("alice", "bob", "alice")]  # fmt: skip
    time.sleep(0.2)  # the dispatcher has read them (and holds them in memory only)
    first.stop()
    harness.nodes.remove(first)
    harness.backtests.cancel_backtest(CancelBacktest(job_id=holder.id), "alice", admin=True)
    harness.node("node-b", size=1)
    for job_id in waiting:
        view = harness.wait(job_id, final)
        assert view.status == "completed" and view.attempt == 1
        assert harness.events(job_id).count("Started") == 1


def test_a_restart_hands_running_jobs_back_and_resumes_them(harness: Harness) -> None:
    first = harness.node("node-a")
    job_id = harness.submit("# memory-run: hold")
    harness.wait(job_id, lambda v: v.status == "running")
    first.stop()
    harness.nodes.remove(first)
    view = harness.wait(job_id, lambda v: v.status == "queued")
    assert "the service stopped" in (view.error or "")
    harness.node("node-b")
    view = harness.wait(job_id, lambda v: v.status == "running" and v.attempt == 2)
    assert view.worker == "node-b"
    harness.backtests.cancel_backtest(CancelBacktest(job_id=job_id), "bob", admin=True)
    harness.wait(job_id, final)


def test_an_expired_lease_is_reaped_and_the_job_runs_again(harness: Harness) -> None:
    # An executor elsewhere claimed the job and died: nobody renews its lease.
    job_id = harness.submit()
    ExecutionCommands(harness.store, harness.clock).claim(job_id, "gone-machine", lease_seconds=30)
    node = harness.node()
    harness.wait(job_id, lambda v: v.status == "running" and v.worker == "gone-machine")
    node.executor.keep_leases(harness.read_store)
    assert harness.job(job_id).status == "running", "a live lease is left alone"
    harness.clock.now += timedelta(seconds=31)
    node.executor.keep_leases(harness.read_store)
    view = harness.wait(job_id, final)
    assert view.status == "completed" and view.attempt == 2 and view.worker == "node-a"
    requeued = [e for e in harness.store.aggregate_events(job_id) if type(e).__name__ == "Requeued"]
    assert "gone-machine stopped renewing its lease" in requeued[0].reason


def test_leases_of_local_runs_are_renewed(harness: Harness) -> None:
    node = harness.node()
    job_id = harness.submit("# memory-run: hold")
    before = harness.wait(job_id, lambda v: v.status == "running").lease_expires_at
    harness.clock.now += timedelta(seconds=20)
    node.executor.keep_leases(harness.read_store)
    after = harness.job(job_id).lease_expires_at
    assert before is not None and after is not None and after > before
    assert harness.job(job_id).status == "running"
    harness.backtests.cancel_backtest(CancelBacktest(job_id=job_id), "bob", admin=True)
    harness.wait(job_id, final)


def test_two_executors_never_run_one_job_twice(harness: Harness) -> None:
    harness.node("node-a", size=2)
    harness.node("node-b", size=2)
    jobs = [harness.submit(name=f"S{i}") for i in range(8)]
    views = [harness.wait(j, final) for j in jobs]
    assert {v.status for v in views} == {"completed"}
    for job_id in jobs:
        assert harness.events(job_id).count("Started") == 1
    assert {v.worker for v in views} <= {"node-a", "node-b"}


def test_a_run_that_outlives_its_attempt_changes_nothing(store: EventStore) -> None:
    commands = ExecutionCommands(store)
    StrategyCommands(store).register_strategy_version(register(), "alice")
    view, _ = BacktestCommands(store).submit_backtest(submit(), "alice")
    commands.claim(view.id, "w1", 30)
    commands.lose_attempt(view.id, 1, "worker died", max_attempts=3)
    commands.claim(view.id, "w2", 30)
    assert not commands.complete(view.id, 1, {"total_trades": 1}, {})  # the first worker, late
    assert not commands.report_progress(view.id, 1, "backtest", 0.5)
    assert commands.complete(view.id, 2, {"total_trades": 2}, {})


def test_concurrent_progress_and_cancel_both_land(store: EventStore) -> None:
    commands = ExecutionCommands(store)
    StrategyCommands(store).register_strategy_version(register(), "alice")
    view, _ = BacktestCommands(store).submit_backtest(submit(), "alice")
    commands.claim(view.id, "w1", 30)
    barrier = threading.Barrier(2)

    def progress() -> None:
        barrier.wait()
        for i in range(20):
            commands.report_progress(view.id, 1, "backtest", i / 20)

    thread = threading.Thread(target=progress)
    thread.start()
    barrier.wait()
    BacktestCommands(store).cancel_backtest(CancelBacktest(job_id=view.id), "bob", admin=True)
    thread.join()
    kinds = [type(e).__name__ for e in store.aggregate_events(view.id)]
    assert kinds.count("ProgressReported") == 20 and kinds.count("CancelRequested") == 1
