"""The WebSocket part of the AsyncAPI document: the live-stream channel, the client's
requests and every message the server sends (projections/live.py, app/controllers/live.py)."""

from __future__ import annotations

from typing import Any

from app.asyncapi_schemas import SCHEMAS, aggregate_of, struct_schema, without
from app.controllers.live import POLICY_VIOLATION, STREAM_PATHS, TOKEN_PATHS
from app.event_catalog import event_classes
from domain.backtest_job import BacktestJob
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion
from domain.sweep import Sweep
from projections.live import OVERFLOW_CODE, STREAM, ClientRequest, LiveMessage

WS_BINDING = "0.1.0"
# The live streams drop the envelope fields (originator_*, timestamp), hide strategy sources,
# and add the envelope back as id, version and timestamp (projections/live.encode).
LIVE_HIDDEN = ("code",)
LIVE_AGGREGATES: tuple[type, ...] = (BacktestJob, Strategy, StrategyVersion, Sweep)
CONTROL_KINDS = ("subscribed", "unsubscribed", "error", "refused")
TOO_SLOW_CLOSE = OVERFLOW_CODE
NOT_RUNNING_CLOSE = 1011

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
        "`backtests` (every job's events), `backtests/<job id>`, `sweeps` (every sweep's "
        "events), `sweeps/<sweep id>`, `strategies` (every version and strategy event) or "
        "`strategies/<name>`."
    ),
    "since": (
        "A position: first replay the stream's stored events after it, then switch to live "
        "ones with no gap and no duplicate. Omitted or null: live events only."
    ),
}


def live_channel(
    schemas: dict[str, Any],
    messages: dict[str, Any],
    channels: dict[str, Any],
    operations: dict[str, Any],
) -> None:
    change = struct_schema(LiveMessage, schemas)
    for name, note in LIVE_NOTES.items():
        change["properties"][name]["description"] = note
    variants = []
    for cls in event_classes():
        if aggregate_of(cls) not in {a.__name__ for a in LIVE_AGGREGATES}:
            continue
        name = cls.__qualname__
        kafka_data = schemas[name]
        live = without(kafka_data, LIVE_HIDDEN, title=f"{name} (live)", note=LIVE_NOTES["data"])
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
                    "data": {"$ref": f"{SCHEMAS}{name}.live"},
                },
            }
        )
    request = struct_schema(ClientRequest, schemas)
    request["description"] = "A client's request; anything else is answered with an error."
    request["properties"]["stream"] |= {"pattern": STREAM.pattern}
    schemas["LiveControl"] = {
        "title": "LiveControl",
        "type": "object",
        "description": (
            "A control message: the end of a replay, an unsubscribe, a mistake, a refused replay."
        ),
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
            "allOf": [{"$ref": SCHEMAS + "ClientRequest"}],
            "properties": {
                "action": {"const": action, "description": note},
                "stream": {"description": SUBSCRIBE_NOTES["stream"]},
                "since": since,
            },
        }

    def control_of(kind: str, stream: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        return {
            "allOf": [{"$ref": SCHEMAS + "LiveControl"}],
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
            "payload": {"allOf": [{"$ref": SCHEMAS + "LiveMessage"}], "oneOf": variants},
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
        "refused": {
            "summary": "A subscribe with `since` whose replay is over the user's budget.",
            "description": (
                "Not subscribed; the connection stays open. With `retry_after` (seconds) the "
                "same request fits later; without it the replay is longer than a minute's "
                "budget (BACKEND_WS_REPLAY_EVENTS_PER_MINUTE): load the state over REST and "
                "subscribe without `since`."
            ),
            "payload": control_of(
                "refused",
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "detail": {"type": "string"},
                        "retry_after": {"type": "integer", "minimum": 1},
                    },
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
            f"{POLICY_VIOLATION} (policy violation) for a missing, bad, reused or expired token "
            "(the stream closes when its token expires: renew it and resume with `since`) and "
            "over the connection caps (BACKEND_WS_MAX_CONNECTIONS_PER_USER, "
            "BACKEND_WS_MAX_CONNECTIONS); "
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
            str(POLICY_VIOLATION): (
                "missing, bad, reused or expired token (or an API token), the token expired "
                "while open, or over a connection cap"
            ),
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
            for key in ("change", "subscribed", "unsubscribed", "error", "refused")
        ],
    }
