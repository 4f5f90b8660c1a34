"""Consuming the backend's events from Kafka: the pattern for other services to copy.

Every stored event is published at least once (API.md, "Events for other services"): topic
`<prefix>.<aggregate>` (`tradai.backtest-jobs`, ...), key = aggregate id, value = JSON with a
stable `event_id`, the aggregate's `version` and the log `position`. One aggregate's events lie
in one partition, in version order. A relay that crashed, or a consumer that stopped between
its work and its commit, makes messages arrive again, so a consumer makes repeats harmless:

1. It joins a consumer group (`group_id`): the members share the partitions, and the group
   remembers how far it got (committed offsets), where a restarted member resumes.
2. It commits by hand (`enable_auto_commit=False`), and only after the handler returned: an
   event counts as done once its effect happened (at least once into the handler).
3. It drops repeats before the handler (exactly-once effects): by `event_id` (`SeenEventIds`)
   or by the aggregate's version (`VersionHighWater`: events of one aggregate arrive in version
   order, so one at or below the last version seen is a repeat). Both here live in memory; in a
   service with a database, keep the ids or the high-water marks in the same transaction as the
   effect, so the dedupe survives restarts and holds across the members of the group.
4. On a rebalance, the batch in hand is finished and committed before its partitions are given
   up (the revoke callback waits for it), so a member joining or leaving causes no repeats; a
   member that dies mid-batch causes a few, which step 3 drops.
5. Where the group has no committed offset yet, the starting point (the oldest message with
   `from_beginning`, else the newest) is committed at assignment, so a member stopped before any
   event arrived misses nothing published while it was down.

A handler that raises stops the consumer: nothing more of that partition's batch is committed,
so it all comes again after a restart (what was already handled is dropped as repeats). The
handler runs inside the poll loop: keep it well under `max_poll_interval_ms` (5 min); long
work belongs on a queue. aiokafka is imported here only, and this module only when Kafka is used.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import msgspec
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

log = logging.getLogger(__name__)


class ConsumedEvent(msgspec.Struct, frozen=True):
    """A message value (the backend's `EventMessage`); fields added later are ignored."""

    event_id: UUID
    type: str
    aggregate_type: str
    aggregate_id: UUID
    version: int
    position: int
    timestamp: datetime
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the handler gets: the decoded event, the value as received and where it lay."""

    event: ConsumedEvent
    value: bytes
    topic: str
    partition: int
    offset: int


Handler = Callable[[Delivery], Awaitable[None]]


class BrokerUnavailable(ConnectionError):
    """The consumer could not connect to the brokers it was given."""


class Deduplicator(Protocol):
    def is_repeat(self, event: ConsumedEvent) -> bool: ...

    def remember(self, event: ConsumedEvent) -> None: ...


class SeenEventIds:
    """Repeats by `event_id`, among the newest `capacity` ids handled: enough for the repeats
    of a crash, which come soon after the original; a relay replaying its whole log from
    position 0 needs `VersionHighWater` (or ids kept in a database)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[UUID, None] = OrderedDict()

    def is_repeat(self, event: ConsumedEvent) -> bool:
        return event.event_id in self._seen

    def remember(self, event: ConsumedEvent) -> None:
        self._seen[event.event_id] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)


class VersionHighWater:
    """Repeats by version: per aggregate the highest version handled, for the `capacity`
    aggregates seen most recently. Exact however far back a replay starts."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._versions: OrderedDict[UUID, int] = OrderedDict()

    def is_repeat(self, event: ConsumedEvent) -> bool:
        return event.version <= self._versions.get(event.aggregate_id, 0)

    def remember(self, event: ConsumedEvent) -> None:
        known = self._versions.get(event.aggregate_id, 0)
        self._versions[event.aggregate_id] = max(known, event.version)
        self._versions.move_to_end(event.aggregate_id)
        if len(self._versions) > self.capacity:
            self._versions.popitem(last=False)


class EventConsumer:
    """One member of a consumer group; `await run()` until `stop()`. `client_options` go to
    AIOKafkaConsumer as they are (bootstrap_servers, security, session and heartbeat times)."""

    def __init__(
        self,
        handler: Handler,
        *,
        group_id: str,
        topics: Sequence[str] = (),
        pattern: str | None = None,
        dedupe: Deduplicator | None = None,
        from_beginning: bool = False,
        poll_timeout_ms: int = 250,
        **client_options: Any,
    ) -> None:
        if bool(topics) == (pattern is not None):
            raise ValueError("give either topics or a pattern")
        self.handler, self.dedupe, self.group_id = handler, dedupe, group_id
        self.topics, self.pattern, self.poll_timeout_ms = list(topics), pattern, poll_timeout_ms
        # metadata_max_age_ms: how soon a new topic matching the pattern is found.
        self.options = {"metadata_max_age_ms": 5000, **client_options}
        self.options |= {"auto_offset_reset": "earliest" if from_beginning else "latest"}
        self.delivered = self.repeats = self.handled = 0  # counters, for logs and tests
        self.committed: dict[TopicPartition, int] = {}  # the last offsets this member committed
        self.assignment: frozenset[TopicPartition] = frozenset()
        self._stopping = asyncio.Event()
        self._batch = asyncio.Lock()  # held while a batch is handled and committed
        self._decoder = msgspec.json.Decoder(ConsumedEvent)

    def stop(self) -> None:
        """Finish the event in hand, commit, leave the group (within `poll_timeout_ms`)."""
        self._stopping.set()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            group_id=self.group_id, enable_auto_commit=False, **self.options
        )
        listener = _Rebalance(self, consumer)
        try:
            await consumer.start()
        except KafkaError as error:
            await consumer.stop()
            raise BrokerUnavailable(str(error)) from None
        try:
            if self.pattern is not None:
                consumer.subscribe(pattern=self.pattern, listener=listener)
            else:
                consumer.subscribe(topics=self.topics, listener=listener)
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=self.poll_timeout_ms)
                async with self._batch:
                    for tp, records in batch.items():
                        await self._handle(consumer, tp, records)
        finally:
            await consumer.stop()  # leaves the group: the others need not wait for its session

    async def _handle(self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: Any) -> None:
        if tp not in consumer.assignment():
            return  # revoked while this batch waited: its new owner reads it from the commit
        done = None
        for record in records:
            if self._stopping.is_set():
                break
            await self._deliver(record)
            done = record.offset + 1
        if done is not None:
            await self._commit(consumer, {tp: done})

    async def _deliver(self, record: Any) -> None:
        try:
            event = self._decoder.decode(record.value or b"")
        except msgspec.DecodeError as error:  # a poison message must not block its partition
            log.error("skipped %s[%s]@%s: %s", record.topic, record.partition, record.offset, error)
            return
        self.delivered += 1
        if self.dedupe is not None and self.dedupe.is_repeat(event):
            self.repeats += 1
            return
        await self.handler(
            Delivery(event, record.value, record.topic, record.partition, record.offset)
        )
        if self.dedupe is not None:
            self.dedupe.remember(event)
        self.handled += 1

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except CommitFailedError as error:  # the group moved on: the new owner gets these again
            log.warning("commit of %s failed: %s", offsets, error)
            return
        self.committed |= offsets


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: EventConsumer, consumer: AIOKafkaConsumer) -> None:
        self.owner, self.consumer = owner, consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.owner._batch:  # wait until the batch in hand is handled and committed
            self.owner.assignment = frozenset()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if assigned:  # make the starting point durable (5. in the module docstring)
            start = {tp: await self.consumer.position(tp) for tp in assigned}
            await self.owner._commit(self.consumer, start)
        self.owner.assignment = frozenset(assigned)
