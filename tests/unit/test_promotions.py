"""Promotion rules, four eyes, deployments and rollbacks, on the in-memory store."""

from __future__ import annotations

import threading
from uuid import UUID, uuid4

import pytest

from commands.backtests import BacktestCommands
from commands.errors import ConcurrencyConflict, NotFound, UnknownReference
from commands.execution import ExecutionCommands
from commands.messages import DecidePromotion, DeployVersion, RequestPromotion, RollBack
from commands.promotions import PromotionCommands
from commands.store import EventStore
from commands.strategies import StrategyCommands
from domain.errors import IllegalTransition, InvalidValue, NotPermitted, UnknownItem
from domain.identity import strategy_id, strategy_version_id
from domain.promotion import GatesFailed, GateThresholds
from domain.strategy_version import Stage
from tests.factories import register, strategy_code, submit

GOOD = {"total_trades": 40, "max_drawdown": 0.1, "profit_total": 0.05}


@pytest.fixture
def promotions(store: EventStore) -> PromotionCommands:
    return PromotionCommands(
        store, GateThresholds(min_trades=10, max_drawdown=0.25, min_profit=0.0)
    )


def backtest(
    store: EventStore, version: int, metrics: dict[str, float] | None = None, complete: bool = True
) -> UUID:
    view, _ = BacktestCommands(store).submit_backtest(submit(strategy_version=version), "alice")
    if complete:
        execution = ExecutionCommands(store)
        execution.claim(view.id, "w", 30)
        execution.complete(view.id, 1, metrics or GOOD, {})
    return view.id


@pytest.fixture
def two_versions(store: EventStore) -> None:
    StrategyCommands(store).register_strategy_version(register(), "alice")
    StrategyCommands(store).register_strategy_version(
        register(code=strategy_code(stoploss=-0.2)), "alice"
    )


def request(p: PromotionCommands, number: int, stage: str, job: UUID, actor: str = "alice") -> UUID:
    view, _ = p.request_promotion(
        RequestPromotion(name="EmaCross", number=number, target_stage=stage, backtest_id=job), actor
    )
    return view.id


def decide(
    p: PromotionCommands,
    pid: UUID,
    number: int,
    actor: str = "bob",
    approve: bool = True,
    reason: str = "",
) -> str:
    view, _ = p.decide_promotion(
        DecidePromotion(
            promotion_id=pid, name="EmaCross", number=number, approve=approve, reason=reason
        ),
        actor,
    )
    return view.status


def stage(store: EventStore, number: int) -> Stage:
    return store.load(strategy_version_id("EmaCross", number), "v").stage  # type: ignore[no-any-return]


@pytest.mark.usefixtures("two_versions")
def test_a_failing_gate_lists_every_gate_and_records_nothing(
    store: EventStore, promotions: PromotionCommands
) -> None:
    job = backtest(store, 1, {"total_trades": 3, "max_drawdown": 0.4, "profit_total": -0.1})
    head = store.max_position()
    with pytest.raises(GatesFailed) as refused:
        request(promotions, 1, "staging", job)
    gates = {g.name: g for g in refused.value.gates}
    assert set(gates) == {
        "backtest_completed",
        "same_strategy_version",
        "min_trades",
        "max_drawdown",
        "min_profit",
    }
    assert (
        gates["min_trades"].passed,
        gates["min_trades"].actual,
        gates["min_trades"].threshold,
    ) == (False, 3, 10)
    assert not gates["max_drawdown"].passed and not gates["min_profit"].passed
    assert gates["backtest_completed"].passed and gates["same_strategy_version"].passed
    assert store.max_position() == head


@pytest.mark.usefixtures("two_versions")
def test_the_backtest_must_be_completed_and_of_the_same_version(
    store: EventStore, promotions: PromotionCommands
) -> None:
    with pytest.raises(GatesFailed, match="backtest_completed"):
        request(promotions, 1, "staging", backtest(store, 1, complete=False))
    with pytest.raises(GatesFailed, match="same_strategy_version"):
        request(promotions, 1, "staging", backtest(store, 2))
    with pytest.raises(UnknownReference):
        request(promotions, 1, "staging", uuid4())


