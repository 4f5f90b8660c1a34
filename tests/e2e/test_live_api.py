"""Live streams through a real server with real WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from adapters.event_store import open_event_store
from tests.e2e.conftest import client_for
from tests.factories import new_job, submit_body
from tests.support.raw_ws import RawWebSocket
from tests.support.server import ServerProcess
from tests.support.strategies import minimal


def head(server: ServerProcess) -> int:
    return int(httpx.get(f"{server.url}/ready").json()["positions"]["event_store"])


def live_position(server: ServerProcess) -> int:
    return int(httpx.get(f"{server.url}/ready").json()["positions"]["live"])


def gauges(server: ServerProcess) -> dict[str, int]:
    return dict(httpx.get(f"{server.url}/ready").json()["gauges"])


def ws_url(server: ServerProcess, client: httpx.Client) -> str:
    token = client.post("/ws/token").json()["token"]
    return f"ws://127.0.0.1:{server.port}/api/v1/ws?token={token}"


def subscribe(ws: ClientConnection, stream: str, since: int | None = None) -> dict[str, Any]:
    ws.send(json.dumps({"action": "subscribe", "stream": stream, "since": since}))
    return read_until_subscribed(ws, stream)


def read_until_subscribed(ws: ClientConnection, stream: str) -> dict[str, Any]:
    """Consume replayed messages until the 'subscribed' marker; return the marker."""
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message["type"] == "subscribed" and message["stream"] == stream:
            return dict(message)


class SubmittedCounter(threading.Thread):
    """Reads a WebSocket until `expected` Submitted messages came; notes when that was."""

    def __init__(self, ws: ClientConnection, expected: int) -> None:
        super().__init__(daemon=True)
        self.ws = ws
        self.expected = expected
        self.seen = 0
        self.finished = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while self.seen < self.expected:
                message = json.loads(self.ws.recv(timeout=20))
                self.seen += message["type"] == "BacktestJob.Submitted"
            self.finished = time.monotonic()
        except BaseException as exc:  # reported by the test thread
            self.error = exc


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "BACKEND_EXECUTOR": "memory",
        "BACKEND_SUBSCRIBER_POLL_INTERVAL": "0.05",
        "BACKEND_WS_MAX_CONNECTIONS_PER_USER": "250",  # one user's hundreds of clients below
    }
    process = ServerProcess(tmp_path_factory.mktemp("live"), env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "alice", "researcher") as c:
        assert (
            c.post("/strategies/Live/versions", json={"code": minimal("Live")}).status_code == 201
        )
        yield c


def test_progress_and_completion_arrive_in_position_order(
    server: ServerProcess, client: httpx.Client
) -> None:
    with connect(ws_url(server, client)) as ws:
        subscribe(ws, "backtests")
        response = client.post("/backtests", json=submit_body(strategy="Live"))
        job_id = response.json()["id"]
        messages = []
        while not messages or messages[-1]["type"] != "BacktestJob.Completed":
            message = json.loads(ws.recv(timeout=10))
            if message["data"].get("id") == job_id:
                messages.append(message)
    kinds = [m["type"].split(".")[1] for m in messages]
    assert kinds == ["Submitted", "Started", "ProgressReported", "ProgressReported", "Completed"]
    positions = [m["position"] for m in messages]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert positions[0] == int(response.headers["X-Position"])
    # The same job's own stream, replayed from just before its submission, tells the same story.
    with connect(ws_url(server, client)) as ws:
        ws.send(
            json.dumps(
                {"action": "subscribe", "stream": f"backtests/{job_id}", "since": positions[0] - 1}
            )
        )
        replayed = [json.loads(ws.recv(timeout=10)) for _ in range(5)]
        assert [m["position"] for m in replayed] == positions
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"


def read_positions(url: str, since: int, count: int, into: list[int]) -> int:
    """Subscribe from `since`, take up to `count` changes, then drop the connection abruptly."""
    got = 0
    with contextlib.suppress(ConnectionClosed, OSError), connect(url) as ws:
        ws.send(json.dumps({"action": "subscribe", "stream": "backtests", "since": since}))
        with contextlib.suppress(TimeoutError):
            while got < count:
                message = json.loads(ws.recv(timeout=3))
                if message["type"] != "subscribed":
                    into.append(message["position"])
                    got += 1
        ws.socket.shutdown(socket.SHUT_RDWR)  # no close handshake: an abrupt disconnect
    return got


def test_resume_after_forced_disconnects_under_concurrent_writes(
    server: ServerProcess, client: httpx.Client
) -> None:
    start = head(server)
    reference: list[int] = []
    resumed: list[int] = []
    with connect(ws_url(server, client)) as ref:
        subscribe(ref, "backtests", since=start)
        done = threading.Event()

        def writer() -> None:
            with client_for(server, "writer", "researcher") as w:
                for _ in range(40):
                    w.post("/backtests", json=submit_body(strategy="Live"))
            done.set()

        thread = threading.Thread(target=writer)
        thread.start()
        cuts = 0
        while True:  # 25 changes per connection, then cut it and resume from the last position
            got = read_positions(
                ws_url(server, client), resumed[-1] if resumed else start, 25, resumed
            )
            cuts += 1
            if done.is_set() and got < 25:
                break
        thread.join()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # all 40 jobs finish (memory executor), writes stop
            page = client.get(
                "/backtests", params={"status": "completed", "strategy": "Live", "limit": 200}
            )
            if len(page.json()["items"]) >= 41:
                break
            time.sleep(0.1)
        final = head(server)
        while not resumed or resumed[-1] < final:
            read_positions(ws_url(server, client), resumed[-1], 10_000, resumed)
        while not reference or reference[-1] < final:
            reference.append(json.loads(ref.recv(timeout=5))["position"])
    assert cuts >= 3
    assert len(reference) >= 40 * 5
    assert resumed == reference, "no gap and no duplicate across reconnects"


@pytest.mark.parametrize("kind", ["garbage", "expired", "api-token", "missing"])
def test_bad_tokens_close_with_1008(server: ServerProcess, kind: str) -> None:
    secret = (server.data_dir / "jwt-secret").read_text().strip()
    now = int(time.time())
    tokens = {
        "garbage": "not-a-token",
        "expired": jwt.encode(
            {"sub": "a", "roles": ["viewer"], "exp": now - 5, "aud": "tradai-ws"}, secret
        ),
        "api-token": jwt.encode({"sub": "a", "roles": ["viewer"], "exp": now + 60}, secret),
        "missing": "",
    }
    url = f"ws://127.0.0.1:{server.port}/api/v1/ws?token={tokens[kind]}"
    with connect(url) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason


def test_protocol_mistakes_are_answered_not_fatal(
    server: ServerProcess, client: httpx.Client
) -> None:
    with connect(ws_url(server, client)) as ws:
        for bad in [
            "{",
            '{"action": "subscribe", "stream": "nope"}',
            '{"action": "dance", "stream": "backtests"}',
        ]:
            ws.send(bad)
            message = json.loads(ws.recv(timeout=5))
            assert message["type"] == "error" and message["data"]["detail"]
        assert subscribe(ws, "strategies")["type"] == "subscribed"
        client.post("/strategies/LiveTwo/versions", json={"code": minimal("LiveTwo")})
        kinds = {json.loads(ws.recv(timeout=5))["type"] for _ in range(3)}
        assert {"Strategy.Created", "Strategy.VersionAdded", "StrategyVersion.Registered"} == kinds


def test_hundreds_of_clients_and_abrupt_disconnects(
    server: ServerProcess, client: httpx.Client
) -> None:
    baseline = gauges(server)["websocket_clients"]
    count = 200
    urls = [ws_url(server, client) for _ in range(count)]  # a WebSocket token opens one

    async def run() -> list[list[int]]:
        sockets = [await async_connect(url) for url in urls]
        for ws in sockets:
            await ws.send(json.dumps({"action": "subscribe", "stream": "backtests"}))
        for ws in sockets:
            assert json.loads(await ws.recv())["type"] == "subscribed"
        assert gauges(server)["websocket_clients"] == baseline + count
        body = submit_body(strategy="Live")
        await asyncio.to_thread(lambda: [client.post("/backtests", json=body) for _ in range(2)])

        async def read(ws: Any) -> list[int]:
            return [
                json.loads(await asyncio.wait_for(ws.recv(), 10))["position"] for _ in range(10)
            ]

        received = await asyncio.gather(*(read(ws) for ws in sockets))
        for ws in sockets:
            ws.transport.abort()  # vanish without a close handshake
        return received

    received = asyncio.run(run())
    assert all(r == received[0] for r in received), "every client saw the same ten events"
    deadline = time.monotonic() + 10
    while gauges(server)["websocket_clients"] != baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gauges(server)["websocket_clients"] == baseline
    assert gauges(server)["websocket_subscriptions"] == 0


def test_a_slow_client_is_closed_and_others_are_not_slowed(tmp_path: Path) -> None:
    env = {
        "BACKEND_EXECUTOR": "off",
        "BACKEND_WS_BUFFER_MESSAGES": "200",
        "BACKEND_SUBSCRIBER_POLL_INTERVAL": "0.05",
        "BACKEND_MAX_QUEUED_PER_USER": "0",  # alice's 20,000 jobs below are only history
    }
    server = ServerProcess(tmp_path / "slow", env)
    server.start()
    try:
        with client_for(server, "alice", "researcher") as c:
            assert (
                c.post("/strategies/Live/versions", json={"code": minimal("Live")}).status_code
                == 201
            )
            # A long history (written by another process, in big transactions) to replay.
            store = open_event_store(f"sqlite:///{server.data_dir / 'events.db'}")
            for _ in range(20):
                store.commit(*[new_job(strategy="Live") for _ in range(1000)])
            store.close()
            # The fast client is meant to join at the end of that history: wait until the
            # live feed (not only the log) has passed it, or it would be replayed to both.
            deadline = time.monotonic() + 30
            while live_position(server) < 20_000 and time.monotonic() < deadline:
                time.sleep(0.1)
            with connect(ws_url(server, c)) as fast:
                subscribe(fast, "backtests")
                token = c.post("/ws/token").json()["token"]
                slow = RawWebSocket("127.0.0.1", server.port, f"/api/v1/ws?token={token}")
                slow.send_json({"action": "subscribe", "stream": "backtests", "since": 0})
                time.sleep(
                    1.0
                )  # the replay fills the socket buffers; the slow client reads nothing
                # The fast client reads as messages arrive, on its own thread, as a live
                # dashboard would; only the slow one leaves its socket unread.
                fast_reader = SubmittedCounter(fast, expected=300)
                started = time.monotonic()
                fast_reader.start()
                for _ in range(300):
                    c.post("/backtests", json=submit_body(strategy="Live"))
                fast_reader.join(timeout=30)
                assert fast_reader.error is None, fast_reader.error
                assert fast_reader.seen == 300
                fast_seconds = fast_reader.finished - started
                code, reason, delivered = slow.drain_until_close()
                slow.close()
        assert delivered < 20_000, "the replay stalled: the client was not reading"
        assert code == 1013 and reason is not None and reason.startswith("too slow")
        assert fast_seconds < 30
        assert gauges(server)["websocket_clients"] == 0
    finally:
        server.stop()
