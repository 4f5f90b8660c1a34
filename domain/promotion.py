"""Promotion vocabulary: gates a backtest must pass, and the state of one promotion request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.errors import DomainError


class PromotionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Gate:
    """One check of a promotion request: what was required, what the backtest showed."""

    name: str
    passed: bool
    actual: Any
    threshold: Any


@dataclass(frozen=True)
class GateThresholds:
    """The thresholds set by the operators (BACKEND_GATE_*)."""

    min_trades: int = 10
    max_drawdown: float = 0.25
    min_profit: float = 0.0


def evaluate_gates(
    thresholds: GateThresholds,
    *,
    status: str,
    backtest_strategy: str,
    backtest_version: int,
    strategy: str,
    version: int,
    metrics: dict[str, Any],
) -> list[Gate]:
    """Every gate, passed or not, so a refusal can list them all."""
    trades = metrics.get("total_trades")
    drawdown = metrics.get("max_drawdown")
    profit = metrics.get("profit_total")
    return [
        Gate("backtest_completed", status == "completed", status, "completed"),
        Gate(
            "same_strategy_version",
            (backtest_strategy, backtest_version) == (strategy, version),
            f"{backtest_strategy} v{backtest_version}",
            f"{strategy} v{version}",
        ),
        Gate(
            "min_trades",
            trades is not None and trades >= thresholds.min_trades,
            trades,
            thresholds.min_trades,
        ),
        Gate(
            "max_drawdown",
            drawdown is not None and drawdown <= thresholds.max_drawdown,
            drawdown,
            thresholds.max_drawdown,
        ),
        Gate(
            "min_profit",
            profit is not None and profit >= thresholds.min_profit,
            profit,
            thresholds.min_profit,
        ),
    ]


class GatesFailed(DomainError):
    """Some gates did not pass; the request is refused and nothing is recorded."""

    def __init__(self, gates: list[Gate]) -> None:
        failed = ", ".join(g.name for g in gates if not g.passed)
        super().__init__(f"promotion refused: gates not passed: {failed}")
        self.gates = gates
