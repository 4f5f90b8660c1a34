"""The equity service against cases worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.equity import ClosedTrade, EquityPoint, equity_curve, max_drawdown

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def test_no_trades_is_a_flat_line_from_the_start() -> None:
    assert equity_curve(1000.0, [], start=T0) == [EquityPoint(T0, 1000.0, 0.0)]
    assert equity_curve(1000.0, []) == []


def test_gains_then_a_loss_then_a_recovery() -> None:
    # 1000 -> +100 = 1100 (peak) -> -220 = 880 (20% below 1100) -> +330 = 1210 (new peak)
    trades = [ClosedTrade(at(1), 100.0), ClosedTrade(at(2), -220.0), ClosedTrade(at(3), 330.0)]
    curve = equity_curve(1000.0, trades, start=T0)
    assert [(p.ts, p.equity) for p in curve] == [
        (T0, 1000.0),
        (at(1), 1100.0),
        (at(2), 880.0),
        (at(3), 1210.0),
    ]
    assert [p.drawdown for p in curve] == pytest.approx([0.0, 0.0, 0.2, 0.0])
    assert max_drawdown(curve) == pytest.approx(0.2)


def test_losing_from_the_start_measures_against_the_starting_balance() -> None:
    # 500 -> -50 = 450 (10% down) -> -50 = 400 (20% down) -> +25 = 425 (15% down)
    trades = [ClosedTrade(at(1), -50.0), ClosedTrade(at(2), -50.0), ClosedTrade(at(3), 25.0)]
    curve = equity_curve(500.0, trades, start=T0)
    assert [p.drawdown for p in curve] == pytest.approx([0.0, 0.1, 0.2, 0.15])
    assert curve[-1].equity == pytest.approx(425.0)


def test_trades_closing_together_are_one_point_and_order_does_not_matter() -> None:
    trades = [ClosedTrade(at(2), 10.0), ClosedTrade(at(1), -40.0), ClosedTrade(at(1), 20.0)]
    curve = equity_curve(100.0, trades)
    # first close at 1h: the start point, then 100 - 40 + 20 = 80 (20% down), then 90 (10% down)
    assert [(p.ts, p.equity) for p in curve] == [(at(1), 100.0), (at(1), 80.0), (at(2), 90.0)]
    assert [p.drawdown for p in curve] == pytest.approx([0.0, 0.2, 0.1])


def test_the_starting_balance_must_be_positive() -> None:
    with pytest.raises(ValueError):
        equity_curve(0.0, [])
