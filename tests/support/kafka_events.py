"""Real domain events as the relay publishes them, and a producer, for the consumer tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from commands.store import StoredEvent
from domain.strategy import Strategy
from projections.kafka_relay import OutgoingMessage, outgoing
from tests.factories import LEASE, new_job

# Consumer-group timings for tests: members notice a rebalance within a heartbeat (0.2 s, not
# aiokafka's 3 s). Tansu takes about half the session timeout to (re)form a group (measured:
# 5 s at aiokafka's 10 s, 3 s at 6 s, 2 s at 3 s); 6 s is also the least real Kafka accepts,
# and long enough that a member of a loaded machine is not thrown out between heartbeats.
GROUP_OPTIONS: dict[str, Any] = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 200}
JOB_EVENTS = 5  # events per job from `job_events`


def job_events(jobs: int, *, first_position: int = 1) -> list[StoredEvent]:
    """The events of `jobs` backtest jobs (submitted, started, two progress reports, failed),
    interleaved across the jobs as a busy log holds them, each job's in version order."""
    per_job = []
    for _ in range(jobs):
        job = new_job()
        job.start(1, "worker-1", LEASE)
        job.report_progress("backtesting", 0.5)
        job.report_progress("backtesting", 1.0)
        job.fail("the test ends it")
        per_job.append(job.collect_events())
    interleaved = [event for step in zip(*per_job, strict=True) for event in step]
    return [StoredEvent(position=p, event=e) for p, e in enumerate(interleaved, first_position)]


def strategy_events(names: Sequence[str], *, first_position: int) -> list[StoredEvent]:
    events = [Strategy(name=name, created_by="alice").collect_events()[0] for name in names]
    return [StoredEvent(position=p, event=e) for p, e in enumerate(events, first_position)]


def messages(stored: Sequence[StoredEvent], prefix: str) -> list[OutgoingMessage]:
    return [outgoing(s, prefix) for s in stored]


async def produce(
    bootstrap: str, batch: Sequence[OutgoingMessage], *, chunk: int = 0, pause: float = 0.0
) -> None:
    """Publish like the relay (acks=all, keyed), acknowledged on return. With `chunk`, in
    chunks `pause` seconds apart: a stream that goes on while consumers join and leave."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    try:
        step = chunk or len(batch) or 1
        for start in range(0, len(batch), step):
            sent = [await producer.send(m.topic, m.value, key=m.key) for m in batch[start:][:step]]
            await asyncio.gather(*sent)
            if pause and start + step < len(batch):
                await asyncio.sleep(pause)
    finally:
        await producer.stop()


def publish(bootstrap: str, batch: Sequence[OutgoingMessage]) -> None:
    asyncio.run(produce(bootstrap, batch))


async def wait_for(
    condition: Callable[[], bool],
    what: str,
    *,
    timeout: float = 30.0,
    tasks: Sequence[asyncio.Task[None]] = (),
) -> None:
    """Until `condition()` holds; fails on the timeout or as soon as one of `tasks` failed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise AssertionError(
                    f"a consumer failed while waiting for {what}"
                ) from task.exception()
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.01)
