"""The whole topology as production runs it, on one machine (tests/support/cluster.py): two API
replicas on PostgreSQL, Kafka (Tansu) and moto (SQS, S3, DynamoDB), and two `tradai worker`
processes. Subscribers poll only every 10 s here, so anything faster crossed the replicas by
PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.e2e.conftest import client_for
from tests.support.cluster import Cluster
from tests.support.kafka import read_topics
from tests.support.remote import wait_until
from tests.support.server import ServerProcess
from tests.support.strategies import sleeper

pytestmark = [pytest.mark.aws, pytest.mark.e2e]

FINAL = {"completed", "failed", "cancelled"}
BODY = {"strategy": "SampleEmaCross", "pairs": ["BTC/USDT"], "timeframe": "1h",
        "timerange": "20240101-20240301"}  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # The gates' thresholds are tested on their own (test_lifecycle_api.py); here any finished
    # backtest passes them, so two months of one pair are enough.
    gates = {"BACKEND_GATE_MIN_TRADES": "0", "BACKEND_GATE_MAX_DRAWDOWN": "1",
             "BACKEND_GATE_MIN_PROFIT": "-1"}  # fmt: skip
    root = tmp_path_factory.mktemp("cluster")
    with Cluster(root, poll_interval=10, extra_env=gates) as running:
        yield running


def api(replica: ServerProcess, sub: str, *roles: str) -> httpx.Client:
    return client_for(replica, sub, *roles)


class Watcher(threading.Thread):
    """A WebSocket client of one replica, keeping every message of the `backtests` stream. Its
    token closes the stream when it expires (a minute): it renews it and resumes with `since`,
    as the web UI does, so the messages it keeps have no gap and no duplicate."""

    def __init__(self, replica: ServerProcess, token_client: httpx.Client) -> None:
        super().__init__(daemon=True)
        self.port = replica.port
        self.token_client = token_client
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.renewals = 0
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        since: int | None = None
        while not self.stop.is_set():
            token = self.token_client.post("/ws/token").json()["token"]
            url = f"ws://127.0.0.1:{self.port}/api/v1/ws?token={token}"
            request: dict[str, Any] = {"action": "subscribe", "stream": "backtests"}
            if since is not None:
                request["since"] = since
            try:
                with connect(url, open_timeout=10) as ws:
                    ws.send(json.dumps(request))
                    while not self.stop.is_set():
                        try:
                            message = json.loads(ws.recv(timeout=0.5))
                        except TimeoutError:
                            continue
                        if message["type"] == "subscribed":
                            self.ready.set()
                        elif "position" in message:
                            self.messages.append((time.monotonic(), message))
                            since = message["position"]
            except ConnectionClosed:
                self.renewals += 1  # the token expired: a new one, from where it was


def wait_final(client: httpx.Client, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    jobs: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for job_id in ids:
            if job_id not in jobs or jobs[job_id]["status"] not in FINAL:
                jobs[job_id] = client.get(f"/backtests/{job_id}").json()
        if all(j["status"] in FINAL for j in jobs.values()):
            return [jobs[i] for i in ids]
        time.sleep(0.2)
    raise AssertionError(f"jobs not final: {[(i, j['status']) for i, j in jobs.items()]}")


def events(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/backtests/{job_id}/events").json()
    return list(answer["items"] if isinstance(answer, dict) else answer)


def test_sixteen_backtests_across_replicas_and_workers_seen_everywhere(cluster: Cluster) -> None:
    one, two = cluster.replicas
    with api(one, "alice", "researcher") as a, api(two, "bob", "researcher") as b:
        watchers = [Watcher(one, a), Watcher(two, b)]
        for watcher in watchers:
            watcher.start()
            assert watcher.ready.wait(10)
        ids = [(a if n % 2 else b).post("/backtests", json=BODY).json()["id"] for n in range(16)]
        jobs = wait_final(a, ids, timeout=300)
        assert [j["status"] for j in jobs] == ["completed"] * 16, [j["error"] for j in jobs]
        assert {j["worker"] for j in jobs} == {"worker-1", "worker-2"}

        # Both replicas answer the same: replica 1 from SQL, replica 2 from DynamoDB.
        for job_id in ids:
            left, right = a.get(f"/backtests/{job_id}").json(), b.get(f"/backtests/{job_id}").json()
            assert left == right
            assert a.get(f"/backtests/{job_id}/result").json() == (
                b.get(f"/backtests/{job_id}/result").json()
            )

        # Every event of every job reached the WebSocket clients of both replicas, in order.
        stored = {job_id: events(a, job_id) for job_id in ids}
        wanted = sorted(e["position"] for history in stored.values() for e in history)
        last = wanted[-1]
        for watcher in watchers:
            wait_until(
                lambda w=watcher: any(m["position"] >= last for _, m in w.messages), 20, "the end"
            )
            watcher.stop.set()
            seen = [m["position"] for _, m in watcher.messages if m["data"].get("id") in stored]
            assert seen == sorted(seen), "out of position order"
            assert sorted(set(seen)) == wanted

        # Kafka holds every event of every job (at least once; deduplicated by event id).
        topic = f"{cluster.topic_prefix}.backtest-jobs"
        records = read_topics(cluster.broker.bootstrap, [topic], expect=len(wanted))
        on_kafka = {json.loads(value)["position"] for _, _, value in records}
        assert set(wanted) <= on_kafka


def test_a_commit_on_one_replica_reaches_the_other_without_waiting_for_the_poll(
    cluster: Cluster,
) -> None:
    one, two = cluster.replicas
    with api(one, "alice", "researcher") as a, api(two, "bob", "viewer") as b:
        watcher = Watcher(two, b)
        watcher.start()
        assert watcher.ready.wait(10)
        delays = []
        for _ in range(10):
            sent = time.monotonic()
            job_id = a.post("/backtests", json=BODY | {"strategy_version": 1}).json()["id"]
            # At once, the id is known on the other replica too (no 404 while it catches up).
            assert b.get(f"/backtests/{job_id}").status_code == 200
            arrived = wait_until(
                lambda j=job_id: [t for t, m in watcher.messages if m["data"].get("id") == j],
                5,
                "the submit on the other replica",
                interval=0.005,
            )
            delays.append(arrived[0] - sent)
        watcher.stop.set()
    # The poll is 10 s: anything under a second came by LISTEN/NOTIFY.
    assert max(delays) < 1.0, delays


def test_kill_9_of_a_replica_and_a_worker_loses_nothing(cluster: Cluster) -> None:
    one, two = cluster.replicas
    with api(one, "alice", "researcher") as a, api(two, "bob", "researcher") as b:
        assert (
            a.post(
                "/strategies/ClusterSleeper/versions", json={"code": sleeper("ClusterSleeper", 4)}
            ).status_code
            == 201
        )
        body = BODY | {"strategy": "ClusterSleeper"}
        acknowledged = [a.post("/backtests", json=body).json()["id"] for _ in range(3)]
        acknowledged += [b.post("/backtests", json=body).json()["id"] for _ in range(3)]
        wait_until(
            lambda: sum(b.get(f"/backtests/{i}").json()["status"] == "running"
                        for i in acknowledged) >= 2, 60, "two running jobs",
        )  # fmt: skip
        assert one.process is not None
        one.process.kill()  # kill -9 of replica 1: its clients' acknowledged commands must stay
        one.process.wait(10)
        victim = next(w for w in cluster.workers if w.alive())
        victim.kill()  # and of a worker, mid-run
        killed = time.monotonic()
        acknowledged += [b.post("/backtests", json=body).json()["id"] for _ in range(2)]
        jobs = wait_final(b, acknowledged, timeout=300)
        recovered = time.monotonic() - killed
        assert [j["status"] for j in jobs] == ["completed"] * len(acknowledged), jobs
        for job_id in acknowledged:
            kinds = [e["type"] for e in events(b, job_id)]
            assert kinds.count("Completed") == 1
        retried = [j for j in jobs if j["attempt"] > 1]
        print(f"\nkill -9 of replica 1 and {victim.name}: {len(retried)} job(s) ran again, "
              f"all {len(jobs)} completed {recovered:.1f} s after the kills")  # fmt: skip
    one.start(same_port=True, timeout=60)  # the replica comes back and catches up
    cluster.start_worker(f"{victim.name}-again")
    with api(one, "alice", "viewer") as a:
        for job_id in acknowledged:
            assert a.get(f"/backtests/{job_id}").json()["status"] == "completed"


def test_promotions_across_replicas_keep_four_eyes(cluster: Cluster) -> None:
    """Requests on replica 1, decisions on replica 2: four eyes, two deployments, a rollback,
    and one audit history whichever replica answers."""
    one, two = cluster.replicas
    code = (
        (resources.files("app.samples") / "SampleEmaCross.py")
        .read_text()
        .replace("SampleEmaCross", "ClusterLifecycle")
    )
    versions = "/strategies/ClusterLifecycle/versions"
    with (
        api(one, "alice", "researcher") as alice,
        api(two, "dana", "approver") as dana,
        api(one, "erin", "approver", "researcher") as erin,
        api(two, "olga", "operator") as olga,
    ):
        for version, text in ((1, code), (2, code + "\n# version 2\n")):
            registered = alice.post(versions, json={"code": text})
            assert registered.status_code == 201 and registered.json()["version"] == version
        jobs = [
            alice.post(
                "/backtests", json=BODY | {"strategy": "ClusterLifecycle", "strategy_version": v}
            ).json()["id"]
            for v in (1, 2)
        ]
        assert [j["status"] for j in wait_final(alice, jobs, 180)] == ["completed"] * 2

        def promote(client: httpx.Client, version: int, stage: str) -> dict[str, Any]:
            body = {"target_stage": stage, "backtest_id": jobs[version - 1]}
            answer = client.post(f"{versions}/{version}/promotions", json=body)
            assert answer.status_code == 201, answer.text
            return dict(answer.json())

        for version in (1, 2):
            promotion = promote(alice, version, "staging")["id"]
            assert dana.post(f"/promotions/{promotion}/approve").json()["status"] == "approved"
        # Four eyes across replicas: erin requests on replica 1 and may not approve her own.
        own = promote(erin, 1, "production")["id"]
        refused = erin.post(f"/promotions/{own}/approve")
        assert refused.status_code == 403, refused.text
        assert dana.post(f"/promotions/{own}/approve").json()["status"] == "approved"

        deployments = "/strategies/ClusterLifecycle/deployments"
        for version in (1, 2):  # staging runs v1, then v2
            deploy = olga.post(deployments, json={"version": version, "environment": "staging"})
            assert deploy.status_code == 201 and deploy.json()["revision"] == version, deploy.text
        back = olga.post("/strategies/ClusterLifecycle/rollback", json={"environment": "staging"})
        assert back.status_code == 201, back.text
        assert (back.json()["revision"], back.json()["version"]) == (3, 1)

        # Replica 1 answers from SQL, replica 2 from DynamoDB: the same live revision, and the
        # same history (read from the store), whoever asks.
        wanted = {"staging": {"revision": 3, "version": 1}}
        wait_until(
            lambda: alice.get("/strategies/ClusterLifecycle").json()["live"] == wanted, 10, "SQL"
        )
        wait_until(
            lambda: dana.get("/strategies/ClusterLifecycle").json()["live"] == wanted,
            10,
            "DynamoDB",
        )
        history = alice.get("/strategies/ClusterLifecycle/history").json()["entries"]
        actions = [(e["actor"], e["action"]) for e in history]
        for expected in (
            ("erin", "promotion requested"),
            ("dana", "promotion approved"),
            ("olga", "deployed"),
            ("olga", "rolled back"),
        ):
            assert expected in actions, actions
        assert ("erin", "promotion approved") not in actions
        assert history == dana.get("/strategies/ClusterLifecycle/history").json()["entries"]


def test_the_logs_of_the_cluster_are_where_make_cluster_says(cluster: Cluster) -> None:
    assert all(Path(w.log_path).exists() for w in cluster.workers)
    assert "API replica 2" in cluster.describe()
