"""Builders of valid domain objects and commands, so each test states only what it varies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from commands.messages import RegisterStrategyVersion, SubmitBacktest
from domain.backtest_job import BacktestJob

# A lease far in the future: tests that do not study leases never see one run out.
LEASE = datetime.now(UTC) + timedelta(days=365)

STRATEGY_CODE = """
from freqtrade.strategy import IStrategy


class EmaCross(IStrategy):
    timeframe = "5m"
    minimal_roi = {"0": 0.05}
    stoploss = -0.10
"""


def strategy_code(name: str = "EmaCross", stoploss: float | None = None) -> str:
    """A minimal strategy registration accepts; `stoploss` tells versions apart."""
    code = STRATEGY_CODE.replace("EmaCross", name)
    return code if stoploss is None else code.replace("-0.10", repr(stoploss))


def new_job(**overrides: Any) -> BacktestJob:
    fields: dict[str, Any] = {
        "strategy": "EmaCross",
        "strategy_version": 1,
        "code_sha256": "0" * 64,
        "pairs": ("BTC/USDT", "ETH/USDT"),
        "timeframe": "5m",
        "timerange": "20240101-20240301",
        "exchange": "binance",
        "stake_amount": None,
        "max_open_trades": None,
        "starting_balance": None,
        "fee": None,
        "submitted_by": "alice",
        "parameters": {},
        "priority": "normal",
        "sweep_id": None,
    }
    return BacktestJob(**(fields | overrides))


def submit(**overrides: Any) -> SubmitBacktest:
    fields: dict[str, Any] = {
        "strategy": "EmaCross",
        "pairs": ("BTC/USDT",),
        "timeframe": "5m",
        "timerange": "20240101-20240301",
    }
    return SubmitBacktest(**(fields | overrides))


def register(name: str = "EmaCross", code: str | None = None, **kw: Any) -> RegisterStrategyVersion:
    """Register `code`, by default a minimal strategy class named `name`."""
    return RegisterStrategyVersion(name=name, code=code or strategy_code(name), **kw)


def submit_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "strategy": "EmaCross",
        "pairs": ["BTC/USDT", "ETH/USDT"],
        "timeframe": "5m",
        "timerange": "20240101-20240301",
    }
    return body | overrides
