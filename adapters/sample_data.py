"""Sample candles: a seeded random walk with drifting trends, in freqtrade's feather layout.

Made so a new machine can backtest without downloading anything; the same seed gives the same
candles everywhere. Larger timeframes are resampled from the 5-minute series, so they agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from adapters.market_data import candle_file

START_PRICES = {"BTC/USDT": 42_000.0, "ETH/USDT": 2_300.0}
_RULES = {
    "5m": "5min", "15m": "15min", "30m": "30min", "1h": "1h", "2h": "2h", "4h": "4h", "1d": "1D",
}  # fmt: skip


def generate(
    datadir: Path,
    exchange: str,
    pairs: Iterable[str],
    timeframes: Iterable[str],
    start: date,
    end: date,
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write candles for each pair and timeframe over [start, end); returns the files written."""
    import numpy as np
    import pandas as pd

    written: list[Path] = []
    timeframes = list(timeframes)
    unknown = [tf for tf in timeframes if tf not in _RULES]
    if unknown:
        raise ValueError(f"sample data supports {', '.join(_RULES)}; not {', '.join(unknown)}")
    for pair in pairs:
        targets = {tf: candle_file(datadir, exchange, pair, tf) for tf in timeframes}
        if not overwrite and all(p.exists() for p in targets.values()):
            continue
        seed = sum(ord(c) for c in f"{exchange}:{pair}")
        rng = np.random.default_rng(seed)
        index = pd.date_range(
            pd.Timestamp(start, tz="UTC"),
            pd.Timestamp(end, tz="UTC"),
            freq="5min",
            inclusive="left",
        )
        # A slowly wandering drift makes trends and reversals, so crossover strategies trade.
        drift = np.cumsum(rng.normal(0, 0.00002, len(index))).clip(-0.0004, 0.0004)
        returns = drift + rng.normal(0, 0.0018, len(index))
        close = START_PRICES.get(pair, 100.0) * np.exp(np.cumsum(returns))
        open_ = np.concatenate([[close[0]], close[:-1]])
        spread = np.abs(rng.normal(0, 0.0008, (2, len(index))))
        candles = pd.DataFrame(
            {
                "open": open_,
                "high": np.maximum(open_, close) * (1 + spread[0]),
                "low": np.minimum(open_, close) * (1 - spread[1]),
                "close": close,
                "volume": rng.gamma(2.0, 50.0, len(index)),
            },
            index=index,
        )
        for timeframe, path in targets.items():
            if path.exists() and not overwrite:
                continue
            frame = candles if timeframe == "5m" else _resample(candles, _RULES[timeframe])
            path.parent.mkdir(parents=True, exist_ok=True)
            out = frame.reset_index(names="date")
            out["date"] = out["date"].astype("datetime64[ms, UTC]")
            out.to_feather(path)
            written.append(path)
    return written


def _resample(candles: Any, rule: str) -> Any:
    frame = candles.resample(rule, label="left", closed="left")
    return frame.agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    ).dropna()
