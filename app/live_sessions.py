"""Bounds on WebSocket sessions, per API process: connections per user and in total, WebSocket
tokens that open one connection each, and a per-user budget of replayed log positions.

All of it lives in this process's memory: with several replicas each counts its own clients and
remembers only the token ids presented to it, so a token could open one connection on each
replica within its (short) lifetime. The README says so.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

BUDGETS_KEPT = 10_000  # users whose replay budget is remembered before full ones are forgotten


class SessionRefused(Exception):
    """The connection may not open; `reason` goes into the close frame (code 1008)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ReplayBudget:
    """A token bucket of log positions: `per_minute` at most, refilled at that rate. A replay
    of a whole stream costs the positions it scans; one job's or sweep's stream (read through
    an index) costs the events read, charged afterwards."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    level: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.level = float(self.per_minute)
        self.stamp = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.per_minute, self.level + (now - self.stamp) * self.per_minute / 60)
        self.stamp = now

    @property
    def full(self) -> bool:
        self._refill()
        return self.level >= self.per_minute

    def spend(self, cost: int) -> float:
        """Spend `cost` and return 0, or return the seconds until it could be spent (inf: more
        than a minute's worth, never)."""
        if cost > self.per_minute:
            return math.inf
        self._refill()
        if self.level >= cost:
            self.level -= cost
            return 0.0
        return (cost - self.level) * 60 / self.per_minute

    def charge(self, cost: int) -> None:
        """Spend what a replay turned out to cost; the level may go below zero (a debt)."""
        self._refill()
        self.level -= cost


class LiveSessions:
    """The open connections by user, the WebSocket token ids already used, the replay budgets."""

    def __init__(
        self,
        per_user: int,
        total: int,
        replay_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.per_user = per_user
        self.total = total
        self.replay_per_minute = replay_per_minute
        self._clock = clock
        self._wall = wall
        self._open: dict[str, int] = {}
        self._used: set[str] = set()
        self._expiries: list[tuple[float, str]] = []  # (exp, jti): forgotten once expired
        self._budgets: dict[str, ReplayBudget] = {}

    @property
    def open_count(self) -> int:
        return sum(self._open.values())

    def admit(self, user: str, jti: str, expires: float) -> None:
        """Count a new connection of `user` with the token `jti` (valid until `expires`, Unix
        time), or raise SessionRefused. The token is used up either way."""
        now = self._wall()
        while self._expiries and self._expiries[0][0] < now:
            self._used.discard(heapq.heappop(self._expiries)[1])
        if jti in self._used:
            raise SessionRefused(
                "this WebSocket token was used already: each opens one connection; "
                "get a new one from POST /ws/token"
            )
        self._used.add(jti)
        heapq.heappush(self._expiries, (expires, jti))
        if self.open_count >= self.total:
            raise SessionRefused(
                f"the server has its maximum of {self.total} WebSocket connections "
                "(BACKEND_WS_MAX_CONNECTIONS); try again later"
            )
        if self._open.get(user, 0) >= self.per_user:
            raise SessionRefused(
                f"{user} has {self.per_user} WebSocket connections open already "
                "(BACKEND_WS_MAX_CONNECTIONS_PER_USER); close one first"
            )
        self._open[user] = self._open.get(user, 0) + 1

    def release(self, user: str) -> None:
        """A connection `admit` counted has ended."""
        left = self._open.get(user, 0) - 1
        if left > 0:
            self._open[user] = left
        else:
            self._open.pop(user, None)

    def budget(self, user: str) -> ReplayBudget:
        """The user's replay budget; it outlives their connections (reconnecting refills
        nothing), and only full budgets are ever forgotten."""
        budget = self._budgets.get(user)
        if budget is None:
            if len(self._budgets) >= BUDGETS_KEPT:
                self._budgets = {u: b for u, b in self._budgets.items() if not b.full}
            budget = self._budgets[user] = ReplayBudget(self.replay_per_minute, self._clock)
        return budget
