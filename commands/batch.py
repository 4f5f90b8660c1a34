"""Group commit: many commands decided one after another, their events saved in one transaction.

A transaction's fixed costs (BEGIN, the commit's fsync, waking subscribers, the read model's own
transaction) are paid once per batch instead of once per command. Each command still runs its
own handler unchanged; only `EventStore.commit` is deferred while a batch is collected.

Commands in a batch see the store as it was when the batch began, as concurrent requests
always could. If two of them (or another writer) change the same aggregate, the save fails as
a whole, nothing is written, and every command of the batch runs again on its own, exactly as
without batching (retries and idempotent replays included).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from commands.idempotency import Outcome
from commands.store import EventStore, StoredEvent

T = TypeVar("T")
Command = Callable[[], tuple[T, Outcome]]
Answer = tuple[T, Outcome] | Exception


class PendingUnit:
    """What the commands of one batch committed, per command, and values they may share."""

    def __init__(self) -> None:
        self._current: list[Aggregate] = []
        self._memos: dict[Hashable, Any] = {}

    def add(self, aggregates: Sequence[Aggregate | None]) -> int:
        self._current.extend(a for a in aggregates if a is not None)
        return 0  # the position is known once the batch is saved; execute_batch fills it in

    def take(self) -> list[Aggregate]:
        taken, self._current = self._current, []
        return taken

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key not in self._memos:
            self._memos[key] = compute()
        return self._memos[key]


class BatchResult(msgspec.Struct, frozen=True):
    """Each command's answer (or the exception it raised), and the events the batch saved."""

    answers: list[Any]
    events: list[StoredEvent]


def execute_batch(store: EventStore, commands: Sequence[Command[Any]]) -> BatchResult:
    """Run each command, save all their events at once, and return each command's answer (or
    the exception it raised) with the log position its own events reached."""
    unit = PendingUnit()
    answers: list[Answer[Any]] = []
    saved: list[tuple[int, list[Aggregate]]] = []  # (index of the command, its aggregates)
    with store.deferring(unit):
        for index, command in enumerate(commands):
            unit.take()  # whatever a failed command left behind is dropped
            try:
                answers.append(command())
            except Exception as error:  # the command's own answer, e.g. a 422 or a 404
                answers.append(error)
                continue
            saved.append((index, unit.take()))
    events = [[_key(e) for a in aggregates for e in a.pending_events] for _, aggregates in saved]
    try:
        recordings = store.save(*(a for _, aggregates in saved for a in aggregates))
    except IntegrityError:
        return BatchResult([_alone(command) for command in commands], [])
    position_of = {_key(r.domain_event): r.notification.id for r in recordings}
    for (index, _), keys in zip(saved, events, strict=True):
        answer = answers[index]
        if keys and not isinstance(answer, Exception):
            result, outcome = answer
            position = max(position_of[key] for key in keys)
            answers[index] = (result, msgspec.structs.replace(outcome, position=position))
    return BatchResult(
        answers, [StoredEvent(r.notification.id, r.domain_event) for r in recordings]
    )


def _alone(command: Command[Any]) -> Answer[Any]:
    try:
        return command()
    except Exception as error:
        return error


def _key(event: Any) -> tuple[UUID, int]:
    return event.originator_id, event.originator_version
