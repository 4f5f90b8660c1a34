"""Delay from an event's commit to its arrival at a WebSocket client, on a real server.

Starts `tradai serve` (embedded SQLite, executor off) on a free loopback port, subscribes a
WebSocket client to the `backtests` stream, submits jobs over HTTP one after another, and
compares each message's arrival time with its event's timestamp (taken just before the commit,
so the figure slightly overstates commit -> arrival). Same machine, same clock.

    .venv/bin/python -m bench.live_latency [--jobs 500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
from websockets.sync.client import connect

from tests.support.server import ServerProcess
from tests.support.strategies import minimal


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ws_delays(server: ServerProcess, jobs: int) -> list[float]:
    """Milliseconds from each event's timestamp to its arrival at a subscribed WebSocket client."""
    token = server.token("bench", "researcher")
    http = httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
    )
    http.post("/strategies/Bench/versions", json={"code": minimal("Bench")})
    delays: list[float] = []
    ws_token = http.post("/ws/token").json()["token"]
    with connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={ws_token}") as ws:
        ws.send(json.dumps({"action": "subscribe", "stream": "backtests"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        body = {
            "strategy": "Bench",
            "pairs": ["BTC/USDT"],
            "timeframe": "5m",
            "timerange": "20240101-20240201",
        }

        def submit() -> None:
            for _ in range(jobs):
                http.post("/backtests", json=body)

        writer = threading.Thread(target=submit)
        writer.start()
        while len(delays) < jobs:
            raw = ws.recv(timeout=30)
            arrived = time.time()
            stamp = datetime.fromisoformat(
                json.loads(raw)["data"]["timestamp"].replace("Z", "+00:00")
            )
            delays.append((arrived - stamp.timestamp()) * 1000)
        writer.join()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    args = parser.parse_args()
    server = ServerProcess(  # one writer, as fast as it can: never held by the write limit
        Path(tempfile.mkdtemp(prefix="tradai-bench-")),
        {
            "BACKEND_EXECUTOR": "off",
            "BACKEND_RATE_LIMIT_PER_MINUTE": str(10**9),
            "BACKEND_MAX_QUEUED_PER_USER": "0",
        },
    )
    server.start()
    try:
        delays = ws_delays(server, args.jobs)
    finally:
        server.stop()
    print(f"events: {len(delays)}")
    print(
        f"commit -> WebSocket client, ms: median {statistics.median(delays):.2f}, "
        f"p90 {percentile(delays, 0.90):.2f}, p99 {percentile(delays, 0.99):.2f}, "
        f"max {max(delays):.2f}"
    )


if __name__ == "__main__":
    main()
