"""Backtest results as the read side keeps them, built from a run's result artifact.

A worker writes a RunResult (freqtrade's numbers, freqtrade's field names) as the job's
`result` artifact; on Completed the projector reads it back, computes the equity curve with the
domain's equity service, and stores result, trades and equity documents.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain.equity import ClosedTrade, equity_curve


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """One closed trade, with freqtrade's field names."""

    pair: str
    open_date: datetime
    close_date: datetime
    open_rate: float
    close_rate: float
    amount: float
    stake_amount: float
    profit_abs: float
    profit_ratio: float
    exit_reason: str
    fee_open: float | None = None
    fee_close: float | None = None
    trade_duration: int | None = None
    is_short: bool = False
    enter_tag: str | None = None


class PairResult(msgspec.Struct, frozen=True, kw_only=True):
    """Freqtrade's per-pair summary line."""

    pair: str
    trades: int
    profit_mean: float | None
    profit_total: float | None
    profit_total_abs: float | None
    wins: int
    draws: int
    losses: int
    winrate: float | None
    max_drawdown: float | None


class RunResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one backtest produced, as the `result` artifact stores it."""

    strategy: str
    metrics: dict[str, float | int | None]
    per_pair: list[PairResult]
    trades: list[Trade]
    backtest_start: datetime
    backtest_end: datetime


class EquityPointView(msgspec.Struct, frozen=True):
    ts: datetime
    equity: float
    drawdown: float


class BacktestResultView(msgspec.Struct, frozen=True, kw_only=True):
    """The read model's result document of one completed job."""

    job_id: UUID
    metrics: dict[str, float | int | None]
    per_pair: list[PairResult]
    equity: list[EquityPointView]
    trade_count: int
    backtest_start: datetime | None
    backtest_end: datetime | None
    error: str | None = None


def result_view(job_id: UUID, result: RunResult) -> BacktestResultView:
    """The result document: freqtrade's metrics and the equity curve of the closed trades."""
    starting = float(result.metrics.get("starting_balance") or 0.0)
    closed = [ClosedTrade(t.close_date, t.profit_abs) for t in result.trades]
    curve = equity_curve(starting, closed, start=result.backtest_start) if starting > 0 else []
    return BacktestResultView(
        job_id=job_id,
        metrics=result.metrics,
        per_pair=result.per_pair,
        equity=[EquityPointView(p.ts, p.equity, p.drawdown) for p in curve],
        trade_count=len(result.trades),
        backtest_start=result.backtest_start,
        backtest_end=result.backtest_end,
    )


def unavailable(
    job_id: UUID, summary: dict[str, float | int | None], why: str
) -> BacktestResultView:
    """A result document for a job whose artifact cannot be read: the metrics, and why."""
    return BacktestResultView(
        job_id=job_id, metrics=summary, per_pair=[], equity=[], trade_count=0,
        backtest_start=None, backtest_end=None, error=why,
    )  # fmt: skip
