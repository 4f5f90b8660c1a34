"""Stores domain events as msgspec JSON, decoding each event with its class's type hints."""

from __future__ import annotations

import typing
from collections.abc import Hashable
from functools import cache
from typing import Any, ClassVar, cast

import msgspec
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic

# Kept by the store in its own columns, so not repeated in the JSON state.
_STORED_APART = frozenset({"originator_id", "originator_version"})
_encoder = msgspec.json.Encoder()
_untyped = msgspec.json.Decoder(dict[str, Any])


@cache
def state_type(event_class: type) -> type[msgspec.Struct]:
    """A msgspec Struct with the event's fields, so decoding restores UUIDs, datetimes, tuples."""
    fields: list[tuple[str, Any]] = []
    for name, hint in typing.get_type_hints(event_class).items():
        if name in _STORED_APART or typing.get_origin(hint) is ClassVar:
            continue
        fields.append((name, hint))
    return msgspec.defstruct(f"{event_class.__qualname__}State", fields)


@cache
def _decoder(event_class: type) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(state_type(event_class))


def _as_dict(state: msgspec.Struct) -> dict[str, Any]:
    return {name: getattr(state, name) for name in state.__struct_fields__}


class MsgspecMapper(Mapper[Any]):
    """Mapper that encodes event state with msgspec and decodes it typed, upcasting old versions."""

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        data = _encoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        cls = cast(type, resolve_topic(stored_event.topic))
        data = stored_event.state
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state = self._decode(cls, data)
        except (msgspec.DecodeError, ValueError, TypeError, AttributeError) as error:
            raise MapperDeserialisationError(
                f"cannot decode stored event {stored_event.topic} "
                f"{stored_event.originator_id} v{stored_event.originator_version}: {error}"
            ) from error
        convert_id = find_id_convertor(cls, cast(Hashable, type(stored_event.originator_id)))
        state["originator_id"] = convert_id(stored_event.originator_id)
        state["originator_version"] = stored_event.originator_version
        domain_event: Any = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return cast(DomainEventProtocol[Any], domain_event)

    @staticmethod
    def _decode(event_class: type, data: bytes) -> dict[str, Any]:
        class_version = getattr(event_class, "class_version", 1)
        if class_version == 1:  # only classes past version 1 can have older stored shapes
            return _as_dict(_decoder(event_class).decode(data))
        # An older shape: upcast the plain dict step by step, then convert it to the typed state.
        raw = _untyped.decode(data)
        from_version = raw.pop("class_version", 1)
        while from_version < class_version:
            getattr(event_class, f"upcast_v{from_version}_v{from_version + 1}")(raw)
            from_version += 1
        return _as_dict(msgspec.convert(raw, state_type(event_class), strict=False))
