"""OHLCV candles in freqtrade's layout (<dir>/<exchange>/<BASE>_<QUOTE>-<tf>.feather).

The candles live in a local directory, or in S3 (adapters/aws/s3_market_data.py) and are read
through a local cache: either way `MarketData.root` is the directory freqtrade reads, after
`sync` made the files a run needs local.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Protocol

import msgspec

from projections.ports import StorageUnavailable

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


def candle_name(exchange: str, pair: str, timeframe: str) -> str:
    """The file's path relative to the data directory (or to the S3 prefix)."""
    name = f"{pair.replace('/', '_').replace(':', '_')}-{timeframe}.feather"
    return str(PurePosixPath(exchange, name))


def candle_file(datadir: Path, exchange: str, pair: str, timeframe: str) -> Path:
    return datadir / candle_name(exchange, pair, timeframe)


class MarketDataError(StorageUnavailable):
    """The candles could not be fetched (S3 unreachable, no permission, ...); says which."""


@dataclass
class SyncReport:
    """What one sync did, by candle file (relative names, as `candle_name` gives them)."""

    downloaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


class MarketData(Protocol):
    """Where the candles come from; `root` is the local directory they are read from."""

    @property
    def root(self) -> Path: ...

    def sync(self, exchange: str, pairs: Sequence[str], timeframe: str) -> SyncReport:
        """Make the candle files of these pairs local under `root` (and current), as far as
        they exist; MarketDataError when the source cannot be reached."""

    def describe(self) -> str: ...


class LocalMarketData:
    """Candles in a local directory: every file is where freqtrade reads it already."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root

    def sync(self, exchange: str, pairs: Sequence[str], timeframe: str) -> SyncReport:
        return SyncReport()

    def describe(self) -> str:
        return str(self._root)


def availability(
    data: MarketData,
    exchange: str,
    pairs: Sequence[str],
    timeframe: str,
    start: date,
    end: date,
) -> list[Coverage]:
    """Each pair's coverage of [start, end), from the files synced first when they are remote."""
    data.sync(exchange, pairs, timeframe)
    return [coverage(data.root, exchange, pair, timeframe, start, end) for pair in pairs]


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
