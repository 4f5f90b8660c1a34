"""Live read-model streams: every event, as it is stored, pushed to subscribed clients.

The LiveFeed subscriber hands each batch of events to the Hub, which fans it out, on the
server's event loop, to every client subscribed to one of the event's streams. A client that
subscribes with `since` first gets the stored events it missed (read from the log), then the
live ones, in position order: live messages that arrive during the replay wait in the client's
queue, and anything at or below the last position sent on a stream is skipped, so there is no
gap and no duplicate. Each client's queue is bounded; a client that cannot keep up is closed.

A burst bigger than the room left in a client's queue (the feed catching up after another
process wrote thousands of events, say) is queued as one "catch up" range instead, which the
sender reads back from the log at the socket's pace: how far the server fell behind is the
log's business, and only a client that stops reading fills its queue and is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol
from uuid import UUID

import msgspec

from commands.store import StoredEvent
from domain.backtest_job import BacktestJob
from domain.identity import strategy_id
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion
from domain.sweep import Sweep
from projections.json_depth import TooDeep, too_deep

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
STREAM = re.compile(
    rf"^(backtests(/{_UUID})?|sweeps(/{_UUID})?|strategies(/[A-Za-z_][A-Za-z0-9_]{{0,63}})?)$"
)
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})
_HIDDEN = frozenset({"code"})  # strategy sources stay out of streams (they can be large)
OVERFLOW_CODE = 1013  # "try again later": reconnect with `since` to resume
HISTORY_PAGE = 1000


class LiveMessage(msgspec.Struct, frozen=True):
    """What the server sends: one change on one stream, at its global position."""

    stream: str
    position: int
    type: str
    data: dict[str, Any]


class ClientRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    action: str
    stream: str
    since: int | None = None


class StreamError(ValueError):
    """A client asked for something the protocol does not offer."""


def check_stream(stream: str) -> str:
    if not STREAM.match(stream):
        raise StreamError(
            f"unknown stream {stream!r}: use backtests, backtests/<job id>, sweeps, "
            "sweeps/<sweep id>, strategies or strategies/<name>"
        )
    return stream


def streams_of(event: Any, names: dict[Any, str]) -> tuple[str, ...]:
    """The streams an event belongs to; `names` maps strategy ids to names as they are seen."""
    if isinstance(event, BacktestJob.Event):
        return ("backtests", f"backtests/{event.originator_id}")
    if isinstance(event, Sweep.Event):
        return ("sweeps", f"sweeps/{event.originator_id}")
    if isinstance(event, StrategyVersion.Registered | Strategy.Created):
        names[strategy_id(event.name)] = event.name
        return ("strategies", f"strategies/{event.name}")
    if isinstance(event, StrategyVersion.Event):
        return ("strategies",)
    if isinstance(event, Strategy.Event):
        name = names.get(event.originator_id)
        return ("strategies", f"strategies/{name}") if name else ("strategies",)
    return ()


def encode(stream: str, position: int, event: Any) -> bytes:
    data = {k: v for k, v in vars(event).items() if k not in _ENVELOPE and k not in _HIDDEN}
    data |= {
        "id": event.originator_id,
        "version": event.originator_version,
        "timestamp": event.timestamp,
    }
    return msgspec.json.encode(LiveMessage(stream, position, type(event).__qualname__, data))


def control(stream: str | None, position: int, kind: str, **data: Any) -> bytes:
    return msgspec.json.encode({"stream": stream, "position": position, "type": kind, "data": data})


class Hub:
    """Subscriptions of this process's clients, and the position live delivery has reached."""

    def __init__(self, head: int) -> None:
        self.position = head
        self.names: dict[Any, str] = {}
        self._subscribers: dict[str, set[LiveClient]] = {}
        self._clients: set[LiveClient] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def client_count(self) -> int:
        return len(self._clients)

    @property
    def subscription_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def publish(self, events: Sequence[StoredEvent]) -> None:
        """Called by the LiveFeed thread: schedule delivery on the loop, in order."""
        with self._lock:  # under the lock, so a client attaching now sees one or the other
            if not self._subscribers:  # nobody to send to: only learn strategy names
                for stored in events:
                    streams_of(stored.event, self.names)
                self.position = events[-1].position
                return
        items = [
            (stream, stored.position, encode(stream, stored.position, stored.event))
            for stored in events
            for stream in streams_of(stored.event, self.names)
        ]
        with self._lock:
            self.position = events[-1].position
            if self._loop is not None and items and self._subscribers:
                self._loop.call_soon_threadsafe(self._deliver, items)

    def _deliver(self, items: list[tuple[str, int, bytes]]) -> None:
        batches: dict[LiveClient, list[tuple[str, int, bytes]]] = {}
        for item in items:
            for client in self._subscribers.get(item[0], ()):
                batches.setdefault(client, []).append(item)
        for client, batch in batches.items():
            client.offer_live(batch)

    def join(self, client: LiveClient) -> None:
        self._clients.add(client)

    def attach(self, client: LiveClient, stream: str) -> int:
        """Subscribe; returns the position live delivery had reached at that instant."""
        with self._lock:
            self._subscribers.setdefault(stream, set()).add(client)
            return self.position

    def detach(self, client: LiveClient, stream: str | None = None) -> None:
        with self._lock:
            for name in [stream] if stream else list(self._subscribers):
                members = self._subscribers.get(name)
                if members is not None:
                    members.discard(client)
                    if not members:
                        del self._subscribers[name]
        if stream is None:
            self._clients.discard(client)


