"""A read model rebuilt from the event store equals the live one, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa

import app.rebuild
from adapters.artifact_store import LocalArtifactStore
from adapters.event_store import open_event_store
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from app.rebuild import REBUILD_PREFIX, rebuild_and_swap
from app.settings import load_settings
from commands.backtests import BacktestCommands
from commands.execution import ExecutionCommands
from commands.messages import (
    CancelBacktest,
    CancelSweep,
    DecidePromotion,
    DeployVersion,
    RequestPromotion,
    RollBack,
)
from commands.promotions import PromotionCommands
from commands.store import EventStore
from commands.strategies import StrategyCommands
from commands.sweeps import SweepCommands
from domain.backtest_job import BacktestJob
from domain.promotion import GateThresholds
from projections.read_model import ReadModelProjector
from projections.rebuild import RebuildReport, rebuild_read_model, rebuild_read_model_parallel
from projections.results import BacktestResultView, RunResult, Trade
from projections.runner import SubscriberRunner
from tests.factories import LEASE, register, strategy_code, submit
from tests.support.sweeps import register_swept_strategy, run_pending_trials, submit_sweep


def _result_artifact(artifacts: LocalArtifactStore, job_id: object, profit: float) -> str:
    """A run's `result` artifact, as a worker would store it, with two trades."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    trades = [
        Trade(pair="BTC/USDT", open_date=start + h * hour, close_date=start + (h + 1) * hour,
              open_rate=100.0, close_rate=101.0, amount=1.0, stake_amount=100.0, profit_abs=p,
              profit_ratio=p / 100, exit_reason="roi")
        for h, p in ((1, profit), (3, -profit / 2))
    ]  # fmt: skip
    result = RunResult(
        strategy="EmaCross", metrics={"starting_balance": 1000.0, "total_trades": 2}, per_pair=[],
        trades=trades, backtest_start=start, backtest_end=start + timedelta(days=1),
    )  # fmt: skip
    with tempfile.NamedTemporaryFile(delete=False) as file:
        file.write(msgspec.json.encode(result))
    return artifacts.put_file(f"{job_id}/1/result", file.name)


def _history(
    store: EventStore, jobs: int = 60, artifacts: LocalArtifactStore | None = None
) -> None:
    """A varied history: versions, submissions, runs, progress, results, failures, cancels."""
    rng = random.Random(7)
    strategies, backtests = StrategyCommands(store), BacktestCommands(store)
    for name in ("EmaCross", "RsiDip"):
        for n in range(3):
            strategies.register_strategy_version(
                register(name=name, code=strategy_code(name, -n / 100)), "alice"
            )
    for _ in range(jobs):
        view, _ = backtests.submit_backtest(
            submit(strategy=rng.choice(["EmaCross", "RsiDip"])), "alice"
        )
        job: BacktestJob = backtests.job(view.id)
        fate = rng.choice(["wait", "run", "complete", "fail", "cancel"])
        if fate in {"run", "complete", "fail"}:
            job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
            for step in range(rng.randint(0, 4)):
                job.report_progress("backtest", step / 4)
            if fate == "complete":
                files = (
                    {"result": _result_artifact(artifacts, job.id, rng.uniform(1, 9))}
                    if artifacts
                    else {}
                )
                job.complete({"total_trades": 2, "profit_total": rng.uniform(-0.2, 0.4)}, files)
            elif fate == "fail":
                job.fail("strategy raised an exception")
            store.commit(job)
        elif fate == "cancel":
            backtests.cancel_backtest(CancelBacktest(job_id=view.id), "bob", admin=True)
    _promotions(store)


def _promotions(store: EventStore) -> None:
    """Promote, deploy and roll back, so the catalog, promotion and revision documents move."""
    execution, promotions = (
        ExecutionCommands(store),
        PromotionCommands(store, GateThresholds(min_trades=1)),
    )
    for number in (1, 2):
        job, _ = BacktestCommands(store).submit_backtest(
            submit(strategy="EmaCross", strategy_version=number), "alice"
        )
        execution.claim(job.id, "w", 30)
        execution.complete(
            job.id, 1, {"total_trades": 5, "max_drawdown": 0.1, "profit_total": 0.1}, {}
        )
        for stage in ("staging", "production"):
            request = RequestPromotion(
                name="EmaCross", number=number, target_stage=stage, backtest_id=job.id
            )
            promotion, _ = promotions.request_promotion(request, "alice")
            decision = DecidePromotion(
                promotion_id=promotion.id, name="EmaCross", number=number, approve=True
            )
            promotions.decide_promotion(decision, "bob")
        promotions.deploy(
            DeployVersion(name="EmaCross", number=number, environment="production"), "olga"
        )
    promotions.rollback(RollBack(name="EmaCross", environment="production"), "olga")


