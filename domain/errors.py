"""Domain errors: what the business rules refuse, in the business's words."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the request."""


class IllegalTransition(DomainError):
    """The aggregate's state machine does not allow this step from its current state."""

    def __init__(self, aggregate: str, current: str, attempted: str) -> None:
        super().__init__(f"{aggregate} is {current}; cannot {attempted}")
        self.aggregate = aggregate
        self.current = current
        self.attempted = attempted


class InvalidValue(DomainError):
    """A value breaks an invariant of the aggregate (for example a fraction outside 0..1)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotPermitted(DomainError):
    """The rule forbids this actor to do it (four eyes: a requester never approves)."""


class UnknownItem(DomainError):
    """The aggregate holds no item with that id (a promotion, a revision)."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key} does not exist")
        self.kind = kind
        self.key = key
