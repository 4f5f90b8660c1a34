"""The event store: one eventsourcing Application whose notification log orders every event."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from commands.errors import ConcurrencyConflict, NotFound

CommitListener = Callable[[int], None]
T = TypeVar("T")


class Deferral(Protocol):
    """Collects the aggregates of a batch of commands (commands.batch.PendingUnit)."""

    def add(self, aggregates: Sequence[Aggregate | None]) -> int: ...

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any: ...


class StoredEvent(msgspec.Struct, frozen=True):
    """A domain event with its global position in the notification log."""

    position: int
    event: Any  # a domain event object; typed Any because aggregates define their own classes


def partition_of(aggregate_id: UUID | str, parts: int) -> int:
    """A stable partition of an aggregate: every event of one aggregate falls in the same one."""
    digit = aggregate_id.int & 0xF if isinstance(aggregate_id, UUID) else int(aggregate_id[-1], 16)
    return partition_of_digit(digit, parts)


def partition_of_digit(last_hex_digit: int, parts: int) -> int:
    """Partitions go by the id's last hex digit, so a store can select one by its text form."""
    return last_hex_digit % parts


class EventStore(Application[UUID]):
    """All aggregates of the service in one store, so one log orders every event.

    One application (rather than one per aggregate type) lets a command save several aggregates
    atomically (a job and its idempotency record) and gives subscribers one global position.
    """

    name = "Tradai"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self._listeners: list[CommitListener] = []
        self._listeners_lock = threading.Lock()
        self._deferred = threading.local()  # the batch this thread is collecting, if any

    @contextmanager
    def deferring(self, unit: Deferral) -> Iterator[None]:
        """While collecting a batch on this thread, `commit` hands aggregates to `unit`."""
        self._deferred.unit = unit
        try:
            yield
        finally:
            self._deferred.unit = None

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, shared by the commands of one batch (read-only values only)."""
        unit: Deferral | None = getattr(self._deferred, "unit", None)
        return compute() if unit is None else cast(T, unit.memo(key, compute))

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener(last_position)` after every commit made through this process."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def wake_listeners(self, position: int) -> None:
        """Tell the commit listeners that the log reached `position` (a commit made by another
        process, learnt from the database)."""
        for listener in list(self._listeners):
            listener(position)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if not recordings:
            return
        last = max(recording.notification.id for recording in recordings)
        for listener in list(self._listeners):
            listener(last)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Application.save for aggregates only (all this service saves). The base method asks
        two runtime-checkable Protocols about every object, about 15 µs each on Python 3.11,
        which was a tenth of a submit's time in the command writer."""
        aggregates = [a for a in objs if a is not None]
        for aggregate in aggregates:
            if not isinstance(aggregate, Aggregate):
                raise TypeError(f"only aggregates are saved here, not {type(aggregate)!r}")
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def load(
        self, aggregate_id: UUID, kind: str, key: str | None = None, *, read_only: bool = False
    ) -> Any:
        """Rebuild an aggregate, or raise NotFound naming `kind` and `key`.

        `read_only` hands out the repository's cached instance instead of a deep copy (which
        costs tens of µs for a strategy with many versions): the caller must not change it.
        """
        try:
            return self.repository.get(aggregate_id, deepcopy_from_cache=not read_only)
        except AggregateNotFoundError:
            raise NotFound(kind, key or str(aggregate_id)) from None

    def load_as_of(self, aggregate_id: UUID, version: int | None) -> Any:
        """Rebuild an aggregate up to and including its `version`-th event (None: all)."""
        return self.repository.get(aggregate_id, version=version)

    def exists(self, aggregate_id: UUID) -> bool:
        # `aggregate_id in repository` would deep-copy the cached aggregate only to drop it.
        try:
            self.repository.get(aggregate_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return False
        return True

    def commit(self, *aggregates: Aggregate | None) -> int:
        """Save the aggregates' new events in one transaction; return the last position.

        A version clash (another command saved first) becomes ConcurrencyConflict. While this
        thread collects a batch, the aggregates are handed to it instead (see commands.batch).
        """
        unit: Deferral | None = getattr(self._deferred, "unit", None)
        if unit is not None:
            return unit.add(aggregates)
        try:
            recordings = self.save(*aggregates)
        except IntegrityError as error:
            raise ConcurrencyConflict(
                "the resource was changed by another request; reload it and try again"
            ) from error
        if not recordings:  # nothing new to save
            return self.max_position()
        return max(r.notification.id for r in recordings)

    def read(self, after: int, limit: int) -> list[StoredEvent]:
        """Up to `limit` events with positions greater than `after`, in order."""
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        return [StoredEvent(n.id, self.mapper.to_domain_event(n)) for n in notifications]

    def read_partition(
        self, after: int, limit: int, *, stop: int, part: int, parts: int
    ) -> tuple[list[StoredEvent], int]:
        """Events of aggregates in partition `part` of `parts`, among the next `limit` positions
        after `after` up to `stop`; and the last position looked at (`after` when none).

        Rows of other partitions are skipped before they are decoded, so `parts` readers of
        the same log share out the decoding, the dearest part of reading it.
        """
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, stop=stop, inclusive_of_start=False
        )
        if not notifications:
            return [], after
        decode = self.mapper.to_domain_event
        events = [
            StoredEvent(n.id, decode(n))
            for n in notifications
            if partition_of(n.originator_id, parts) == part
        ]
        return events, notifications[-1].id

    def max_position(self) -> int:
        """Position of the newest event, 0 when the store is empty."""
        return self.recorder.max_notification_id() or 0

    def aggregate_events(self, aggregate_id: UUID) -> Sequence[Any]:
        """Every event of one aggregate, oldest first."""
        return list(self.events.get(aggregate_id))

    def aggregate_history(self, aggregate_id: UUID) -> list[StoredEvent]:
        """Every event of one aggregate with its position in the log, oldest first.

        This generic version scans the whole log (fine in memory); the SQL stores override it
        with one indexed query."""
        found: list[StoredEvent] = []
        position = 0
        while page := self.read(position, 1000):
            found += [e for e in page if e.event.originator_id == aggregate_id]
            position = page[-1].position
        return found
