"""The equity service: a backtest's account value over time, and how far below its peak it was."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ClosedTrade:
    """What equity needs of a trade: when it closed and what it made (in stake currency)."""

    closed_at: datetime
    profit_abs: float


@dataclass(frozen=True)
class EquityPoint:
    """Equity at `ts`, and its drawdown: the fraction below the highest equity so far (0..1)."""

    ts: datetime
    equity: float
    drawdown: float


def equity_curve(
    starting_balance: float, trades: Iterable[ClosedTrade], start: datetime | None = None
) -> list[EquityPoint]:
    """Realised equity after each closing time, starting from `starting_balance`.

    Trades closing at the same instant are booked together (one point), since the account never
    shows the state between them. The first point is the start (at `start`, or the first close).
    """
    if starting_balance <= 0:
        raise ValueError("starting balance must be positive")
    by_time: dict[datetime, float] = {}
    for trade in trades:
        by_time[trade.closed_at] = by_time.get(trade.closed_at, 0.0) + trade.profit_abs
    times = sorted(by_time)
    first = start if start is not None else (times[0] if times else None)
    points: list[EquityPoint] = []
    if first is not None:
        points.append(EquityPoint(first, starting_balance, 0.0))
    equity = peak = starting_balance
    for ts in times:
        equity += by_time[ts]
        peak = max(peak, equity)
        points.append(EquityPoint(ts, equity, (peak - equity) / peak if peak > 0 else 0.0))
    return points


def max_drawdown(points: Iterable[EquityPoint]) -> float:
    """The deepest drawdown of a curve (0 when it never fell)."""
    return max((p.drawdown for p in points), default=0.0)
