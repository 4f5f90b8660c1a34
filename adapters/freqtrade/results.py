"""Reads freqtrade's result zip into the service's RunResult, keeping freqtrade's numbers."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from projections.results import PairResult, RunResult, Trade

# API.md's metric names, and the freqtrade key each one is read from.
METRICS = {
    "total_trades": "total_trades",
    "profit_total": "profit_total",
    "profit_total_abs": "profit_total_abs",
    "max_drawdown": "max_drawdown_account",
    "max_drawdown_abs": "max_drawdown_abs",
    "sharpe": "sharpe",
    "sortino": "sortino",
    "calmar": "calmar",
    "winrate": "winrate",
    "profit_factor": "profit_factor",
    "starting_balance": "starting_balance",
    "final_balance": "final_balance",
    "profit_mean": "profit_mean",
    "cagr": "cagr",
    "expectancy": "expectancy",
    "trades_per_day": "trades_per_day",
}


class ResultMissing(RuntimeError):
    """Freqtrade finished without writing the result it should have."""


def latest_zip(results_dir: Path) -> Path:
    """The zip named by freqtrade's `.last_result.json`; never trust the exit alone."""
    marker = results_dir / ".last_result.json"
    if not marker.exists():
        raise ResultMissing("freqtrade wrote no backtest result")
    path = results_dir / str(json.loads(marker.read_text())["latest_backtest"])
    if not path.exists():
        raise ResultMissing(f"freqtrade's result file {path.name} is missing")
    return path


def strategy_stats(zip_path: Path, strategy: str) -> dict[str, Any]:
    """The `strategy.<name>` section of the result JSON inside the zip."""
    with zipfile.ZipFile(zip_path) as archive:
        name = next(
            n for n in archive.namelist()
            if n.endswith(".json") and not n.endswith("_config.json") and "meta" not in n
        )  # fmt: skip
        stats = json.loads(archive.read(name))
    try:
        return dict(stats["strategy"][strategy])
    except KeyError:
        raise ResultMissing(
            f"freqtrade's result holds no section for strategy {strategy}"
        ) from None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    return None


def _date(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_result(stats: dict[str, Any], strategy: str) -> RunResult:
    """Our RunResult from freqtrade's stats: same numbers, API.md's names."""
    metrics = {ours: _number(stats.get(theirs)) for ours, theirs in METRICS.items()}
    per_pair = [
        PairResult(
            pair=row["key"],
            trades=int(row.get("trades", 0)),
            profit_mean=_number(row.get("profit_mean")),
            profit_total=_number(row.get("profit_total")),
            profit_total_abs=_number(row.get("profit_total_abs")),
            wins=int(row.get("wins", 0)),
            draws=int(row.get("draws", 0)),
            losses=int(row.get("losses", 0)),
            winrate=_number(row.get("winrate")),
            max_drawdown=_number(row.get("max_drawdown_account")),
        )
        for row in stats.get("results_per_pair", [])
        if row.get("key") != "TOTAL"
    ]
    trades = [
        Trade(
            pair=t["pair"],
            open_date=_date(t["open_date"]),
            close_date=_date(t["close_date"]),
            open_rate=float(t["open_rate"]),
            close_rate=float(t["close_rate"]),
            amount=float(t["amount"]),
            stake_amount=float(t["stake_amount"]),
            profit_abs=float(t["profit_abs"]),
            profit_ratio=float(t["profit_ratio"]),
            exit_reason=str(t.get("exit_reason") or ""),
            fee_open=_number(t.get("fee_open")),
            fee_close=_number(t.get("fee_close")),
            trade_duration=t.get("trade_duration"),
            is_short=bool(t.get("is_short", False)),
            enter_tag=t.get("enter_tag") or None,
        )
        for t in stats.get("trades", [])
    ]
    return RunResult(
        strategy=strategy,
        metrics=metrics,
        per_pair=per_pair,
        trades=trades,
        backtest_start=_date(stats["backtest_start"]),
        backtest_end=_date(stats["backtest_end"]),
    )
