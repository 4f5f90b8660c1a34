"""The consumer module's parts that need no broker: the message struct and the dedupers."""

from __future__ import annotations

import msgspec
import pytest

from adapters.kafka.consumer import ConsumedEvent, EventConsumer, SeenEventIds, VersionHighWater
from commands.store import StoredEvent
from projections.kafka_relay import EventMessage, event_message, outgoing
from tests.factories import LEASE, new_job


def events(count: int) -> list[ConsumedEvent]:
    """The first `count` (at most 4) events of a new job, as a consumer decodes them."""
    job = new_job()
    job.start(1, "worker-1", LEASE)
    job.report_progress("backtesting", 0.5)
    job.fail("the test ends it")
    return [
        msgspec.json.decode(outgoing(StoredEvent(p, e), "t").value, type=ConsumedEvent)
        for p, e in enumerate(job.collect_events()[:count], 1)
    ]


def test_consumed_event_mirrors_the_published_message() -> None:
    assert ConsumedEvent.__annotations__ == EventMessage.__annotations__
    stored = StoredEvent(7, new_job().collect_events()[0])
    value = outgoing(stored, "tradai").value
    decoded = msgspec.json.decode(value, type=ConsumedEvent)
    assert msgspec.json.encode(decoded) == value  # same fields, same order, same values
    assert decoded.event_id == event_message(stored).event_id


def test_seen_event_ids_drop_repeats_and_forget_the_oldest() -> None:
    seen = SeenEventIds(capacity=3)
    first, *rest = events(4)
    assert not seen.is_repeat(first)
    seen.remember(first)
    assert seen.is_repeat(first)
    for event in rest:
        seen.remember(event)
    assert not seen.is_repeat(first)  # the oldest of four went
    assert all(seen.is_repeat(event) for event in rest)


def test_version_high_water_drops_everything_at_or_below_the_last_version() -> None:
    marks = VersionHighWater(capacity=2)
    one, two, three = events(3)
    marks.remember(one)
    marks.remember(two)
    assert marks.is_repeat(one) and marks.is_repeat(two) and not marks.is_repeat(three)
    marks.remember(one)  # out of order (a misuse): the mark stays at the highest version
    assert marks.is_repeat(two)
    (other,), (another,) = events(1), events(1)
    marks.remember(other)
    marks.remember(three)  # this job is the most recent aggregate again
    marks.remember(another)
    assert marks.is_repeat(three)  # its aggregate was kept
    assert not marks.is_repeat(other)  # the least recent aggregate was forgotten


async def _nothing(_: object) -> None:
    return None


def test_a_consumer_reads_topics_or_a_pattern() -> None:
    with pytest.raises(ValueError, match="either"):
        EventConsumer(_nothing, group_id="g", bootstrap_servers="x")
    with pytest.raises(ValueError, match="either"):
        EventConsumer(_nothing, group_id="g", topics=["a"], pattern="b", bootstrap_servers="x")