@pytest.mark.usefixtures("two_versions")
def test_staging_then_production_with_four_eyes(
    store: EventStore, promotions: PromotionCommands
) -> None:
    job = backtest(store, 1)
    with pytest.raises(IllegalTransition, match="production before staging"):
        request(promotions, 1, "production", job)
    pid = request(promotions, 1, "staging", job)
    with pytest.raises(IllegalTransition, match="awaiting a decision"):
        request(promotions, 1, "staging", job)
    with pytest.raises(NotPermitted):
        decide(promotions, pid, 1, actor="alice")
    assert decide(promotions, pid, 1, actor="bob") == "approved"
    assert stage(store, 1) is Stage.STAGING
    with pytest.raises(IllegalTransition):
        decide(promotions, pid, 1, actor="carol")
    assert decide(promotions, request(promotions, 1, "production", job), 1) == "approved"
    assert stage(store, 1) is Stage.PRODUCTION
    strategy = store.load(strategy_id("EmaCross"), "s")
    assert strategy.stages == {"staging": 1, "production": 1}


@pytest.mark.usefixtures("two_versions")
def test_a_newer_production_version_retires_the_old_one(
    store: EventStore, promotions: PromotionCommands
) -> None:
    for number in (1, 2):
        job = backtest(store, number)
        decide(promotions, request(promotions, number, "staging", job), number)
        decide(promotions, request(promotions, number, "production", job), number)
    assert (stage(store, 1), stage(store, 2)) == (Stage.RETIRED, Stage.PRODUCTION)


@pytest.mark.usefixtures("two_versions")
def test_rejection_needs_a_reason_and_leaves_the_stage(
    store: EventStore, promotions: PromotionCommands
) -> None:
    pid = request(promotions, 1, "staging", backtest(store, 1))
    with pytest.raises(InvalidValue):
        decide(promotions, pid, 1, approve=False, reason=" ")
    assert (
        decide(promotions, pid, 1, approve=False, reason="drawdown too close to the limit")
        == "rejected"
    )
    assert stage(store, 1) is Stage.REGISTERED
    with pytest.raises(UnknownItem):
        decide(promotions, uuid4(), 1)


@pytest.mark.usefixtures("two_versions")
def test_racing_approvals_one_wins(store: EventStore, promotions: PromotionCommands) -> None:
    pid = request(promotions, 1, "staging", backtest(store, 1))
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def approve(who: str) -> None:
        barrier.wait()
        try:
            outcomes.append(decide(promotions, pid, 1, actor=who))
        except (ConcurrencyConflict, IllegalTransition):
            outcomes.append("refused")

    threads = [threading.Thread(target=approve, args=(f"approver{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("approved") == 1 and outcomes.count("refused") == 3
    kinds = [type(e).__name__ for e in store.aggregate_events(strategy_version_id("EmaCross", 1))]
    assert kinds.count("PromotionApproved") == 1 and kinds.count("StageChanged") == 1


@pytest.mark.usefixtures("two_versions")
def test_deploy_and_roll_back_as_new_revisions(
    store: EventStore, promotions: PromotionCommands
) -> None:
    def deploy(number: int, env: str = "production") -> int:
        return promotions.deploy(
            DeployVersion(name="EmaCross", number=number, environment=env), "olga"
        )[0].revision

    def rollback(env: str = "production", to: int | None = None) -> tuple[int, int]:
        view, _ = promotions.rollback(
            RollBack(name="EmaCross", environment=env, to_revision=to), "olga"
        )
        return view.revision, view.version

    with pytest.raises(IllegalTransition, match="never deployed"):
        rollback()
    with pytest.raises(IllegalTransition, match="promote it first"):
        deploy(1)

    def promote(number: int) -> None:
        job = backtest(store, number)
        decide(promotions, request(promotions, number, "staging", job), number)
        decide(promotions, request(promotions, number, "production", job), number)

    promote(1)
    assert deploy(1, "staging") == 1 and deploy(1) == 1
    with pytest.raises(IllegalTransition, match="already live"):
        deploy(1)
    with pytest.raises(IllegalTransition, match="nothing before it"):
        rollback()
    promote(2)
    with pytest.raises(IllegalTransition, match="promote it first"):
        deploy(1, "staging")  # retired: v2 replaced it in production
    assert deploy(2, "staging") == 2 and deploy(2) == 2
    assert rollback() == (3, 1), "rollback runs the previous revision's version, as a new revision"
    assert rollback(to=2) == (4, 2)
    assert rollback("staging") == (3, 1)
    with pytest.raises(InvalidValue, match="no revision 9"):
        rollback(to=9)
    with pytest.raises(InvalidValue, match="live one"):
        rollback(to=4)
    strategy = store.load(strategy_id("EmaCross"), "s")
    assert strategy.revisions == {"production": [1, 2, 1, 2], "staging": [1, 2, 1]}
    with pytest.raises(NotFound):
        promotions.deploy(DeployVersion(name="Nope", number=1, environment="staging"), "olga")
    with pytest.raises(InvalidValue):
        promotions.deploy(DeployVersion(name="EmaCross", number=2, environment="moon"), "olga")
