"""Command messages: what a client asks the system to do, as immutable msgspec structs."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec

from domain.parameter_bounds import check_parameters

# A sweep's grid may list more values of one parameter than a `parameters` list holds.
MAX_SPACE_VALUES = 1000


class SubmitBacktest(msgspec.Struct, frozen=True, kw_only=True):
    """Run `strategy` (a registered version; latest when None) over pairs, timeframe, range."""

    strategy: str
    strategy_version: int | None = None
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str
    exchange: str = "binance"
    stake_amount: float | None = None
    max_open_trades: int | None = None
    starting_balance: float | None = None
    fee: float | None = None
    parameters: dict[str, Any] = {}
    priority: str = "normal"

    def __post_init__(self) -> None:
        check_parameters("parameters", self.parameters)


class CancelBacktest(msgspec.Struct, frozen=True, kw_only=True):
    """Stop a job that has not finished."""

    job_id: UUID


class RetryBacktest(msgspec.Struct, frozen=True, kw_only=True):
    """Run a failed job again, as its next attempt."""

    job_id: UUID


class RegisterStrategyVersion(msgspec.Struct, frozen=True, kw_only=True):
    """Register `code` as the next version of strategy `name`."""

    name: str
    code: str
    parameters: dict[str, Any] = {}
    description: str = ""

    def __post_init__(self) -> None:
        # Free-form metadata once; now flat and bounded (versions registered before keep theirs).
        check_parameters("parameters", self.parameters)


class AddMaintainer(msgspec.Struct, frozen=True, kw_only=True):
    """Let `user` register versions of strategy `name` (its owner or an admin asks)."""

    name: str
    user: str


class RemoveMaintainer(msgspec.Struct, frozen=True, kw_only=True):
    """Take back `user`'s right to register versions of strategy `name`."""

    name: str
    user: str


class RequestPromotion(msgspec.Struct, frozen=True, kw_only=True):
    """Ask to promote version `number` of strategy `name` to `target_stage`, citing a backtest."""

    name: str
    number: int
    target_stage: str
    backtest_id: UUID


class DecidePromotion(msgspec.Struct, frozen=True, kw_only=True):
    """Approve (reason empty) or reject a pending promotion of version `number` of `name`."""

    promotion_id: UUID
    name: str
    number: int
    approve: bool
    reason: str = ""


class DeployVersion(msgspec.Struct, frozen=True, kw_only=True):
    """Run version `number` of strategy `name` in `environment`."""

    name: str
    number: int
    environment: str


class RollBack(msgspec.Struct, frozen=True, kw_only=True):
    """Return `environment` to the previous revision, or to `to_revision`."""

    name: str
    environment: str
    to_revision: int | None = None


class SubmitSweep(msgspec.Struct, frozen=True, kw_only=True):
    """Search `space` of a registered strategy version (latest when None): `max_trials`
    backtests with the settings of a submit, each with its own parameter values, to find the
    best `objective` (a result metric) in `direction`."""

    strategy: str
    strategy_version: int | None = None
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str
    exchange: str = "binance"
    stake_amount: float | None = None
    max_open_trades: int | None = None
    starting_balance: float | None = None
    fee: float | None = None
    space: dict[str, Any]
    method: str = "grid"
    max_trials: int = 100
    objective: str
    direction: str = "maximize"
    seed: int | None = None
    priority: str = "normal"

    def __post_init__(self) -> None:
        # A range ({"low", "high", "step"}) is a bounded struct already; lists are checked here.
        lists = {name: entry for name, entry in self.space.items() if not isinstance(entry, dict)}
        check_parameters("space", lists, max_items=MAX_SPACE_VALUES)


class CancelSweep(msgspec.Struct, frozen=True, kw_only=True):
    """Stop a sweep: no more trials; its trials' backtests that have not ended are cancelled."""

    sweep_id: UUID
