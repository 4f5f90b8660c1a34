"""The catalog of stored event types and their JSON Schemas, generated from the event classes."""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.msgspec_mapper import state_type
from commands.idempotency import IdempotencyRecord
from domain.backtest_job import BacktestJob
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion
from domain.sweep import Sweep

AGGREGATES: tuple[type, ...] = (BacktestJob, Strategy, StrategyVersion, Sweep, IdempotencyRecord)


def event_classes() -> list[type]:
    """Every event class nested in the aggregates, in declaration order."""
    found: list[type] = []
    for aggregate in AGGREGATES:
        for value in vars(aggregate).values():
            if _declared_event(aggregate, value) and value not in found:
                found.append(value)
    return found


def _declared_event(aggregate: type, value: object) -> bool:
    # eventsourcing adds bare `Event` and `Created` classes to each aggregate; only classes
    # that declare fields of their own (or are a named, used event) are part of the schema.
    if not isinstance(value, type) or not issubclass(value, aggregate.Event):  # type: ignore[attr-defined]
        return False
    if value.__name__ == "Event":
        return False
    own = set(state_type(value).__struct_fields__) - {"timestamp", "originator_topic"}
    return value.__name__ != "Created" or bool(own)


def event_schemas() -> dict[str, Any]:
    """JSON Schema of each event's stored state, keyed by its topic (module:Class.Event)."""
    out: dict[str, Any] = {}
    for cls in event_classes():
        topic = f"{cls.__module__}:{cls.__qualname__}"
        schema = msgspec.json.schema(state_type(cls))
        schema["x-class-version"] = getattr(cls, "class_version", 1)
        out[topic] = schema
    return out
