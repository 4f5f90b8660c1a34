"""Command handlers on the in-memory store: effects, refusals, idempotency, conflicts."""

from __future__ import annotations

from uuid import uuid4

import pytest

from commands.backtests import BacktestCommands
from commands.errors import ConcurrencyConflict, IdempotencyKeyReused, NotFound, UnknownReference
from commands.messages import AddMaintainer, CancelBacktest
from commands.store import EventStore
from commands.strategies import StrategyCommands
from domain.backtest_job import BacktestJob
from domain.errors import IllegalTransition, InvalidValue
from tests.factories import LEASE, register, strategy_code, submit


def test_registering_numbers_versions_and_hashes_code(strategies: StrategyCommands) -> None:
    first, _ = strategies.register_strategy_version(register(), "alice")
    strategies.change_maintainers(AddMaintainer(name="EmaCross", user="bob"), "alice")
    second, _ = strategies.register_strategy_version(
        register(code=strategy_code(stoploss=-0.2)), "bob"
    )
    assert (first.version, second.version) == (1, 2)
    assert first.code_sha256 != second.code_sha256
    assert second.registered_by == "bob"


def test_submit_uses_the_latest_version_unless_one_is_named(
    strategies: StrategyCommands, backtests: BacktestCommands
) -> None:
    strategies.register_strategy_version(register(), "alice")
    v2, _ = strategies.register_strategy_version(
        register(code=strategy_code(stoploss=-0.2)), "alice"
    )
    latest, _ = backtests.submit_backtest(submit(), "alice")
    pinned, _ = backtests.submit_backtest(submit(strategy_version=1), "alice")
    assert latest.strategy_version == 2 and latest.code_sha256 == v2.code_sha256
    assert pinned.strategy_version == 1
    assert latest.status == "submitted" and latest.submitted_by == "alice"


def test_unknown_strategy_or_version_writes_nothing(
    store: EventStore, strategies: StrategyCommands, backtests: BacktestCommands
) -> None:
    strategies.register_strategy_version(register(), "alice")
    head = store.max_position()
    with pytest.raises(UnknownReference) as caught:
        backtests.submit_backtest(submit(strategy="Nope"), "alice")
    assert caught.value.field == "strategy"
    with pytest.raises(UnknownReference) as caught:
        backtests.submit_backtest(submit(strategy_version=7), "alice")
    assert caught.value.field == "strategy_version"
    with pytest.raises(InvalidValue):
        backtests.submit_backtest(submit(pairs=("BTCUSDT",)), "alice")
    assert store.max_position() == head


def test_cancel_before_start_cancels_at_once(
    strategies: StrategyCommands, backtests: BacktestCommands
) -> None:
    strategies.register_strategy_version(register(), "alice")
    job, _ = backtests.submit_backtest(submit(), "alice")
    cancelled, _ = backtests.cancel_backtest(CancelBacktest(job_id=job.id), "bob", admin=True)
    assert cancelled.status == "cancelled" and cancelled.cancel_requested
    with pytest.raises(IllegalTransition):
        backtests.cancel_backtest(CancelBacktest(job_id=job.id), "bob", admin=True)


def test_cancel_of_a_running_job_only_requests_it(
    store: EventStore, strategies: StrategyCommands, backtests: BacktestCommands
) -> None:
    strategies.register_strategy_version(register(), "alice")
    view, _ = backtests.submit_backtest(submit(), "alice")
    job = backtests.job(view.id)
    job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
    store.commit(job)
    requested, _ = backtests.cancel_backtest(CancelBacktest(job_id=view.id), "bob", admin=True)
    assert requested.status == "running" and requested.cancel_requested


def test_cancel_of_an_unknown_job_is_not_found(backtests: BacktestCommands) -> None:
    with pytest.raises(NotFound):
        backtests.cancel_backtest(CancelBacktest(job_id=uuid4()), "bob", admin=True)


def test_same_key_same_body_returns_the_first_result(
    store: EventStore, strategies: StrategyCommands, backtests: BacktestCommands
) -> None:
    strategies.register_strategy_version(register(), "alice")
    first, outcome = backtests.submit_backtest(submit(), "alice", "key-1")
    head = store.max_position()
    again, replay = backtests.submit_backtest(submit(), "alice", "key-1")
    assert again == first
    assert replay.replayed and not outcome.replayed
    assert store.max_position() == head, "a replay must not write"


def test_same_key_other_body_is_refused(
    strategies: StrategyCommands, backtests: BacktestCommands
) -> None:
    strategies.register_strategy_version(register(), "alice")
    backtests.submit_backtest(submit(), "alice", "key-1")
    with pytest.raises(IdempotencyKeyReused):
        backtests.submit_backtest(submit(timeframe="1h"), "alice", "key-1")


def test_keys_are_scoped_per_user(
    strategies: StrategyCommands, backtests: BacktestCommands
) -> None:
    strategies.register_strategy_version(register(), "alice")
    a, _ = backtests.submit_backtest(submit(), "alice", "key-1")
    b, _ = backtests.submit_backtest(submit(), "bob", "key-1")
    assert a.id != b.id


def test_a_refused_command_does_not_burn_its_key(
    strategies: StrategyCommands, backtests: BacktestCommands
) -> None:
    with pytest.raises(UnknownReference):
        backtests.submit_backtest(submit(), "alice", "key-1")
    strategies.register_strategy_version(register(), "alice")
    job, outcome = backtests.submit_backtest(submit(), "alice", "key-1")
    assert job.status == "submitted" and not outcome.replayed


def test_a_stale_aggregate_loses_with_a_conflict(
    store: EventStore, strategies: StrategyCommands, backtests: BacktestCommands
) -> None:
    strategies.register_strategy_version(register(), "alice")
    view, _ = backtests.submit_backtest(submit(), "alice")
    first: BacktestJob = backtests.job(view.id)
    second: BacktestJob = backtests.job(view.id)
    first.start(attempt=1, worker="w1", lease_expires_at=LEASE)
    second.start(attempt=1, worker="w2", lease_expires_at=LEASE)
    store.commit(first)
    with pytest.raises(ConcurrencyConflict):
        store.commit(second)
    assert backtests.job(view.id).worker == "w1"
