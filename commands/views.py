"""Views: how aggregates look from outside. Commands return them; projections store them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from commands.promotion_views import RevisionView
from domain.backtest_job import BacktestJob
from domain.parameter_bounds import shown_parameters
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion


class Progress(msgspec.Struct, frozen=True):
    """How far the running attempt got: `phase` (dataload, analyze, backtest, ...) and 0..1."""

    phase: str | None = None
    fraction: float = 0.0


class BacktestJobView(msgspec.Struct, frozen=True, kw_only=True):
    """One backtest job as clients see it."""

    id: UUID
    strategy: str
    strategy_version: int
    code_sha256: str
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str
    exchange: str
    stake_amount: float | None
    max_open_trades: int | None
    starting_balance: float | None
    fee: float | None
    status: str
    progress: Progress
    attempt: int
    worker: str | None
    submitted_by: str
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    cancel_requested: bool
    summary: dict[str, float | int | None] | None
    artifacts: dict[str, str]
    lease_expires_at: datetime | None
    version: int
    # Defaults: documents stored before these fields existed decode as what the upcast
    # events say (the strategy's defaults, normal priority, no sweep).
    parameters: dict[str, Any] = {}
    priority: str = "normal"
    sweep_id: UUID | None = None


class ParameterView(msgspec.Struct, frozen=True, kw_only=True):
    """A hyperoptable parameter the version's code declares: its range or choices, default."""

    name: str
    kind: str
    space: str
    default: int | float | str | bool | None
    low: int | float | None = None
    high: int | float | None = None
    choices: list[int | float | str | bool | None] | None = None
    decimals: int | None = None


class StrategyVersionView(msgspec.Struct, frozen=True, kw_only=True):
    """One registered version of a strategy."""

    id: UUID
    name: str
    version: int
    code_sha256: str
    code: str
    parameters: dict[str, Any]
    description: str
    stage: str
    registered_by: str
    registered_at: datetime
    aggregate_version: int
    promotions: tuple[UUID, ...] = ()
    declared: tuple[ParameterView, ...] = ()  # the code's parameters; () before version 2


class StrategyView(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy in the catalog: its versions and which version holds each stage."""

    name: str
    latest_version: int
    versions: tuple[int, ...]
    stages: dict[str, int | None]
    created_by: str
    created_at: datetime
    updated_at: datetime
    live: dict[str, LiveRevision] = {}
    deployments: dict[str, list[RevisionView]] = {}
    maintainers: tuple[str, ...] = ()  # besides the owner, `created_by`


class MaintainersView(msgspec.Struct, frozen=True, kw_only=True):
    """Who may register versions of a strategy: its owner and the maintainers they added."""

    name: str
    owner: str
    maintainers: tuple[str, ...]


def maintainers_view(strategy: Strategy) -> MaintainersView:
    return MaintainersView(
        name=strategy.name, owner=strategy.owner, maintainers=tuple(sorted(strategy.maintainers))
    )


class LiveRevision(msgspec.Struct, frozen=True):
    """What an environment runs now."""

    revision: int
    version: int


def job_view(job: BacktestJob) -> BacktestJobView:
    """The view of a job as its aggregate holds it right now."""
    return BacktestJobView(
        id=job.id,
        strategy=job.strategy,
        strategy_version=job.strategy_version,
        code_sha256=job.code_sha256,
        pairs=job.pairs,
        timeframe=job.timeframe,
        timerange=job.timerange,
        exchange=job.exchange,
        stake_amount=job.stake_amount,
        max_open_trades=job.max_open_trades,
        starting_balance=job.starting_balance,
        fee=job.fee,
        status=job.status.value,
        progress=Progress(job.progress_phase, job.progress_fraction),
        attempt=job.attempt,
        worker=job.worker,
        submitted_by=job.submitted_by,
        submitted_at=job.created_on,
        started_at=job.started_at,
        finished_at=job.finished_at,
        error=job.error,
        cancel_requested=job.cancel_requested_by is not None,
        summary=job.summary,
        artifacts=job.artifacts,
        lease_expires_at=job.lease_expires_at,
        version=job.version,
        parameters=dict(job.parameters),
        priority=job.priority.value,
        sweep_id=job.sweep_id,
    )


def strategy_version_view(version: StrategyVersion) -> StrategyVersionView:
    """The view of a strategy version as its aggregate holds it right now."""
    return StrategyVersionView(
        id=version.id,
        name=version.name,
        version=version.number,
        code_sha256=version.code_sha256,
        code=version.code,
        parameters=shown_parameters(version.parameters),
        description=version.description,
        stage=version.stage.value,
        registered_by=version.registered_by,
        registered_at=version.created_on,
        aggregate_version=version.version,
        promotions=tuple(version.promotions),
        declared=parameter_views(spec.as_dict() for spec in version.declared),
    )


def parameter_views(records: Iterable[dict[str, Any]]) -> tuple[ParameterView, ...]:
    """Declared-parameter records (as events hold them) as views."""
    return tuple(msgspec.convert(record, ParameterView) for record in records)
