"""A WebSocket client's queue: bursts are caught up from the log, a client that stops reading is
closed. The socket is replaced by coroutines that record what would have been sent."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

from commands.store import StoredEvent
from projections.live import OVERFLOW_CODE, Hub, LiveClient
from tests.factories import new_job


def stored_jobs(count: int) -> list[StoredEvent]:
    log: list[StoredEvent] = []
    for _ in range(count):
        for event in new_job().collect_events():
            log.append(StoredEvent(len(log) + 1, event))
    return log


class Socket:
    """What the client sent and how it was closed; `stalled` makes every send hang."""

    def __init__(self, stalled: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed_with: tuple[int, str] | None = None
        self.stalled = stalled

    async def send(self, text: str) -> None:
        if self.stalled:
            await asyncio.Event().wait()
        self.sent.append(json.loads(text))
        await asyncio.sleep(0)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    def positions(self, stream: str) -> list[int]:
        return [m["position"] for m in self.sent if m["stream"] == stream and "id" in m["data"]]


async def settle(condition: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)


def connect(
    hub: Hub, log: list[StoredEvent], socket: Socket, buffer: int, *, scan: bool = True
) -> LiveClient:
    """A client over `log`; with `scan` False, reading the log fails the test."""

    def read_log(after: int, limit: int) -> list[StoredEvent]:
        assert scan, "the log was scanned"
        return [e for e in log if e.position > after][:limit]

    def read_aggregate(aggregate_id: UUID) -> list[StoredEvent]:
        return [e for e in log if e.event.originator_id == aggregate_id]

    client = LiveClient(hub, read_log, socket.send, socket.close, buffer, read_aggregate)
    client.start()
    return client


def test_a_burst_bigger_than_the_buffer_reaches_a_reading_client_in_full_and_in_order() -> None:
    log = stored_jobs(60)
    job_stream = f"backtests/{log[41].event.originator_id}"

    async def scenario() -> Socket:
        hub = Hub(head=0)
        hub.bind(asyncio.get_running_loop())
        socket = Socket()
        client = connect(hub, log, socket, buffer=10)
        client.request(json.dumps({"action": "subscribe", "stream": "backtests"}))
        client.request(json.dumps({"action": "subscribe", "stream": job_stream}))
        await settle(lambda: len(socket.sent) == 2)
        hub.publish(log[:5])  # fits in the queue
        hub.publish(log[5:])  # 55 messages for a queue of 10: caught up from the log
        await settle(lambda: len(socket.positions("backtests")) >= 60)
        await client.dispose()
        return socket

    socket = asyncio.run(scenario())
    assert socket.closed_with is None
    assert socket.positions("backtests") == list(range(1, 61))
    assert socket.positions(job_stream) == [42]
    everything = [m["position"] for m in socket.sent if "id" in m["data"]]
    assert everything == sorted(everything), "streams interleave in log order, as live ones do"


def test_a_client_that_stops_reading_is_closed_once_its_queue_is_full() -> None:
    log = stored_jobs(20)

    async def scenario() -> tuple[Socket, LiveClient]:
        hub = Hub(head=0)
        hub.bind(asyncio.get_running_loop())
        socket = Socket(stalled=True)
        client = connect(hub, log, socket, buffer=10)
        client.request(json.dumps({"action": "subscribe", "stream": "backtests"}))
        for stored in log:  # one commit at a time: each fits, until the queue is full
            hub.publish([stored])
            await asyncio.sleep(0)
        await settle(lambda: socket.closed_with is not None)
        return socket, client

    socket, client = asyncio.run(scenario())
    assert socket.closed_with is not None
    code, reason = socket.closed_with
    assert code == OVERFLOW_CODE and reason.startswith("too slow: over 10 messages waiting")
    assert client.closed


def test_a_job_stream_replays_from_the_jobs_own_events_without_scanning_the_log() -> None:
    log = stored_jobs(30)
    job = log[20].event.originator_id
    stream = f"backtests/{job}"

    async def scenario() -> Socket:
        hub = Hub(head=len(log))
        hub.bind(asyncio.get_running_loop())
        socket = Socket()
        client = connect(hub, log, socket, buffer=10, scan=False)
        client.request(json.dumps({"action": "subscribe", "stream": stream, "since": 0}))
        await settle(lambda: any(m["type"] == "subscribed" for m in socket.sent))
        await client.dispose()
        return socket

    socket = asyncio.run(scenario())
    assert [(m["type"], m["position"]) for m in socket.sent] == [
        ("BacktestJob.Submitted", 21),
        ("subscribed", 30),
    ]
