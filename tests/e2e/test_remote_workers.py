"""Remote workers for real: moto server's SQS (with a redrive policy) and S3, the API with the
`sqs` executor, and two `tradai worker` processes, each a separate process. Workers are killed
with SIGKILL and stopped with SIGTERM; the API is restarted while they run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import client_for
from tests.e2e.test_execution_api import register, submit, wait
from tests.support.aws import MotoServer
from tests.support.remote import Queues, RemoteStand, WorkerProcess, seed, wait_until
from tests.support.server import ServerProcess
from tests.support.strategies import crossover, sleeper
from tests.support.workers import worker_pid_running

pytestmark = [pytest.mark.aws, pytest.mark.e2e]

VISIBILITY_SECONDS = 8
MAX_RECEIVES = 3
INPUTS = [
    {"timeframe": "1h", "timerange": "20240101-20240701"},
    {"timeframe": "5m", "timerange": "20240101-20240201", "pairs": ["BTC/USDT"]},
]


@pytest.fixture(scope="module")
def stand(
    moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RemoteStand]:
    queues = Queues.create(
        moto_server.endpoint, max_receives=MAX_RECEIVES, visibility_seconds=VISIBILITY_SECONDS
    )
    stand = RemoteStand(moto_server.endpoint, tmp_path_factory.mktemp("remote"), queues)
    stand.seed()
    stand.server.start()
    try:
        stand.worker("worker-a")
        stand.worker("worker-b")
        yield stand
    finally:
        stand.stop()


@pytest.fixture(scope="module")
def client(stand: RemoteStand) -> Iterator[httpx.Client]:
    with client_for(stand.server, "alice", "researcher") as c:
        yield c


def events(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/backtests/{job_id}/events").json()
    return list(answer["items"] if isinstance(answer, dict) else answer)


def kinds(client: httpx.Client, job_id: str) -> list[str]:
    return [e["type"] for e in events(client, job_id)]


def live_workers(stand: RemoteStand) -> dict[str, WorkerProcess]:
    return {w.name: w for w in stand.workers if w.alive()}


def ensure_two_workers(stand: RemoteStand) -> None:
    names = iter(f"worker-{n}" for n in "cdefghij")
    while len(live_workers(stand)) < 2:
        name = next(names)
        while name in {w.name for w in stand.workers}:
            name = next(names)
        stand.worker(name)


def queue_drained(stand: RemoteStand) -> bool:
    return stand.queues.counts(stand.queues.jobs) == (0, 0)


def local_summaries(root: Path, stand: RemoteStand) -> list[dict[str, Any]]:
    """The same inputs on the local executor, with the same candles (from the same bucket)."""
    env = {k: v for k, v in stand.shared.items() if k != "BACKEND_SQS_QUEUE_URL"}
    local = ServerProcess(root, env | {"BACKEND_WORKERS": "2"})
    seed(local)
    with local, client_for(local, "alice", "researcher") as c:
        ids = [submit(c, "SampleEmaCross", **inputs) for inputs in INPUTS]
        jobs = [wait(c, job_id, timeout=180) for job_id in ids]
        assert all(j["status"] == "completed" for j in jobs), jobs
        return [c.get(f"/backtests/{j['id']}/result").json()["metrics"] for j in jobs]


def test_eight_backtests_run_across_both_workers_with_the_results_of_a_local_run(
    stand: RemoteStand, client: httpx.Client, tmp_path: Path
) -> None:
    ids = [submit(client, "SampleEmaCross", **INPUTS[n % 2]) for n in range(8)]
    jobs = [wait(client, job_id, timeout=240) for job_id in ids]
    assert [j["status"] for j in jobs] == ["completed"] * 8, [j["error"] for j in jobs]
    assert {j["worker"] for j in jobs} == {"worker-a", "worker-b"}
    assert all(j["attempt"] == 1 for j in jobs)
    for job_id in ids:
        assert kinds(client, job_id).count("Dispatched") == 1
    remote = [client.get(f"/backtests/{job_id}/result").json()["metrics"] for job_id in ids]
    expected = local_summaries(tmp_path / "local", stand)
    for n, metrics in enumerate(remote):
        assert metrics == expected[n % 2], f"job {n} differs from the local run"
    # Every message was deleted once its job was settled.
    wait_until(lambda: queue_drained(stand), 30, "the queue to drain")


def test_a_killed_worker_costs_one_visibility_timeout_and_the_job_runs_as_attempt_2(
    stand: RemoteStand, client: httpx.Client
) -> None:
    ensure_two_workers(stand)
    register(client, "KilledMidRun", sleeper("KilledMidRun", 6))
    job_id = submit(client, "KilledMidRun")
    job = wait(client, job_id, until={"running"})
    run_pid = worker_pid_running("KilledMidRun")
    victim = live_workers(stand)[job["worker"]]
    victim.kill()
    killed_at = time.time()
    # The sandboxed run dies with its worker (bubblewrap --die-with-parent): never two at once.
    wait_until(lambda: not Path(f"/proc/{run_pid}").exists(), 10, "the orphaned run to end")
    job = wait(client, job_id, timeout=120)
    assert job["status"] == "completed", job["error"]
    assert job["attempt"] == 2 and job["worker"] != victim.name
    history = events(client, job_id)
    started = [e for e in history if e["type"] == "Started"]
    assert [s["data"]["attempt"] for s in started] == [1, 2]
    requeued = [e for e in history if e["type"] == "Requeued"]
    assert len(requeued) == 1 and "stopped renewing its lease" in requeued[0]["data"]["reason"]
    second = _epoch(started[1]["timestamp"])
    assert second > killed_at, "attempt 2 started before attempt 1's worker was gone"
    delay = second - killed_at
    print(f"\nkilled worker: attempt 2 started {delay:.1f} s after SIGKILL")
    assert delay <= VISIBILITY_SECONDS + 5
    assert kinds(client, job_id).count("Completed") == 1


def test_sigterm_hands_running_jobs_back_and_the_worker_exits_cleanly(
    stand: RemoteStand, client: httpx.Client
) -> None:
    ensure_two_workers(stand)
    register(client, "StoppedMidRun", sleeper("StoppedMidRun", 6))
    job_id = submit(client, "StoppedMidRun")
    job = wait(client, job_id, until={"running"})
    worker_pid_running("StoppedMidRun")
    leaving = live_workers(stand)[job["worker"]]
    stopped_at = time.time()
    assert leaving.stop(timeout=30) == 0
    job = wait(client, job_id, timeout=120)
    assert job["status"] == "completed", job["error"]
    assert job["attempt"] == 2 and job["worker"] != leaving.name
    history = events(client, job_id)
    requeued = [e for e in history if e["type"] == "Requeued"]
    assert len(requeued) == 1 and f"worker {leaving.name} stopped" in requeued[0]["data"]["reason"]
    second = next(e for e in history if e["type"] == "Started" and e["data"]["attempt"] == 2)
    # Handed back, not left to the visibility timeout.
    assert _epoch(second["timestamp"]) - stopped_at < VISIBILITY_SECONDS
    assert "handing running jobs back" in leaving.log()


def test_a_run_that_kills_its_worker_every_time_ends_dead_lettered(
    stand: RemoteStand, client: httpx.Client
) -> None:
    ensure_two_workers(stand)
    kill_self = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    register(client, "KillsItself", crossover("KillsItself", kill_self))
    job_id = submit(client, "KillsItself")
    job = wait(client, job_id, timeout=180)
    assert job["status"] == "failed"
    assert f"dead-lettered after {MAX_RECEIVES} receives" in job["error"]
    history = kinds(client, job_id)
    assert history.count("Started") == MAX_RECEIVES
    assert history.count("Dispatched") == 1
    wait_until(lambda: stand.queues.counts(stand.queues.dead) == (0, 0), 30, "the DLQ to drain")
    # A researcher runs it again: a new message, a new attempt.
    retried = client.post(f"/backtests/{job_id}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    wait_until(lambda: kinds(client, job_id).count("Dispatched") == 2, 30, "a second dispatch")


def test_a_cancel_reaches_the_worker_that_runs_the_job(
    stand: RemoteStand, client: httpx.Client
) -> None:
    ensure_two_workers(stand)
    register(client, "CancelledRemotely", sleeper("CancelledRemotely", 60))
    job_id = submit(client, "CancelledRemotely")
    wait(client, job_id, until={"running"})
    run_pid = worker_pid_running("CancelledRemotely")
    asked = time.monotonic()
    assert client.post(f"/backtests/{job_id}/cancel").status_code == 202
    job = wait(client, job_id, timeout=30)
    took = time.monotonic() - asked
    assert job["status"] == "cancelled", job["error"]
    assert took < VISIBILITY_SECONDS, f"the cancel took {took:.1f} s"
    wait_until(lambda: not Path(f"/proc/{run_pid}").exists(), 10, "the run to be stopped")
    history = kinds(client, job_id)
    assert history[-1] == "Cancelled" and history.count("Started") == 1
    assert history.index("CancelRequested") < history.index("Cancelled")
    wait_until(lambda: queue_drained(stand), 30, "its message to be deleted")


def test_a_duplicate_message_does_not_run_the_job_twice(
    stand: RemoteStand, client: httpx.Client
) -> None:
    ensure_two_workers(stand)
    register(client, "SentTwice", sleeper("SentTwice", 3))
    job_id = submit(client, "SentTwice")
    dispatched = wait_until(
        lambda: [e for e in events(client, job_id) if e["type"] == "Dispatched"], 30, "dispatch"
    )
    body = f'{{"job_id":"{job_id}","attempt":{dispatched[0]["data"]["attempt"]}}}'
    stand.queues.sqs.send_message(QueueUrl=stand.queues.jobs, MessageBody=body)
    job = wait(client, job_id, timeout=120)
    assert job["status"] == "completed", job["error"]
    wait_until(lambda: queue_drained(stand), 60, "the duplicate to be dropped")
    history = kinds(client, job_id)
    assert history.count("Started") == 1 and history.count("Completed") == 1
    assert "Requeued" not in history


def test_restarting_the_api_while_workers_run_loses_nothing(
    stand: RemoteStand, client: httpx.Client
) -> None:
    ensure_two_workers(stand)
    register(client, "AcrossRestart", sleeper("AcrossRestart", 4))
    ids = [submit(client, "AcrossRestart") for _ in range(4)]
    wait(client, ids[0], until={"running"})
    stand.server.stop()
    time.sleep(2)  # reports and claims meet a closed port meanwhile
    stand.server.start(same_port=True)
    with client_for(stand.server, "alice", "researcher") as fresh:
        jobs = [wait(fresh, job_id, timeout=180) for job_id in ids]
        assert [j["status"] for j in jobs] == ["completed"] * 4, [j["error"] for j in jobs]
        for job_id in ids:
            history = kinds(fresh, job_id)
            assert history.count("Completed") == 1 and history.count("Dispatched") == 1
    wait_until(lambda: queue_drained(stand), 60, "the queue to drain")


PROBLEMS = "https://tradai.dev/problems/"
REPORTS = {
    "heartbeat": None,
    "progress": {"phase": "backtest", "fraction": 1.0},
    "completed": {"summary": {"total_trades": 999, "profit_total": 9.99}, "artifacts": {}},
    **{how: {"reason": "invented"} for how in ("failed", "cancelled", "lost", "released")},
}


def refused(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + slug, body
    return body


def test_only_a_worker_speaks_for_a_worker(stand: RemoteStand) -> None:
    claim = {"worker": "root-box"}
    with client_for(stand.server, "root", "admin") as admin:
        refused(admin.post(f"/workers/jobs/{uuid.uuid4()}/claim", json=claim), 403, "forbidden")
    with client_for(stand.server, "worker-z", "worker") as worker:
        response = worker.post(f"/workers/jobs/{uuid.uuid4()}/claim", json=claim)
        assert "does not exist" in refused(response, 409, "job-settled")["detail"]


def test_a_report_is_accepted_only_from_the_claim_it_belongs_to(
    stand: RemoteStand, client: httpx.Client
) -> None:
    """A stolen worker token (or another claim's secret) cannot settle, renew or give back a
    job; only the secret its claim handed out speaks for the attempt, and only known metrics."""
    for worker in live_workers(stand).values():  # nothing left to run: the queue was drained
        assert worker.stop(timeout=30) == 0
    register(client, "ClaimedByHand", crossover("ClaimedByHand"))
    mine, other = (submit(client, "ClaimedByHand", **INPUTS[1]) for _ in range(2))
    for job_id in (mine, other):
        wait_until(lambda j=job_id: "Dispatched" in kinds(client, j), 30, "the dispatch")
    with client_for(stand.server, "worker-x", "worker") as hand:
        claims = {}
        for job_id in (mine, other):
            answer = hand.post(f"/workers/jobs/{job_id}/claim", json={"worker": "by-hand"})
            assert answer.status_code == 200, answer.text
            claims[job_id] = answer.json()["claim_secret"]
        assert len(claims[mine]) >= 43 and claims[mine] != claims[other]
        before = kinds(client, mine)
        for route, body in REPORTS.items():
            path = f"/workers/jobs/{mine}/attempts/1/{route}"
            for secret in (None, claims[other], "A" * 43):
                headers = {"X-Claim-Secret": secret} if secret else {}
                response = hand.post(path, json=body or {}, headers=headers)
                assert (
                    "attempt 1 of backtest job" in refused(response, 403, "not-the-claim")["detail"]
                )
        unknown = {"summary": {"total_trades": 3, "made_up": 1.0}, "artifacts": {}}
        response = hand.post(
            f"/workers/jobs/{mine}/attempts/1/completed",
            json=unknown,
            headers={"X-Claim-Secret": claims[mine]},
        )
        assert refused(response, 422, "invalid-value")["errors"][0]["field"] == "summary.made_up"
        assert kinds(client, mine) == before
        job = client.get(f"/backtests/{mine}").json()
        assert (job["status"], job["attempt"], job["worker"]) == ("running", 1, "by-hand")
        # The claim's own secret speaks for it: the job is handed back, and the queue's message
        # runs it again on a real worker.
        for job_id, secret in claims.items():
            headers = {"X-Claim-Secret": secret}
            beat = hand.post(f"/workers/jobs/{job_id}/attempts/1/heartbeat", headers=headers)
            assert beat.status_code == 200, beat.text
            back = hand.post(
                f"/workers/jobs/{job_id}/attempts/1/released",
                json={"reason": "test"},
                headers=headers,
            )
            assert back.json() == {"outcome": "accepted"}
    ensure_two_workers(stand)
    for job_id in (mine, other):
        job = wait(client, job_id, timeout=120)
        assert (job["status"], job["attempt"]) == ("completed", 2), job["error"]
        assert job["worker"] in live_workers(stand)
        metrics = client.get(f"/backtests/{job_id}/result").json()["metrics"]
        assert metrics["total_trades"] != 999 and "made_up" not in metrics
    wait_until(lambda: queue_drained(stand), 60, "the queue to drain")


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
