"""Per-user limits on writes, so one client cannot flood the queue: a token bucket per token
subject for POST, PUT, PATCH and DELETE, each write spending what its route costs (`opt`
`cost`, 1 by default); reads pass untouched. With a shared PostgreSQL database the buckets
live there (adapters/sql_write_budgets.py), so replicas count a user's writes together."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

import anyio
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from app.auth import Principal

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
COST = "cost"  # the key of a route's `opt` that says how many writes it counts for
# A sweep plans and submits many backtests (the quota bounds how many); registering parses and
# stores a whole source file: each counts as several plain writes.
SWEEP_COST = 10
REGISTER_COST = 5
MAX_BUCKETS = 10_000  # users remembered at once; full buckets are the first to be forgotten


class WriteBudgets:
    """Each user has a bucket of `per_minute` writes that refills at `per_minute` a minute: a
    burst of up to a minute's budget, then that rate. A write that finds the bucket empty is
    refused (429, a problem document) with Retry-After, the seconds until one is allowed again;
    a refused write spends nothing. Kept in this process's memory: each replica counts its own.

    Litestar's RateLimitMiddleware was tried first and fits (keyed by subject, writes only), but
    it keeps the timestamp of every request in the window as JSON behind three anyio locks: 70 µs
    per write here, against about 200 µs of event-loop time for a whole submit. This is a dict
    lookup and some arithmetic, on the event loop (so no lock).
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0  # writes a second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (writes left, as of when)

    blocking = False  # a dict lookup: run on the event loop

    def spend(self, key: str, cost: float = 1) -> float:
        """Take `cost` from `key`'s bucket and answer 0.0, or answer the seconds until there is
        enough (and take nothing)."""
        now = self.clock()
        left, then = self._buckets.get(key, (float(self.per_minute), now))
        left = min(float(self.per_minute), left + (now - then) * self.rate)
        if left < cost:
            return max(1.0, (cost - left) / self.rate)
        if key not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
            self._forget_full(now)
        self._buckets[key] = (left - cost, now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (as good as never seen); if every remembered
        user is still busy, start over rather than grow without bound."""
        for key, (left, then) in list(self._buckets.items()):
            if left + (now - then) * self.rate >= self.per_minute:
                del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()


class WriteRateLimitMiddleware:
    """Spends the user's budget on each write; plain ASGI, after the token middleware (it needs
    the subject). Litestar builds one instance per route, so the budgets are passed in, shared."""

    def __init__(self, app: ASGIApp, budgets: Budgets, per_minute: int) -> None:
        self.app = app
        self.budgets = budgets
        self.per_minute = per_minute

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] in WRITE_METHODS:
            key, cost = _key(scope), _cost(scope)
            if self.budgets.blocking:  # a database round trip: off the event loop
                wait = await anyio.to_thread.run_sync(self.budgets.spend, key, cost)
            else:
                wait = self.budgets.spend(key, cost)
            if wait > 0:
                seconds = math.ceil(wait)
                weight = f" (this one counts {cost:g})" if cost != 1 else ""
                raise TooManyRequestsException(
                    detail=(
                        f"more than {self.per_minute} writes a minute by this user{weight}; "
                        f"retry after {seconds} seconds"
                    ),
                    headers={"Retry-After": str(seconds)},
                )
        await self.app(scope, receive, send)


class Budgets(Protocol):
    """Where the buckets live: this process's memory, or the shared database."""

    blocking: bool

    def spend(self, key: str, cost: float) -> float:
        """0.0 when `cost` was taken from `key`'s bucket, else the seconds to wait."""


def _cost(scope: Scope) -> float:
    """What a write weighs: its route's `cost` (a sweep or a registration is dearer)."""
    handler = scope.get("route_handler")
    opt = getattr(handler, "opt", None) or {}
    return float(opt.get(COST, 1))


def _key(scope: Scope) -> str:
    """Whose budget a request spends: the token's subject, set by JWTAuthMiddleware; a request
    without one (no write route is public today) counts against its client address."""
    user = scope.get("user")
    if isinstance(user, Principal):
        return f"user:{user.sub}"
    client = scope.get("client")
    return f"address:{client[0] if client else '-'}"


def write_rate_limit(per_minute: int, shared: Budgets | None = None) -> DefineMiddleware | None:
    """The limiter for `per_minute` writes per user (in `shared` budgets when given, else in
    this process's memory), or None when 0 turns it off."""
    if per_minute <= 0:
        return None
    budgets = shared if shared is not None else WriteBudgets(per_minute)
    return DefineMiddleware(WriteRateLimitMiddleware, budgets=budgets, per_minute=per_minute)
