"""Request and response bodies of the public API (API.md), separate from domain and views."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

from commands.promotion_views import PromotionView
from commands.views import (
    BacktestJobView,
    LiveRevision,
    MaintainersView,
    ParameterView,
    Progress,
    StrategyVersionView,
    StrategyView,
)
from domain.backtest_job import Priority
from domain.market import EXCHANGE, PAIR, TIMEFRAMES, TIMERANGE
from domain.parameter_bounds import MAX_ENTRIES, MAX_LIST_ITEMS, MAX_NAME_LENGTH, MAX_STRING_LENGTH
from domain.strategy import ENVIRONMENTS, STRATEGY_NAME, USER
from domain.strategy_version import PROMOTABLE
from projections.results import EquityPointView, PairResult, Trade

Positive = Annotated[float, Meta(gt=0)]
ParameterValue = int | float | str | bool | None
# The same in a request: the string's bound is documented, and checked (422) by the domain.
RequestScalar = (
    int
    | float
    | Annotated[str, Meta(extra_json_schema={"maxLength": MAX_STRING_LENGTH})]
    | bool
    | None
)
PRIORITIES = tuple(p.value for p in Priority)
Number = Annotated[int, Meta(ge=1, le=2**31 - 1)]  # a version or revision: fits every database


def parameters_schema(*, lists: bool) -> dict[str, Any]:
    """The documented bounds of a `parameters` object (domain/parameter_bounds.py checks
    them and answers 422 naming the entry, so they are documented here, not decoded)."""
    scalars: list[dict[str, Any]] = [
        {"type": "integer"},
        {"type": "number"},
        {"type": "string", "maxLength": MAX_STRING_LENGTH},
        {"type": "boolean"},
        {"type": "null"},
    ]
    listed = {"type": "array", "maxItems": MAX_LIST_ITEMS, "items": {"anyOf": scalars}}
    bounds: dict[str, Any] = {
        "maxProperties": MAX_ENTRIES,
        "propertyNames": {"minLength": 1, "maxLength": MAX_NAME_LENGTH},
    }
    # Without lists the value type (RequestScalar) documents itself: msgspec's schema of the
    # dict's values would replace this one.
    return bounds | {"additionalProperties": {"anyOf": [*scalars, listed]}} if lists else bounds


def _form(max_length: int, example: str, min_length: int | None = 1, **form: Any) -> Meta:
    """A text field whose length msgspec enforces (400) and whose form (`pattern` or `enum`)
    is only documented: the domain checks it and answers 422 naming the field."""
    return Meta(
        min_length=min_length, max_length=max_length, examples=[example], extra_json_schema=form
    )


StrategyName = Annotated[str, _form(64, "SampleEmaCross", pattern=STRATEGY_NAME.pattern)]
UserName = Annotated[str, _form(128, "bob", pattern=USER.pattern)]
Pair = Annotated[str, _form(40, "BTC/USDT", min_length=None, pattern=PAIR.pattern)]
Timeframe = Annotated[str, _form(32, "5m", enum=TIMEFRAMES)]
Timerange = Annotated[str, _form(32, "20240101-20240401", pattern=TIMERANGE.pattern)]
Exchange = Annotated[str, _form(32, "binance", pattern=EXCHANGE.pattern)]
Environment = Annotated[str, _form(16, "staging", enum=ENVIRONMENTS)]
TargetStage = Annotated[str, _form(16, "staging", enum=tuple(PROMOTABLE))]


class JobStatusFilter(StrEnum):
    SUBMITTED = "submitted"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class BacktestCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /backtests: what to backtest. Formats are checked by the domain, field by field."""

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
    parameters: Annotated[
        dict[str, RequestScalar],
        Meta(
            description="values of the strategy's own parameters by name (422 naming "
            "`parameters.<name>` when it declares no such parameter, or the value has the "
            "wrong type or is outside its range or choices)",
            examples=[{"fast_span": 10}],
            extra_json_schema=parameters_schema(lists=False),
        ),
    ] = {}
    priority: Annotated[str, _form(8, "normal", enum=PRIORITIES)] = "normal"


class Backtest(msgspec.Struct, frozen=True, kw_only=True):
    """One backtest job."""

    id: UUID
    strategy: str
    strategy_version: int
    status: str
    progress: Progress
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    attempt: int
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str
    exchange: str
    stake_amount: float | None
    max_open_trades: int | None
    starting_balance: float | None
    fee: float | None
    code_sha256: str
    submitted_by: str
    worker: str | None
    cancel_requested: bool
    version: int
    # Defaults: stored documents older than these fields decode as their upcast events say.
    parameters: dict[str, ParameterValue] = {}
    priority: str = "normal"
    sweep_id: UUID | None = None

    @classmethod
    def of(cls, view: BacktestJobView) -> Backtest:
        return cls(**{name: getattr(view, name) for name in cls.__struct_fields__})


class BacktestPage(msgspec.Struct, frozen=True):
    items: list[Backtest]
    next_cursor: str | None


class BacktestResult(msgspec.Struct, frozen=True, kw_only=True):
    """GET /backtests/{id}/result: freqtrade's numbers for a completed job."""

    id: UUID
    strategy: str
    strategy_version: int
    metrics: dict[str, float | None]  # JSON numbers: integers too (a union would be a oneOf)
    per_pair: list[PairResult]
    trade_count: int
    backtest_start: datetime | None
    backtest_end: datetime | None
    artifacts: list[str]
    error: str | None = None


