"""The AsyncAPI 3.0 document: the Kafka topics and the WebSocket protocol, built from the code.

Served at /schema/asyncapi.json (app/controllers/asyncapi.py) and kept as docs/asyncapi.json
(`python -m app.asyncapi > docs/asyncapi.json`; a test fails when that copy is stale).

Nothing in here lists an event by hand: every event type of `app.event_catalog` (the source of
docs/event-schemas.json) gets a message in its aggregate's topic, whose `data` schema is that
event's stored schema without the fields the envelope carries; the envelopes are msgspec's own
schemas of the structs the relay and the live streams encode (`EventMessage`, `LiveMessage`,
`ClientRequest`). Tests check every event type and topic is present, every `$ref` resolves,
every payload is a valid JSON Schema, and real messages of every kind validate against it.
"""

from __future__ import annotations

import copy
import json
import sys
from functools import cache
from typing import Any

import msgspec

from app.controllers.live import POLICY_VIOLATION, STREAM_PATHS, TOKEN_PATHS
from app.event_catalog import AGGREGATES, event_classes, event_schemas
from app.openapi import openapi_config
from domain.backtest_job import BacktestJob
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion
from projections.kafka_relay import EventMessage, topic_slug
from projections.live import OVERFLOW_CODE, STREAM, ClientRequest, LiveMessage

ASYNCAPI_VERSION = "3.0.0"
DEFAULT_PREFIX = "tradai"
KAFKA_BINDING = "0.5.0"
WS_BINDING = "0.1.0"
# The relay's `data` is the event's state without these (projections/kafka_relay.event_message):
# the envelope carries them as aggregate_id, version, timestamp and type.
KAFKA_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")
# The live streams drop the same fields, hide strategy sources and add the envelope back as
# id, version and timestamp (projections/live.encode).
LIVE_HIDDEN = ("code",)
LIVE_AGGREGATES: tuple[type, ...] = (BacktestJob, Strategy, StrategyVersion)
CONTROL_KINDS = ("subscribed", "unsubscribed", "error")
TOO_SLOW_CLOSE = OVERFLOW_CODE
NOT_RUNNING_CLOSE = 1011

_SCHEMAS = "#/components/schemas/"

ENVELOPE_NOTES = {
    "event_id": (
        "The same on every delivery of this event (a UUID derived from aggregate id and "
        "version): delivery is at least once, so drop a message whose event_id you have seen."
    ),
    "type": "The event type, `<Aggregate>.<Event>` (the event class's qualified name).",
    "aggregate_type": "The aggregate type, the part of `type` before the dot.",
    "aggregate_id": "The aggregate's id; also the message key.",
    "version": (
        "The aggregate's version after this event (1 for its first event); consecutive per "
        "aggregate, so `version` is an alternative dedupe key per aggregate."
    ),
    "position": "The event's global position in the event store's log (increasing).",
    "timestamp": "When the event happened (ISO 8601, UTC offset included).",
    "data": (
        "The event's stored fields (docs/event-schemas.json) without originator_id, "
        "originator_version, timestamp and originator_topic, which the envelope carries."
    ),
}

LIVE_NOTES = {
    "stream": "The subscribed stream this change belongs to.",
    "position": "The event's global position in the event store's log; resume with since=it.",
    "type": "The event type, `<Aggregate>.<Event>`.",
    "data": (
        "The event's stored fields without originator_id, originator_version, "
        "originator_topic and `code` (strategy sources stay out of streams), plus `id` (the "
        "aggregate's id), `version` (its version after this event) and `timestamp`."
    ),
}

SUBSCRIBE_NOTES = {
    "action": "Start receiving a stream.",
    "stream": (
        "`backtests` (every job's events), `backtests/<job id>`, `strategies` (every version "
        "and strategy event) or `strategies/<name>`."
    ),
    "since": (
        "A position: first replay the stream's stored events after it, then switch to live "
        "ones with no gap and no duplicate. Omitted or null: live events only."
    ),
}


