"""The local worker pool running the real freqtrade package on small generated data."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters.freqtrade.pool import LocalWorkerPool, RunLimits
from adapters.sample_data import generate
from projections.execution_ports import RunOutput, RunSpec
from projections.results import RunResult
from tests.support import strategies

TIMERANGE = "20240101-20240201"


class Recorder:
    """A RunListener that keeps what it heard and lets a test wait for the end."""

    def __init__(self) -> None:
        self.progress: list[tuple[str, float]] = []
        self.outcome: tuple[str, Any] | None = None
        self.done = threading.Event()

    def on_progress(self, spec: RunSpec, phase: str, fraction: float) -> None:
        self.progress.append((phase, fraction))

    def _end(self, kind: str, detail: Any) -> None:
        self.outcome = (kind, detail)
        self.done.set()

    def on_completed(self, spec: RunSpec, output: RunOutput) -> None:
        result = msgspec.json.decode(Path(output.files["result"]).read_bytes(), type=RunResult)
        self._end("completed", (output, result))

    def on_failed(self, spec: RunSpec, reason: str) -> None:
        self._end("failed", reason)

    def on_lost(self, spec: RunSpec, reason: str) -> None:
        self._end("lost", reason)

    def on_cancelled(self, spec: RunSpec) -> None:
        self._end("cancelled", None)

    def wait(self, timeout: float = 120) -> tuple[str, Any]:
        assert self.done.wait(timeout), "the run never ended"
        assert self.outcome is not None
        return self.outcome


def spec(code: str, name: str, **overrides: Any) -> RunSpec:
    fields: dict[str, Any] = {
        "job_id": uuid.uuid4(), "attempt": 1, "strategy": name, "code": code, "code_sha256": "-",
        "pairs": ("BTC/USDT", "ETH/USDT"), "timeframe": "5m", "timerange": TIMERANGE,
        "exchange": "binance", "stake_amount": None, "max_open_trades": None,
        "starting_balance": None, "fee": None,
    }  # fmt: skip
    return RunSpec(**(fields | overrides))


@pytest.fixture(scope="module")
def market_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("market-data")
    root.chmod(0o755)  # read by the sandbox's own uid, like data made by `tradai seed`
    generate(root, "binance", ["BTC/USDT", "ETH/USDT"], ["5m"], date(2024, 1, 1), date(2024, 2, 1))
    return root


@pytest.fixture(scope="module")
def pool(market_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWorkerPool]:
    pool = LocalWorkerPool(
        2, tmp_path_factory.mktemp("work"), market_data, limits=RunLimits(120, 2500)
    )
    pool.start()
    yield pool
    pool.stop()


def run(
    pool: LocalWorkerPool, run_spec: RunSpec, timeout: float = 120
) -> tuple[Recorder, tuple[str, Any]]:
    recorder = Recorder()
    assert pool.acquire(timeout)
    pool.run(run_spec, recorder)
    return recorder, recorder.wait(timeout)


def test_a_backtest_completes_with_freqtrade_numbers(pool: LocalWorkerPool) -> None:
    recorder, (kind, detail) = run(pool, spec(strategies.crossover(), "TestCross"))
    assert kind == "completed", detail
    output, result = detail
    assert output.summary["total_trades"] == len(result.trades) > 0
    assert set(output.files) == {"result", "freqtrade-result.zip", "freqtrade.log"}
    assert {p.pair for p in result.per_pair} == {"BTC/USDT", "ETH/USDT"}
    phases = [phase for phase, _ in recorder.progress]
    assert phases[0] == "dataload" and phases[-1] == "backtest"
    assert 3 <= len(recorder.progress) <= 20, "a handful of progress reports, not thousands"
    fractions = [f for _, f in recorder.progress]
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 1


FAILURES = [
    (strategies.SYNTAX_ERROR, "Broken", {}, "SyntaxError"),
    (strategies.raising(), "Raiser", {}, "ZeroDivisionError: division by zero (Raiser.py, line"),
    (strategies.crossover(), "Missing", {}, "defines no class named Missing"),
    (
        strategies.crossover(),
        "TestCross",
        {"pairs": ("BTC/USDT", "XRP/USDT")},
        "no candles for XRP",
    ),
    (strategies.crossover(), "TestCross", {"timerange": "20240101-20240401"}, "cover only"),
    (
        strategies.crossover(),
        "TestCross",
        {"stake_amount": 5000.0, "starting_balance": 100.0},
        "freqtrade configuration error",
    ),
]


@pytest.mark.parametrize(("code", "name", "overrides", "expected"), FAILURES)
def test_failures_end_failed_with_the_reason(
    pool: LocalWorkerPool, code: str, name: str, overrides: dict[str, Any], expected: str
) -> None:
    _, (kind, reason) = run(pool, spec(code, name, **overrides))
    assert kind == "failed"
    assert expected in reason


def test_cancel_stops_a_running_backtest_within_seconds(pool: LocalWorkerPool) -> None:
    run_spec = spec(strategies.sleeper("Sleeper", 60), "Sleeper")
    recorder = Recorder()
    assert pool.acquire(30)
    pool.run(run_spec, recorder)
    while not recorder.progress:
        time.sleep(0.05)
    started = time.monotonic()
    assert pool.cancel(run_spec.job_id)
    assert recorder.wait(10) == ("cancelled", None)
    assert time.monotonic() - started < 5


def test_a_worker_killed_mid_run_is_reported_lost_and_replaced(pool: LocalWorkerPool) -> None:
    run_spec = spec(strategies.sleeper("Victim", 60), "Victim")
    recorder = Recorder()
    assert pool.acquire(30)
    pool.run(run_spec, recorder)
    deadline = time.monotonic() + 60
    while (not recorder.progress or pool.busy_pid(run_spec.job_id) is None) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    pid = pool.busy_pid(run_spec.job_id)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    kind, reason = recorder.wait(30)
    assert kind == "lost" and "killed by SIGKILL" in reason
    _, (kind, _) = run(pool, spec(strategies.crossover(), "TestCross"))
    assert kind == "completed", "the slot has a fresh worker"


def test_four_jobs_on_two_workers_run_two_at_a_time(pool: LocalWorkerPool) -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    class Counting(Recorder):
        def on_progress(self, spec: RunSpec, phase: str, fraction: float) -> None:
            nonlocal running, most
            if not self.progress:
                with lock:
                    running += 1
                    most = max(most, running)
            super().on_progress(spec, phase, fraction)

        def _end(self, kind: str, detail: Any) -> None:
            nonlocal running
            with lock:
                running -= 1
            super()._end(kind, detail)

    recorders = []
    for _ in range(4):
        recorder = Counting()
        assert pool.acquire(120)
        pool.run(spec(strategies.crossover(), "TestCross"), recorder)
        recorders.append(recorder)
    assert [r.wait()[0] for r in recorders] == ["completed"] * 4
    assert most == 2


def test_limits_stop_runaway_runs(market_data: Path, tmp_path: Path) -> None:
    pool = LocalWorkerPool(
        1, tmp_path / "work", market_data, limits=RunLimits(wall_seconds=8, memory_mb=900)
    )
    pool.start()
    try:
        _, (kind, reason) = run(pool, spec(strategies.sleeper("Slow", 60), "Slow"))
        assert kind == "failed" and "time limit of 8 s" in reason
        _, (kind, reason) = run(pool, spec(strategies.memory_hog("Hog", 1500), "Hog"))
        assert kind == "failed" and "memory limit" in reason
    finally:
        pool.stop()


SAMPLE = (resources.files("app.samples") / "SampleEmaCross.py").read_text()
# The sample as it was before it had parameters: its constants are the parameters' defaults.
SAMPLE_BEFORE_PARAMETERS = """
from freqtrade.strategy import IStrategy
from pandas import DataFrame


