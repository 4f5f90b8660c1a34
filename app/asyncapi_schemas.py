"""Schema plumbing of the AsyncAPI document: msgspec schemas and the stored event schemas
registered once under components/schemas, with their `$ref`s pointing there."""

from __future__ import annotations

import copy
from typing import Any

import msgspec

SCHEMAS = "#/components/schemas/"


def aggregate_of(cls: type) -> str:
    """`BacktestJob` for `BacktestJob.Submitted`, as the relay names it."""
    return cls.__qualname__.split(".", 1)[0]


def summary(cls: type) -> str:
    # eventsourcing's events are dataclasses, which make up a docstring from the signature.
    doc = (cls.__dict__.get("__doc__") or "").strip()
    if not doc or doc.startswith(f"{cls.__name__}("):
        return f"The {aggregate_of(cls)} event {cls.__name__}."
    return " ".join(doc.split())


def struct_schema(struct: type, schemas: dict[str, Any]) -> dict[str, Any]:
    """msgspec's schema of a struct, registered under its name in components/schemas."""
    (_,), components = msgspec.json.schema_components((struct,), ref_template=SCHEMAS + "{name}")
    for name, schema in components.items():
        register(schemas, name, schema)
    return schemas[struct.__name__]  # type: ignore[no-any-return]


def import_schema(stored: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """An event schema as docs/event-schemas.json has it (`$ref` into its own `$defs`): the
    event's own definition, with nested definitions moved to components/schemas."""
    stored = rewrite_refs(stored)
    root = stored["$ref"].removeprefix(SCHEMAS)
    for name, schema in stored.get("$defs", {}).items():
        if name != root:
            register(schemas, name, schema)
    own: dict[str, Any] = stored["$defs"][root]
    return {**own, "x-class-version": stored.get("x-class-version", 1)}


def rewrite_refs(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: v.replace("#/$defs/", SCHEMAS) if k == "$ref" else rewrite_refs(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [rewrite_refs(v) for v in value]
    return value


def register(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    if name in schemas and schemas[name] != schema:
        raise ValueError(f"two different schemas are named {name!r}")
    schemas[name] = schema


def without(schema: dict[str, Any], fields: tuple[str, ...], title: str, note: str) -> Any:
    out = copy.deepcopy(schema)
    out["title"] = title
    out["description"] = note
    out["properties"] = {k: v for k, v in out["properties"].items() if k not in fields}
    out["required"] = [k for k in out.get("required", []) if k not in fields]
    return out
