"""Preloaded candles: freqtrade's own loader answers from memory while the file is unchanged,
with frames equal to a cold read, and reads the file again once it changed."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas
import pytest

from adapters.freqtrade import warm_data
from adapters.sample_data import generate


def _load(datadir: Path) -> pandas.DataFrame:
    from freqtrade.data.history.datahandlers.featherdatahandler import FeatherDataHandler
    from freqtrade.enums import CandleType

    handler = FeatherDataHandler(datadir / "binance")
    return handler.ohlcv_load("BTC/USDT", "5m", timerange=None, candle_type=CandleType.SPOT)


def test_preloaded_candles_are_used_equal_and_dropped_when_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path, "binance", ["BTC/USDT"], ["5m"], date(2024, 1, 1), date(2024, 1, 15))
    cold = _load(tmp_path)
    names = ["binance/BTC_USDT-5m.feather", "../outside.feather", "binance/missing.feather"]
    assert warm_data.preload(tmp_path, names, budget_bytes=64 * 1024 * 1024) == 1
    assert [p.name for p in warm_data.preloaded()] == ["BTC_USDT-5m.feather"]

    from pyarrow import dataset

    reads: list[object] = []
    real_dataset = dataset.dataset

    def counting(*args: object, **kwargs: object) -> object:
        reads.append(args[0])
        return real_dataset(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dataset, "dataset", counting)  # freqtrade's own way to read the file
    warm = _load(tmp_path)
    again = _load(tmp_path)  # copies: what one run does to its frame, the next never sees
    assert reads == []
    pandas.testing.assert_frame_equal(warm, cold)
    pandas.testing.assert_frame_equal(again, cold)

    file = tmp_path / "binance" / "BTC_USDT-5m.feather"
    stat = file.stat()
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    pandas.testing.assert_frame_equal(_load(tmp_path), cold)
    assert len(reads) == 1  # changed: read again, never the stale frame


def test_the_budget_bounds_what_is_preloaded(tmp_path: Path) -> None:
    generate(tmp_path, "binance", ["ETH/USDT"], ["5m"], date(2024, 1, 1), date(2024, 1, 15))
    assert warm_data.preload(tmp_path, ["binance/ETH_USDT-5m.feather"], budget_bytes=1024) == len(
        [p for p in warm_data.preloaded() if p.name != "ETH_USDT-5m.feather"]
    )
    assert "ETH_USDT-5m.feather" not in [p.name for p in warm_data.preloaded()]