class LiveFeed:
    """The subscriber that feeds the hub; it starts at the log's head when the process starts."""

    name = "live"

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def position(self) -> int:
        return self.hub.position

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        self.hub.publish(events)


class ReplayBudget(Protocol):
    """How many log positions a client's user may still replay (app/live_sessions.py)."""

    per_minute: int

    def spend(self, cost: int) -> float:
        """0 when spent; else the seconds until it could be (inf: never)."""
        ...

    def charge(self, cost: int) -> None: ...


ReadLog = Callable[[int, int], list[StoredEvent]]
ReadAggregate = Callable[[UUID], list[StoredEvent]]


class LiveClient:
    """One connection: its subscriptions and an ordered, bounded queue of what to send."""

    def __init__(
        self,
        hub: Hub,
        read_log: ReadLog,
        send: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        buffer: int,
        read_aggregate: ReadAggregate | None = None,
        budget: ReplayBudget | None = None,
    ) -> None:
        self.hub = hub
        # Replays from old positions cost log reads: a subscribe with `since` spends from its
        # user's budget, or is refused (the connection stays open).
        self.budget = budget
        self.read_log = read_log
        # One job's stream replays from that job's own events (an indexed lookup), not by
        # scanning the log from `since`, which may be millions of events back.
        self.read_aggregate = read_aggregate
        self.send = send
        self.close_socket = close
        self.buffer = buffer
        self.queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue(maxsize=buffer)
        self.streams: set[str] = set()
        self.last_sent: dict[str, int] = {}
        self.closed = False
        self.sender: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        hub.join(self)

    def start(self) -> None:
        self.sender = asyncio.ensure_future(self.run())

    def request(self, raw: str | bytes) -> None:
        """Handle one client message (subscribe / unsubscribe); problems are answered, not fatal."""
        try:
            if too_deep(raw):  # before msgspec recurses into it
                raise StreamError(str(TooDeep("a message")))
            req = msgspec.json.decode(raw, type=ClientRequest)
            stream = check_stream(req.stream)
            if req.action == "subscribe":
                if req.since is not None and req.since < 0:
                    raise StreamError("since is a position: 0 or more")
                self.subscribe(stream, req.since)
            elif req.action == "unsubscribe":
                self.streams.discard(stream)
                self.hub.detach(self, stream)
                self.offer(("control", control(stream, self.hub.position, "unsubscribed")))
            else:
                raise StreamError(f"unknown action {req.action!r}: use subscribe or unsubscribe")
        except (msgspec.DecodeError, msgspec.ValidationError, StreamError) as error:
            self.offer(("control", control(None, self.hub.position, "error", detail=str(error))))

    def subscribe(self, stream: str, since: int | None) -> None:
        refusal = self._replay_refusal(stream, since)
        if refusal is not None:
            self.offer(("control", control(stream, self.hub.position, "refused", **refusal)))
            return
        self.streams.add(stream)
        head = self.hub.attach(self, stream)
        start = head if since is None else min(since, head)
        self.offer(("replay", stream, start, head))

    def _replay_refusal(self, stream: str, since: int | None) -> dict[str, Any] | None:
        """Why a replay from `since` is refused (None: it may go ahead, and is paid for). A
        whole stream's replay costs the positions it scans; one job's or sweep's stream is
        read through an index and pays for the events read, afterwards."""
        if since is None or self.budget is None:
            return None
        indexed = _only_aggregate(frozenset((stream,))) is not None
        cost = 0 if indexed else max(self.hub.position - since, 0)
        wait = self.budget.spend(cost)
        if wait == 0:
            return None
        limit = self.budget.per_minute
        if math.isinf(wait):
            return {
                "detail": f"since {since} is {cost} positions behind; a replay may scan at most "
                f"{limit} (BACKEND_WS_REPLAY_EVENTS_PER_MINUTE): load the current state over "
                "REST, then subscribe without since"
            }
        return {
            "detail": f"replay budget spent ({limit} positions a minute, "
            f"BACKEND_WS_REPLAY_EVENTS_PER_MINUTE): subscribe again in {math.ceil(wait)} s",
            "retry_after": math.ceil(wait),
        }

    def offer_live(self, batch: list[tuple[str, int, bytes]]) -> None:
        """Queue one delivery's messages, or the range they span if they would not fit."""
        if len(batch) <= self.buffer - self.queue.qsize():
            for stream, position, data in batch:
                self.offer(("live", stream, position, data))
        else:
            streams = frozenset(stream for stream, _, _ in batch)
            self.offer(("catch_up", streams, batch[0][1] - 1, batch[-1][1]))

    def offer(self, item: tuple[Any, ...]) -> None:
        if self.closed or self._closing is not None:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            reason = f"too slow: over {self.buffer} messages waiting; reconnect with since"
            self._closing = asyncio.ensure_future(self.close(OVERFLOW_CODE, reason))

    async def close(self, code: int, reason: str) -> None:
        """Stop sending (the sender may be stuck on a full socket), then close with a reason."""
        if self.closed:
            return
        await self.dispose()
        await self.close_socket(code, reason)

    async def dispose(self) -> None:
        """Forget the client: no subscriptions, no sender."""
        self.closed = True
        self.hub.detach(self)
        sender, self.sender = self.sender, None
        if sender is not None and sender is not asyncio.current_task():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def run(self) -> None:
        """Send queued items in order until the connection ends."""
        while not self.closed:
            item = await self.queue.get()
            kind = item[0]
            if kind == "live":
                _, stream, position, data = item
                if stream in self.streams and position > self.last_sent.get(stream, -1):
                    await self.send(data.decode())
                    self.last_sent[stream] = position
            elif kind == "replay":
                _, stream, after, until = item
                self.last_sent.pop(stream, None)  # a new subscription replays from its `since`
                await self._send_from_log(frozenset((stream,)), after, until, paid=False)
                await self.send(control(stream, until, "subscribed").decode())
            elif kind == "catch_up":
                _, streams, after, until = item
                await self._send_from_log(streams & self.streams, after, until)
            else:
                await self.send(item[1].decode())

    async def _send_from_log(
        self, streams: frozenset[str], after: int, until: int, *, paid: bool = True
    ) -> None:
        """Send the streams' stored events in (after, until] that were not sent yet, in order.
        Unless `paid`, an indexed read is charged to the budget."""
        names = dict(self.hub.names)
        position = after
        job = _only_aggregate(streams)
        if job is not None and self.read_aggregate is not None and position < until:
            history = await asyncio.to_thread(self.read_aggregate, job)
            if not paid and self.budget is not None:
                self.budget.charge(len(history))
            wanted = [e for e in history if after < e.position <= until]
            await self._send_stored(wanted, streams, names)
            position = until
        while streams and position < until:
            batch = await asyncio.to_thread(self.read_log, position, HISTORY_PAGE)
            if not batch:
                break
            await self._send_stored([e for e in batch if e.position <= until], streams, names)
            position = min(batch[-1].position, until)
        for stream in streams:
            self.last_sent[stream] = max(self.last_sent.get(stream, -1), until)

    async def _send_stored(
        self,
        events: list[StoredEvent],
        streams: frozenset[str],
        names: dict[Any, str],
    ) -> None:
        for stored in events:
            for stream in streams_of(stored.event, names):
                if stream in streams and stored.position > self.last_sent.get(stream, -1):
                    await self.send(encode(stream, stored.position, stored.event).decode())


def _only_aggregate(streams: frozenset[str]) -> UUID | None:
    """The job or sweep, when the streams are exactly one job's or one sweep's stream."""
    if len(streams) != 1:
        return None
    (stream,) = streams
    for prefix in ("backtests/", "sweeps/"):
        if stream.startswith(prefix):
            return UUID(stream.removeprefix(prefix))
    return None