def _sweep_history(store: EventStore) -> list[str]:
    """Three sweeps over a new version of EmaCross: one completed, one cancelled with a trial
    running, one running; eight trial jobs in all. Their ids, as the dumps key them."""
    register_swept_strategy(store)
    sweeps = SweepCommands(store)
    completed, _ = sweeps.submit_sweep(submit_sweep(max_trials=3), "alice")
    trials = sweeps.ask_trials(completed.id, in_flight=3)
    outcomes = iter([1.0, "fail", 2.0])
    run_pending_trials(store, completed.id, lambda _: next(outcomes))
    for job_id in trials:
        sweeps.record_trial_end(job_id)
    cancelled, _ = sweeps.submit_sweep(submit_sweep(method="random"), "bob")
    running, *_ = sweeps.ask_trials(cancelled.id, in_flight=3)
    ExecutionCommands(store).claim(running, "w", 60)
    sweeps.cancel_sweep(CancelSweep(sweep_id=cancelled.id), "bob", admin=True)
    waiting, _ = sweeps.submit_sweep(submit_sweep(), "carol")
    sweeps.ask_trials(waiting.id, in_flight=2)
    assert sweeps.sweep(completed.id).status.value == "completed"
    return sorted(str(s.id) for s in (completed, cancelled, waiting))


def test_rebuilt_model_equals_live_model(sql_urls: tuple[str, str], tmp_path: Path) -> None:
    events_url, read_url = sql_urls
    store = open_event_store(events_url)
    engine = create_engine(read_url)
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    live = SqlReadStore(engine)
    live.create()
    runner = SubscriberRunner(ReadModelProjector(live, artifacts=artifacts), store, batch_size=7)
    store.on_commit(runner.wake)
    runner.start()
    try:
        _history(store, artifacts=artifacts)
        sweep_ids = _sweep_history(store)
        assert runner.wait_for(store.max_position(), timeout=30)
    finally:
        runner.stop()
    rebuilt = SqlReadStore(engine, prefix=REBUILD_PREFIX)
    report = rebuild_read_model(store, rebuilt, artifacts=artifacts, batch_size=50)
    assert report.position == store.max_position() and report.events == len(store.read(0, 100_000))
    live_dump, rebuilt_dump = live.dump(), rebuilt.dump()
    assert len(live_dump["jobs"]) == 62 + 8 and len(live_dump["versions"]) == 7
    assert len(live_dump["promotions"]) == 4
    assert sorted(live_dump["sweeps"]) == sweep_ids
    assert rebuilt_dump == live_dump
    # Three processes, each replaying a share of the aggregates (uneven shares: 6, 5, 5 digits).
    parallel = SqlReadStore(engine, prefix="parallel_")
    shared = rebuild_read_model_parallel(
        lambda: open_event_store(events_url, create_tables=False),
        parallel,
        workers=3,
        artifacts=artifacts,
        batch_size=20,
    )
    assert (shared.events, shared.position) == (report.events, report.position)
    assert parallel.dump() == live_dump
    assert parallel.position("read_model") == store.max_position()
    results = [
        msgspec.json.decode(doc, type=BacktestResultView) for doc in live_dump["results"].values()
    ]
    from_artifacts = [
        r for r in results if r.trade_count == 2 and r.error is None and len(r.equity) == 3
    ]
    # Two promoted jobs and two completed trials ran without a result artifact.
    assert len(from_artifacts) == len(results) - 4 > 0, "results come from the artifacts"
    store.close()
    engine.dispose()


def test_a_swap_behind_the_live_projector_is_caught_up(sql_urls: tuple[str, str]) -> None:
    """The live projector is ahead of a swapped-in rebuild: it notices and replays the gap."""
    events_url, read_url = sql_urls
    store = open_event_store(events_url)
    live = SqlReadStore(create_engine(read_url))
    live.create()
    runner = SubscriberRunner(ReadModelProjector(live), store, poll_interval=0.05)
    store.on_commit(runner.wake)
    runner.start()
    backtests = BacktestCommands(store)
    try:
        _history(store, jobs=10)
        rebuilt = SqlReadStore(live.engine, prefix=REBUILD_PREFIX)
        snapshot = rebuild_read_model(store, rebuilt)
        for _ in range(5):  # the live model moves past the rebuild's position
            backtests.submit_backtest(submit(), "carol")
        assert runner.wait_for(store.max_position(), timeout=30)
        live.replace_with(rebuilt)
        assert live.position("read_model") == snapshot.position < runner.position
        backtests.submit_backtest(submit(), "dave")  # the next write finds the position moved
        assert runner.wait_for(store.max_position(), timeout=30)
        assert live.position("read_model") == store.max_position()
    finally:
        runner.stop()
    check = SqlReadStore(live.engine, prefix="check_")
    rebuild_read_model(store, check)
    assert check.dump() == live.dump()
    assert len(live.dump()["jobs"]) == 18
    store.close()
    live.engine.dispose()


