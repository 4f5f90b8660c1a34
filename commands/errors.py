"""Errors the command side raises besides domain errors; the app maps each to an HTTP status."""

from __future__ import annotations


class CommandError(Exception):
    """Base of command-side errors."""


class NotFound(CommandError):
    """The command names an aggregate that does not exist (404)."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key} does not exist")
        self.kind = kind
        self.key = key


class UnknownReference(CommandError):
    """A field of the command refers to something that does not exist (422 naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConcurrencyConflict(CommandError):
    """Another command changed the aggregate first (409); the client may reload and retry."""


class IdempotencyKeyReused(CommandError):
    """The Idempotency-Key was already used for a different request (422)."""


class NotOwner(CommandError):
    """The actor neither owns (or maintains) the strategy, nor submitted the job or sweep, nor is
    an admin (403)."""


class QuotaExceeded(CommandError):
    """The user has as much waiting work as they may (429, try again when some has finished)."""

    def __init__(self, user: str, waiting: int, cost: int, limit: int) -> None:
        super().__init__(
            f"{user} has {waiting} backtests and sweep trials waiting or running, and this asks "
            f"for {cost} more; the limit is {limit} a user (BACKEND_MAX_QUEUED_PER_USER). "
            f"Try again when some have finished, or cancel some"
        )
        self.user = user
        self.waiting = waiting
        self.cost = cost
        self.limit = limit
