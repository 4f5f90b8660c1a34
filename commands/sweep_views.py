"""How a sweep looks from outside: commands return it; the read model will store it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.sweep import Sweep


class TrialView(msgspec.Struct, frozen=True, kw_only=True):
    """One trial: its backtest, the parameter values it ran with, and how it ended."""

    number: int
    backtest_id: UUID
    parameters: dict[str, Any]
    status: str  # pending (its backtest waits or runs), completed, failed, cancelled
    objective: float | None


class BestTrial(msgspec.Struct, frozen=True, kw_only=True):
    trial: int
    parameters: dict[str, Any]
    objective: float


class SweepView(msgspec.Struct, frozen=True, kw_only=True):
    """One sweep as clients see it, its trials included."""

    id: UUID
    strategy: str
    strategy_version: int
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str
    exchange: str
    stake_amount: float | None
    max_open_trades: int | None
    starting_balance: float | None
    fee: float | None
    space: dict[str, Any]
    method: str
    max_trials: int
    objective: str
    direction: str
    seed: int
    priority: str
    submitted_by: str
    submitted_at: datetime
    status: str
    error: str | None
    total: int
    done: int
    failed: int
    pending: int
    best: BestTrial | None
    trials: list[TrialView]
    version: int


def sweep_view(sweep: Sweep) -> SweepView:
    """The view of a sweep as its aggregate holds it right now."""
    best = sweep.best
    return SweepView(
        id=sweep.id,
        strategy=sweep.strategy,
        strategy_version=sweep.strategy_version,
        pairs=sweep.pairs,
        timeframe=sweep.timeframe,
        timerange=sweep.timerange,
        exchange=sweep.exchange,
        stake_amount=sweep.stake_amount,
        max_open_trades=sweep.max_open_trades,
        starting_balance=sweep.starting_balance,
        fee=sweep.fee,
        space=dict(sweep.space),
        method=sweep.method.value,
        max_trials=sweep.max_trials,
        objective=sweep.objective,
        direction=sweep.direction.value,
        seed=sweep.seed,
        priority=sweep.priority,
        submitted_by=sweep.submitted_by,
        submitted_at=sweep.created_on,
        status=sweep.status.value,
        error=sweep.error,
        total=sweep.total,
        done=sweep.done,
        failed=sweep.failed,
        pending=sweep.pending,
        best=None
        if best is None
        else BestTrial(
            trial=best.trial, parameters=dict(best.parameters), objective=best.objective
        ),
        trials=[
            TrialView(
                number=t.number,
                backtest_id=t.job_id,
                parameters=dict(t.parameters),
                status=t.status.value,
                objective=t.objective,
            )
            for t in sweep.trials
        ],
        version=sweep.version,
    )
