"""The Strategy aggregate: a named entry in the catalog that numbers its versions."""

from __future__ import annotations

import re
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue
from domain.identity import strategy_id

# Freqtrade loads a strategy by its class name, so a strategy name must be a Python identifier.
STRATEGY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_strategy_name(name: str) -> None:
    """Raise InvalidValue unless `name` can be a strategy (a Python class) name."""
    if not STRATEGY_NAME.match(name):
        raise InvalidValue(
            "name",
            f"{name!r} is not a strategy name: use letters, digits and _ (not first), 1-64 chars",
        )


class Strategy(Aggregate):
    """Catalog entry of one strategy; it hands out version numbers 1, 2, ... in order."""

    class Created(Aggregate.Created):
        """The first version of a strategy with this name was registered."""

        name: str
        created_by: str

    class VersionAdded(Aggregate.Event):
        """Version `number` (aggregate `version_id`) now belongs to this strategy."""

        number: int
        version_id: UUID
        code_sha256: str

        def apply(self, strategy: Strategy) -> None:
            strategy.versions[self.number] = self.version_id

    @staticmethod
    def create_id(name: str, **_: object) -> UUID:
        return strategy_id(name)

    @event(Created)
    def __init__(self, name: str, created_by: str) -> None:
        check_strategy_name(name)
        self.name = name
        self.created_by = created_by
        self.versions: dict[int, UUID] = {}

    @property
    def latest_version(self) -> int:
        """The highest registered version number, or 0 before the first one."""
        return max(self.versions, default=0)

    @property
    def next_version(self) -> int:
        """The number the next registered version will get."""
        return self.latest_version + 1

    def add_version(self, number: int, version_id: UUID, code_sha256: str) -> None:
        """Record that version `number` was registered; numbers are dense and never reused."""
        if number != self.next_version:
            raise InvalidValue("version", f"expected version {self.next_version}, got {number}")
        self.trigger_event(
            self.VersionAdded, number=number, version_id=version_id, code_sha256=code_sha256
        )