class SampleEmaCross(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "5m"
    can_short = False
    minimal_roi = {"0": 0.04, "120": 0.02, "360": 0.0}
    stoploss = -0.03
    startup_candle_count = 200

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["ema_fast"] = dataframe["close"].ewm(span=12, adjust=False).mean()
        dataframe["ema_slow"] = dataframe["close"].ewm(span=48, adjust=False).mean()
        dataframe["ema_trend"] = dataframe["close"].ewm(span=200, adjust=False).mean()
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        crossed_up = (dataframe["ema_fast"] > dataframe["ema_slow"]) & (
            dataframe["ema_fast"].shift(1) <= dataframe["ema_slow"].shift(1)
        )
        dataframe.loc[crossed_up & (dataframe["close"] > dataframe["ema_trend"]), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        crossed_down = (dataframe["ema_fast"] < dataframe["ema_slow"]) & (
            dataframe["ema_fast"].shift(1) >= dataframe["ema_slow"].shift(1)
        )
        dataframe.loc[crossed_down, "exit_long"] = 1
        return dataframe
"""


def _trades(pool: LocalWorkerPool, code: str, **parameters: Any) -> list[tuple[str, str, float]]:
    _, (kind, detail) = run(pool, spec(code, "SampleEmaCross", parameters=parameters))
    assert kind == "completed", detail
    _, result = detail
    return [(t.pair, str(t.open_date), t.profit_abs) for t in result.trades]


def test_parameters_reach_the_run_and_defaults_change_nothing(pool: LocalWorkerPool) -> None:
    before = _trades(pool, SAMPLE_BEFORE_PARAMETERS)
    assert before, "the sample trades on this data"
    assert _trades(pool, SAMPLE) == before
    assert _trades(pool, SAMPLE, fast_span=12, slow_span=48, use_trend_filter=True) == before
    faster = _trades(pool, SAMPLE, fast_span=6, slow_span=24, use_trend_filter=False)
    assert faster != before and len(faster) > len(before)


def test_a_slots_next_worker_preloads_its_candles_and_results_stay_equal(
    market_data: Path, tmp_path: Path
) -> None:
    """One slot: the worker of the second run was started during the first, preloading the
    first run's candles; both runs (and a run with the cache off) give the same trades."""
    code = SAMPLE
    results = []
    logs = []
    for cache_mb in (64, 0):
        pool = LocalWorkerPool(
            1, tmp_path / f"work-{cache_mb}", market_data, limits=RunLimits(120, 2500),
            candle_cache_mb=cache_mb, keep_workdirs=True,
        )  # fmt: skip
        pool.start()
        try:
            for _ in range(2):
                _, (kind, detail) = run(pool, spec(code, "SampleEmaCross"))
                assert kind == "completed", detail
                output, result = detail
                trades = [(t.pair, str(t.open_date), t.profit_abs) for t in result.trades]
                results.append((trades, result.metrics))
                logs.append(Path(output.files["freqtrade.log"]).read_text())
        finally:
            pool.stop()
    cold, warm, off_first, off_second = results
    assert warm == cold == off_first == off_second
    assert "candles preloaded" not in logs[0]  # the first worker knew of no run before it
    assert "BTC_USDT-5m.feather, ETH_USDT-5m.feather" in logs[1]
    assert not any("candles preloaded" in log for log in logs[2:])  # the cache off
