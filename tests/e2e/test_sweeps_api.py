"""Parameter sweeps through a real server with real freqtrade runs: `tradai sweep submit
--follow` runs a grid across the workers and names the best; a sweep survives a restart of the
service; cancel keeps finished trials; bad spaces are 422 naming the field."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import client_for
from tests.support.remote import seed
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

TRADAI = Path(sys.executable).parent / "tradai"
SETTINGS = {"strategy": "SampleEmaCross", "pairs": ["BTC/USDT"], "timeframe": "5m",
            "timerange": "20240101-20240201"}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("sweeps"),
        {"BACKEND_WORKERS": "2", "BACKEND_SWEEP_IN_FLIGHT": "6"},
    )
    seed(process)  # sample candles and SampleEmaCross, with its declared parameters
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def alice(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "alice", "researcher") as client:
        yield client


def wait_sweep(client: httpx.Client, sweep_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sweep: dict[str, Any] = client.get(f"/sweeps/{sweep_id}").json()
        if sweep["status"] != "running":
            return sweep
        time.sleep(0.2)
    raise AssertionError(f"sweep {sweep_id} still running: {sweep}")


def test_the_cli_runs_a_grid_across_the_workers_and_names_the_best(
    server: ServerProcess, alice: httpx.Client
) -> None:
    args = [str(TRADAI), "sweep", "submit", "--strategy", "SampleEmaCross",
            "--pair", "BTC/USDT", "--timeframe", "5m", "--timerange", "20240101-20240201",
            "--space", "fast_span=8,12,16", "--space", "slow_span=20,30",
            "--objective", "profit_total", "--follow", "--url", server.url]  # fmt: skip
    env = server.env() | {"TRADAI_TOKEN": server.token("alice", "researcher")}
    done = subprocess.run(args, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    sweep_id = done.stdout.split("sweep ", 1)[1].split(":", 1)[0]

    sweep = alice.get(f"/sweeps/{sweep_id}").json()
    assert (sweep["status"], sweep["total"], sweep["done"], sweep["failed"]) == (
        "completed", 6, 6, 0,
    )  # fmt: skip
    trials = sweep["trials"]["items"]
    assert [t["number"] for t in trials] == list(range(6))
    grid = {(t["parameters"]["fast_span"], t["parameters"]["slow_span"]) for t in trials}
    assert grid == {(f, s) for f in (8, 12, 16) for s in (20, 30)}
    best = max(trials, key=lambda t: t["objective"])
    assert sweep["best"]["objective"] == best["objective"]
    assert f"best: trial {sweep['best']['trial']}" in done.stdout

    # The trials are ordinary backtests, with their parameters; each objective is its result's.
    jobs = alice.get("/backtests", params={"sweep": sweep_id, "limit": 50}).json()["items"]
    assert sorted(j["id"] for j in jobs) == sorted(t["backtest_id"] for t in trials)
    for trial in trials:
        job = alice.get(f"/backtests/{trial['backtest_id']}").json()
        assert job["sweep_id"] == sweep_id and job["parameters"] == trial["parameters"]
        result = alice.get(f"/backtests/{trial['backtest_id']}/result").json()
        assert result["metrics"]["profit_total"] == trial["objective"]
    # Different parameters gave different runs (the objective is not one number six times).
    assert len({t["objective"] for t in trials}) > 1


def test_a_sweep_survives_a_restart_of_the_service(
    server: ServerProcess, alice: httpx.Client
) -> None:
    body = SETTINGS | {"space": {"fast_span": [6, 9, 12, 15, 18, 21]}, "objective": "sharpe"}
    answer = alice.post("/sweeps", json=body)
    assert answer.status_code == 202, answer.text
    sweep_id = answer.json()["id"]
    deadline = time.monotonic() + 120
    while alice.get(f"/sweeps/{sweep_id}").json()["done"] < 1:
        assert time.monotonic() < deadline, "no trial finished"
        time.sleep(0.2)
    server.stop()  # SIGTERM mid-sweep: running trials are handed back
    server.start(same_port=True)
    sweep = wait_sweep(alice, sweep_id)
    assert (sweep["status"], sweep["total"], sweep["done"]) == ("completed", 6, 6)
    trials = sweep["trials"]["items"]
    assert sorted(t["parameters"]["fast_span"] for t in trials) == [6, 9, 12, 15, 18, 21]
    jobs = alice.get("/backtests", params={"sweep": sweep_id, "limit": 50}).json()["items"]
    assert len(jobs) == 6, "a trial was asked twice"  # none repeated, none lost


def test_cancel_keeps_finished_trials(alice: httpx.Client) -> None:
    body = SETTINGS | {
        "space": {"fast_span": {"low": 5, "high": 30}, "slow_span": {"low": 20, "high": 100}},
        "method": "random", "max_trials": 40, "seed": 7, "objective": "sharpe",
    }  # fmt: skip
    answer = alice.post("/sweeps", json=body)
    assert answer.status_code == 202, answer.text
    sweep_id = answer.json()["id"]
    deadline = time.monotonic() + 120
    while alice.get(f"/sweeps/{sweep_id}").json()["done"] < 1:
        assert time.monotonic() < deadline, "no trial finished"
        time.sleep(0.2)
    cancelled = alice.post(f"/sweeps/{sweep_id}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    sweep = wait_sweep(alice, sweep_id, 60)
    assert sweep["status"] == "cancelled"
    trials = sweep["trials"]["items"]
    assert sweep["done"] >= 1 and len(trials) < 40
    finished = [t for t in trials if t["status"] == "completed"]
    assert len(finished) == sweep["done"] and all(t["objective"] is not None for t in finished)
    assert alice.post(f"/sweeps/{sweep_id}/cancel").status_code == 409


def test_a_single_backtest_is_not_starved_by_a_big_sweep(
    server: ServerProcess, alice: httpx.Client
) -> None:
    """A 500-trial sweep is running (more trials waiting than workers); another researcher's
    single backtest takes the next free worker slot."""
    body = SETTINGS | {
        "space": {"fast_span": {"low": 5, "high": 30}, "slow_span": {"low": 20, "high": 100}},
        "method": "random", "max_trials": 500, "seed": 11, "objective": "sharpe",
    }  # fmt: skip
    answer = alice.post("/sweeps", json=body)
    assert answer.status_code == 202, answer.text
    sweep_id = answer.json()["id"]

    def trial_jobs() -> list[dict[str, Any]]:
        page = alice.get("/backtests", params={"sweep": sweep_id, "limit": 50})
        return list(page.json()["items"])

    deadline = time.monotonic() + 120
    while True:  # both workers busy with trials, more trials waiting behind them
        jobs = trial_jobs()
        running = sum(j["status"] == "running" for j in jobs)
        waiting = sum(j["status"] == "submitted" for j in jobs)
        if running == 2 and waiting >= 3:
            break
        assert time.monotonic() < deadline, jobs
        time.sleep(0.1)
    with client_for(server, "bob", "researcher") as bob:
        single = bob.post("/backtests", json=SETTINGS).json()
        deadline = time.monotonic() + 120
        while (job := bob.get(f"/backtests/{single['id']}").json())["started_at"] is None:
            assert time.monotonic() < deadline, "bob's backtest never started"
            time.sleep(0.05)
    started_before_bob = [
        j for j in trial_jobs()
        if j["started_at"] is not None
        and single["submitted_at"] < j["started_at"] < job["started_at"]
    ]  # fmt: skip
    # The next free slot went to bob (one trial may have been claimed at the same moment).
    assert len(started_before_bob) <= 1, started_before_bob
    assert alice.post(f"/sweeps/{sweep_id}/cancel").status_code == 202
    assert wait_sweep(alice, sweep_id, 120)["status"] == "cancelled"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"space": {"fast": [1, 2]}}, "space.fast"),
        ({"space": {"fast_span": [1, 2]}}, "space.fast_span"),  # below its declared low (5)
        ({"space": {"fast_span": [8]}, "objective": "luck"}, "objective"),
        ({"space": {"fast_span": [8]}, "method": "anneal"}, "method"),
    ],
)
def test_a_bad_sweep_is_422_naming_the_field(
    alice: httpx.Client, change: dict[str, Any], field: str
) -> None:
    body = SETTINGS | {"objective": "sharpe"} | change
    answer = alice.post("/sweeps", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in answer.json()["errors"]] == [field]


def test_an_unknown_sweep_is_404_and_a_viewer_cannot_submit(server: ServerProcess) -> None:
    with client_for(server, "vera", "viewer") as vera:
        missing = vera.get("/sweeps/00000000-0000-4000-8000-000000000000")
        assert missing.status_code == 404
        assert vera.get("/sweeps/not-a-uuid").status_code == 400
        body = SETTINGS | {"space": {"fast_span": [8]}, "objective": "sharpe"}
        assert vera.post("/sweeps", json=body).status_code == 403
        assert vera.get("/sweeps").status_code == 200
