"""The StrategyVersion aggregate: one immutable version of a strategy's code and its stage."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidValue
from domain.identity import strategy_version_id
from domain.strategy import check_strategy_name

# Strategy sources are small Python modules; a cap keeps events (and Kafka messages) bounded.
MAX_CODE_BYTES = 256 * 1024


class Stage(StrEnum):
    """The promotion stage a version has reached."""

    REGISTERED = "registered"
    STAGING = "staging"
    PRODUCTION = "production"
    RETIRED = "retired"


def code_sha256(code: str) -> str:
    """Content address of a strategy's source: the hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class StrategyVersion(Aggregate):
    """Version `number` of strategy `name`: its code (content-addressed), parameters and stage."""

    class Registered(Aggregate.Created):
        """A researcher registered this code as the next version of the strategy."""

        name: str
        number: int
        code: str
        code_sha256: str
        parameters: dict[str, Any]
        description: str
        registered_by: str

    @staticmethod
    def create_id(name: str, number: int, **_: object) -> UUID:
        return strategy_version_id(name, number)

    @event(Registered)
    def __init__(
        self,
        name: str,
        number: int,
        code: str,
        code_sha256: str,
        parameters: dict[str, Any],
        description: str,
        registered_by: str,
    ) -> None:
        check_strategy_name(name)
        if number < 1:
            raise InvalidValue("version", "version numbers start at 1")
        if not code.strip():
            raise InvalidValue("code", "the strategy source is empty")
        if len(code.encode("utf-8")) > MAX_CODE_BYTES:
            raise InvalidValue("code", f"the strategy source is over {MAX_CODE_BYTES} bytes")
        self.name = name
        # `number` (1, 2, ...) names the version; `version` is the aggregate's own event count.
        self.number = number
        self.code = code
        self.code_sha256 = code_sha256
        self.parameters = dict(parameters)
        self.description = description
        self.registered_by = registered_by
        self.stage = Stage.REGISTERED

    @classmethod
    def register(
        cls,
        name: str,
        number: int,
        code: str,
        parameters: dict[str, Any],
        description: str,
        registered_by: str,
    ) -> StrategyVersion:
        """Register `code` as version `number`, computing its content address."""
        return cls(
            name=name,
            number=number,
            code=code,
            code_sha256=code_sha256(code),
            parameters=parameters,
            description=description,
            registered_by=registered_by,
        )
