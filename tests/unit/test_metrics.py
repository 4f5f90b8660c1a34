"""Metrics: the middleware labels requests by route template (never by raw path), the histogram
counts into the right buckets, and the scrape-time gauges read the container."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from uuid import uuid4

import pytest
from litestar import Controller, Litestar, get, websocket
from litestar.connection import WebSocket
from litestar.testing import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from adapters.memory_pool import MemoryWorkerPool
from adapters.memory_read_store import InMemoryReadStore
from app.bootstrap import Container
from app.metrics import UNMATCHED, HttpMetrics, MetricsMiddleware, ServiceCollector
from app.params import JobIdPath
from commands.execution import ExecutionCommands
from commands.store import EventStore
from commands.views import BacktestJobView, Progress
from projections.execution_ports import JobMessage, QueueMessage
from projections.ports import Changes
from projections.queue_executor import QueueExecutor

JOB_ROUTE = "/api/v1/backtests/{job_id}"


class Jobs(Controller):
    path = "/api/v1/backtests"

    @get("/{job_id:str}", sync_to_thread=False)
    def one(self, job_id: JobIdPath) -> dict[str, str]:
        return {"id": job_id}

    @get("/{job_id:str}/boom", sync_to_thread=False)
    def boom(self, job_id: JobIdPath) -> None:
        raise RuntimeError("a bug")


@websocket("/ws")
async def stream(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    await socket.send_text("hello")
    await socket.close()


def samples(registry: CollectorRegistry) -> list[Sample]:
    text = generate_latest(registry).decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


@pytest.fixture
def instrumented() -> Iterator[tuple[TestClient[Litestar], CollectorRegistry]]:
    app = Litestar([Jobs, stream], debug=False)
    http = HttpMetrics()
    app.asgi_handler = MetricsMiddleware(app.asgi_handler, http)
    registry = CollectorRegistry()
    registry.register(http)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, registry


def test_requests_are_labelled_by_route_template_not_raw_path(
    instrumented: tuple[TestClient[Litestar], CollectorRegistry],
) -> None:
    client, registry = instrumented
    for _ in range(3):
        assert client.get(f"/api/v1/backtests/{uuid4()}").status_code == 200
    assert client.get(f"/api/v1/backtests/{uuid4()}/boom").status_code == 500
    assert client.get(f"/no/such/{uuid4()}").status_code == 404
    assert client.request("BREW", f"/api/v1/backtests/{uuid4()}").status_code == 405
    assert client.delete(f"/api/v1/backtests/{uuid4()}").status_code == 405
    with client.websocket_connect("/ws") as ws:  # a WebSocket session is not an HTTP request
        assert ws.receive_text() == "hello"

    counts = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in samples(registry)
        if s.name == "tradai_http_requests_total"
    }
    assert counts == {
        (JOB_ROUTE, "GET", "200"): 3,
        (JOB_ROUTE + "/boom", "GET", "500"): 1,
        (UNMATCHED, "GET", "404"): 1,
        (UNMATCHED, "other", "405"): 1,  # an unknown method adds no series of its own
        (UNMATCHED, "DELETE", "405"): 1,
    }
    histogram = [s for s in samples(registry) if s.labels.get("route") == JOB_ROUTE]
    assert {s.name for s in histogram} >= {
        "tradai_http_request_duration_seconds_bucket",
        "tradai_http_request_duration_seconds_count",
        "tradai_http_request_duration_seconds_sum",
    }
    count = next(s for s in histogram if s.name.endswith("_count") and s.labels["status"] == "200")
    assert count.value == 3


def test_the_histogram_counts_each_duration_into_its_bucket() -> None:
    http = HttpMetrics(buckets=(0.01, 0.1, 1.0))
    for seconds in (0.001, 0.01, 0.05, 0.1, 2.0, 30.0):  # a bound itself belongs to its bucket
        http.record("/r", "GET", 200, seconds)
    registry = CollectorRegistry()
    registry.register(http)
    buckets = {
        s.labels["le"]: s.value
        for s in samples(registry)
        if s.name == "tradai_http_request_duration_seconds_bucket"
    }
    assert buckets == {"0.01": 2, "0.1": 4, "1.0": 4, "+Inf": 6}
    total = next(
        s for s in samples(registry) if s.name == "tradai_http_request_duration_seconds_sum"
    )
    assert total.value == pytest.approx(32.161)


def job_view(status: str) -> BacktestJobView:
    return BacktestJobView(
        id=uuid4(), strategy="EmaCross", strategy_version=1, code_sha256="0" * 64,
        pairs=("BTC/USDT",), timeframe="5m", timerange="20240101-20240301", exchange="binance",
        stake_amount=None, max_open_trades=None, starting_balance=None, fee=None,
        status=status, progress=Progress(), attempt=0, worker=None, submitted_by="alice",
        submitted_at=datetime(2024, 1, 1, tzinfo=UTC), started_at=None, finished_at=None,
        error=None, cancel_requested=False, summary=None, artifacts={}, lease_expires_at=None,
        version=1,
    )  # fmt: skip


class Runner:
    def __init__(self, name: str, position: int, last_error: str | None = None) -> None:
        self.name, self.position, self.last_error = name, position, last_error


class Queue:
    def send(self, message: JobMessage) -> str:
        return "m"

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        return []

    def delete(self, receipt: str) -> None: ...

    def hide(self, receipt: str, seconds: int) -> None: ...

    def depth(self) -> tuple[int, int]:
        return 7, 2


def container(**parts: Any) -> Container:
    defaults: dict[str, Any] = {
        "read_store": InMemoryReadStore(),
        "store": SimpleNamespace(max_position=lambda: 40),
        "subscribers": [],
        "relay": None,
        "hub": None,
        "pool": None,
        "executor": None,
    }
    return cast(Container, SimpleNamespace(**(defaults | parts)))


def gauges(parts: Container) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(ServiceCollector(parts))
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples(registry)}


def test_scrape_time_gauges_read_the_container(tmp_path: Path) -> None:
    read_store = InMemoryReadStore()
    jobs = [job_view(status=s) for s in ("submitted", "submitted", "queued", "completed")]
    read_store.commit("read_model", 0, 1, Changes(jobs={j.id: j for j in jobs}))
    pool = MemoryWorkerPool(3, tmp_path)
    assert pool.acquire(timeout=1)
    relay = Runner("kafka-relay", 10, last_error="broker down")
    found = gauges(
        container(
            read_store=read_store,
            subscribers=[Runner("read_model", 38), relay],
            relay=relay,
            hub=SimpleNamespace(client_count=2, subscription_count=5),
            pool=pool,
        )
    )
    assert found[("tradai_jobs", (("status", "submitted"),))] == 2
    assert found[("tradai_jobs", (("status", "running"),))] == 0, "every status has a series"
    assert found[("tradai_jobs_waiting", ())] == 3
    assert found[("tradai_event_store_position", ())] == 40
    assert found[("tradai_subscriber_position", (("subscriber", "read_model"),))] == 38
    assert found[("tradai_subscriber_lag_events", (("subscriber", "read_model"),))] == 2
    assert found[("tradai_subscriber_lag_events", (("subscriber", "kafka-relay"),))] == 30
    assert found[("tradai_subscriber_failing", (("subscriber", "kafka-relay"),))] == 1
    assert found[("tradai_kafka_relay_lag_events", ())] == 30
    assert found[("tradai_websocket_clients", ())] == 2
    assert found[("tradai_websocket_subscriptions", ())] == 5
    assert found[("tradai_workers", (("state", "busy"),))] == 1
    assert found[("tradai_workers", (("state", "idle"),))] == 2
    pool.release()
    assert gauges(container(pool=pool))[("tradai_workers", (("state", "busy"),))] == 0


def test_without_a_local_pool_there_are_no_worker_series_but_the_queue_depth(
    store: EventStore,
) -> None:
    executor = QueueExecutor(store, ExecutionCommands(store), Queue(), InMemoryReadStore())
    found = gauges(container(executor=executor))
    assert not [name for name, _ in found if name == "tradai_workers"]
    assert found[("tradai_sqs_queue_messages", (("state", "waiting"),))] == 7
    assert found[("tradai_sqs_queue_messages", (("state", "in_flight"),))] == 2
    assert not [name for name, _ in found if name == "tradai_kafka_relay_lag_events"]


def test_a_source_that_does_not_answer_leaves_out_only_its_own_families() -> None:
    def down() -> int:
        raise ConnectionError("the database is down")

    broken = SimpleNamespace(count_jobs_by_status=down)
    found = gauges(
        container(
            read_store=broken,
            store=SimpleNamespace(max_position=down),
            subscribers=[Runner("read_model", 38)],
        )
    )
    names = {name for name, _ in found}
    assert "tradai_jobs" not in names and "tradai_subscriber_lag_events" not in names
    assert found[("tradai_subscriber_position", (("subscriber", "read_model"),))] == 38
