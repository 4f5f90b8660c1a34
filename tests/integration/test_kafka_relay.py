"""The Kafka relay against a real broker (Tansu, started by the test): every stored event is
published to its aggregate's topic, keyed by aggregate id, in version order, with an event id
that is the same on every delivery; a failed batch moves nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from uuid import UUID

import msgspec
import pytest

from adapters.event_store import open_event_store
from adapters.kafka.producer import KafkaConfig, KafkaPublisher
from adapters.memory_read_store import InMemoryReadStore
from commands.store import EventStore
from domain.backtest_job import BacktestJob
from projections.kafka_relay import (
    RELAY_NAME,
    EventMessage,
    KafkaRelay,
    OutgoingMessage,
    event_id,
    topic_slug,
)
from projections.runner import SubscriberRunner
from tests.factories import LEASE, new_job
from tests.support.kafka import KafkaBroker, read_topics, running_broker

PREFIX = "test"
TOPICS = [f"{PREFIX}.{topic_slug(a)}" for a in ("BacktestJob",)]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    with running_broker(tmp_path_factory.mktemp("kafka")) as running:
        yield running


def jobs_with_history(store: EventStore, count: int) -> list[BacktestJob]:
    jobs = []
    for _ in range(count):
        job = new_job()
        job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
        job.report_progress("dataload", 0.25)
        job.report_progress("backtest", 0.75)
        store.save(job)
        jobs.append(job)
    return jobs


def relay_once(store: EventStore, positions: InMemoryReadStore, bootstrap: str) -> KafkaRelay:
    publisher = KafkaPublisher(KafkaConfig(bootstrap, idempotent=False), TOPICS)
    relay = KafkaRelay(publisher, positions, PREFIX)
    runner = SubscriberRunner(relay, store, batch_size=300)
    while runner.run_once():
        pass
    publisher.close()
    return relay


def decode(records: list[tuple[str, bytes, bytes]]) -> list[tuple[str, bytes, EventMessage]]:
    return [(t, k, msgspec.json.decode(v, type=EventMessage)) for t, k, v in records]


def test_every_event_in_version_order_per_key_with_stable_ids(
    broker: KafkaBroker, tmp_path: Path
) -> None:
    store = open_event_store(f"sqlite:///{tmp_path / 'events.db'}")
    jobs = jobs_with_history(store, 40)
    positions = InMemoryReadStore()
    relay = relay_once(store, positions, broker.bootstrap)
    head = store.max_position()
    assert positions.position(RELAY_NAME) == head == relay.published == 40 * 4

    first = decode(read_topics(broker.bootstrap, TOPICS, expect=head))
    assert len(first) == head
    by_job: dict[UUID, list[EventMessage]] = {}
    for topic, key, message in first:
        assert topic == f"{PREFIX}.backtest-jobs"
        assert key == str(message.aggregate_id).encode()
        assert message.aggregate_type == "BacktestJob"
        assert message.event_id == event_id(message.aggregate_id, message.version)
        by_job.setdefault(message.aggregate_id, []).append(message)
    assert set(by_job) == {job.id for job in jobs}
    for messages in by_job.values():  # one partition per key, so the topic keeps the order
        assert [m.version for m in messages] == [1, 2, 3, 4]
        assert [m.type for m in messages] == [
            "BacktestJob.Submitted", "BacktestJob.Started",
            "BacktestJob.ProgressReported", "BacktestJob.ProgressReported",
        ]  # fmt: skip
        assert messages[0].data["strategy"] == "EmaCross"
        assert messages[3].data == {"phase": "backtest", "fraction": 0.75}
    assert sorted(m.position for _, _, m in first) == list(range(1, head + 1))

    # Replayed from position 0 (a relay whose position was lost): the same ids again.
    positions.save_position(RELAY_NAME, 0)
    relay_once(store, positions, broker.bootstrap)
    both = decode(read_topics(broker.bootstrap, TOPICS, expect=2 * head))
    assert len(both) == 2 * head
    ids = [m.event_id for _, _, m in both]
    assert len(set(ids)) == head and set(ids) == {m.event_id for _, _, m in first}
    store.close()


class FailingPublisher:
    def __init__(self) -> None:
        self.calls = 0

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        self.calls += 1
        raise RuntimeError("broker down")

    def close(self) -> None:
        pass


def test_a_failed_batch_moves_no_position(tmp_path: Path) -> None:
    store = open_event_store(f"sqlite:///{tmp_path / 'events.db'}")
    jobs_with_history(store, 3)
    positions = InMemoryReadStore()
    relay = KafkaRelay(FailingPublisher(), positions, PREFIX)
    runner = SubscriberRunner(relay, store)
    with pytest.raises(RuntimeError):
        runner.run_once()
    assert positions.position(RELAY_NAME) == 0 and runner.position == 0
    store.close()


class CrashOnSave(InMemoryReadStore):
    """Positions that 'crash' once: after the broker acknowledged, before the record."""

    def __init__(self) -> None:
        super().__init__()
        self.crashed = False

    def save_position(self, projection: str, position: int) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("killed between the acknowledgement and the record")
        super().save_position(projection, position)


def test_a_crash_after_the_ack_republishes_the_batch_with_the_same_ids(
    broker: KafkaBroker, tmp_path: Path
) -> None:
    store = open_event_store(f"sqlite:///{tmp_path / 'events.db'}")
    jobs_with_history(store, 5)
    head = store.max_position()
    positions = CrashOnSave()
    publisher = KafkaPublisher(KafkaConfig(broker.bootstrap, idempotent=False), TOPICS)
    runner = SubscriberRunner(KafkaRelay(publisher, positions, "crash"), store)
    with pytest.raises(RuntimeError, match="killed"):
        runner.run_once()
    assert positions.position(RELAY_NAME) == 0  # the batch was published, but not recorded
    runner = SubscriberRunner(KafkaRelay(publisher, positions, "crash"), store)
    assert runner.run_once() == head
    publisher.close()
    found = decode(read_topics(broker.bootstrap, ["crash.backtest-jobs"], expect=2 * head))
    assert len(found) == 2 * head
    assert len({m.event_id for _, _, m in found}) == head, "each repeat has its first id"
    assert positions.position(RELAY_NAME) == head
    store.close()


def test_event_ids_are_uuid5_of_aggregate_and_version() -> None:
    import uuid

    from projections.kafka_relay import EVENT_ID_NAMESPACE

    for _ in range(100):
        aggregate, version = uuid.uuid4(), 7
        expected = uuid.uuid5(EVENT_ID_NAMESPACE, f"{aggregate}/{version}")
        assert event_id(aggregate, version) == expected
