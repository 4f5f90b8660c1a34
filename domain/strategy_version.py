"""The StrategyVersion aggregate: one immutable version of a strategy's code and its stage."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import IllegalTransition, InvalidValue, NotPermitted, UnknownItem
from domain.identity import strategy_version_id
from domain.promotion import Gate, GatesFailed, PromotionStatus
from domain.strategy import check_strategy_name
from domain.strategy_source import ParameterSpec, check_parameter_values, read_strategy

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
        """A researcher registered this code as the next version of the strategy.

        `parameters` is the free-form object the registration body carried; `declared` is what
        the code declared (ParameterSpec records), read when it was registered. Version 1 had
        no `declared`: those versions were registered unchecked and declare nothing.
        """

        name: str
        number: int
        code: str
        code_sha256: str
        parameters: dict[str, Any]
        description: str
        registered_by: str
        declared: list[dict[str, Any]]
        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["declared"] = []

    class PromotionRequested(Aggregate.Event):
        """A researcher asked to promote this version; `gates` records what the checks found."""

        promotion_id: UUID
        strategy: str
        number: int
        target_stage: str
        backtest_id: UUID
        requested_by: str
        gates: list[dict[str, Any]]

        def apply(self, version: StrategyVersion) -> None:
            version.promotions[self.promotion_id] = {
                "target_stage": self.target_stage,
                "backtest_id": self.backtest_id,
                "requested_by": self.requested_by,
                "status": PromotionStatus.PENDING.value,
                "gates": list(self.gates),
                "requested_at": self.timestamp,
            }

    class PromotionApproved(Aggregate.Event):
        """A second person approved the promotion."""

        promotion_id: UUID
        approved_by: str

        def apply(self, version: StrategyVersion) -> None:
            promotion = version.promotions[self.promotion_id]
            promotion["status"] = PromotionStatus.APPROVED.value
            promotion["decided_by"] = self.approved_by
            promotion["decided_at"] = self.timestamp

    class PromotionRejected(Aggregate.Event):
        """A second person rejected the promotion, saying why."""

        promotion_id: UUID
        rejected_by: str
        reason: str

        def apply(self, version: StrategyVersion) -> None:
            promotion = version.promotions[self.promotion_id]
            promotion["status"] = PromotionStatus.REJECTED.value
            promotion["decided_by"] = self.rejected_by
            promotion["decided_at"] = self.timestamp
            promotion["reason"] = self.reason

    class StageChanged(Aggregate.Event):
        """The version reached `stage` (or was retired), because of `cause`."""

        stage: str
        previous: str
        changed_by: str
        cause: str

        def apply(self, version: StrategyVersion) -> None:
            version.stage = Stage(self.stage)

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
        declared: list[dict[str, Any]],
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
        self.declared = tuple(ParameterSpec.from_dict(d) for d in declared)
        self.stage = Stage.REGISTERED
        self.promotions: dict[UUID, dict[str, Any]] = {}

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
        """Register `code` as version `number`, computing its content address; refused
        (InvalidValue on `code`) unless the code parses and defines class `name` deriving from
        IStrategy, whose parameters are recorded."""
        if code.strip() and len(code.encode("utf-8")) <= MAX_CODE_BYTES:
            declared = read_strategy(code, name)
        else:
            declared = ()  # __init__ refuses it, with its own reason
        return cls(
            name=name,
            number=number,
            code=code,
            code_sha256=code_sha256(code),
            parameters=parameters,
            description=description,
            registered_by=registered_by,
            declared=[spec.as_dict() for spec in declared],
        )

    def check_parameters(self, values: dict[str, Any]) -> None:
        """Refuse values this version does not declare, or outside their range (InvalidValue
        on `parameters.<name>`)."""
        check_parameter_values(self.declared, values, f"strategy {self.name} v{self.number}")

    def request_promotion(
        self,
        promotion_id: UUID,
        target_stage: str,
        backtest_id: UUID,
        requested_by: str,
        gates: list[Gate],
    ) -> None:
        """Ask for `target_stage`; refused unless the stage order holds and every gate passed."""
        if target_stage not in PROMOTABLE:
            raise InvalidValue(
                "target_stage", f"{target_stage!r}: promote to staging or production"
            )
        required = PROMOTABLE[target_stage]
        if self.stage is not required:
            if target_stage == Stage.PRODUCTION and self.stage is Stage.REGISTERED:
                raise IllegalTransition(
                    "strategy version", self.stage.value, "go to production before staging"
                )
            raise IllegalTransition(
                "strategy version", self.stage.value, f"be promoted to {target_stage}"
            )
        if any(p["status"] == PromotionStatus.PENDING for p in self.promotions.values()):
            raise IllegalTransition(
                "strategy version", "awaiting a decision on a promotion", "ask again"
            )
        if not all(g.passed for g in gates):
            raise GatesFailed(gates)
        self.trigger_event(
            self.PromotionRequested,
            promotion_id=promotion_id,
            strategy=self.name,
            number=self.number,
            target_stage=target_stage,
            backtest_id=backtest_id,
            requested_by=requested_by,
            gates=[asdict(g) for g in gates],
        )

    def approve(self, promotion_id: UUID, approver: str) -> str:
        """Approve a pending promotion (never by its requester); returns the stage reached."""
        promotion = self._pending(promotion_id, approver, "approve")
        self.trigger_event(self.PromotionApproved, promotion_id=promotion_id, approved_by=approver)
        target = str(promotion["target_stage"])
        self.trigger_event(
            self.StageChanged,
            stage=target,
            previous=self.stage.value,
            changed_by=approver,
            cause=f"promotion {promotion_id} approved",
        )
        return target

    def reject(self, promotion_id: UUID, approver: str, reason: str) -> None:
        if not reason.strip():
            raise InvalidValue("reason", "a rejection needs a reason")
        self._pending(promotion_id, approver, "reject")
        self.trigger_event(
            self.PromotionRejected, promotion_id=promotion_id, rejected_by=approver, reason=reason
        )

    def retire(self, by: str, cause: str) -> None:
        """Leave production because a newer version took its place."""
        if self.stage is not Stage.PRODUCTION:
            raise IllegalTransition("strategy version", self.stage.value, "be retired")
        self.trigger_event(
            self.StageChanged,
            stage=Stage.RETIRED.value,
            previous=self.stage.value,
            changed_by=by,
            cause=cause,
        )

    def _pending(self, promotion_id: UUID, approver: str, action: str) -> dict[str, Any]:
        promotion = self.promotions.get(promotion_id)
        if promotion is None:
            raise UnknownItem("promotion", str(promotion_id))
        if promotion["status"] != PromotionStatus.PENDING:
            raise IllegalTransition("promotion", str(promotion["status"]), action)
        if promotion["requested_by"] == approver:
            raise NotPermitted(
                f"{approver} requested this promotion; someone else must {action} it"
            )
        return promotion


# The stage a version must hold before it may be promoted to each target.
PROMOTABLE = {Stage.STAGING.value: Stage.REGISTERED, Stage.PRODUCTION.value: Stage.STAGING}
