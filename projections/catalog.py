"""Projects Strategy and StrategyVersion events into the catalog documents."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from msgspec.structs import replace

from commands.promotion_views import GateView, PromotionView, RevisionView
from commands.views import LiveRevision, StrategyVersionView, StrategyView, parameter_views
from domain.parameter_bounds import shown_parameters
from domain.promotion import PromotionStatus
from domain.strategy import Strategy
from domain.strategy_version import Stage, StrategyVersion

# The stages a version can hold for a strategy; 'registered' and 'retired' are not slots.
STAGE_SLOTS = (Stage.STAGING.value, Stage.PRODUCTION.value)


def project_strategy(view: StrategyView | None, event: Any) -> StrategyView | None:
    """The strategy's catalog entry after `event`."""
    if isinstance(event, Strategy.Created):
        return StrategyView(
            name=event.name,
            latest_version=0,
            versions=(),
            stages=dict.fromkeys(STAGE_SLOTS),
            created_by=event.created_by,
            created_at=event.timestamp,
            updated_at=event.timestamp,
        )
    if view is None:
        return None
    if isinstance(event, Strategy.VersionAdded):
        return replace(
            view,
            latest_version=max(view.latest_version, event.number),
            versions=(*view.versions, event.number),
            updated_at=event.timestamp,
        )
    if isinstance(event, Strategy.StageAssigned):
        return replace(
            view, stages=view.stages | {event.stage: event.number}, updated_at=event.timestamp
        )
    if isinstance(event, Strategy.MaintainerAdded):
        maintainers = tuple(sorted({*view.maintainers, event.user}))
        return replace(view, maintainers=maintainers, updated_at=event.timestamp)
    if isinstance(event, Strategy.MaintainerRemoved):
        maintainers = tuple(m for m in view.maintainers if m != event.user)
        return replace(view, maintainers=maintainers, updated_at=event.timestamp)
    if isinstance(event, Strategy.Deployed | Strategy.RolledBack):
        revision = _revision(event)
        history = [*view.deployments.get(event.environment, []), revision]
        return replace(
            view,
            live=view.live | {event.environment: LiveRevision(event.revision, event.number)},
            deployments=view.deployments | {event.environment: history},
            updated_at=event.timestamp,
        )
    return view


def project_version(view: StrategyVersionView | None, event: Any) -> StrategyVersionView | None:
    """The version's document after `event`."""
    if isinstance(event, StrategyVersion.Registered):
        return StrategyVersionView(
            id=event.originator_id,
            name=event.name,
            version=event.number,
            code_sha256=event.code_sha256,
            code=event.code,
            parameters=shown_parameters(event.parameters),
            description=event.description,
            stage=Stage.REGISTERED.value,
            registered_by=event.registered_by,
            registered_at=event.timestamp,
            aggregate_version=event.originator_version,
            declared=parameter_views(event.declared),
        )
    if view is None:
        return None
    version = event.originator_version
    if isinstance(event, StrategyVersion.PromotionRequested):
        return replace(
            view, promotions=(*view.promotions, event.promotion_id), aggregate_version=version
        )
    if isinstance(event, StrategyVersion.StageChanged):
        return replace(view, stage=event.stage, aggregate_version=version)
    return replace(view, aggregate_version=version)


def project_promotion(view: PromotionView | None, event: Any) -> PromotionView | None:
    """The promotion's document after `event`."""
    if isinstance(event, StrategyVersion.PromotionRequested):
        return PromotionView(
            id=event.promotion_id,
            strategy=event.strategy,
            version=event.number,
            target_stage=event.target_stage,
            backtest_id=event.backtest_id,
            status=PromotionStatus.PENDING.value,
            gates=[GateView(**g) for g in event.gates],
            requested_by=event.requested_by,
            requested_at=event.timestamp,
        )
    if view is None:
        return None
    if isinstance(event, StrategyVersion.PromotionApproved):
        return replace(
            view,
            status=PromotionStatus.APPROVED.value,
            decided_by=event.approved_by,
            decided_at=event.timestamp,
        )
    if isinstance(event, StrategyVersion.PromotionRejected):
        return replace(
            view,
            status=PromotionStatus.REJECTED.value,
            decided_by=event.rejected_by,
            decided_at=event.timestamp,
            reason=event.reason,
        )
    return view


def promotion_id_of(event: Any) -> UUID | None:
    return (
        getattr(event, "promotion_id", None) if isinstance(event, StrategyVersion.Event) else None
    )


def _revision(event: Strategy.Deployed | Strategy.RolledBack) -> RevisionView:
    if isinstance(event, Strategy.RolledBack):
        kind, by, target = "rollback", event.rolled_back_by, event.to_revision
    else:
        kind, by, target = "deploy", event.deployed_by, None
    return RevisionView(
        environment=event.environment, revision=event.revision, version=event.number,
        kind=kind, by=by, at=event.timestamp, to_revision=target,
    )  # fmt: skip
