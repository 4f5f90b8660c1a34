"""Real freqtrade backtests through the HTTP API of a real server with two workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from adapters.freqtrade.results import latest_zip, run_result, strategy_stats
from adapters.freqtrade.run_config import cli_argv, freqtrade_args, freqtrade_config
from projections.execution_ports import RunSpec
from tests.e2e.conftest import client_for
from tests.support import strategies
from tests.support.server import ServerProcess
from tests.support.workers import worker_pid_running

MONTH = "20240101-20240201"
FINAL = {"completed", "failed", "cancelled"}


def tradai(server: ServerProcess, *args: str) -> str:
    exe = Path(sys.executable).parent / "tradai"
    done = subprocess.run(
        [str(exe), *args], env=server.env(), capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("exec"), {"BACKEND_WORKERS": "2"})
    process.data_dir.mkdir(parents=True, exist_ok=True)
    tradai(process, "seed")  # what `make run` does: sample candles and the sample strategy
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "alice", "researcher") as c:
        yield c


def register(client: httpx.Client, name: str, code: str) -> None:
    assert client.post(f"/strategies/{name}/versions", json={"code": code}).status_code == 201


def submit(client: httpx.Client, strategy: str, **extra: Any) -> str:
    body = {
        "strategy": strategy,
        "pairs": ["BTC/USDT", "ETH/USDT"],
        "timeframe": "5m",
        "timerange": MONTH,
    }
    response = client.post("/backtests", json=body | extra)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def wait(
    client: httpx.Client, job_id: str, until: set[str] = FINAL, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/backtests/{job_id}").json()
        if job["status"] in until:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} stayed {job['status']}")


def test_the_sample_strategy_is_ready_to_backtest(client: httpx.Client) -> None:
    job = wait(
        client, submit(client, "SampleEmaCross", timerange="20240101-20240701", timeframe="1h")
    )
    assert job["status"] == "completed", job["error"]
    assert client.get("/backtests/" + job["id"] + "/result").json()["metrics"]["total_trades"] > 0


def test_metrics_equal_a_bare_freqtrade_run_on_the_same_inputs(
    server: ServerProcess, client: httpx.Client, tmp_path: Path
) -> None:
    code = strategies.crossover("SameCross")
    register(client, "SameCross", code)
    job_id = submit(client, "SameCross")
    job = wait(client, job_id)
    assert job["status"] == "completed", job["error"]
    assert job["progress"] == {"phase": "backtest", "fraction": 1.0}
    result = client.get(f"/backtests/{job_id}/result").json()

    # The same inputs through freqtrade's own command line, in a process of its own.
    spec = RunSpec(
        job_id=job["id"], attempt=1, strategy="SameCross", code=code, code_sha256="-",
        pairs=("BTC/USDT", "ETH/USDT"), timeframe="5m", timerange=MONTH, exchange="binance",
        stake_amount=None, max_open_trades=None, starting_balance=None, fee=None,
    )  # fmt: skip
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "SameCross.py").write_text(code)
    (tmp_path / "results").mkdir()
    (tmp_path / "user_data").mkdir()
    config = tmp_path / "config.json"
    config.write_bytes(msgspec.json.encode(freqtrade_config(spec, tmp_path)))
    argv = cli_argv(freqtrade_args(spec, tmp_path, config, server.data_dir / "market-data"))
    subprocess.run(
        [sys.executable, "-m", "adapters.freqtrade.offline_cli", *argv],
        check=True,
        capture_output=True,
    )
    bare = run_result(strategy_stats(latest_zip(tmp_path / "results"), "SameCross"), "SameCross")

    assert result["metrics"]["total_trades"] == bare.metrics["total_trades"] > 0
    for name, value in bare.metrics.items():
        assert result["metrics"][name] == pytest.approx(value, rel=1e-12), name
    trades = client.get(f"/backtests/{job_id}/trades", params={"limit": 1000}).json()["items"]
    assert len(trades) == len(bare.trades)
    assert trades[0]["open_rate"] == bare.trades[0].open_rate
    assert trades[-1]["profit_abs"] == bare.trades[-1].profit_abs
    equity = client.get(f"/backtests/{job_id}/equity").json()
    assert equity["max_drawdown"] == pytest.approx(bare.metrics["max_drawdown"], rel=1e-9)
    archive = client.get(f"/backtests/{job_id}/artifacts/freqtrade-result.zip")
    assert archive.status_code == 200 and archive.content[:2] == b"PK"


FAILURES = [
    ("Raiser", strategies.raising(), {}, "ZeroDivisionError: division by zero (Raiser.py, line"),
    (
        "NoData",
        strategies.crossover("NoData"),
        {"pairs": ["BTC/USDT", "XRP/USDT"]},
        "no candles for XRP",
    ),
    (
        "BadConfig",
        strategies.crossover("BadConfig"),
        {"stake_amount": 5000, "starting_balance": 100},
        "freqtrade configuration error",
    ),
]


@pytest.mark.parametrize(("name", "code", "extra", "expected"), FAILURES)
def test_failing_backtests_end_failed_with_freqtrades_message(
    client: httpx.Client, name: str, code: str, extra: dict[str, Any], expected: str
) -> None:
    register(client, name, code)
    job = wait(client, submit(client, name, **extra))
    assert job["status"] == "failed"
    assert expected in job["error"]
    assert client.get(f"/backtests/{job['id']}/result").status_code == 409


def test_cancel_stops_a_running_backtest(client: httpx.Client) -> None:
    register(client, "LongRun", strategies.sleeper("LongRun", 120))
    job_id = submit(client, "LongRun")
    wait(client, job_id, {"running"})
    deadline = time.monotonic() + 60  # until the run is inside the strategy (it sleeps there)
    while (client.get(f"/backtests/{job_id}").json()["progress"] or {}).get("phase") != "analyze":
        assert time.monotonic() < deadline, "the run never reached the strategy"
        time.sleep(0.05)
    started = time.monotonic()
    assert client.post(f"/backtests/{job_id}/cancel").status_code == 202
    job = wait(client, job_id, timeout=15)
    assert job["status"] == "cancelled" and time.monotonic() - started < 10
    kinds = [e["type"] for e in client.get(f"/backtests/{job_id}/events").json()]
    # The lease keeper may renew the lease while the worker is being stopped; nothing else
    # happens between the request and the cancellation.
    between = kinds[kinds.index("CancelRequested") + 1 : -1]
    assert kinds[-1] == "Cancelled" and set(between) <= {"LeaseRenewed"}, kinds


def test_a_killed_worker_costs_an_attempt_not_the_job(client: httpx.Client) -> None:
    # Each attempt sleeps 6 s in its own sandbox; the first is killed while it sleeps.
    register(client, "Victim", strategies.sleeper("Victim", 6))
    job_id = submit(client, "Victim")
    wait(client, job_id, until={"running"})
    os.kill(worker_pid_running("Victim"), signal.SIGKILL)
    job = wait(client, job_id)
    assert job["status"] == "completed" and job["attempt"] == 2
    events = client.get(f"/backtests/{job_id}/events").json()
    requeued = [e for e in events if e["type"] == "Requeued"]
    assert len(requeued) == 1 and "killed by SIGKILL" in requeued[0]["data"]["reason"]


def test_four_jobs_on_two_workers(client: httpx.Client) -> None:
    register(client, "Quad", strategies.crossover("Quad"))
    jobs = [wait(client, j) for j in [submit(client, "Quad") for _ in range(4)]]
    assert [j["status"] for j in jobs] == ["completed"] * 4
    spans = [(j["started_at"], j["finished_at"]) for j in jobs]
    for start, _ in spans:  # never more than two running at any start time
        assert sum(1 for s, f in spans if s <= start < f) <= 2


def test_data_availability(client: httpx.Client) -> None:
    params = {"pairs": "BTC/USDT,XRP/USDT", "timeframe": "1h", "timerange": "20240101-20240701"}
    answer = client.get("/data/availability", params=params).json()
    assert answer["complete"] is False
    btc, xrp = answer["pairs"]
    assert btc["available"] and btc["covers_range"] and btc["candles"] == 4368
    assert not xrp["available"]
    bad = client.get("/data/availability", params=params | {"timeframe": "7m"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "timeframe"


def test_a_restart_resumes_queued_and_interrupted_jobs(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", {"BACKEND_WORKERS": "1"})
    server.data_dir.mkdir(parents=True)
    tradai(server, "data", "generate", "--timerange", MONTH, "--timeframes", "5m")
    server.start()
    try:
        with client_for(server, "alice", "researcher") as c:
            register(c, "Slow", strategies.sleeper("Slow", 4))
            register(c, "Quick", strategies.crossover("Quick"))
            slow = submit(c, "Slow")
            quick = [submit(c, "Quick") for _ in range(2)]
            wait(c, slow, {"running"})
        server.stop()
        server.start()
        with client_for(server, "alice", "researcher") as c:
            jobs = [wait(c, j) for j in [slow, *quick]]
            assert [j["status"] for j in jobs] == ["completed"] * 3
            assert jobs[0]["attempt"] == 2
            reasons = [
                e["data"].get("reason", "") for e in c.get(f"/backtests/{slow}/events").json()
            ]
            assert any("the service stopped" in r for r in reasons)
    finally:
        server.stop()


def test_the_cli_follows_a_real_run_live(server: ServerProcess) -> None:
    env = server.env() | {
        "TRADAI_URL": server.url,
        "TRADAI_TOKEN": server.token("alice", "researcher"),
    }
    pairs = ["--pair", "BTC/USDT", "--pair", "ETH/USDT"]
    run = ["--timeframe", "5m", "--timerange", "20240101-20240401", "--follow"]
    args = ["backtest", "submit", "--strategy", "SampleEmaCross", *pairs, *run]
    exe = Path(sys.executable).parent / "tradai"
    done = subprocess.run(
        [str(exe), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "running (attempt 1)" in lines
    phases = [line.split()[0] for line in lines if line.endswith("%") and " " in line]
    assert phases[0] == "dataload" and phases[-1] == "backtest"
    assert "completed in attempt 1" in done.stdout and "total_trades" in done.stdout
