"""Sweeps against freqtrade's own hyperopt on the same box, in the same run:

- 32 parameter sets of SampleEmaCross's `buy` space: `freqtrade hyperopt -e 32 -j 2` (wall time
  of the command, data loading included) against a 32-trial random sweep through the API on
  two workers (POST /sweeps -> completed), and on one worker (scaling);
- the engine's own limit: one backtest through the API (submit -> completed) against
  freqtrade's Backtesting run in an already warm process (data and strategy loaded).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path

import httpx
import msgspec

from adapters.freqtrade.run_config import freqtrade_args, freqtrade_config
from bench.figures import Figure, _wait
from bench.servers import api
from projections.execution_ports import RunSpec

PAIRS = ("BTC/USDT", "ETH/USDT")
TIMERANGE = "20240101-20240401"
TRIALS = 32
SPACE = {
    "fast_span": {"low": 5, "high": 30},
    "slow_span": {"low": 20, "high": 100},
    "trend_margin": {"low": 0.0, "high": 0.05},
    "use_trend_filter": [True, False],
}
BODY = {"strategy": "SampleEmaCross", "pairs": list(PAIRS), "timeframe": "5m",
        "timerange": TIMERANGE}  # fmt: skip


def _workdir() -> Path:
    """A freqtrade user directory with the sample strategy and the run's config."""
    work = Path(tempfile.mkdtemp(prefix="tradai-bench-hyperopt-"))
    for sub in ("strategies", "results", "user_data"):
        (work / sub).mkdir()
    code = (resources.files("app.samples") / "SampleEmaCross.py").read_text()
    (work / "strategies" / "SampleEmaCross.py").write_text(code)
    spec = RunSpec(
        job_id=uuid.uuid4(), attempt=1, strategy="SampleEmaCross", code=code, code_sha256="-",
        pairs=PAIRS, timeframe="5m", timerange=TIMERANGE, exchange="binance",
        stake_amount=None, max_open_trades=None, starting_balance=None, fee=None,
    )  # fmt: skip
    (work / "config.json").write_bytes(msgspec.json.encode(freqtrade_config(spec, work)))
    args = freqtrade_args(spec, work, work / "config.json", Path("/unused"))
    (work / "args.json").write_text(json.dumps(args))
    return work


def _hyperopt(datadir: Path) -> float:
    work = _workdir()
    argv = [
        "hyperopt", "--config", str(work / "config.json"), "--strategy", "SampleEmaCross",
        "--strategy-path", str(work / "strategies"), "--datadir", str(datadir / "binance"),
        "--timerange", TIMERANGE, "--userdir", str(work / "user_data"),
        "--hyperopt-loss", "SharpeHyperOptLoss", "--spaces", "buy", "-e", str(TRIALS),
        "-j", "2", "--random-state", "1", "--disable-param-export",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "adapters.freqtrade.offline_cli", *argv],
        check=True, capture_output=True, cwd=work,
    )  # fmt: skip
    return time.perf_counter() - started


def _sweep(http: httpx.Client) -> float:
    body = BODY | {"space": SPACE, "method": "random", "max_trials": TRIALS, "seed": 1,
                   "objective": "sharpe"}  # fmt: skip
    started = time.perf_counter()
    sweep_id = http.post("/sweeps", json=body).json()["id"]
    while (sweep := http.get(f"/sweeps/{sweep_id}", params={"trials_limit": 1}).json())[
        "status"
    ] == "running":
        time.sleep(0.05)
    assert sweep["status"] == "completed" and sweep["done"] == TRIALS, sweep
    return time.perf_counter() - started


def _client(server: object) -> httpx.Client:
    token = server.token("bench", "researcher")  # type: ignore[attr-defined]
    return httpx.Client(
        base_url=f"{server.url}/api/v1",  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def sweeps(runs: int = 3) -> list[Figure]:
    seconds: dict[int, float] = {}
    single: list[float] = []
    for workers in (1, 2):
        env = {"BACKEND_WORKERS": str(workers), "BACKEND_SWEEP_IN_FLIGHT": "8"}
        with api(env, seed=True) as server, _client(server) as http:
            _wait(http, [http.post("/backtests", json=BODY).json()["id"] for _ in range(workers)])
            seconds[workers] = _sweep(http)
            if workers == 2:
                for _ in range(runs):
                    started = time.perf_counter()
                    _wait(http, [http.post("/backtests", json=BODY).json()["id"]])
                    single.append(time.perf_counter() - started)
            datadir = server.data_dir / "market-data"
            if workers == 2:
                hyperopt = _hyperopt(datadir)
                warm = subprocess.run(
                    [sys.executable, "-m", "bench.warm_engine", str(_workdir()),
                     str(datadir / "binance"), str(runs)],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                engine = float(warm.stdout.strip().splitlines()[-1])
    ours, theirs = TRIALS / seconds[2], TRIALS / hyperopt
    one = statistics.median(single)
    return [
        Figure(
            f"sweep, {TRIALS} trials on two workers",
            f"{ours:.2f} trials/s ({seconds[2]:.1f} s)",
            f"{theirs:.2f} epochs/s freqtrade hyperopt -j 2 ({hyperopt:.1f} s)",
            ours / theirs, ">= 1.0x hyperopt", ours / theirs >= 1.0,
        ),
        Figure(
            f"sweep, {TRIALS} trials, two workers vs one",
            f"{ours:.2f} trials/s", f"{TRIALS / seconds[1]:.2f} trials/s one worker",
            seconds[1] / seconds[2], "- (scaling)", None,
        ),
        Figure(
            "one backtest via the API vs warm engine",
            f"{one:.2f} s submit -> completed (median of {runs})",
            f"{engine:.2f} s Backtesting in a warm process", one / engine,
            "<= 1.1x", one / engine <= 1.1,
        ),
    ]  # fmt: skip
