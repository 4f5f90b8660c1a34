"""The read model's documents equal what the aggregates say, for every kind of event."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from adapters.memory_read_store import InMemoryReadStore
from commands.backtests import BacktestCommands
from commands.execution import ExecutionCommands
from commands.messages import (
    AddMaintainer,
    CancelBacktest,
    CancelSweep,
    DecidePromotion,
    RemoveMaintainer,
    RequestPromotion,
)
from commands.promotions import PromotionCommands
from commands.store import EventStore
from commands.strategies import StrategyCommands
from commands.sweep_views import sweep_view
from commands.sweeps import SweepCommands, pending
from commands.views import job_view, strategy_version_view
from domain.backtest_job import BacktestJob
from domain.errors import InvalidValue
from domain.identity import strategy_id, strategy_version_id
from domain.promotion import GateThresholds
from domain.sweep import Sweep
from projections.read_model import ReadModelProjector
from projections.runner import SubscriberRunner
from tests.factories import LEASE, register, strategy_code, submit
from tests.support.sweeps import register_swept_strategy, run_pending_trials, submit_sweep


def _catch_up(store: EventStore, read_store: InMemoryReadStore) -> None:
    runner = SubscriberRunner(ReadModelProjector(read_store), store, batch_size=3)
    while runner.run_once():
        pass


def _drive(store: EventStore, backtests: BacktestCommands, job_id: Any, *steps: str) -> None:
    job: BacktestJob = backtests.job(job_id)
    for step in steps:
        if step == "start":
            job.start(attempt=job.attempt + 1, worker="w1", lease_expires_at=LEASE)
        elif step == "progress":
            job.report_progress("backtest", 0.4)
        elif step == "complete":
            job.complete({"total_trades": 4, "profit_total": 0.1})
        elif step == "fail":
            job.fail("no data for BTC/USDT 5m")
    store.commit(job)


def test_projected_documents_equal_aggregate_views(
    store: EventStore,
    read_store: InMemoryReadStore,
    strategies: StrategyCommands,
    backtests: BacktestCommands,
) -> None:
    strategies.register_strategy_version(register(), "alice")
    strategies.change_maintainers(AddMaintainer(name="EmaCross", user="bob"), "alice")
    strategies.change_maintainers(AddMaintainer(name="EmaCross", user="carol"), "alice")
    strategies.register_strategy_version(register(code=strategy_code(stoploss=-0.2)), "bob")
    strategies.change_maintainers(
        RemoveMaintainer(name="EmaCross", user="carol"), "admin1", admin=True
    )
    jobs = [backtests.submit_backtest(submit(), "alice")[0].id for _ in range(5)]
    _drive(store, backtests, jobs[0], "start", "progress", "complete")
    _drive(store, backtests, jobs[1], "start", "fail")
    _drive(store, backtests, jobs[2], "start", "progress")
    backtests.cancel_backtest(CancelBacktest(job_id=jobs[2]), "bob", admin=True)
    backtests.cancel_backtest(CancelBacktest(job_id=jobs[3]), "bob", admin=True)
    _catch_up(store, read_store)

    for job_id in jobs:
        assert read_store.get_job(job_id) == job_view(backtests.job(job_id))
    for number in (1, 2):
        aggregate = store.load(strategy_version_id("EmaCross", number), "version")
        assert read_store.get_version("EmaCross", number) == strategy_version_view(aggregate)
    execution, promotions = (
        ExecutionCommands(store),
        PromotionCommands(store, GateThresholds(min_trades=1)),
    )
    execution.claim(jobs[4], "w", 30)
    execution.complete(
        jobs[4], 1, {"total_trades": 5, "max_drawdown": 0.1, "profit_total": 0.1}, {}
    )
    request = RequestPromotion(
        name="EmaCross", number=2, target_stage="staging", backtest_id=jobs[4]
    )
    promotion, _ = promotions.request_promotion(request, "alice")
    decision = DecidePromotion(promotion_id=promotion.id, name="EmaCross", number=2, approve=True)
    approved, _ = promotions.decide_promotion(decision, "bob")
    _catch_up(store, read_store)
    assert read_store.get_promotion(promotion.id) == approved
    v2 = store.load(strategy_version_id("EmaCross", 2), "version")
    assert read_store.get_version("EmaCross", 2) == strategy_version_view(v2)
    assert read_store.get_strategy("EmaCross").stages["staging"] == 2  # type: ignore[union-attr]
    catalog = read_store.get_strategy("EmaCross")
    assert catalog is not None and catalog.latest_version == 2 and catalog.versions == (1, 2)
    strategy = store.load(strategy_id("EmaCross"), "strategy")
    assert (catalog.created_by, catalog.maintainers) == (strategy.owner, ("bob",))
    statuses = {read_store.get_job(j).status for j in jobs}  # type: ignore[union-attr]
    assert statuses == {"completed", "failed", "running", "cancelled"}


def _sweeps_of_every_fate(store: EventStore) -> list[UUID]:
    """Sweeps that complete (with a tie and a failed trial, minimizing), fail (every trial, or
    a trial that cannot be submitted), and are cancelled with a trial still running."""
    register_swept_strategy(store)
    sweeps = SweepCommands(store)
    made = []

    completed, _ = sweeps.submit_sweep(submit_sweep(max_trials=5, direction="minimize"), "alice")
    outcomes = iter([2.0, "fail", 1.0, 1.0, 3.0])
    while sweeps.ask_trials(completed.id, in_flight=2) or sweeps.sweep(completed.id).pending:
        for trial in pending(sweeps.sweep(completed.id)):
            run_pending_trials(store, completed.id, lambda _: next(outcomes))
            sweeps.record_trial_end(trial.job_id)
    made.append(completed.id)

    failed, _ = sweeps.submit_sweep(submit_sweep(max_trials=2, method="random"), "bob")
    sweeps.ask_trials(failed.id, in_flight=2)
    run_pending_trials(store, failed.id, lambda _: "fail")
    for trial in sweeps.sweep(failed.id).trials:
        sweeps.record_trial_end(trial.job_id)
    made.append(failed.id)

    cancelled, _ = sweeps.submit_sweep(submit_sweep(), "carol")
    finished, running, _waiting = sweeps.ask_trials(cancelled.id, in_flight=3)
    execution = ExecutionCommands(store)
    execution.claim(finished, "w", 60)
    execution.complete(finished, 1, {"sharpe": 0.5}, {})
    sweeps.record_trial_end(finished)
    execution.claim(running, "w", 60)
    sweeps.cancel_sweep(CancelSweep(sweep_id=cancelled.id), "carol", admin=True)
    execution.confirm_cancel(running, 1)
    sweeps.record_trial_end(running)
    made.append(cancelled.id)

    refused, _ = sweeps.submit_sweep(submit_sweep(), "dave")
    sweeps.ask_trials(refused.id, in_flight=1)
    sweeps.backtests.new_job = _refuse  # type: ignore[method-assign]
    sweeps.ask_trials(refused.id, in_flight=2)
    made.append(refused.id)
    return made


def _refuse(*_: object) -> BacktestJob:
    raise InvalidValue("pairs", "no such market any more")


def test_projected_sweeps_equal_the_aggregate_after_every_event(
    store: EventStore, read_store: InMemoryReadStore
) -> None:
    sweep_ids = _sweeps_of_every_fate(store)
    statuses = {store.load(i, "sweep").status.value for i in sweep_ids}
    assert statuses == {"completed", "failed", "cancelled"}
    projector = ReadModelProjector(read_store)
    versions: dict[UUID, int] = {}
    checked = 0
    for stored in store.read(0, 100_000):  # one event at a time: every prefix of every sweep
        projector.handle([stored], projector.position())
        event = stored.event
        if isinstance(event, Sweep.Event):
            versions[event.originator_id] = event.originator_version
            aggregate = store.load_as_of(event.originator_id, event.originator_version)
            assert read_store.get_sweep(event.originator_id) == sweep_view(aggregate)
            checked += 1
        if isinstance(event, BacktestJob.Submitted) and event.sweep_id is not None:
            assert read_store.get_job(event.originator_id).sweep_id == event.sweep_id  # type: ignore[union-attr]
    assert checked > 20 and set(versions) == set(sweep_ids)
    best = read_store.get_sweep(sweep_ids[0])
    assert best is not None and best.best is not None
    assert (best.best.trial, best.best.objective) == (2, 1.0), "a tie keeps the earlier trial"


def test_projected_sweeps_equal_the_aggregate_in_batches(
    store: EventStore, read_store: InMemoryReadStore
) -> None:
    sweep_ids = _sweeps_of_every_fate(store)
    _catch_up(store, read_store)
    for sweep_id in sweep_ids:
        assert read_store.get_sweep(sweep_id) == sweep_view(store.load(sweep_id, "sweep"))
    trials = read_store.list_jobs(
        status=None, strategy=None, limit=100, cursor=None, sweep=sweep_ids[0]
    )
    asked = store.load(sweep_ids[0], "sweep").trials
    assert [j.id for j in trials.items] == [t.job_id for t in reversed(asked)]  # type: ignore[attr-defined]
