"""The audit trail of a strategy, replayed from the event store on purpose (not a read model)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import msgspec

from commands.store import StoredEvent
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One thing someone did to the strategy, in the order it happened."""

    position: int  # in the event log: the order things happened, whatever the clocks said
    at: datetime
    actor: str
    action: str
    version: int | None
    details: dict[str, Any]


def audit_trail(events: Iterable[StoredEvent]) -> list[AuditEntry]:
    """Entries for the events of a strategy and its versions, in log order.

    The log's order, not the timestamps: events of different aggregates may be stamped by
    different processes (or in one command within the same microsecond), while the log
    orders every commit once. Bookkeeping events that repeat another event (VersionAdded,
    StageAssigned) are left out.
    """
    numbers: dict[Any, int] = {}
    entries: list[AuditEntry] = []
    for stored in sorted(events, key=lambda e: e.position):
        entry = _entry(stored.event, numbers, stored.position)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(e: Any, numbers: dict[Any, int], position: int) -> AuditEntry | None:
    def made(actor: str, action: str, version: int | None, details: dict[str, Any]) -> AuditEntry:
        return AuditEntry(
            position=position, at=e.timestamp, actor=actor, action=action, version=version,
            details=details,
        )  # fmt: skip

    details: dict[str, Any]
    if isinstance(e, Strategy.Created):
        return made(e.created_by, "strategy created", None, {})
    if isinstance(e, StrategyVersion.Registered):
        numbers[e.originator_id] = e.number
        details = {"code_sha256": e.code_sha256, "description": e.description}
        return made(e.registered_by, "version registered", e.number, details)
    number = numbers.get(e.originator_id)
    if isinstance(e, StrategyVersion.PromotionRequested):
        details = {
            "promotion_id": str(e.promotion_id), "target_stage": e.target_stage,
            "backtest_id": str(e.backtest_id), "gates": e.gates,
        }  # fmt: skip
        return made(e.requested_by, "promotion requested", e.number, details)
    if isinstance(e, StrategyVersion.PromotionApproved):
        details = {"promotion_id": str(e.promotion_id)}
        return made(e.approved_by, "promotion approved", number, details)
    if isinstance(e, StrategyVersion.PromotionRejected):
        details = {"promotion_id": str(e.promotion_id), "reason": e.reason}
        return made(e.rejected_by, "promotion rejected", number, details)
    if isinstance(e, StrategyVersion.StageChanged):
        details = {"from": e.previous, "to": e.stage, "cause": e.cause}
        return made(e.changed_by, "stage changed", number, details)
    if isinstance(e, Strategy.MaintainerAdded):
        return made(e.added_by, "maintainer added", None, {"user": e.user})
    if isinstance(e, Strategy.MaintainerRemoved):
        return made(e.removed_by, "maintainer removed", None, {"user": e.user})
    if isinstance(e, Strategy.Deployed):
        details = {"environment": e.environment, "revision": e.revision}
        return made(e.deployed_by, "deployed", e.number, details)
    if isinstance(e, Strategy.RolledBack):
        details = {
            "environment": e.environment, "revision": e.revision,
            "from_revision": e.from_revision, "to_revision": e.to_revision,
        }  # fmt: skip
        return made(e.rolled_back_by, "rolled back", e.number, details)
    return None
