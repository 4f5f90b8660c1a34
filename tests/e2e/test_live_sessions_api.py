"""Bounded WebSocket sessions through a real server with real WebSocket clients: single-use
tokens, streams closed when their token expires, connection caps, replay budgets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.e2e.conftest import client_for
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

pytestmark = pytest.mark.e2e

TTL = 3  # seconds a WebSocket token lives here
REPLAY = 40  # positions a user may replay a minute here


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "BACKEND_EXECUTOR": "off",
        "BACKEND_WS_TOKEN_TTL_SECONDS": str(TTL),
        "BACKEND_WS_MAX_CONNECTIONS_PER_USER": "2",
        "BACKEND_WS_MAX_CONNECTIONS": "3",
        "BACKEND_WS_REPLAY_EVENTS_PER_MINUTE": str(REPLAY),
    }
    with ServerProcess(tmp_path_factory.mktemp("sessions"), env) as running:
        yield running


_API_TOKENS: dict[tuple[int, str], str] = {}


def ws_url(server: ServerProcess, user: str) -> str:
    """A fresh WebSocket token's URL (the user's API token is minted once: `tradai token` takes
    about a second, a WebSocket token lives three)."""
    key = (server.port, user)
    if key not in _API_TOKENS:
        _API_TOKENS[key] = server.token(user, "viewer")
    answer = httpx.post(
        f"{server.url}/api/v1/ws/token",
        headers={"Authorization": f"Bearer {_API_TOKENS[key]}"},
        timeout=15,
    )
    return f"ws://127.0.0.1:{server.port}/api/v1/ws?token={answer.json()['token']}"


def closed_with(ws: ClientConnection, timeout: float = 10) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def subscribed(ws: ClientConnection, stream: str, since: int | None = None) -> dict[str, Any]:
    ws.send(json.dumps({"action": "subscribe", "stream": stream, "since": since}))
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message["type"] in ("subscribed", "refused") and message["stream"] == stream:
            return dict(message)


def wait_no_clients(server: ServerProcess) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.get(f"{server.url}/ready").json()["gauges"]["websocket_clients"] == 0:
            return
        time.sleep(0.05)
    raise AssertionError("WebSocket clients still open")


def test_a_websocket_token_opens_one_connection(server: ServerProcess) -> None:
    url = ws_url(server, "alice")
    with connect(url) as first:
        assert subscribed(first, "backtests")["type"] == "subscribed"
        with connect(url) as second:  # the same token again, while the first is open
            code, reason = closed_with(second)
    assert code == 1008 and "used already" in reason
    with connect(url) as third:  # and after it closed
        assert closed_with(third) == (1008, reason)


def test_a_token_without_an_id_is_refused(server: ServerProcess) -> None:
    secret = (server.data_dir / "jwt-secret").read_text().strip()
    now = int(time.time())
    claims = {"sub": "a", "roles": ["viewer"], "iat": now, "exp": now + 30, "aud": "tradai-ws"}
    token = jwt.encode(claims, secret, algorithm="HS256")
    with connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={token}") as ws:
        code, reason = closed_with(ws)
    assert code == 1008 and '"jti"' in reason


def test_the_stream_closes_when_its_token_expires(server: ServerProcess) -> None:
    with connect(ws_url(server, "bob")) as ws:
        opened = time.monotonic()
        assert subscribed(ws, "backtests")["type"] == "subscribed"
        code, reason = closed_with(ws, timeout=TTL + 5)
        lived = time.monotonic() - opened
    assert code == 1008 and "token expired" in reason and "since" in reason
    assert lived < TTL + 1.5


def test_connections_are_capped_per_user_and_in_total(server: ServerProcess) -> None:
    for user in ("carol", "dave", "erin"):
        ws_url(server, user)  # their API tokens, before the clock of the WebSocket ones runs
    wait_no_clients(server)
    with connect(ws_url(server, "carol")) as one, connect(ws_url(server, "carol")) as two:
        for ws in (one, two):
            assert subscribed(ws, "strategies")["type"] == "subscribed"
        with connect(ws_url(server, "carol")) as three:
            code, reason = closed_with(three)
        assert code == 1008 and "carol has 2 WebSocket connections open" in reason
        with connect(ws_url(server, "dave")) as other:  # another user still gets in
            assert subscribed(other, "strategies")["type"] == "subscribed"
            with connect(ws_url(server, "erin")) as late:  # three open: the server is full
                code, reason = closed_with(late)
            assert code == 1008 and "maximum of 3 WebSocket connections" in reason
    wait_no_clients(server)
    with connect(ws_url(server, "carol")) as again:  # closed ones no longer count
        assert subscribed(again, "strategies")["type"] == "subscribed"


def test_replays_from_old_positions_are_rate_limited(server: ServerProcess) -> None:
    with client_for(server, "rita", "researcher") as researcher:
        for n in range(20):  # three events each: well over a minute's replay budget
            name = f"Replayed{n}"
            assert (
                researcher.post(
                    f"/strategies/{name}/versions", json={"code": minimal(name)}
                ).status_code
                == 201
            )
    head = int(httpx.get(f"{server.url}/ready").json()["positions"]["event_store"])
    assert head > REPLAY
    with connect(ws_url(server, "rita")) as ws:
        whole = subscribed(ws, "strategies", since=0)
        assert whole["type"] == "refused" and "retry_after" not in whole["data"]
        assert f"at most {REPLAY}" in whole["data"]["detail"]
        assert "subscribe without since" in whole["data"]["detail"]
        assert subscribed(ws, "strategies", since=head - 30)["type"] == "subscribed"
        again = subscribed(ws, "backtests", since=head - 30)  # 10 left of 40
        assert again["type"] == "refused" and again["data"]["retry_after"] >= 20
        assert subscribed(ws, "backtests")["type"] == "subscribed"  # live only: free
    with connect(ws_url(server, "rita")) as ws:  # a new connection refills nothing
        assert subscribed(ws, "strategies", since=head - 30)["type"] == "refused"