def test_rebuild_and_swap_replaces_a_damaged_model(
    sql_urls: tuple[str, str], tmp_path: object
) -> None:
    events_url, read_url = sql_urls
    settings = load_settings(
        {
            "BACKEND_EVENT_STORE_URL": events_url,
            "BACKEND_READ_MODEL_URL": read_url,
            "BACKEND_DATA_DIR": str(tmp_path),
        }
    )
    store = open_event_store(events_url)
    _history(store, jobs=15, artifacts=LocalArtifactStore(settings.artifacts_path))
    sweep_ids = _sweep_history(store)
    live = SqlReadStore(create_engine(read_url))
    live.create()  # empty: as if the read model had been lost
    report = rebuild_and_swap(settings)
    results = [
        msgspec.json.decode(d, type=BacktestResultView) for d in live.dump()["results"].values()
    ]
    assert any(r.trade_count == 2 and r.error is None for r in results), "results from artifacts"
    assert report.position == store.max_position()
    assert live.position("read_model") == store.max_position()
    assert len(live.dump()["jobs"]) == 17 + 8
    assert sorted(live.dump()["sweeps"]) == sweep_ids
    check = SqlReadStore(live.engine, prefix="check_")
    rebuild_read_model(store, check, artifacts=LocalArtifactStore(settings.artifacts_path))
    assert check.dump() == live.dump()
    assert not sa.inspect(live.engine).has_table(f"{REBUILD_PREFIX}backtest_jobs"), (
        "scratch tables go"
    )
    store.close()
    live.engine.dispose()


def test_rebuild_and_swap_never_moves_the_live_model_back(
    sql_urls: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes that land while the rebuild replays, and between its catching up and its swap,
    stay visible: the rebuilt tables are caught up to the live model before they replace it,
    and the swap is refused while the live model is ahead (they used to be swapped in behind
    it, and jobs answered 202 meanwhile were missing until the next write)."""
    events_url, read_url = sql_urls
    settings = load_settings(
        {
            "BACKEND_EVENT_STORE_URL": events_url,
            "BACKEND_READ_MODEL_URL": read_url,
            "BACKEND_DATA_DIR": str(tmp_path),
        }
    )
    store = open_event_store(events_url)
    live = SqlReadStore(create_engine(read_url))
    live.create()
    runner = SubscriberRunner(ReadModelProjector(live), store, poll_interval=0.05)
    store.on_commit(runner.wake)
    runner.start()
    backtests = BacktestCommands(store)

    def live_moves_on(jobs: int) -> None:
        for _ in range(jobs):
            backtests.submit_backtest(submit(), "carol")
        assert runner.wait_for(store.max_position(), timeout=30)

    replay, follow = app.rebuild.rebuild_read_model, app.rebuild.catch_up
    catch_ups: list[int] = []

    def replay_then_move_on(*args: Any, **kwargs: Any) -> RebuildReport:
        report = replay(*args, **kwargs)
        live_moves_on(5)
        return report

    def catch_up_then_move_on(*args: Any, **kwargs: Any) -> int:
        catch_ups.append(follow(*args, **kwargs))
        if len(catch_ups) == 1:
            live_moves_on(3)  # after catching up, before the swap
        return catch_ups[-1]

    monkeypatch.setattr(app.rebuild, "rebuild_read_model", replay_then_move_on)
    monkeypatch.setattr(app.rebuild, "catch_up", catch_up_then_move_on)
    try:
        _history(store, jobs=10)
        report = rebuild_and_swap(settings, workers=1)
        assert len(catch_ups) == 2 and all(catch_ups), "caught up, refused, caught up again"
        assert live.position("read_model") == report.position == store.max_position()
        assert len(live.dump()["jobs"]) == 12 + 5 + 3, "jobs submitted during the rebuild"
        backtests.submit_backtest(submit(), "dave")  # the live projector goes on from there
        assert runner.wait_for(store.max_position(), timeout=30)
        assert runner.last_error is None
    finally:
        runner.stop()
    check = SqlReadStore(live.engine, prefix="check_")
    rebuild_read_model(store, check)
    assert check.dump() == live.dump()
    store.close()
    live.engine.dispose()
