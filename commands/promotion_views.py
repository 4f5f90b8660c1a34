"""Views of promotions and deployment revisions (commands return them, projections keep them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.strategy_version import StrategyVersion


class GateView(msgspec.Struct, frozen=True):
    name: str
    passed: bool
    actual: Any
    threshold: Any


class PromotionView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    strategy: str
    version: int
    target_stage: str
    backtest_id: UUID
    status: str
    gates: list[GateView]
    requested_by: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


class RevisionView(msgspec.Struct, frozen=True, kw_only=True):
    """One revision of one environment: which version it runs, and how it came to."""

    environment: str
    revision: int
    version: int
    kind: str  # "deploy" or "rollback"
    by: str
    at: datetime
    to_revision: int | None = None


def promotion_view(version: StrategyVersion, promotion_id: UUID) -> PromotionView:
    p = version.promotions[promotion_id]
    return PromotionView(
        id=promotion_id,
        strategy=version.name,
        version=version.number,
        target_stage=p["target_stage"],
        backtest_id=p["backtest_id"],
        status=p["status"],
        gates=[GateView(**g) for g in p["gates"]],
        requested_by=p["requested_by"],
        requested_at=p["requested_at"],
        decided_by=p.get("decided_by"),
        decided_at=p.get("decided_at"),
        reason=p.get("reason"),
    )
