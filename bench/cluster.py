"""The whole topology (tests/support/cluster.py), measured on this machine:

- backtest throughput: eight backtests on the cluster with one `tradai worker` (one slot), then
  with a second one started next to it, in the same run (target: two at least 1.8x one);
- submit throughput through two API replicas against one, both on one PostgreSQL (target: two
  at least 1.3x one), with the executor off so that only the submit path is measured;
- commit on replica A to receipt by a WebSocket client of replica B, with the subscribers'
  poll at 10 s, so what arrives came by PostgreSQL NOTIFY (target: p99 at most 50 ms).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
from websockets.sync.client import connect

from bench.figures import Figure, _wait
from bench.live_latency import percentile
from bench.load import Load, wrk
from bench.servers import UNLIMITED
from tests.support.cluster import Cluster
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

BACKTEST = {
    "strategy": "SampleEmaCross",
    "pairs": ["BTC/USDT", "ETH/USDT"],
    "timeframe": "5m",
    "timerange": "20240101-20240401",
}
SUBMIT = {
    "strategy": "Bench",
    "pairs": ["BTC/USDT"],
    "timeframe": "5m",
    "timerange": "20240101-20240201",
}


def _client(server: ServerProcess, sub: str, role: str) -> httpx.Client:
    token = server.token(sub, role)
    return httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _eight(http: httpx.Client) -> float:
    started = time.perf_counter()
    _wait(http, [http.post("/backtests", json=BACKTEST).json()["id"] for _ in range(8)])
    return time.perf_counter() - started


def backtest_throughput() -> list[Figure]:
    root = Path(tempfile.mkdtemp(prefix="tradai-bench-cluster-"))
    try:
        with (
            Cluster(root, workers=1, log_level="warning") as cluster,
            _client(cluster.replicas[0], "bench", "researcher") as http,
        ):
            # Warm: the worker's process pool, its candle cache from S3.
            _wait(http, [http.post("/backtests", json=BACKTEST).json()["id"]])
            one = _eight(http)
            cluster.start_worker("worker-2")
            _wait(http, [http.post("/backtests", json=BACKTEST).json()["id"] for _ in range(2)])
            two = _eight(http)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratio = one / two
    return [
        Figure(
            "eight backtests on the cluster, two workers",
            f"{two:.2f} s ({8 / two:.2f} backtests/s)", f"{one:.2f} s one worker (1 slot)",
            ratio, ">= 1.8x one worker", ratio >= 1.8,
        )
    ]  # fmt: skip


@contextlib.contextmanager
def _replicas(count: int, env: dict[str, str]) -> Iterator[list[ServerProcess]]:
    """`count` API replicas on one fresh PostgreSQL database, without workers or Kafka."""
    pg_root = Path(tempfile.mkdtemp(prefix="tradai-bench-pg-"))
    postgres = PostgresServer(pg_root, free_port())
    servers: list[ServerProcess] = []
    try:
        postgres.start()
        database = postgres.new_database()
        shared = {
            "BACKEND_EVENT_STORE_URL": database,
            "BACKEND_READ_MODEL_URL": database,
            "BACKEND_JWT_SECRET": "bench-secret-bench-secret-bench-secret-0123",
            "BACKEND_EXECUTOR": "off",
            "BACKEND_LOG_LEVEL": "warning",
            "BACKEND_RATE_LIMIT_PER_MINUTE": UNLIMITED,
            "BACKEND_MAX_QUEUED_PER_USER": "0",
        } | env
        for n in range(count):
            server = ServerProcess(Path(tempfile.mkdtemp(prefix=f"tradai-bench-api{n}-")), shared)
            server.start(timeout=60)  # one after the other: the first creates the tables
            servers.append(server)
        with _client(servers[0], "bench", "researcher") as http:
            http.post("/strategies/Bench/versions", json={"code": minimal("Bench")})
        yield servers
    finally:
        for server in servers:
            server.stop()
        postgres.stop()
        shutil.rmtree(pg_root, ignore_errors=True)


def _submits(servers: list[ServerProcess], seconds: int) -> tuple[float, float, int]:
    """wrk against every replica at once, 32 connections in all: (req/s, worst p99, errors)."""
    loads: list[Load] = []

    def run(server: ServerProcess) -> None:
        auth = {"Authorization": f"Bearer {server.token('bench', 'researcher')}"}
        url = f"{server.url}/api/v1/backtests"
        loads.append(
            wrk(
                url,
                seconds=seconds,
                connections=32 // len(servers),
                threads=1,
                method="POST",
                body=SUBMIT,
                headers=auth,
                warmup=1,
            )
        )

    threads = [threading.Thread(target=run, args=(s,)) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (
        sum(load.requests_per_second for load in loads),
        max(load.p99_ms for load in loads),
        sum(load.errors for load in loads),
    )


def submit_throughput(seconds: int) -> list[Figure]:
    with _replicas(1, {}) as servers:
        one, one_p99, one_errors = _submits(servers, seconds)
    with _replicas(2, {}) as servers:
        two, two_p99, two_errors = _submits(servers, seconds)
    ratio = two / one
    return [
        Figure(
            "submit throughput, two replicas (PostgreSQL)",
            f"{two:,.0f} req/s, p99 {two_p99:.1f} ms",
            f"{one:,.0f} req/s one replica, p99 {one_p99:.1f} ms",
            ratio, ">= 1.3x one replica", ratio >= 1.3 and one_errors + two_errors == 0,
        )
    ]  # fmt: skip


def cross_replica_latency(events: int) -> list[Figure]:
    """Milliseconds from a submit's event timestamp (taken before its commit on replica A) to
    its arrival at a WebSocket client of replica B; replica A's own client is the baseline."""
    with _replicas(2, {"BACKEND_SUBSCRIBER_POLL_INTERVAL": "10"}) as (a, b):
        across = _ws_delays(a, b, events)
        local = _ws_delays(a, a, events)
    p99, p50 = percentile(across, 0.99), percentile(across, 0.5)
    base = percentile(local, 0.99)
    return [
        Figure(
            "commit on replica A -> WebSocket on B (p99)",
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({events} events, poll 10 s)",
            f"p99 {base:.1f} ms WebSocket client on A itself",
            p99 / base if base else None, "p99 <= 50 ms", p99 <= 50,
        )
    ]  # fmt: skip


def _ws_delays(writer: ServerProcess, reader: ServerProcess, events: int) -> list[float]:
    delays: list[float] = []
    with _client(writer, "bench", "researcher") as http, _client(reader, "ws", "viewer") as view:
        ws_token = view.post("/ws/token").json()["token"]
        with connect(f"ws://127.0.0.1:{reader.port}/api/v1/ws?token={ws_token}") as ws:
            ws.send(json.dumps({"action": "subscribe", "stream": "backtests"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            for _ in range(events):
                # One at a time, with a pause: the latency of a commit, not of a queue.
                http.post("/backtests", json=SUBMIT)
                message = json.loads(ws.recv(timeout=15))
                arrived = time.time()
                stamp = datetime.fromisoformat(message["data"]["timestamp"].replace("Z", "+00:00"))
                delays.append((arrived - stamp.timestamp()) * 1000)
                time.sleep(0.01)
    return delays


def cluster(seconds: int, events: int) -> list[Figure]:
    return [
        *backtest_throughput(),
        *submit_throughput(seconds),
        *cross_replica_latency(events),
    ]
