"""The Kafka relay: every stored event, published for other services, at least once.

A subscriber like the others: it reads the log from its own recorded position, hands a batch
to a publisher that returns only once the broker acknowledged every message of it, and only
then records the new position. A crash between the acknowledgement and the record makes it
publish those events again; their `event_id` is the same every time (derived from aggregate id
and version), so consumers drop the repeats. Nothing is ever skipped: a failed batch raises,
and the runner retries it from the recorded position with capped back-off.

One topic per aggregate type (`<prefix>.backtest-jobs`, ...), keyed by aggregate id, so one
aggregate's events stay in one partition, in version order.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import msgspec

from commands.store import StoredEvent

RELAY_NAME = "kafka-relay"
# Fixed forever: event ids derive from it, and consumers remember them.
EVENT_ID_NAMESPACE = UUID("6f6b1c0e-2f54-4a43-9a3c-1d6a2f0e7b21")
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
# Topic names of the aggregate types API.md lists; any type added later gets the same rule.
_TOPIC_NAMES = {
    "BacktestJob": "backtest-jobs",
    "StrategyVersion": "strategy-versions",
    "Strategy": "strategies",
}


class EventMessage(msgspec.Struct, frozen=True):
    """The value of every Kafka message (API.md, Events for other services)."""

    event_id: UUID
    type: str
    aggregate_type: str
    aggregate_id: UUID
    version: int
    position: int
    timestamp: datetime
    data: dict[str, Any]


class OutgoingMessage(msgspec.Struct, frozen=True):
    topic: str
    key: bytes
    value: bytes


class Publisher(Protocol):
    """Sends a batch to the broker; returns once every message is acknowledged, else raises."""

    def publish(self, messages: Sequence[OutgoingMessage]) -> None: ...

    def close(self) -> None: ...


class RelayPositions(Protocol):
    def position(self, projection: str) -> int: ...

    def save_position(self, projection: str, position: int) -> None: ...


def aggregate_type(event: Any) -> str:
    """`BacktestJob` for `BacktestJob.Submitted`."""
    return type(event).__qualname__.split(".", 1)[0]


def topic_slug(aggregate: str) -> str:
    """`backtest-jobs` for `BacktestJob`: kebab case, plural."""
    if aggregate in _TOPIC_NAMES:
        return _TOPIC_NAMES[aggregate]
    words = re.sub(r"(?<!^)(?=[A-Z])", "-", aggregate).lower()
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def topic_of(event: Any, prefix: str) -> str:
    return f"{prefix}.{topic_slug(aggregate_type(event))}"


def event_id(aggregate_id: UUID, version: int) -> UUID:
    """The same id for the same event on every delivery, restart or replay from position 0:
    the UUID version 5 of `<aggregate id>/<version>` in the relay's namespace."""
    return _uuid5(f"{aggregate_id}/{version}")


_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def _uuid5(name: str) -> UUID:
    # uuid.uuid5 without its checks and conversions (a third of the relay's encoding time);
    # test_kafka_relay checks it equals uuid.uuid5.
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return UUID(bytes=bytes(digest))


def event_message(stored: StoredEvent, aggregate_key: str | None = None) -> EventMessage:
    event = stored.event
    data = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
    key = aggregate_key or str(event.originator_id)
    return EventMessage(
        event_id=_uuid5(f"{key}/{event.originator_version}"),
        type=type(event).__qualname__,
        aggregate_type=aggregate_type(event),
        aggregate_id=event.originator_id,
        version=event.originator_version,
        position=stored.position,
        timestamp=event.timestamp,
        data=data,
    )


_encoder = msgspec.json.Encoder()


def outgoing(stored: StoredEvent, prefix: str) -> OutgoingMessage:
    key = str(stored.event.originator_id)
    return OutgoingMessage(
        topic=topic_of(stored.event, prefix),
        key=key.encode(),
        value=_encoder.encode(event_message(stored, key)),
    )


class KafkaRelay:
    """The relay subscriber (run by a SubscriberRunner, which retries failed batches)."""

    name = RELAY_NAME

    def __init__(self, publisher: Publisher, positions: RelayPositions, prefix: str) -> None:
        self.publisher = publisher
        self.positions = positions
        self.prefix = prefix
        self.published = 0  # messages acknowledged since start (for /ready and metrics)

    def position(self) -> int:
        return self.positions.position(self.name)

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        messages = [outgoing(stored, self.prefix) for stored in events]
        self.publisher.publish(messages)  # raises unless the broker acknowledged them all
        self.positions.save_position(self.name, events[-1].position)
        self.published += len(messages)

    @property
    def connected(self) -> bool:
        return bool(getattr(self.publisher, "connected", True))

    def close(self) -> None:
        self.publisher.close()
