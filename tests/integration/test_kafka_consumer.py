"""The consumer pattern (adapters/kafka/consumer.py) against a real broker (Tansu)."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from uuid import UUID

import msgspec
import pytest
from aiokafka import TopicPartition

from adapters.kafka.consumer import (
    Deduplicator,
    Delivery,
    EventConsumer,
    Handler,
    SeenEventIds,
    VersionHighWater,
)
from projections.kafka_relay import EventMessage, OutgoingMessage
from tests.support.kafka import KafkaBroker, running_broker
from tests.support.kafka_events import GROUP_OPTIONS, job_events, messages, produce, wait_for

# Seconds a handler's effect takes (a database write), so that rebalances meet batches in hand.
WRITE = 0.002


class Crash(Exception):
    """A member dying in the middle of a batch: handled, not yet committed."""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    with running_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


def member(
    broker: KafkaBroker, handler: Handler, topic: str, group: str, dedupe: Deduplicator | None
) -> EventConsumer:
    return EventConsumer(
        handler,
        group_id=group,
        topics=[topic],
        dedupe=dedupe,
        from_beginning=True,
        bootstrap_servers=broker.bootstrap,
        **GROUP_OPTIONS,
    )


class Pair:
    """Members A and B of group `pair`, sharing one store of handled ids as a database would
    hold it; the effects are appended to one list."""

    def __init__(self, broker: KafkaBroker, topic: str) -> None:
        self.effects: list[tuple[str, Delivery]] = []
        self.crash_after: int | None = None  # A dies when this many more events have passed
        shared = SeenEventIds()
        self.a = member(broker, self.on_a, topic, "pair", shared)
        self.b = member(broker, self.on_b, topic, "pair", shared)

    async def on_a(self, delivery: Delivery) -> None:
        if self.crash_after is not None:
            if self.crash_after == 0:
                raise Crash
            self.crash_after -= 1
        await asyncio.sleep(WRITE)
        self.effects.append(("a", delivery))

    async def on_b(self, delivery: Delivery) -> None:
        await asyncio.sleep(WRITE)
        self.effects.append(("b", delivery))

    def handled_not_committed_by_a(self) -> int:
        committed = self.a.committed
        return sum(
            1
            for who, d in self.effects
            if who == "a" and d.offset >= committed.get(TopicPartition(d.topic, d.partition), 0)
        )


async def join_then_crash(broker: KafkaBroker, pair: Pair, batch: list[OutgoingMessage]) -> int:
    """A alone, B joins mid-stream, A dies mid-batch; returns the events A handled but had not
    committed when it died."""
    a, b = pair.a, pair.b
    run_a = asyncio.create_task(a.run())
    await wait_for(lambda: len(a.assignment) == 4, "A's partitions", tasks=[run_a])
    await produce(broker.bootstrap, batch[:60])
    await wait_for(lambda: a.handled >= 40, "A's first events", tasks=[run_a])
    run_b = asyncio.create_task(b.run())
    both = [run_a, run_b]
    # the stream goes on while B joins (Tansu takes about 3 s to rebalance here) and after
    stream = asyncio.create_task(produce(broker.bootstrap, batch[60:160], chunk=5, pause=0.05))
    await wait_for(lambda: bool(a.assignment and b.assignment), "the join", tasks=both)
    await stream
    await produce(broker.bootstrap, batch[160:200], chunk=5, pause=0.05)
    await wait_for(lambda: len(pair.effects) == 200, "the first 200 events", tasks=both)
    assert a.repeats + b.repeats == 0, "the join repeated events"
    assert a.handled > 0 and b.handled > 0
    # A dies at its 4th event of a burst: what it handled of that batch is not committed.
    pair.crash_after = 3
    await produce(broker.bootstrap, batch[200:])
    with pytest.raises(Crash):
        await asyncio.wait_for(run_a, 30)
    await wait_for(lambda: len(b.assignment) == 4, "B taking all partitions", tasks=[run_b])
    await wait_for(lambda: len(pair.effects) == len(batch), "every event", tasks=[run_b])
    b.stop()
    await asyncio.wait_for(run_b, 30)
    return pair.handled_not_committed_by_a()


def test_two_members_see_every_event_once_across_a_join_and_a_crash(
    broker: KafkaBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    """A consumes alone; B joins while events are produced (rebalance 1); A dies mid-batch
    (rebalance 2, B takes all 4 partitions). Every event has exactly one effect, none is
    missing, and each aggregate's effects come in version order. The join repeats nothing (a
    member finishes and commits its batch before giving partitions up); A's death repeats
    exactly what it had handled but not committed, and the shared store drops those."""
    batch = messages(job_events(60), "group")  # 300 events
    broker.create_topic(batch[0].topic, 4)
    pair = Pair(broker, batch[0].topic)
    uncommitted = asyncio.run(join_then_crash(broker, pair, batch))

    a, b = pair.a, pair.b
    assert a.repeats == 0 and b.repeats == uncommitted  # each came again, to B, and was dropped
    # every message once, plus the repeats, plus the one A died on (B handled it)
    assert a.delivered + b.delivered == len(batch) + b.repeats + 1
    ids = [d.event.event_id for _, d in pair.effects]
    assert Counter(ids) == Counter(m.event_id for m in _decoded(batch))  # each exactly once
    versions: dict[UUID, list[int]] = defaultdict(list)
    for _, d in pair.effects:
        versions[d.event.aggregate_id].append(d.event.version)
    assert all(v == sorted(v) for v in versions.values())
    with capsys.disabled():
        print(
            f"\nrebalance repeats: join 0, crash mid-batch {b.repeats} (all dropped); "
            f"effects by A {a.handled}, by B {b.handled}"
        )


def test_dedupe_by_event_id_and_by_version_drop_redeliveries(broker: KafkaBroker) -> None:
    """A relay that crashed republishes its unsaved tail, one restarted from position 0
    republishes everything: 230 messages, 100 events. Three groups read them: without dedupe
    (all 230 reach the handler), by event_id and by version (each event exactly once)."""
    stored = job_events(20)
    batch = messages(stored, "dedupe")
    broker.create_topic(batch[0].topic, 4)
    redelivered = batch[:70] + batch[40:] + batch
    seen: dict[str, list[Delivery]] = {"none": [], "event_id": [], "version": []}
    kinds: dict[str, Deduplicator | None] = {
        "none": None,
        "event_id": SeenEventIds(),
        "version": VersionHighWater(),
    }

    def handler(kind: str) -> Handler:
        async def handle(delivery: Delivery) -> None:
            seen[kind].append(delivery)

        return handle

    async def scenario() -> dict[str, EventConsumer]:
        consumers = {
            kind: member(broker, handler(kind), batch[0].topic, f"dedupe-{kind}", dedupe)
            for kind, dedupe in kinds.items()
        }
        tasks = [asyncio.create_task(c.run()) for c in consumers.values()]
        await produce(broker.bootstrap, redelivered)
        await wait_for(
            lambda: all(c.delivered == len(redelivered) for c in consumers.values()),
            "every message in every group",
            tasks=tasks,
        )
        for consumer in consumers.values():
            consumer.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        return consumers

    consumers = asyncio.run(scenario())
    unique = Counter(m.event_id for m in _decoded(batch))
    assert len(seen["none"]) == len(redelivered) and consumers["none"].repeats == 0
    for kind in ("event_id", "version"):
        assert Counter(d.event.event_id for d in seen[kind]) == unique, kind
        assert consumers[kind].repeats == len(redelivered) - len(batch), kind


def _decoded(batch: Sequence[OutgoingMessage]) -> list[EventMessage]:
    return [msgspec.json.decode(m.value, type=EventMessage) for m in batch]
