"""The per-user quota on waiting work, followed from the log: standalone backtests count one
until they end, a sweep every trial it will run until that trial ends."""

from __future__ import annotations

import pytest

from commands.backtests import BacktestCommands
from commands.errors import QuotaExceeded
from commands.execution import ExecutionCommands
from commands.messages import CancelBacktest, CancelSweep, RetryBacktest
from commands.store import EventStore
from commands.strategies import StrategyCommands
from commands.sweeps import SweepCommands
from domain.errors import InvalidValue
from projections.waiting_work import WaitingWork
from tests.factories import register, submit
from tests.support.sweeps import SWEPT_CODE, run_pending_trials, submit_sweep


def _follow(store: EventStore, work: WaitingWork) -> None:
    work.handle(store.read(work.position(), 10_000), work.position())


@pytest.fixture
def work(store: EventStore) -> WaitingWork:
    StrategyCommands(store).register_strategy_version(register(code=SWEPT_CODE), "alice")
    return WaitingWork(limit=14)


def test_backtests_count_until_they_end_and_a_retry_counts_again(
    store: EventStore, work: WaitingWork
) -> None:
    backtests, execution = BacktestCommands(store, quota=work), ExecutionCommands(store)
    jobs = [backtests.submit_backtest(submit(), "alice")[0].id for _ in range(3)]
    backtests.submit_backtest(submit(), "bob")
    _follow(store, work)
    assert (work.waiting("alice"), work.waiting("bob")) == (3, 1)
    backtests.cancel_backtest(CancelBacktest(job_id=jobs[0]), "alice")
    assert execution.claim(jobs[1], "w", 30)
    execution.fail(jobs[1], 1, "strategy raised")
    _follow(store, work)
    assert work.waiting("alice") == 1
    backtests.retry_backtest(RetryBacktest(job_id=jobs[1]), "alice")
    _follow(store, work)
    assert work.waiting("alice") == 2


def test_the_limit_refuses_what_would_pass_it_and_writes_nothing(
    store: EventStore, work: WaitingWork
) -> None:
    backtests = BacktestCommands(store, quota=work)
    for _ in range(14):
        backtests.submit_backtest(submit(), "alice")
    _follow(store, work)
    head = store.max_position()
    with pytest.raises(QuotaExceeded) as refused:
        backtests.submit_backtest(submit(), "alice")
    assert (refused.value.waiting, refused.value.limit) == (14, 14)
    assert store.max_position() == head
    backtests.submit_backtest(submit(), "bob")  # another user's quota is their own


def test_a_sweep_counts_every_trial_it_will_run(store: EventStore, work: WaitingWork) -> None:
    sweeps = SweepCommands(store, quota=work)
    view, _ = sweeps.submit_sweep(submit_sweep(), "alice")  # a grid of 12 trials
    _follow(store, work)
    assert work.waiting("alice") == 12
    assert len(sweeps.ask_trials(view.id, in_flight=4)) == 4
    _follow(store, work)
    assert work.waiting("alice") == 12  # the trials' jobs are not counted twice
    run_pending_trials(store, view.id)  # four trials end
    for job_id in [t.job_id for t in sweeps.sweep(view.id).trials]:
        sweeps.record_trial_end(job_id)
    _follow(store, work)
    assert work.waiting("alice") == 8
    with pytest.raises(QuotaExceeded):
        sweeps.submit_sweep(submit_sweep(), "alice")  # 8 + 12 > 14
    sweeps.cancel_sweep(CancelSweep(sweep_id=view.id), "alice")
    _follow(store, work)
    assert work.waiting("alice") == 0
    with pytest.raises(InvalidValue) as never:
        WaitingWork(limit=5).admit("alice", 12)
    assert never.value.field == "max_trials"


def test_zero_means_no_bound() -> None:
    WaitingWork(limit=0).admit("alice", 10**9)