class TradePage(msgspec.Struct, frozen=True):
    items: list[Trade]
    next_cursor: str | None


class Equity(msgspec.Struct, frozen=True, kw_only=True):
    """GET /backtests/{id}/equity: realised equity and drawdown (0..1) after each close."""

    id: UUID
    starting_balance: float | None
    max_drawdown: float
    points: list[EquityPointView]


class JobEvent(msgspec.Struct, frozen=True):
    """One stored event of a job, as the event store holds it."""

    position: int  # in the log: subscribe to `backtests/<id>` with `since` this to miss nothing
    version: int
    type: str
    timestamp: datetime
    data: dict[str, Any]


class StrategyVersionCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST /strategies/{name}/versions: the strategy's Python source and optional metadata."""

    code: Annotated[str, Meta(min_length=1)]
    parameters: Annotated[
        dict[str, Any],
        Meta(
            description="the version's own metadata: names to scalars or lists of scalars",
            extra_json_schema=parameters_schema(lists=True),
        ),
    ] = {}
    description: Annotated[str, Meta(max_length=2000)] = ""


class StrategyVersionSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A version as lists show it (without its source)."""

    name: str
    version: int
    code_sha256: str
    stage: str
    description: str
    parameters: dict[str, Any]  # the registration body's free-form `parameters`, as given
    declared_parameters: list[ParameterView]  # what the code declares; submits may set them
    registered_by: str
    registered_at: datetime

    @classmethod
    def of(cls, view: StrategyVersionView) -> StrategyVersionSummary:
        return cls(**_version_fields(cls, view))


def _version_fields(cls: type[msgspec.Struct], view: StrategyVersionView) -> dict[str, Any]:
    renamed = {"declared_parameters": list(view.declared)}
    return {
        name: renamed[name] if name in renamed else getattr(view, name)
        for name in cls.__struct_fields__
        if name in renamed or hasattr(view, name)
    }


class StrategyVersionDetail(StrategyVersionSummary, frozen=True, kw_only=True):
    """One version with its source, its promotions and the backtests that ran it."""

    code: str
    id: UUID
    promotions: list[PromotionView] = []
    backtests: list[UUID] = []
    at: datetime | None = None

    @classmethod
    def of(
        cls,
        view: StrategyVersionView,
        promotions: list[PromotionView] | None = None,
        backtests: list[UUID] | None = None,
        at: datetime | None = None,
    ) -> StrategyVersionDetail:
        own = {n: v for n, v in _version_fields(cls, view).items() if n != "promotions"}
        return cls(**own, promotions=promotions or [], backtests=backtests or [], at=at)


class StrategySummary(msgspec.Struct, frozen=True, kw_only=True):
    """A catalog entry: latest version, the version in each stage, what each environment runs."""

    name: str
    latest_version: int
    versions: tuple[int, ...]
    stages: dict[str, int | None]
    live: dict[str, LiveRevision]
    created_by: str  # the owner: whoever registered version 1
    maintainers: tuple[str, ...]  # who else may register versions
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: StrategyView) -> StrategySummary:
        return cls(**{name: getattr(view, name) for name in cls.__struct_fields__})


class MaintainerCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Let `user` (a token subject) register versions of the strategy."""

    user: UserName


class Maintainers(msgspec.Struct, frozen=True, kw_only=True):
    """Who may register versions of a strategy: its owner, the maintainers, and any admin."""

    name: str
    owner: str
    maintainers: tuple[str, ...]

    @classmethod
    def of(cls, view: MaintainersView) -> Maintainers:
        return cls(name=view.name, owner=view.owner, maintainers=view.maintainers)


class StrategyPage(msgspec.Struct, frozen=True):
    items: list[StrategySummary]
    next_cursor: str | None


class StrategyDetail(msgspec.Struct, frozen=True, kw_only=True):
    """One strategy and all its versions."""

    name: str
    latest_version: int
    stages: dict[str, int | None]
    live: dict[str, LiveRevision]
    created_by: str  # the owner: whoever registered version 1
    maintainers: tuple[str, ...]  # who else may register versions
    created_at: datetime
    updated_at: datetime
    versions: list[StrategyVersionSummary]

    @classmethod
    def of(cls, view: StrategyView, versions: list[StrategyVersionView]) -> StrategyDetail:
        fields = {n: getattr(view, n) for n in cls.__struct_fields__ if n != "versions"}
        return cls(**fields, versions=[StrategyVersionSummary.of(v) for v in versions])


class Health(msgspec.Struct, frozen=True):
    """Readiness: one line per dependency, and how far each subscriber got in the event log."""

    status: str
    checks: dict[str, str] = {}
    positions: dict[str, int] = {}
    gauges: dict[str, int] = {}


class PairCoverage(msgspec.Struct, frozen=True):
    pair: str
    available: bool
    covers_range: bool
    first: datetime | None
    last: datetime | None
    candles: int


class DataAvailability(msgspec.Struct, frozen=True):
    """GET /data/availability: which candles exist for each pair."""

    exchange: str
    timeframe: str
    timerange: str
    complete: bool
    pairs: list[PairCoverage]
