"""Retrying a failed backtest, and the worker role's bounds, through a real server that runs
jobs with its own (local) executor."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import client_for
from tests.e2e.test_execution_api import register, submit, tradai
from tests.support import strategies
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

FINAL = {"completed", "failed", "cancelled"}
PROBLEMS = "https://tradai.dev/problems/"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("retry"), {"BACKEND_WORKERS": "1"})
    process.data_dir.mkdir(parents=True, exist_ok=True)
    tradai(process, "seed")  # sample candles, so runs get as far as the strategy's own code
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def worker(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "worker-1", "worker") as client:
        yield client


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "root", "admin") as client:
        yield client


def wait_for(
    client: httpx.Client,
    job_id: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 120,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/backtests/{job_id}").json()
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {job}")


def final(job: dict[str, Any]) -> bool:
    return job["status"] in FINAL


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"] == PROBLEMS + slug, body
    return body


@pytest.fixture(scope="module")
def failed_job(researcher: httpx.Client) -> str:
    register(researcher, "RetryRaiser", strategies.raising("RetryRaiser"))
    job_id = submit(researcher, "RetryRaiser", pairs=["BTC/USDT"])
    job = wait_for(researcher, job_id, final)
    assert (job["status"], job["attempt"]) == ("failed", 1), job
    assert "ZeroDivisionError" in job["error"]
    return job_id


def test_a_viewer_may_not_retry(
    viewer: httpx.Client, researcher: httpx.Client, failed_job: str
) -> None:
    problem(viewer.post(f"/backtests/{failed_job}/retry"), 403, "forbidden")
    job = researcher.get(f"/backtests/{failed_job}").json()
    assert (job["status"], job["attempt"]) == ("failed", 1)


def test_a_failed_job_runs_again_as_its_next_attempt(
    researcher: httpx.Client, failed_job: str
) -> None:
    response = researcher.post(f"/backtests/{failed_job}/retry")
    assert response.status_code == 202, response.text
    retried = response.json()
    assert (retried["id"], retried["status"], retried["error"]) == (failed_job, "queued", None)
    assert retried["finished_at"] is None

    job = wait_for(researcher, failed_job, lambda j: final(j) and j["attempt"] == 2)
    assert job["status"] == "failed", job
    assert "ZeroDivisionError" in job["error"]


def test_only_a_failed_job_can_be_retried(researcher: httpx.Client) -> None:
    register(researcher, "RetryCross", strategies.crossover("RetryCross"))
    job_id = submit(researcher, "RetryCross", pairs=["BTC/USDT"])
    job = wait_for(researcher, job_id, final)
    assert job["status"] == "completed", job["error"]
    body = problem(researcher.post(f"/backtests/{job_id}/retry"), 409, "illegal-transition")
    assert "completed" in body["detail"]
    assert researcher.get(f"/backtests/{job_id}").json()["status"] == "completed"


def test_retrying_an_unknown_job_is_404(researcher: httpx.Client) -> None:
    problem(researcher.post(f"/backtests/{uuid.uuid4()}/retry"), 404, "not-found")


def test_a_worker_reads_nothing(worker: httpx.Client) -> None:
    problem(worker.get("/backtests"), 403, "forbidden")


WORKER_ROUTES = [
    "claim",
    "attempts/1/heartbeat",
    "attempts/1/progress",
    "attempts/1/completed",
    *(f"attempts/1/{how}" for how in ("failed", "cancelled", "lost", "released")),
]
INVENTED = {
    "claim": {"worker": "thief-box"},
    "attempts/1/progress": {"phase": "backtest", "fraction": 1.0},
    "attempts/1/completed": {
        "summary": {"total_trades": 999, "profit_total": 9.99},
        "artifacts": {},
    },
}


def test_with_the_local_executor_no_worker_route_exists_for_any_job(
    researcher: httpx.Client, worker: httpx.Client, admin: httpx.Client
) -> None:
    """A worker token against a server whose own pool runs the jobs: it can neither claim a
    queued job (and read its code) nor settle the running one; both run as if it were not there."""
    register(researcher, "HeldByLocal", strategies.sleeper("HeldByLocal", 3))
    running = submit(researcher, "HeldByLocal", pairs=["BTC/USDT"])
    wait_for(researcher, running, lambda j: j["status"] == "running")
    queued = submit(researcher, "HeldByLocal", pairs=["BTC/USDT"])  # one slot: it waits
    assert researcher.get(f"/backtests/{queued}").json()["status"] in ("submitted", "queued")
    for job_id in (queued, running, str(uuid.uuid4())):
        for route in WORKER_ROUTES:
            body = INVENTED.get(route, {"reason": "invented"})
            for client in (worker, admin):
                response = client.post(f"/workers/jobs/{job_id}/{route}", json=body)
                problem(response, 404, "not-found")
                assert "class HeldByLocal" not in response.text
    for job_id in (running, queued):
        job = wait_for(researcher, job_id, final)
        assert (job["status"], job["attempt"]) == ("completed", 1), job
        assert job["worker"] != "thief-box"
        metrics = researcher.get(f"/backtests/{job_id}/result").json()["metrics"]
        assert metrics["total_trades"] != 999, metrics
        history = [e["type"] for e in researcher.get(f"/backtests/{job_id}/events").json()]
        assert history.count("Started") == 1 and history.count("Completed") == 1, history
