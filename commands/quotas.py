"""The port through which command handlers bound each user's waiting work."""

from __future__ import annotations

from typing import Protocol


class WaitingWorkQuota(Protocol):
    """Raises commands.errors.QuotaExceeded when `user` may not add `cost` more backtests
    (standalone, or trials of a sweep) to the work of theirs that has not finished."""

    def admit(self, user: str, cost: int) -> None: ...


class NoQuota:
    """No bound (the default of handlers built without one, e.g. in unit tests and tools)."""

    def admit(self, user: str, cost: int) -> None:
        return None
