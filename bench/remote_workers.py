"""Remote workers: eight backtests on two `tradai worker` processes through SQS (moto server)
against the same eight on the local pool with two workers, in the same run. Candles come from
S3 in the first case (each worker's cache, warm after the first run) and from the local
directory in the second."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from bench.figures import Figure, _wait
from bench.servers import api
from tests.support.aws import running_moto
from tests.support.remote import Queues, RemoteStand

BODY = {
    "strategy": "SampleEmaCross",
    "pairs": ["BTC/USDT", "ETH/USDT"],
    "timeframe": "5m",
    "timerange": "20240101-20240401",
}


def _eight(http: httpx.Client) -> float:
    _wait(http, [http.post("/backtests", json=BODY).json()["id"] for _ in range(2)])  # warm
    started = time.perf_counter()
    _wait(http, [http.post("/backtests", json=BODY).json()["id"] for _ in range(8)])
    return time.perf_counter() - started


def _through_sqs(root: Path) -> float:
    with running_moto(root / "moto") as moto:
        stand = RemoteStand(
            moto.endpoint, root, Queues.create(moto.endpoint, visibility_seconds=30)
        )
        stand.seed()
        stand.server.start()
        try:
            for name in ("worker-a", "worker-b"):
                stand.worker(name)
            token = stand.server.token("bench", "researcher")
            with httpx.Client(
                base_url=f"{stand.server.url}/api/v1",
                headers={"Authorization": f"Bearer {token}"},
            ) as http:
                return _eight(http)
        finally:
            stand.stop()


def _local() -> float:
    with api({"BACKEND_WORKERS": "2"}, seed=True) as server:
        token = server.token("bench", "researcher")
        with httpx.Client(
            base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
        ) as http:
            return _eight(http)


def remote_workers() -> list[Figure]:
    local = _local()
    remote = _through_sqs(Path(tempfile.mkdtemp(prefix="tradai-bench-sqs-")))
    return [
        Figure(
            "eight backtests, two tradai workers via SQS",
            f"{remote:.2f} s (moto server, S3 candles)", f"{local:.2f} s local pool, 2 workers",
            remote / local, "<= 1.15x", remote / local <= 1.15,
        )
    ]  # fmt: skip