def asyncapi_document(prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The AsyncAPI document for topics named `<prefix>.<slug>` (BACKEND_KAFKA_TOPIC_PREFIX)."""
    return copy.deepcopy(cached_document(prefix))


@cache
def cached_document(prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The document, built once per prefix; callers must not change it (the API serves it)."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    _kafka(prefix, schemas, messages, channels, operations)
    _live(schemas, messages, channels, operations)
    info = openapi_config()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"{info.title} events",
            "version": info.version,
            "description": (
                "What the TradAI Backend sends besides HTTP answers: every stored event on a "
                "Kafka topic of its aggregate type (API.md, 'Events for other services'), and "
                "the live streams of its WebSocket (API.md, 'Live streams'). The HTTP API is "
                "described by the OpenAPI document at /schema/openapi.json. Generated from the "
                "event classes, so every event type is here with the fields it is stored with."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": (
                    "The brokers in BACKEND_KAFKA_BOOTSTRAP_SERVERS (publishing is off when it "
                    "is empty). Security per BACKEND_KAFKA_SECURITY_PROTOCOL (PLAINTEXT, SSL, "
                    "SASL_PLAINTEXT, SASL_SSL) and BACKEND_KAFKA_SASL_MECHANISM."
                ),
                "variables": {
                    "bootstrap": {
                        "default": "localhost:9092",
                        "description": "host:port of a broker",
                    }
                },
            },
            "api": {
                "host": "{host}",
                "protocol": "ws",
                "description": "This API (wss behind TLS).",
                "variables": {
                    "host": {"default": "localhost:8000", "description": "host:port of the API"}
                },
                "security": [{"$ref": "#/components/securitySchemes/wsToken"}],
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "wsToken": {
                    "type": "httpApiKey",
                    "in": "query",
                    "name": "token",
                    "description": (
                        f"A token from POST {TOKEN_PATHS[0]} (any role, valid for "
                        "BACKEND_WS_TOKEN_TTL_SECONDS, 60 s by default). A missing, bad or "
                        f"expired token, or an API token, closes the connection with "
                        f"{POLICY_VIOLATION}."
                    ),
                }
            },
            "messageBindings": {
                "aggregateKey": {
                    "kafka": {
                        "key": {
                            "type": "string",
                            "format": "uuid",
                            "description": (
                                "The aggregate id as UUID text: one aggregate's events share a "
                                "partition and arrive in version order."
                            ),
                        },
                        "bindingVersion": KAFKA_BINDING,
                    }
                }
            },
        },
    }


def _kafka(
    prefix: str,
    schemas: dict[str, Any],
    messages: dict[str, Any],
    channels: dict[str, Any],
    operations: dict[str, Any],
) -> None:
    envelope = _struct_schema(EventMessage, schemas)
    for name, note in ENVELOPE_NOTES.items():
        envelope["properties"][name]["description"] = note  # KeyError: a new field needs a note
    envelope["description"] = (
        "The value of every Kafka message. Delivery is at least once: after a relay restart "
        "or a broker error a message may come again, with the same event_id; deduplicate on "
        "event_id (or on aggregate_id and version)."
    )
    stored = event_schemas()
    by_aggregate: dict[str, list[type]] = {a.__name__: [] for a in AGGREGATES}
    for cls in event_classes():
        by_aggregate.setdefault(_aggregate_of(cls), []).append(cls)
        name = cls.__qualname__
        schema = _import_schema(stored[f"{cls.__module__}:{name}"], schemas)
        schemas[name] = _without(schema, KAFKA_ENVELOPE, title=name, note=ENVELOPE_NOTES["data"])
        messages[name] = {
            "name": name,
            "title": name,
            "summary": _summary(cls),
            "contentType": "application/json",
            "payload": {
                "allOf": [{"$ref": _SCHEMAS + "EventMessage"}],
                "properties": {
                    "type": {"const": name},
                    "aggregate_type": {"const": _aggregate_of(cls)},
                    "data": {"$ref": _SCHEMAS + name},
                },
            },
            "bindings": {"$ref": "#/components/messageBindings/aggregateKey"},
        }
    for aggregate, classes in by_aggregate.items():
        slug = topic_slug(aggregate)
        channels[slug] = {
            "address": f"{prefix}.{slug}",
            "title": f"{aggregate} events",
            "description": (
                f"Every stored event of the {aggregate} aggregates, published by the relay "
                "in log order. Key: the aggregate id (UUID text), so one aggregate's events "
                "keep their order in one partition. Value: the JSON envelope with the event's "
                "fields in `data`. At least once: deduplicate on event_id."
            ),
            "servers": [{"$ref": "#/servers/kafka"}],
            "messages": {
                cls.__qualname__: {"$ref": f"#/components/messages/{cls.__qualname__}"}
                for cls in classes
            },
        }
        operations[f"publish.{slug}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{slug}"},
            "title": f"Publish {aggregate} events",
            "summary": f"The relay publishes each {aggregate} event once it is stored.",
            "description": (
                "At-least-once delivery: the relay records how far it got only after the broker "
                "acknowledged everything before it (acks=all, idempotent producer by default), "
                "so a crash or a broker outage delays events and may repeat some, never loses "
                "or reorders one of an aggregate. Consumers deduplicate on event_id (the same "
                "on every redelivery) and commit their offsets after handling a message."
            ),
            "messages": [
                {"$ref": f"#/channels/{slug}/messages/{cls.__qualname__}"} for cls in classes
            ],
        }


def _live(
    schemas: dict[str, Any],
    messages: dict[str, Any],
    channels: dict[str, Any],
    operations: dict[str, Any],
) -> None:
    change = _struct_schema(LiveMessage, schemas)
    for name, note in LIVE_NOTES.items():
        change["properties"][name]["description"] = note
    variants = []
    for cls in event_classes():
        if _aggregate_of(cls) not in {a.__name__ for a in LIVE_AGGREGATES}:
            continue
        name = cls.__qualname__
        kafka_data = schemas[name]
        live = _without(kafka_data, LIVE_HIDDEN, title=f"{name} (live)", note=LIVE_NOTES["data"])
        live["properties"] |= {
            "id": {"type": "string", "format": "uuid"},
            "version": {"type": "integer"},
            "timestamp": {"type": "string"},
        }
        live["required"] = [*live["required"], "id", "version", "timestamp"]
        schemas[f"{name}.live"] = live
        variants.append(
            {
                "title": name,
                "properties": {
                    "type": {"const": name},
                    "data": {"$ref": f"{_SCHEMAS}{name}.live"},
                },
            }
        )
    request = _struct_schema(ClientRequest, schemas)
    request["description"] = "A client's request; anything else is answered with an error."
    request["properties"]["stream"] |= {"pattern": STREAM.pattern}
    schemas["LiveControl"] = {
        "title": "LiveControl",
        "type": "object",
        "description": "A control message: the end of a replay, an unsubscribe, a mistake.",
        "properties": {
            "stream": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "position": {
                "type": "integer",
                "description": "How far the stream had been delivered when this was sent.",
            },
            "type": {"enum": list(CONTROL_KINDS)},
            "data": {"type": "object"},
        },
        "required": ["stream", "position", "type", "data"],
    }

    def request_of(action: str, note: str, since: dict[str, Any]) -> dict[str, Any]:
        return {
            "allOf": [{"$ref": _SCHEMAS + "ClientRequest"}],
            "properties": {
                "action": {"const": action, "description": note},
                "stream": {"description": SUBSCRIBE_NOTES["stream"]},
                "since": since,
            },
        }

    def control_of(kind: str, stream: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        return {
            "allOf": [{"$ref": _SCHEMAS + "LiveControl"}],
            "properties": {"type": {"const": kind}, "stream": stream, "data": data},
        }

    empty = {"type": "object", "maxProperties": 0}
    live_messages: dict[str, dict[str, Any]] = {
        "subscribe": {
            "summary": "Subscribe to a stream, optionally replaying what came after `since`.",
            "payload": request_of(
                "subscribe",
                SUBSCRIBE_NOTES["action"],
                {
                    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
                    "description": SUBSCRIBE_NOTES["since"],
                },
            ),
            "examples": [
                {
                    "name": "resume",
                    "payload": {
                        "action": "subscribe",
                        "stream": "backtests/0b5d1b0e-0c7e-4f57-9e3b-62a1f8d0c2a4",
                        "since": 41,
                    },
                }
            ],
        },
        "unsubscribe": {
            "summary": "Stop receiving a stream.",
            "payload": request_of(
                "unsubscribe", "Stop receiving a stream.", {"description": "Accepted, ignored."}
            ),
        },
        "change": {
            "summary": "One stored event on one subscribed stream, at its global position.",
            "description": (
                "Streams: `backtests` and `backtests/<job id>` carry BacktestJob events; "
                "`strategies` carries every StrategyVersion and Strategy event; "
                "`strategies/<name>` carries that strategy's Strategy events and its versions' "
                "Registered events. Changes on a stream come in position order, each once."
            ),
            "payload": {"allOf": [{"$ref": _SCHEMAS + "LiveMessage"}], "oneOf": variants},
        },
        "subscribed": {
            "summary": "The replay after `since` is complete; live changes follow.",
            "payload": control_of("subscribed", {"type": "string"}, empty),
        },
        "unsubscribed": {
            "summary": "The stream is no longer sent.",
            "payload": control_of("unsubscribed", {"type": "string"}, empty),
        },
        "error": {
            "summary": "A protocol mistake (bad JSON, unknown action or stream, since < 0).",
            "description": "The connection stays open; `stream` is null.",
            "payload": control_of(
                "error",
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {"detail": {"type": "string"}},
                    "required": ["detail"],
                },
            ),
        },
    }
    for key, message in live_messages.items():
        messages[key] = {"name": key, "title": key, "contentType": "application/json", **message}
    channels["live"] = {
        "address": STREAM_PATHS[0],
        "title": "Live streams",
        "description": (
            f"`WS {STREAM_PATHS[0]}?token=...` (also served as {STREAM_PATHS[1]}), with a token "
            f"from POST {TOKEN_PATHS[0]}. Send subscribe and unsubscribe requests as text "
            "frames; the server sends changes and control messages as text frames. With "
            "`since` the server first replays the stored events after that position, then "
            "sends `subscribed` (its position is where the replay ended), then live changes, "
            "without a gap or a duplicate. Close codes: "
            f"{POLICY_VIOLATION} (policy violation) for a missing, bad or expired token; "
            f"{TOO_SLOW_CLOSE} (try again later) when over BACKEND_WS_BUFFER_MESSAGES messages "
            "wait for a client that does not read (reason 'too slow ...; reconnect with "
            f"since'); {NOT_RUNNING_CLOSE} when this process runs no live streams."
        ),
        "servers": [{"$ref": "#/servers/api"}],
        "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in live_messages},
        "bindings": {
            "ws": {
                "method": "GET",
                "query": {
                    "type": "object",
                    "properties": {"token": {"type": "string"}},
                    "required": ["token"],
                },
                "bindingVersion": WS_BINDING,
            }
        },
        "x-close-codes": {
            str(POLICY_VIOLATION): "missing, bad or expired token (or an API token)",
            str(TOO_SLOW_CLOSE): "too slow: the client's queue is full; reconnect with since",
            str(NOT_RUNNING_CLOSE): "live streams are not running in this process",
        },
    }
    operations["live.requests"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/live"},
        "title": "Client requests",
        "summary": "The server receives subscribe and unsubscribe requests.",
        "messages": [
            {"$ref": "#/channels/live/messages/subscribe"},
            {"$ref": "#/channels/live/messages/unsubscribe"},
        ],
    }
    operations["live.changes"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/live"},
        "title": "Changes and control messages",
        "summary": "The server sends each subscribed stream's changes and control messages.",
        "messages": [
            {"$ref": f"#/channels/live/messages/{key}"}
            for key in ("change", "subscribed", "unsubscribed", "error")
        ],
    }


def _aggregate_of(cls: type) -> str:
    """`BacktestJob` for `BacktestJob.Submitted`, as the relay names it."""
    return cls.__qualname__.split(".", 1)[0]


def _summary(cls: type) -> str:
    # eventsourcing's events are dataclasses, which make up a docstring from the signature.
    doc = (cls.__dict__.get("__doc__") or "").strip()
    if not doc or doc.startswith(f"{cls.__name__}("):
        return f"The {_aggregate_of(cls)} event {cls.__name__}."
    return " ".join(doc.split())


def _struct_schema(struct: type, schemas: dict[str, Any]) -> dict[str, Any]:
    """msgspec's schema of a struct, registered under its name in components/schemas."""
    (_,), components = msgspec.json.schema_components((struct,), ref_template=_SCHEMAS + "{name}")
    for name, schema in components.items():
        _register(schemas, name, schema)
    return schemas[struct.__name__]  # type: ignore[no-any-return]


def _import_schema(stored: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """An event schema as docs/event-schemas.json has it (`$ref` into its own `$defs`): the
    event's own definition, with nested definitions moved to components/schemas."""
    stored = _rewrite_refs(stored)
    root = stored["$ref"].removeprefix(_SCHEMAS)
    for name, schema in stored.get("$defs", {}).items():
        if name != root:
            _register(schemas, name, schema)
    own: dict[str, Any] = stored["$defs"][root]
    return {**own, "x-class-version": stored.get("x-class-version", 1)}


def _rewrite_refs(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: v.replace("#/$defs/", _SCHEMAS) if k == "$ref" else _rewrite_refs(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite_refs(v) for v in value]
    return value


def _register(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    if name in schemas and schemas[name] != schema:
        raise ValueError(f"two different schemas are named {name!r}")
    schemas[name] = schema


def _without(schema: dict[str, Any], fields: tuple[str, ...], title: str, note: str) -> Any:
    out = copy.deepcopy(schema)
    out["title"] = title
    out["description"] = note
    out["properties"] = {k: v for k, v in out["properties"].items() if k not in fields}
    out["required"] = [k for k in out.get("required", []) if k not in fields]
    return out


def main() -> None:
    """Print the document (the default prefix): `python -m app.asyncapi > docs/asyncapi.json`."""
    prefix = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PREFIX
    sys.stdout.write(json.dumps(asyncapi_document(prefix), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
