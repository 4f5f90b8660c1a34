"""Candles read before the run arrives: a standby worker preloads the candle files of its slot's
previous run (a sweep's next trial wants the same ones), so the run does not read and decode
them again.

Every worker process still serves one run only (nothing of one researcher's code outlives their
run); what carries over from one run to the next is the *names* of the files, chosen by the
pool, never anything the previous run's process held. A preloaded frame is the whole file as
freqtrade's own feather reader returns it (what freqtrade falls back to when it cannot filter
by time while reading; it trims to the timerange afterwards either way), handed out as a copy
and only while the file is unchanged (same size and modification time), so a warm run's results
equal a cold run's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# path -> ((size, mtime_ns), DataFrame)
_frames: dict[Path, tuple[tuple[int, int], Any]] = {}
_original: Any = None  # FeatherDataHandler._load_ohlcv_dataframe before preload() replaced it


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def preload(market_data: Path, names: list[str], budget_bytes: int) -> int:
    """Read the candle files `names` (relative to `market_data`) into memory, up to
    `budget_bytes` of decoded frames, and make freqtrade's feather reader use them. Returns how
    many files were preloaded; names that leave `market_data` or do not exist are skipped."""
    from freqtrade.data.history.datahandlers.featherdatahandler import FeatherDataHandler
    from pandas import read_feather

    root = market_data.resolve()
    used = 0
    for name in names:
        path = (root / name).resolve()
        if not path.is_relative_to(root) or path.suffix != ".feather" or not path.is_file():
            continue
        stamp = _stamp(path)
        frame = read_feather(path)
        size = int(frame.memory_usage(deep=True).sum())
        if used + size > budget_bytes:
            log.info("candle cache budget reached at %s", name)
            break
        used += size
        _frames[path] = (stamp, frame)
    global _original
    if _frames and _original is None:
        _original = FeatherDataHandler._load_ohlcv_dataframe
        FeatherDataHandler._load_ohlcv_dataframe = _load_ohlcv_dataframe  # type: ignore[method-assign]
    return len(_frames)


def _load_ohlcv_dataframe(self: Any, filename: Path, timeframe: str, timerange: Any) -> Any:
    """FeatherDataHandler._load_ohlcv_dataframe, answered from memory (the whole file; the
    caller trims it) while the file is unchanged."""
    path = Path(filename).resolve()
    cached = _frames.get(path)
    if cached is not None and cached[0] == _stamp(path):
        return cached[1].copy(deep=True)
    return _original(self, filename, timeframe, timerange)


def preloaded() -> list[Path]:
    return sorted(_frames)
