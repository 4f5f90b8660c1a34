"""OHLCV candles in freqtrade's layout (<dir>/<exchange>/<BASE>_<QUOTE>-<tf>.feather)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec

TIMEFRAME_SECONDS = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200, "1w": 604800,
}  # fmt: skip


class Coverage(msgspec.Struct, frozen=True):
    """Which candles one pair has at one timeframe: first and last candle open times."""

    pair: str
    timeframe: str
    available: bool
    first: datetime | None = None
    last: datetime | None = None
    candles: int = 0
    covers_range: bool = False


def candle_file(datadir: Path, exchange: str, pair: str, timeframe: str) -> Path:
    return datadir / exchange / f"{pair.replace('/', '_').replace(':', '_')}-{timeframe}.feather"


def coverage(
    datadir: Path, exchange: str, pair: str, timeframe: str, start: date, end: date
) -> Coverage:
    """Read the file's date column only, and say whether it spans [start, end)."""
    from pyarrow import feather

    path = candle_file(datadir, exchange, pair, timeframe)
    if not path.exists():
        return Coverage(pair, timeframe, available=False)
    dates = feather.read_table(path, columns=["date"]).column("date")
    if len(dates) == 0:
        return Coverage(pair, timeframe, available=False)
    first = dates[0].as_py().astimezone(UTC)
    last = dates[len(dates) - 1].as_py().astimezone(UTC)
    range_start = datetime(start.year, start.month, start.day, tzinfo=UTC)
    range_end = datetime(end.year, end.month, end.day, tzinfo=UTC)
    step = timedelta(seconds=TIMEFRAME_SECONDS[timeframe])
    covers = first <= range_start and last >= range_end - step
    return Coverage(pair, timeframe, True, first, last, len(dates), covers)


def missing_data_message(exchange: str, timerange: str, gaps: list[Coverage]) -> str:
    """One sentence per pair whose candles do not cover the range."""
    parts = []
    for gap in gaps:
        if not gap.available:
            parts.append(f"no candles for {gap.pair} {gap.timeframe} on {exchange}")
        else:
            parts.append(
                f"candles for {gap.pair} {gap.timeframe} on {exchange} cover only "
                f"{gap.first:%Y-%m-%d %H:%M} to {gap.last:%Y-%m-%d %H:%M}"
            )
    return (
        f"missing data for {timerange}: "
        + "; ".join(parts)
        + " (`tradai data generate` makes sample candles)"
    )
