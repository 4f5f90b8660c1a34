"""The freqtrade configuration of one run, built from the job: nothing else is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projections.execution_ports import RunSpec

DEFAULT_STARTING_BALANCE = 1000.0


def freqtrade_config(spec: RunSpec, workdir: Path) -> dict[str, Any]:
    """Spot dry-run config for the job's pairs; results cache off, results in the workdir."""
    quote = spec.pairs[0].split("/")[1].split(":")[0]
    config: dict[str, Any] = {
        "dry_run": True,
        "dry_run_wallet": spec.starting_balance or DEFAULT_STARTING_BALANCE,
        "stake_currency": quote,
        "stake_amount": spec.stake_amount if spec.stake_amount is not None else "unlimited",
        "max_open_trades": spec.max_open_trades or len(spec.pairs),
        "timeframe": spec.timeframe,
        "trading_mode": "spot",
        "margin_mode": "",
        "exchange": {
            "name": spec.exchange,
            "key": "",
            "secret": "",
            "pair_whitelist": list(spec.pairs),
        },
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same", "use_order_book": False},
        "exit_pricing": {"price_side": "same", "use_order_book": False},
        "backtest_cache": "none",
        "dataformat_ohlcv": "feather",
        "user_data_dir": str(workdir / "user_data"),
        "internals": {"process_throttle_secs": 5},
    }
    if spec.fee is not None:
        config["fee"] = spec.fee
    return config


def freqtrade_args(
    spec: RunSpec, workdir: Path, config_path: Path, datadir: Path
) -> dict[str, Any]:
    """The arguments `freqtrade backtesting` would get on its command line."""
    return {
        "config": [str(config_path)],
        "strategy": spec.strategy,
        "strategy_path": str(workdir / "strategies"),
        "datadir": str(datadir / spec.exchange),
        "timerange": spec.timerange,
        "export": "trades",
        "exportdirectory": str(workdir / "results"),
        "user_data_dir": str(workdir / "user_data"),
        "cache": "none",
    }


def cli_argv(args: dict[str, Any]) -> list[str]:
    """The same run as `freqtrade backtesting` command-line arguments (for the bare CLI)."""
    return [
        "backtesting",
        "--config", args["config"][0],
        "--strategy", args["strategy"],
        "--strategy-path", args["strategy_path"],
        "--datadir", args["datadir"],
        "--timerange", args["timerange"],
        "--export", "trades",
        "--backtest-directory", args["exportdirectory"],
        "--userdir", args["user_data_dir"],
        "--cache", "none",
    ]  # fmt: skip
