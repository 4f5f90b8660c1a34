"""The event store: one eventsourcing Application whose notification log orders every event."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from commands.errors import ConcurrencyConflict, NotFound

CommitListener = Callable[[int], None]


class StoredEvent(msgspec.Struct, frozen=True):
    """A domain event with its global position in the notification log."""

    position: int
    event: Any  # a domain event object; typed Any because aggregates define their own classes


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

    def on_commit(self, listener: CommitListener) -> None:
        """Call `listener(last_position)` after every commit made through this process."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if not recordings:
            return
        last = max(recording.notification.id for recording in recordings)
        for listener in list(self._listeners):
            listener(last)

    def load(self, aggregate_id: UUID, kind: str, key: str | None = None) -> Any:
        """Rebuild an aggregate, or raise NotFound naming `kind` and `key`."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(kind, key or str(aggregate_id)) from None

    def load_as_of(self, aggregate_id: UUID, version: int | None) -> Any:
        """Rebuild an aggregate up to and including its `version`-th event (None: all)."""
        return self.repository.get(aggregate_id, version=version)

    def exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

    def commit(self, *aggregates: Aggregate | None) -> int:
        """Save the aggregates' new events in one transaction; return the last position.

        A version clash (another command saved first) becomes ConcurrencyConflict.
        """
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

    def max_position(self) -> int:
        """Position of the newest event, 0 when the store is empty."""
        return self.recorder.max_notification_id() or 0

    def aggregate_events(self, aggregate_id: UUID) -> Sequence[Any]:
        """Every event of one aggregate, oldest first."""
        return list(self.events.get(aggregate_id))
