"""Request and response bodies of the parameter-sweep endpoints (API.md: Parameter sweeps)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

from app.schemas import (
    PRIORITIES,
    Exchange,
    Number,
    Pair,
    Positive,
    RequestScalar,
    StrategyName,
    Timeframe,
    Timerange,
    _form,
)
from commands.sweep_views import BestTrial, SweepView, TrialView
from domain.sweep_settings import MAX_TRIALS, OBJECTIVES, Direction, Method

# Integers stay integers (an IntParameter's range), decimals stay decimals.
Finite = Annotated[int, Meta(ge=-(10**15), le=10**15)] | Annotated[float, Meta(ge=-1e15, le=1e15)]
Step = Annotated[int, Meta(gt=0, le=10**15)] | Annotated[float, Meta(gt=0, le=1e15)]


class SpaceRange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A numeric range of one parameter: `low`..`high` by `step` (without a step, a decimal
    parameter is sampled continuously, rounded to its declared decimals; a grid needs a step)."""

    low: Finite
    high: Finite
    step: Step | None = None


SpaceEntry = Annotated[list[RequestScalar], Meta(min_length=1, max_length=1000)] | SpaceRange


class SweepCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /sweeps: the settings of a backtest, plus the parameter space to search."""

    strategy: StrategyName
    strategy_version: Number | None = None
    pairs: Annotated[list[Pair], Meta(min_length=1, max_length=100)]
    timeframe: Timeframe
    timerange: Timerange
    exchange: Exchange = "binance"
    stake_amount: Positive | None = None
    max_open_trades: Annotated[int, Meta(ge=1, le=1000)] | None = None
    starting_balance: Positive | None = None
    fee: Annotated[float, Meta(ge=0, lt=0.1)] | None = None
    space: Annotated[
        dict[Annotated[str, Meta(min_length=1, max_length=64)], SpaceEntry],
        Meta(
            min_length=1,
            max_length=32,
            description="parameter name -> a list of values, or {low, high, step}; names and "
            "values are checked against the version's declared parameters (422 naming "
            "`space.<name>`)",
            examples=[{"fast_span": [8, 12, 16], "slow_span": {"low": 20, "high": 30, "step": 10}}],
        ),
    ]
    method: Annotated[str, _form(8, "grid", enum=tuple(m.value for m in Method))] = "grid"
    max_trials: Annotated[int, Meta(ge=1, le=MAX_TRIALS)] = 100
    objective: Annotated[str, _form(32, "sharpe", enum=OBJECTIVES)]
    direction: Annotated[str, _form(8, "maximize", enum=tuple(d.value for d in Direction))] = (
        "maximize"
    )
    seed: Annotated[int, Meta(ge=0, le=2**31 - 1)] | None = None
    priority: Annotated[str, _form(8, "normal", enum=PRIORITIES)] = "normal"

    def space_dict(self) -> dict[str, Any]:
        return {
            name: msgspec.structs.asdict(entry) if isinstance(entry, SpaceRange) else list(entry)
            for name, entry in self.space.items()
        }


class TrialPage(msgspec.Struct, frozen=True):
    """Trials in trial order from `offset`; `next_offset` asks for the next page (null: none)."""

    items: list[TrialView]
    offset: int
    next_offset: int | None


class Sweep(msgspec.Struct, frozen=True, kw_only=True):
    """One sweep: its settings, counts, the best trial so far and (on GET /sweeps/{id}) a page
    of its trials in trial order."""

    id: UUID
    strategy: str
    strategy_version: int
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str
    exchange: str
    stake_amount: float | None
    max_open_trades: int | None
    starting_balance: float | None
    fee: float | None
    space: dict[str, Any]
    method: str
    max_trials: int
    objective: str
    direction: str
    seed: int
    priority: str
    submitted_by: str
    submitted_at: datetime
    status: str
    error: str | None
    total: int
    done: int
    failed: int
    pending: int
    best: BestTrial | None
    trials: TrialPage
    version: int

    @classmethod
    def of(cls, view: SweepView, trials: TrialPage) -> Sweep:
        fields = {n: getattr(view, n) for n in cls.__struct_fields__ if n != "trials"}
        return cls(**fields, trials=trials)


class SweepPage(msgspec.Struct, frozen=True):
    """Sweeps, newest first; each with the first page of its trials left empty (ask the sweep)."""

    items: list[Sweep]
    next_cursor: str | None
