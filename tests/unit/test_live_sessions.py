"""Bounds on WebSocket sessions: connection caps, single-use token ids, the replay budget, and a
client whose replay is over it (answered `refused`, as the AsyncAPI document describes)."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest

from app.asyncapi import asyncapi_document
from app.live_sessions import LiveSessions, ReplayBudget, SessionRefused
from commands.store import StoredEvent
from projections.live import Hub, LiveClient
from tests.unit.test_asyncapi import _validator
from tests.unit.test_live_client import Socket, settle, stored_jobs


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_token_id_opens_one_connection_until_it_expires() -> None:
    wall = Clock()
    sessions = LiveSessions(8, 100, 1000, wall=wall)
    sessions.admit("alice", "t1", expires=160.0)
    with pytest.raises(SessionRefused, match="used already"):
        sessions.admit("alice", "t1", expires=160.0)
    sessions.release("alice")
    with pytest.raises(SessionRefused, match="used already"):  # closing does not free it
        sessions.admit("alice", "t1", expires=160.0)
    wall.now = 161.0  # expired ids are forgotten (the token itself is refused by then)
    sessions.admit("bob", "t2", expires=220.0)
    assert "t1" not in sessions._used and "t2" in sessions._used


def test_connections_are_capped_per_user_and_in_total() -> None:
    sessions = LiveSessions(2, 3, 1000, wall=Clock())
    sessions.admit("alice", "a1", 1e9)
    sessions.admit("alice", "a2", 1e9)
    with pytest.raises(SessionRefused, match="alice has 2 WebSocket connections open"):
        sessions.admit("alice", "a3", 1e9)
    sessions.admit("bob", "b1", 1e9)
    with pytest.raises(SessionRefused, match="maximum of 3 WebSocket connections"):
        sessions.admit("carol", "c1", 1e9)
    sessions.release("alice")
    sessions.admit("carol", "c2", 1e9)
    assert sessions.open_count == 3


def test_the_replay_budget_refills_at_its_rate() -> None:
    clock = Clock()
    budget = ReplayBudget(600, clock)  # ten positions a second
    assert budget.spend(600) == 0
    assert budget.spend(100) == pytest.approx(10.0)
    clock.now += 10
    assert budget.spend(100) == 0
    assert math.isinf(budget.spend(601))  # never: more than a minute's worth
    budget.charge(50)  # an indexed replay, paid afterwards: a debt
    assert budget.spend(0) == pytest.approx(5.0)


def _client(hub: Hub, log: list[StoredEvent], socket: Socket, budget: ReplayBudget) -> LiveClient:
    client = LiveClient(
        hub,
        lambda after, limit: [e for e in log if e.position > after][:limit],
        socket.send,
        socket.close,
        10_000,
        lambda aggregate: [e for e in log if e.event.originator_id == aggregate],
        budget=budget,
    )
    client.start()
    return client


def test_replays_spend_the_budget_and_are_refused_beyond_it() -> None:
    log = stored_jobs(200)  # 200 positions, one a job
    clock = Clock()
    budget = ReplayBudget(150, clock)
    job = log[0].event.originator_id

    async def scenario() -> list[dict[str, Any]]:
        hub = Hub(head=len(log))
        hub.bind(asyncio.get_running_loop())
        socket = Socket()
        client = _client(hub, log, socket, budget)
        requests: list[dict[str, Any]] = [
            {"action": "subscribe", "stream": "backtests", "since": 0},  # 200 > 150: never
            {"action": "subscribe", "stream": "backtests", "since": 100},  # 100: spent
            {"action": "subscribe", "stream": "strategies", "since": 100},  # 100 > 50 left
            {"action": "subscribe", "stream": f"backtests/{job}", "since": 0},  # indexed
            {"action": "subscribe", "stream": "sweeps"},  # no since: free
        ]
        for request in requests:
            client.request(json.dumps(request))
        await settle(lambda: sum(m["type"] in ("subscribed", "refused") for m in socket.sent) == 5)
        await client.dispose()
        return socket.sent

    sent = asyncio.run(scenario())
    outcome = {m["stream"]: m for m in sent if m["type"] in ("subscribed", "refused")}
    never = outcome["backtests"]
    assert never["type"] == "subscribed"  # the second request for the same stream went ahead
    refusals = [m for m in sent if m["type"] == "refused"]
    assert [m["stream"] for m in refusals] == ["backtests", "strategies"]
    assert "at most 150" in refusals[0]["data"]["detail"]
    assert "retry_after" not in refusals[0]["data"]
    assert refusals[1]["data"]["retry_after"] == 20  # 50 short at 2.5 a second
    assert outcome[f"backtests/{job}"]["type"] == "subscribed"
    assert outcome["sweeps"]["type"] == "subscribed"
    assert budget.level == pytest.approx(50 - 1)  # the job's one event, charged afterwards
    document = asyncapi_document()
    for message in refusals:
        _validator(document, "#/components/messages/refused/payload").validate(message)
