"""`GET /metrics` of a real server after real traffic: a real freqtrade backtest on one worker,
reads, and 404s; scraped without a token and parsed as Prometheus parses it."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.e2e.conftest import client_for
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

JOB_ROUTE = "/api/v1/backtests/{job_id}"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("metrics"), {"BACKEND_WORKERS": "1"})
    process.data_dir.mkdir(parents=True, exist_ok=True)
    tradai = Path(sys.executable).parent / "tradai"
    subprocess.run([str(tradai), "seed"], env=process.env(), capture_output=True, check=True)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def scrape(server: ServerProcess) -> list[Sample]:
    answer = httpx.get(f"{server.url}/metrics", timeout=10)  # no token: the route is public
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = text_string_to_metric_families(answer.text)
    return [sample for family in families for sample in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_metrics_after_real_traffic(server: ServerProcess) -> None:
    with client_for(server, "alice", "researcher") as client:
        submitted = client.post(
            "/backtests",
            json={
                "strategy": "SampleEmaCross",
                "pairs": ["BTC/USDT"],
                "timeframe": "1h",
                "timerange": "20240101-20240301",
            },
        )
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        deadline = time.monotonic() + 120
        while client.get(f"/backtests/{job_id}").json()["status"] != "completed":
            assert time.monotonic() < deadline, client.get(f"/backtests/{job_id}").json()
            time.sleep(0.2)
        gets = 5
        for _ in range(gets):
            assert client.get(f"/backtests/{job_id}").status_code == 200
        assert client.get(f"/backtests/{uuid.uuid4()}").status_code == 404
        assert client.get(f"/no-such-resource/{uuid.uuid4()}").status_code == 404
    assert httpx.get(f"{server.url}/api/v1/backtests", timeout=5).status_code == 401

    samples = scrape(server)
    requests = "tradai_http_requests_total"
    assert value(samples, requests, route=JOB_ROUTE, method="GET", status="200") >= gets
    assert value(samples, requests, route=JOB_ROUTE, method="GET", status="404") == 1
    assert value(samples, requests, route="<unmatched>", method="GET", status="404") == 1
    assert value(samples, requests, route="/api/v1/backtests", method="POST", status="202") == 1
    assert value(samples, requests, route="/api/v1/backtests", method="GET", status="401") == 1
    routes = {s.labels["route"] for s in samples if "route" in s.labels}
    assert not [r for r in routes if UUID.search(r)], f"a raw path became a label: {routes}"
    count = value(
        samples,
        "tradai_http_request_duration_seconds_count",
        route=JOB_ROUTE,
        method="GET",
        status="200",
    )
    assert count == value(samples, requests, route=JOB_ROUTE, method="GET", status="200")

    assert value(samples, "tradai_jobs", status="completed") >= 1
    assert value(samples, "tradai_jobs", status="running") == 0
    assert value(samples, "tradai_jobs_waiting") == 0
    head = value(samples, "tradai_event_store_position")
    assert head > 0
    assert value(samples, "tradai_subscriber_lag_events", subscriber="read_model") >= 0
    assert 0 < value(samples, "tradai_subscriber_position", subscriber="read_model") <= head
    assert value(samples, "tradai_subscriber_failing", subscriber="read_model") == 0
    busy = value(samples, "tradai_workers", state="busy")
    assert busy + value(samples, "tradai_workers", state="idle") == 1  # BACKEND_WORKERS
    assert value(samples, "tradai_websocket_clients") == 0
    assert not [s for s in samples if s.name == "tradai_kafka_relay_lag_events"], "no Kafka here"
    assert not [s for s in samples if s.name.startswith("tradai_sqs_")], "the local executor"
    assert value(samples, "process_resident_memory_bytes") > 0

    again = scrape(server)  # the scrape itself is counted, under its own route
    assert value(again, requests, route="/metrics", method="GET", status="200") >= 1
