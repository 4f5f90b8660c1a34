"""Per-user limits on writes, so one client cannot flood the queue: a token bucket per token
subject for POST, PUT, PATCH and DELETE; reads pass untouched."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from app.auth import Principal

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
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

    def spend(self, key: str) -> None:
        """Take one write from `key`'s bucket, or raise 429 saying when one will be there."""
        now = self.clock()
        left, then = self._buckets.get(key, (float(self.per_minute), now))
        left = min(float(self.per_minute), left + (now - then) * self.rate)
        if left < 1:
            wait = max(1, math.ceil((1 - left) / self.rate))
            raise TooManyRequestsException(
                detail=(
                    f"more than {self.per_minute} writes a minute by this user; "
                    f"retry after {wait} seconds"
                ),
                headers={"Retry-After": str(wait)},
            )
        if key not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
            self._forget_full(now)
        self._buckets[key] = (left - 1, now)

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

    def __init__(self, app: ASGIApp, budgets: WriteBudgets) -> None:
        self.app = app
        self.budgets = budgets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] in WRITE_METHODS:
            self.budgets.spend(_key(scope))
        await self.app(scope, receive, send)


def _key(scope: Scope) -> str:
    """Whose budget a request spends: the token's subject, set by JWTAuthMiddleware; a request
    without one (no write route is public today) counts against its client address."""
    user = scope.get("user")
    if isinstance(user, Principal):
        return f"user:{user.sub}"
    client = scope.get("client")
    return f"address:{client[0] if client else '-'}"


def write_rate_limit(per_minute: int) -> DefineMiddleware | None:
    """The limiter for `per_minute` writes per user, or None when 0 turns it off."""
    if per_minute <= 0:
        return None
    return DefineMiddleware(WriteRateLimitMiddleware, budgets=WriteBudgets(per_minute))
