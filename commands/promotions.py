"""Handlers of the promotion workflow: request (gated), approve or reject, deploy, roll back."""

from __future__ import annotations

from uuid import UUID, uuid4

from commands.errors import NotFound, UnknownReference
from commands.idempotency import Outcome, Remember, run_idempotent
from commands.messages import DecidePromotion, DeployVersion, RequestPromotion, RollBack
from commands.promotion_views import PromotionView, RevisionView, promotion_view
from commands.store import EventStore
from domain.backtest_job import BacktestJob
from domain.identity import strategy_id, strategy_version_id
from domain.promotion import GateThresholds, evaluate_gates
from domain.strategy import Strategy
from domain.strategy_version import Stage, StrategyVersion


class PromotionCommands:
    """Moves versions through stages and environments; every step is an event with its actor."""

    def __init__(self, store: EventStore, thresholds: GateThresholds) -> None:
        self.store = store
        self.thresholds = thresholds

    def request_promotion(
        self, command: RequestPromotion, actor: str, idempotency_key: str | None = None
    ) -> tuple[PromotionView, Outcome]:
        def execute(remember: Remember[PromotionView]) -> tuple[PromotionView, int]:
            version = self._version(command.name, command.number)
            job = (
                self.store.load(command.backtest_id, "backtest job")
                if self.store.exists(command.backtest_id)
                else None
            )
            if not isinstance(job, BacktestJob):
                raise UnknownReference("backtest_id", f"no backtest job {command.backtest_id}")
            gates = evaluate_gates(
                self.thresholds,
                status=job.status.value,
                backtest_strategy=job.strategy,
                backtest_version=job.strategy_version,
                strategy=version.name,
                version=version.number,
                metrics=job.summary or {},
            )
            promotion_id = uuid4()
            version.request_promotion(promotion_id, command.target_stage, job.id, actor, gates)
            view = promotion_view(version, promotion_id)
            return view, self.store.commit(version, remember(view))

        return run_idempotent(self.store, actor, idempotency_key, command, PromotionView, execute)

    def decide_promotion(
        self, command: DecidePromotion, actor: str, idempotency_key: str | None = None
    ) -> tuple[PromotionView, Outcome]:
        """Approve (the version takes the stage; a version it replaces in production retires)
        or reject. Racing decisions: one commits, the others get a conflict."""

        def execute(remember: Remember[PromotionView]) -> tuple[PromotionView, int]:
            version = self._version(command.name, command.number)
            if not command.approve:
                version.reject(command.promotion_id, actor, command.reason)
                view = promotion_view(version, command.promotion_id)
                return view, self.store.commit(version, remember(view))
            strategy = self._strategy(command.name)
            stage = version.approve(command.promotion_id, actor)
            previous = strategy.assign_stage(stage, version.number)
            replaced = None
            if stage == Stage.PRODUCTION and previous not in (None, version.number):
                replaced = self._version(command.name, int(previous or 0))
                if replaced.stage is Stage.PRODUCTION:
                    replaced.retire(actor, f"v{version.number} was promoted to production")
                else:
                    replaced = None
            view = promotion_view(version, command.promotion_id)
            return view, self.store.commit(version, strategy, replaced, remember(view))

        return run_idempotent(self.store, actor, idempotency_key, command, PromotionView, execute)

    def deploy(
        self, command: DeployVersion, actor: str, idempotency_key: str | None = None
    ) -> tuple[RevisionView, Outcome]:
        def execute(remember: Remember[RevisionView]) -> tuple[RevisionView, int]:
            strategy = self._strategy(command.name)
            version = self._version(command.name, command.number)
            revision = strategy.deploy(
                command.environment, command.number, version.stage.value, actor
            )
            view = RevisionView(
                environment=command.environment, revision=revision, version=command.number,
                kind="deploy", by=actor, at=strategy.modified_on,
            )  # fmt: skip
            return view, self.store.commit(strategy, remember(view))

        return run_idempotent(self.store, actor, idempotency_key, command, RevisionView, execute)

    def rollback(
        self, command: RollBack, actor: str, idempotency_key: str | None = None
    ) -> tuple[RevisionView, Outcome]:
        def execute(remember: Remember[RevisionView]) -> tuple[RevisionView, int]:
            strategy = self._strategy(command.name)
            revision, number = strategy.rollback(command.environment, command.to_revision, actor)
            target = command.to_revision if command.to_revision is not None else revision - 2
            view = RevisionView(
                environment=command.environment, revision=revision, version=number,
                kind="rollback", by=actor, at=strategy.modified_on, to_revision=target,
            )  # fmt: skip
            return view, self.store.commit(strategy, remember(view))

        return run_idempotent(self.store, actor, idempotency_key, command, RevisionView, execute)

    def _strategy(self, name: str) -> Strategy:
        sid = strategy_id(name)
        if not self.store.exists(sid):
            raise NotFound("strategy", name)
        strategy: Strategy = self.store.load(sid, "strategy", name)
        return strategy

    def _version(self, name: str, number: int) -> StrategyVersion:
        vid: UUID = strategy_version_id(name, number)
        if not self.store.exists(vid):
            raise NotFound("strategy version", f"{name} v{number}")
        version: StrategyVersion = self.store.load(vid, "strategy version")
        return version
