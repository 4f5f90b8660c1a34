"""Prometheus metrics (`GET /metrics`): HTTP requests, and gauges read from the service when
Prometheus scrapes.

Each app has a registry of its own (several apps in one test process do not clash). HTTP
requests are counted by a pure ASGI middleware in plain lists (no lock: only the event loop's
thread writes them), keyed by the route's template as Litestar's router put it in the scope,
never by the raw path. Everything else is computed at scrape time by a collector that asks the
container: jobs by status from the read model, subscriber positions and lags (the same figures
/ready checks), WebSocket clients, the worker pool's slots or the SQS queue's depth.

Rebuilds (`tradai projections rebuild`) run in a process of their own, which reports its
progress when it ends; the API process has no progress of theirs to expose.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from app.bootstrap import Container
from app.controllers.health import subscriber_lags
from domain.backtest_job import WAITING_STATUSES, JobStatus
from projections.queue_executor import QueueExecutor

log = logging.getLogger(__name__)

# Seconds; most answers take 1-50 ms, a slow artifact download or proxied call a few seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# A method label outside these would let any client add series at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED = "<unmatched>"  # the route of a request no route matched (a 404 or 405 of routing)


class HttpMetrics:
    """Requests per (route template, method, status): a count per latency bucket and the sum
    of their durations, exposed as a counter and a histogram of the same series."""

    def __init__(self, buckets: Iterable[float] = BUCKETS) -> None:
        self.bounds = tuple(sorted(buckets))
        self._labels = [repr(float(b)) for b in self.bounds] + ["+Inf"]
        # key -> [count in bucket 0, .., count above the last bound, sum of seconds]
        self._series: dict[tuple[str, str, int], list[float]] = {}

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request (called on the event loop's thread only)."""
        key = (route, method if method in METHODS else OTHER_METHOD, status)
        cells = self._series.get(key)
        if cells is None:
            cells = self._series[key] = [0] * (len(self.bounds) + 2)
        cells[bisect_left(self.bounds, seconds)] += 1  # le is inclusive: v <= bound
        cells[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        labels = ["route", "method", "status"]
        requests = CounterMetricFamily(
            "tradai_http_requests", "HTTP requests answered, by route template", labels=labels
        )
        durations = HistogramMetricFamily(
            "tradai_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template",
            labels=labels,
        )
        # Copies taken in single C calls, atomic under the GIL while the event loop counts on.
        for (route, method, status), live in sorted(self._series.copy().items()):
            cells = live.copy()
            values = [route, method, str(status)]
            cumulative, buckets = 0.0, []
            for label, count in zip(self._labels, cells[:-1], strict=True):
                cumulative += count
                buckets.append((label, cumulative))
            requests.add_metric(values, cumulative)
            durations.add_metric(values, buckets, cells[-1])
        yield requests
        yield durations


class MetricsMiddleware:
    """Times each HTTP request and counts it under its route's template (WebSocket sessions
    and lifespan events pass through untouched)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the app fails before it answers

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router writes the matched route's template into the scope.
            route = scope.get("path_template") or UNMATCHED
            self.metrics.record(route, scope["method"], status, time.perf_counter() - started)


@runtime_checkable
class _Measurable(Protocol):
    def depth(self) -> tuple[int, int]: ...


class ServiceCollector:
    """Gauges computed from the container at scrape time. A part whose source does not answer
    is left out of the scrape (and logged) rather than failing it."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def collect(self) -> Iterator[Metric]:
        for part in (self._jobs, self._subscribers, self._live, self._workers, self._queue):
            try:
                yield from part()
            except Exception:
                log.warning("metrics: %s failed", part.__name__, exc_info=True)

    def _jobs(self) -> Iterator[Metric]:
        counts = self.container.read_store.count_jobs_by_status()
        jobs = GaugeMetricFamily("tradai_jobs", "Backtest jobs by status", labels=["status"])
        for status in [*JobStatus, *sorted(set(counts) - set(JobStatus))]:
            jobs.add_metric([str(status)], counts.get(status, 0))
        yield jobs
        waiting = sum(counts.get(s, 0) for s in WAITING_STATUSES)
        yield GaugeMetricFamily(
            "tradai_jobs_waiting",
            "Backtest jobs waiting for a worker (submitted + queued)",
            value=waiting,
        )

    def _subscribers(self) -> Iterator[Metric]:
        container = self.container
        try:
            head: int | None = container.store.max_position()
        except Exception:
            log.warning("metrics: the event store did not answer", exc_info=True)
            head = None
        if head is not None:
            yield GaugeMetricFamily(
                "tradai_event_store_position", "Position of the newest stored event", value=head
            )
        labels = ["subscriber"]
        positions = GaugeMetricFamily(
            "tradai_subscriber_position",
            "Last event position a subscriber processed",
            labels=labels,
        )
        lags = GaugeMetricFamily(
            "tradai_subscriber_lag_events",
            "Events a subscriber is behind the event store",
            labels=labels,
        )
        failing = GaugeMetricFamily(
            "tradai_subscriber_failing",
            "1 while a subscriber's last batch failed (it retries)",
            labels=labels,
        )
        relay_lag: int | None = None
        for runner, position, lag in subscriber_lags(container, head or 0):
            positions.add_metric([runner.name], position)
            failing.add_metric([runner.name], 1 if runner.last_error else 0)
            if head is not None:
                lags.add_metric([runner.name], lag)
                if runner is container.relay:
                    relay_lag = lag
        yield positions
        if head is not None:
            yield lags
        yield failing
        if relay_lag is not None:
            yield GaugeMetricFamily(
                "tradai_kafka_relay_lag_events",
                "Stored events not yet published to Kafka",
                value=relay_lag,
            )

    def _live(self) -> Iterator[Metric]:
        hub = self.container.hub
        if hub is None:
            return
        yield GaugeMetricFamily(
            "tradai_websocket_clients", "Connected WebSocket clients", value=hub.client_count
        )
        yield GaugeMetricFamily(
            "tradai_websocket_subscriptions",
            "Streams subscribed to, over every client",
            value=hub.subscription_count,
        )

    def _workers(self) -> Iterator[Metric]:
        pool = self.container.pool
        if pool is None:  # executor `sqs` (the workers are elsewhere) or `off`
            return
        busy = min(max(pool.busy, 0), pool.size)
        workers = GaugeMetricFamily(
            "tradai_workers", "Slots of this process's worker pool", labels=["state"]
        )
        workers.add_metric(["busy"], busy)
        workers.add_metric(["idle"], pool.size - busy)
        yield workers

    def _queue(self) -> Iterator[Metric]:
        executor = self.container.executor
        if not isinstance(executor, QueueExecutor) or not isinstance(executor.queue, _Measurable):
            return
        waiting, in_flight = executor.queue.depth()  # one GetQueueAttributes call
        depth = GaugeMetricFamily(
            "tradai_sqs_queue_messages",
            "Messages of the jobs queue (approximate, from SQS)",
            labels=["state"],
        )
        depth.add_metric(["waiting"], waiting)
        depth.add_metric(["in_flight"], in_flight)
        yield depth


def metrics_registry(container: Container) -> tuple[CollectorRegistry, HttpMetrics]:
    """The app's own registry: HTTP requests, the service's gauges, and the process's CPU,
    memory and open files."""
    registry = CollectorRegistry(auto_describe=False)
    http = HttpMetrics()
    registry.register(http)
    registry.register(ServiceCollector(container))
    ProcessCollector(registry=registry)
    return registry, http
