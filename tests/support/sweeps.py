"""Shared builders of the sweep tests: a strategy declaring parameters, sweeps, fake runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from commands.execution import ExecutionCommands
from commands.messages import SubmitSweep
from commands.store import EventStore
from commands.strategies import StrategyCommands
from domain.backtest_job import BacktestJob
from domain.strategy_source import read_strategy
from domain.sweep import Sweep, TrialStatus
from tests.factories import register

SWEPT_CODE = """
from freqtrade.strategy import (
    BooleanParameter, CategoricalParameter, DecimalParameter, IntParameter, IStrategy,
)


class EmaCross(IStrategy):
    timeframe = "5m"
    minimal_roi = {"0": 0.05}
    stoploss = -0.10
    buy_fast = IntParameter(5, 30, default=12)
    buy_slow = IntParameter(20, 100, default=50)
    sell_ratio = DecimalParameter(0.1, 0.9, decimals=2, default=0.5)
    buy_mode = CategoricalParameter(["ema", "sma", "wma"], default="ema")
    buy_on = BooleanParameter(default=True)
"""
DECLARED = [spec.as_dict() for spec in read_strategy(SWEPT_CODE, "EmaCross")]
GRID_SPACE: dict[str, Any] = {
    "buy_fast": [5, 10],
    "buy_mode": ["ema", "sma"],
    "sell_ratio": {"low": 0.1, "high": 0.3, "step": 0.1},
}


def new_sweep(**overrides: Any) -> Sweep:
    """A sweep built straight from its Created event's values."""
    fields: dict[str, Any] = {
        "strategy": "EmaCross",
        "strategy_version": 1,
        "code_sha256": "0" * 64,
        "pairs": ("BTC/USDT",),
        "timeframe": "5m",
        "timerange": "20240101-20240301",
        "exchange": "binance",
        "stake_amount": None,
        "max_open_trades": None,
        "starting_balance": None,
        "fee": None,
        "space": GRID_SPACE,
        "declared": DECLARED,
        "method": "grid",
        "max_trials": 100,
        "objective": "sharpe",
        "direction": "maximize",
        "seed": 7,
        "submitted_by": "alice",
        "priority": "low",
    }
    return Sweep(**(fields | overrides))


def submit_sweep(**overrides: Any) -> SubmitSweep:
    fields: dict[str, Any] = {
        "strategy": "EmaCross",
        "pairs": ("BTC/USDT",),
        "timeframe": "5m",
        "timerange": "20240101-20240301",
        "space": GRID_SPACE,
        "objective": "sharpe",
        "seed": 7,
    }
    return SubmitSweep(**(fields | overrides))


def register_swept_strategy(store: EventStore) -> None:
    StrategyCommands(store).register_strategy_version(register(code=SWEPT_CODE), "alice")


Outcome = Callable[[dict[str, Any]], float | str | None]


def score(parameters: dict[str, Any]) -> float:
    """A made-up sharpe with one peak: buy_fast 10, sma, sell_ratio 0.2."""
    return (
        -abs(parameters.get("buy_fast", 10) - 10)
        - (parameters.get("buy_mode", "sma") != "sma")
        - abs(parameters.get("sell_ratio", 0.2) - 0.2) * 10
    )


def run_pending_trials(store: EventStore, sweep_id: UUID, outcome: Outcome = score) -> int:
    """Play the executor for the sweep's pending trials: claim each job and complete it with
    `outcome(parameters)` as its sharpe, or fail it when the outcome is the string "fail".
    Returns how many it ran."""
    execution = ExecutionCommands(store)
    sweep = store.load(sweep_id, "sweep")
    ran = 0
    for trial in sweep.trials:
        if trial.status is not TrialStatus.PENDING:
            continue
        job = execution.claim(trial.job_id, "worker-1", 60)
        if job is None:
            continue
        result = outcome(trial.parameters)
        if result == "fail":
            execution.fail(job.id, job.attempt, "the strategy raised")
        else:
            execution.complete(job.id, job.attempt, {"sharpe": result, "total_trades": 3}, {})
        ran += 1
    return ran


def trial_jobs(store: EventStore, sweep_id: UUID) -> list[BacktestJob.Submitted]:
    """Every job submitted for the sweep, from the log."""
    found: list[BacktestJob.Submitted] = []
    position = 0
    while page := store.read(position, 500):
        found += [
            e.event
            for e in page
            if isinstance(e.event, BacktestJob.Submitted) and e.event.sweep_id == sweep_id
        ]
        position = page[-1].position
    return found
