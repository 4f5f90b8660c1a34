"""The read model's documents equal what the aggregates say, for every kind of event."""

from __future__ import annotations

from typing import Any

from adapters.memory_read_store import InMemoryReadStore
from commands.backtests import BacktestCommands
from commands.execution import ExecutionCommands
from commands.messages import CancelBacktest, DecidePromotion, RequestPromotion
from commands.promotions import PromotionCommands
from commands.store import EventStore
from commands.strategies import StrategyCommands
from commands.views import job_view, strategy_version_view
from domain.backtest_job import BacktestJob
from domain.identity import strategy_version_id
from domain.promotion import GateThresholds
from projections.read_model import ReadModelProjector
from projections.runner import SubscriberRunner
from tests.factories import LEASE, register, strategy_code, submit


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
    strategies.register_strategy_version(register(code=strategy_code(stoploss=-0.2)), "bob")
    jobs = [backtests.submit_backtest(submit(), "alice")[0].id for _ in range(5)]
    _drive(store, backtests, jobs[0], "start", "progress", "complete")
    _drive(store, backtests, jobs[1], "start", "fail")
    _drive(store, backtests, jobs[2], "start", "progress")
    backtests.cancel_backtest(CancelBacktest(job_id=jobs[2]), "bob")
    backtests.cancel_backtest(CancelBacktest(job_id=jobs[3]), "bob")
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
    statuses = {read_store.get_job(j).status for j in jobs}  # type: ignore[union-attr]
    assert statuses == {"completed", "failed", "running", "cancelled"}
