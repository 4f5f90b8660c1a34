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

from app.asyncapi_live import LIVE_AGGREGATES, live_channel
from app.asyncapi_schemas import (
    SCHEMAS,
    aggregate_of,
    import_schema,
    struct_schema,
    summary,
    without,
)
from app.controllers.live import POLICY_VIOLATION, TOKEN_PATHS
from app.event_catalog import AGGREGATES, event_classes, event_schemas
from app.openapi import openapi_config
from projections.kafka_relay import EventMessage, topic_slug

__all__ = ["KAFKA_ENVELOPE", "LIVE_AGGREGATES", "asyncapi_document", "cached_document"]

ASYNCAPI_VERSION = "3.0.0"
DEFAULT_PREFIX = "tradai"
KAFKA_BINDING = "0.5.0"
# The relay's `data` is the event's state without these (projections/kafka_relay.event_message):
# the envelope carries them as aggregate_id, version, timestamp and type.
KAFKA_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")


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
    live_channel(schemas, messages, channels, operations)
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
    envelope = struct_schema(EventMessage, schemas)
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
        by_aggregate.setdefault(aggregate_of(cls), []).append(cls)
        name = cls.__qualname__
        schema = import_schema(stored[f"{cls.__module__}:{name}"], schemas)
        schemas[name] = without(schema, KAFKA_ENVELOPE, title=name, note=ENVELOPE_NOTES["data"])
        messages[name] = {
            "name": name,
            "title": name,
            "summary": summary(cls),
            "contentType": "application/json",
            "payload": {
                "allOf": [{"$ref": SCHEMAS + "EventMessage"}],
                "properties": {
                    "type": {"const": name},
                    "aggregate_type": {"const": aggregate_of(cls)},
                    "data": {"$ref": SCHEMAS + name},
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


def main() -> None:
    """Print the document (the default prefix): `python -m app.asyncapi > docs/asyncapi.json`."""
    prefix = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PREFIX
    sys.stdout.write(json.dumps(asyncapi_document(prefix), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
