"""The AsyncAPI document covers every event type and topic, is well formed, matches the messages
the relay and the live streams really send, and docs/asyncapi.json is its current copy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from app.asyncapi import KAFKA_ENVELOPE, LIVE_AGGREGATES, asyncapi_document
from app.event_catalog import AGGREGATES, event_classes, event_schemas
from commands.backtests import BacktestCommands
from commands.execution import ExecutionCommands
from commands.messages import (
    AddMaintainer,
    CancelBacktest,
    CancelSweep,
    DecidePromotion,
    DeployVersion,
    RemoveMaintainer,
    RequestPromotion,
    RetryBacktest,
    RollBack,
)
from commands.promotions import PromotionCommands
from commands.remote_execution import RemoteExecution
from commands.store import EventStore, StoredEvent
from commands.strategies import StrategyCommands
from commands.sweeps import SweepCommands
from domain.promotion import GateThresholds
from projections.kafka_relay import event_message, outgoing, topic_slug
from projections.live import Hub, streams_of
from tests.factories import register, strategy_code, submit
from tests.support.sweeps import SWEPT_CODE, run_pending_trials, submit_sweep
from tests.unit.test_live_client import Socket, connect, settle

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"
GOOD = {"total_trades": 40, "max_drawdown": 0.1, "profit_total": 0.05}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document()


def test_the_published_copy_matches_the_code(document: dict[str, Any]) -> None:
    assert json.loads(DOC.read_text()) == json.loads(json.dumps(document)), (
        "the AsyncAPI document changed: regenerate with "
        "`.venv/bin/python -m app.asyncapi > docs/asyncapi.json`"
    )


def test_every_aggregate_type_has_its_topic_and_send_operation(document: dict[str, Any]) -> None:
    channels = document["channels"]
    for aggregate in AGGREGATES:
        slug = topic_slug(aggregate.__name__)
        assert channels[slug]["address"] == f"tradai.{slug}", aggregate
        assert channels[slug]["servers"] == [{"$ref": "#/servers/kafka"}]
        operation = document["operations"][f"publish.{slug}"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{slug}"}
    assert asyncapi_document("acme")["channels"]["backtest-jobs"]["address"] == (
        "acme.backtest-jobs"
    )


def test_every_event_type_has_a_message_with_its_stored_fields(document: dict[str, Any]) -> None:
    stored = event_schemas()
    schemas = document["components"]["schemas"]
    for cls in event_classes():
        name, aggregate = cls.__qualname__, cls.__qualname__.split(".")[0]
        slug = topic_slug(aggregate)
        assert name in document["channels"][slug]["messages"], f"{name} is missing from {slug}"
        operation = document["operations"][f"publish.{slug}"]
        assert {"$ref": f"#/channels/{slug}/messages/{name}"} in operation["messages"], name
        payload = document["components"]["messages"][name]["payload"]
        assert payload["properties"]["type"] == {"const": name}
        assert payload["properties"]["aggregate_type"] == {"const": aggregate}
        assert payload["properties"]["data"] == {"$ref": f"#/components/schemas/{name}"}
        own = stored[f"{cls.__module__}:{name}"]
        fields = own["$defs"][own["$ref"].rsplit("/", 1)[1]]["properties"]
        data = schemas[name]
        assert list(data["properties"]) == [f for f in fields if f not in KAFKA_ENVELOPE], name
        assert all(data["properties"][f] == fields[f] for f in data["properties"]), name
        assert not set(KAFKA_ENVELOPE) & set(data["required"]), name


def test_the_kafka_key_and_the_websocket_are_described(document: dict[str, Any]) -> None:
    bindings = document["components"]["messageBindings"]["aggregateKey"]["kafka"]
    assert bindings["key"]["format"] == "uuid"
    live = document["channels"]["live"]
    assert live["address"] == "/api/v1/ws"
    assert set(live["x-close-codes"]) >= {"1008", "1013"}
    assert set(live["messages"]) == {
        "subscribe",
        "unsubscribe",
        "change",
        "subscribed",
        "unsubscribed",
        "error",
        "refused",
    }
    described = json.dumps(document)
    assert "at least once" in described.lower() and "deduplicate on event_id" in described


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references: {ref}"
    node: Any = document
    for escaped in ref[2:].split("/"):
        part = escaped.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = set(_refs(document))
    assert len(refs) > 50
    for ref in refs:
        _resolve(document, ref)


def test_every_payload_and_schema_is_valid_json_schema(document: dict[str, Any]) -> None:
    components = document["components"]
    for name, message in components["messages"].items():
        Draft202012Validator.check_schema(message["payload"])
        assert message["contentType"] == "application/json", name
    for schema in components["schemas"].values():
        Draft202012Validator.check_schema(schema)
    Draft202012Validator.check_schema(components["messageBindings"]["aggregateKey"]["kafka"]["key"])
    Draft202012Validator.check_schema(document["channels"]["live"]["bindings"]["ws"]["query"])


def _validator(document: dict[str, Any], pointer: str) -> Draft202012Validator:
    """Validates against the schema at `pointer`, its `$ref`s resolved within the document."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:asyncapi", DRAFT202012.create_resource(document)
    )
    return Draft202012Validator(
        {"$ref": f"urn:asyncapi{pointer}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _every_event_type(store: EventStore) -> list[StoredEvent]:
    """A history with at least one event of every type, written by the command handlers."""
    strategies, backtests = StrategyCommands(store), BacktestCommands(store)
    execution = ExecutionCommands(store)
    promotions = PromotionCommands(
        store, GateThresholds(min_trades=10, max_drawdown=0.25, min_profit=0.0)
    )
    strategies.register_strategy_version(register(), "alice")
    strategies.change_maintainers(AddMaintainer(name="EmaCross", user="bob"), "alice")
    strategies.change_maintainers(RemoveMaintainer(name="EmaCross", user="bob"), "alice")

    def job(version: int = 1, key: str | None = None) -> UUID:
        view, _ = backtests.submit_backtest(submit(strategy_version=version), "alice", key)
        assert execution.claim(view.id, "w", 30)
        return view.id

    done = job(key="first")
    execution.renew_lease(done, 1, 30)
    execution.report_progress(done, 1, "backtest", 0.5)
    execution.complete(done, 1, GOOD, {"log": "runs/1/log.txt"})
    failed = job()
    execution.lose_attempt(failed, 1, "worker died", 2)
    assert execution.claim(failed, "w", 30)
    execution.fail(failed, 2, "strategy raised")
    backtests.retry_backtest(RetryBacktest(job_id=failed), "alice", admin=True)
    RemoteExecution(execution).dispatched(failed, "message-1")
    cancelled = job()
    backtests.cancel_backtest(CancelBacktest(job_id=cancelled), "bob", admin=True)
    execution.confirm_cancel(cancelled, 1)

    def promote(number: int, stage: str, approve: bool = True) -> None:
        backtest = job(number)
        execution.complete(backtest, 1, GOOD, {})
        view, _ = promotions.request_promotion(
            RequestPromotion(
                name="EmaCross", number=number, target_stage=stage, backtest_id=backtest
            ),
            "alice",
        )
        promotions.decide_promotion(
            DecidePromotion(
                promotion_id=view.id,
                name="EmaCross",
                number=number,
                approve=approve,
                reason="" if approve else "not yet",
            ),
            "bob",
        )

    promote(1, "staging")
    promote(1, "production", approve=False)
    strategies.register_strategy_version(register(code=strategy_code(stoploss=-0.2)), "alice")
    promote(2, "staging")
    for number in (1, 2):
        promotions.deploy(DeployVersion(name="EmaCross", number=number, environment="staging"), "o")
    promotions.rollback(RollBack(name="EmaCross", environment="staging", to_revision=None), "o")
    _every_sweep_event(store)
    return store.read(0, 10_000)


def _every_sweep_event(store: EventStore) -> None:
    """A completed, a failed and a cancelled sweep, of a strategy declaring parameters."""
    StrategyCommands(store).register_strategy_version(
        register("Swept", SWEPT_CODE.replace("EmaCross", "Swept")), "alice"
    )
    sweeps = SweepCommands(store)
    for outcome in (1.0, "fail", None):
        view, _ = sweeps.submit_sweep(submit_sweep(strategy="Swept", max_trials=1), "alice")
        [trial] = sweeps.ask_trials(view.id, in_flight=1)
        if outcome is None:
            sweeps.cancel_sweep(CancelSweep(sweep_id=view.id), "bob", admin=True)
            continue
        run_pending_trials(store, view.id, lambda _, result=outcome: result)
        sweeps.record_trial_end(trial)


def test_real_kafka_messages_of_every_event_type_fit_their_messages(
    document: dict[str, Any], store: EventStore
) -> None:
    history = _every_event_type(store)
    seen = {type(stored.event) for stored in history}
    assert seen >= set(event_classes()), f"not exercised: {set(event_classes()) - seen}"
    addresses = {c["address"]: c for c in document["channels"].values()}
    schemas = document["components"]["schemas"]
    for stored in history:
        message = outgoing(stored, "tradai")
        name = type(stored.event).__qualname__
        channel = addresses[message.topic]
        assert name in channel["messages"], (message.topic, name)
        value = json.loads(message.value)
        _validator(document, f"#/components/messages/{name}/payload").validate(value)
        assert message.key.decode() == value["aggregate_id"] == str(UUID(value["aggregate_id"]))
        assert list(value["data"]) == list(schemas[name]["properties"]), name
        assert value == json.loads(json.dumps(value))
        assert event_message(stored).type == name


def test_real_websocket_messages_fit_the_protocol(
    document: dict[str, Any], store: EventStore
) -> None:
    log = _every_event_type(store)
    job = next(e.event.originator_id for e in log if type(e.event).__name__ == "Submitted")
    requests = [
        {"action": "subscribe", "stream": "backtests", "since": 0},
        {"action": "subscribe", "stream": "strategies", "since": 0},
        {"action": "subscribe", "stream": "strategies/EmaCross", "since": 0},
        {"action": "subscribe", "stream": "sweeps", "since": 0},
        {"action": "subscribe", "stream": f"backtests/{job}"},
        {"action": "unsubscribe", "stream": f"backtests/{job}"},
    ]
    mistakes: list[dict[str, Any]] = [
        {"action": "subscribe", "stream": "nope"},
        {"action": "jump", "stream": "backtests"},
        {"action": "subscribe", "stream": "backtests", "since": -1},
        {"stream": 1},
    ]
    for request in requests:
        pointer = f"#/components/messages/{request['action']}/payload"
        _validator(document, pointer).validate(request)
    for mistake in mistakes:
        assert not any(
            _validator(document, f"#/components/messages/{kind}/payload").is_valid(mistake)
            for kind in ("subscribe", "unsubscribe")
        ), mistake

    async def scenario() -> Socket:
        hub = Hub(head=len(log))
        hub.bind(asyncio.get_running_loop())
        socket = Socket()
        client = connect(hub, log, socket, buffer=10_000)
        for request in [*requests, *mistakes]:
            client.request(json.dumps(request))
        await settle(lambda: sum(m["type"] == "error" for m in socket.sent) == len(mistakes))
        await client.dispose()
        return socket

    sent = asyncio.run(scenario()).sent
    schemas = document["components"]["schemas"]
    kinds = {"subscribed", "unsubscribed", "error"}
    live_types = {
        cls.__qualname__
        for cls in event_classes()
        if any(cls.__qualname__.startswith(f"{a.__name__}.") for a in LIVE_AGGREGATES)
    }
    for message in sent:
        kind = message["type"] if message["type"] in kinds else "change"
        _validator(document, f"#/components/messages/{kind}/payload").validate(message)
        if kind == "change":
            assert list(message["data"]) == list(schemas[f"{message['type']}.live"]["properties"])
    changes = {m["type"] for m in sent if m["type"] not in kinds}
    assert changes == live_types, "every event type on a stream is documented, and only those"
    assert {type(e.event).__qualname__ for e in log if streams_of(e.event, {})} == live_types
    assert [m["type"] for m in sent if m["type"] in kinds].count("error") == len(mistakes)
