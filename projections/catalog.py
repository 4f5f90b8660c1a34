"""Projects Strategy and StrategyVersion events into the catalog documents."""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from commands.views import StrategyVersionView, StrategyView
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
            parameters=dict(event.parameters),
            description=event.description,
            stage=Stage.REGISTERED.value,
            registered_by=event.registered_by,
            registered_at=event.timestamp,
            aggregate_version=event.originator_version,
        )
    if view is None:
        return None
    return replace(view, aggregate_version=event.originator_version)
