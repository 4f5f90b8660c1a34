"""Idempotent commands: a retried request with the same key gets the first answer, not a copy."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol, TypeVar
from uuid import UUID, uuid5

import msgspec
from eventsourcing.domain import Aggregate, event

from commands.errors import ConcurrencyConflict, IdempotencyKeyReused
from commands.store import EventStore

_NAMESPACE = UUID("0d8f7f5c-4b0e-4d7b-9a53-2f6a1c3e8b14")
T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class IdempotencyRecord(Aggregate):
    """The first answer to a request carrying an Idempotency-Key, kept with the command's events."""

    class Recorded(Aggregate.Created):
        """A command with this key ran; `result` is its answer, encoded as JSON."""

        actor: str
        key: str
        fingerprint: str
        result: bytes

    @staticmethod
    def create_id(actor: str, key: str, **_: object) -> UUID:
        return record_id(actor, key)

    @event(Recorded)
    def __init__(self, actor: str, key: str, fingerprint: str, result: bytes) -> None:
        self.actor = actor
        self.key = key
        self.fingerprint = fingerprint
        self.result = result


def record_id(actor: str, key: str) -> UUID:
    """Keys are scoped by actor, so two users never see each other's answers."""
    return uuid5(_NAMESPACE, f"{actor}\n{key}")


def fingerprint(command: msgspec.Struct) -> str:
    """What makes two requests 'the same': the command type and its canonical JSON body."""
    body = msgspec.json.encode(command, order="deterministic")
    return hashlib.sha256(type(command).__name__.encode() + b"\n" + body).hexdigest()


class Remember(Protocol[T_contra]):
    """Builds the record that keeps a command's answer (None when the request has no key)."""

    def __call__(self, result: T_contra, /) -> IdempotencyRecord | None: ...


class Outcome(msgspec.Struct, frozen=True):
    """A command's answer and the log position up to which its effects are stored."""

    position: int
    replayed: bool


def run_idempotent(
    store: EventStore,
    actor: str,
    key: str | None,
    command: msgspec.Struct,
    result_type: type[T],
    execute: Callable[[Remember[T]], tuple[T, int]],
) -> tuple[T, Outcome]:
    """Run `execute` once per (actor, key); a retry returns the stored first result.

    `execute` receives `remember(result)`, which builds the record to save in the same
    transaction as the command's events, so a crash can never keep one without the other.
    """
    if key is None:
        result, position = execute(lambda _result: None)
        return result, Outcome(position, replayed=False)
    print_ = fingerprint(command)
    previous = _previous(store, actor, key, print_, result_type)
    if previous is not None:
        return previous
    try:
        result, position = execute(
            lambda value: IdempotencyRecord(
                actor=actor, key=key, fingerprint=print_, result=msgspec.json.encode(value)
            )
        )
    except ConcurrencyConflict:
        # A concurrent request with the same key may have won the race: answer as it did.
        previous = _previous(store, actor, key, print_, result_type)
        if previous is None:
            raise
        return previous
    return result, Outcome(position, replayed=False)


def _previous(
    store: EventStore, actor: str, key: str, print_: str, result_type: type[T]
) -> tuple[T, Outcome] | None:
    rid = record_id(actor, key)
    if not store.exists(rid):
        return None
    record: IdempotencyRecord = store.load(rid, "idempotency record")
    if record.fingerprint != print_:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request; use a new key"
        )
    result = msgspec.json.decode(record.result, type=result_type)
    return result, Outcome(store.max_position(), replayed=True)
