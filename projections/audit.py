"""The audit trail of a strategy, replayed from the event store on purpose (not a read model)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One thing someone did to the strategy, in the order it happened."""

    at: datetime
    actor: str
    action: str
    version: int | None
    details: dict[str, Any]


def audit_trail(events: Iterable[Any]) -> list[AuditEntry]:
    """Entries for the events of a strategy and its versions, oldest first.

    Bookkeeping events that repeat another event (VersionAdded, StageAssigned) are left out.
    """
    numbers: dict[Any, int] = {}
    entries: list[AuditEntry] = []
    for event in sorted(events, key=lambda e: e.timestamp):
        entry = _entry(event, numbers)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(e: Any, numbers: dict[Any, int]) -> AuditEntry | None:
    at = e.timestamp
    details: dict[str, Any]
    if isinstance(e, Strategy.Created):
        return AuditEntry(
            at=at, actor=e.created_by, action="strategy created", version=None, details={}
        )
    if isinstance(e, StrategyVersion.Registered):
        numbers[e.originator_id] = e.number
        details = {"code_sha256": e.code_sha256, "description": e.description}
        return AuditEntry(
            at=at,
            actor=e.registered_by,
            action="version registered",
            version=e.number,
            details=details,
        )
    number = numbers.get(e.originator_id)
    if isinstance(e, StrategyVersion.PromotionRequested):
        details = {
            "promotion_id": str(e.promotion_id), "target_stage": e.target_stage,
            "backtest_id": str(e.backtest_id), "gates": e.gates,
        }  # fmt: skip
        return AuditEntry(
            at=at,
            actor=e.requested_by,
            action="promotion requested",
            version=e.number,
            details=details,
        )
    if isinstance(e, StrategyVersion.PromotionApproved):
        details = {"promotion_id": str(e.promotion_id)}
        return AuditEntry(
            at=at, actor=e.approved_by, action="promotion approved", version=number, details=details
        )
    if isinstance(e, StrategyVersion.PromotionRejected):
        details = {"promotion_id": str(e.promotion_id), "reason": e.reason}
        return AuditEntry(
            at=at, actor=e.rejected_by, action="promotion rejected", version=number, details=details
        )
    if isinstance(e, StrategyVersion.StageChanged):
        details = {"from": e.previous, "to": e.stage, "cause": e.cause}
        return AuditEntry(
            at=at, actor=e.changed_by, action="stage changed", version=number, details=details
        )
    if isinstance(e, Strategy.Deployed):
        details = {"environment": e.environment, "revision": e.revision}
        return AuditEntry(
            at=at, actor=e.deployed_by, action="deployed", version=e.number, details=details
        )
    if isinstance(e, Strategy.RolledBack):
        details = {
            "environment": e.environment, "revision": e.revision,
            "from_revision": e.from_revision, "to_revision": e.to_revision,
        }  # fmt: skip
        return AuditEntry(
            at=at, actor=e.rolled_back_by, action="rolled back", version=e.number, details=details
        )
    return None
