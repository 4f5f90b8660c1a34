"""Group commit: commands of one batch are saved in one transaction, answer exactly as they would
alone, and the read model the batch writer projects equals one rebuilt from the log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.event_store import open_event_store
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from app.batcher import CommandBatcher
from commands.backtests import BacktestCommands
from commands.batch import execute_batch
from commands.errors import UnknownReference
from commands.messages import CancelBacktest
from commands.store import EventStore
from commands.strategies import StrategyCommands
from domain.errors import IllegalTransition
from projections.read_model import ReadModelProjector
from projections.rebuild import rebuild_read_model
from projections.runner import SubscriberRunner
from tests.factories import register, submit


@pytest.fixture
def store(event_store: EventStore) -> EventStore:
    StrategyCommands(event_store).register_strategy_version(register(), "alice")
    return event_store


def test_a_batch_is_one_transaction_and_each_answer_has_its_own_position(
    store: EventStore,
) -> None:
    backtests = BacktestCommands(store)
    head = store.max_position()
    result = execute_batch(
        store, [lambda: backtests.submit_backtest(submit(), "alice") for _ in range(5)]
    )
    positions = [outcome.position for _, outcome in result.answers]
    assert positions == list(range(head + 1, head + 6))  # each its own event, in command order
    assert [e.position for e in result.events] == positions
    for (view, _), stored in zip(result.answers, result.events, strict=True):
        assert stored.event.originator_id == view.id
        assert backtests.job(view.id).status.value == "submitted"


def test_a_failing_command_gets_its_error_and_the_others_are_saved(store: EventStore) -> None:
    backtests = BacktestCommands(store)
    result = execute_batch(
        store,
        [
            lambda: backtests.submit_backtest(submit(), "alice"),
            lambda: backtests.submit_backtest(submit(strategy="Nope"), "alice"),
            lambda: backtests.submit_backtest(submit(), "alice"),
        ],
    )
    first, failed, third = result.answers
    assert isinstance(failed, UnknownReference) and failed.field == "strategy"
    assert len(result.events) == 2
    assert {e.event.originator_id for e in result.events} == {first[0].id, third[0].id}


def test_two_commands_on_one_aggregate_run_again_one_by_one(store: EventStore) -> None:
    """Both cancels decide on the same version; the batch's save fails whole, and alone the
    second one finds the job already cancelled, exactly as without batching."""
    backtests = BacktestCommands(store)
    job, _ = backtests.submit_backtest(submit(), "alice")
    cancel = CancelBacktest(job_id=job.id)
    head = store.max_position()
    result = execute_batch(
        store,
        [
            lambda: backtests.cancel_backtest(cancel, "alice", admin=True),
            lambda: backtests.cancel_backtest(cancel, "bob", admin=True),
        ],
    )
    done, refused = result.answers
    assert done[0].status == "cancelled"
    assert isinstance(refused, IllegalTransition)
    assert result.events == []  # saved one by one, not by the batch
    events = store.aggregate_events(job.id)
    assert [type(e).__name__ for e in events].count("Cancelled") == 1
    assert store.max_position() > head


def test_one_idempotency_key_twice_in_a_batch_makes_one_job(store: EventStore) -> None:
    backtests = BacktestCommands(store)
    result = execute_batch(
        store, [lambda: backtests.submit_backtest(submit(), "alice", "key-1") for _ in range(2)]
    )
    (first, first_outcome), (second, second_outcome) = result.answers
    assert first == second
    assert (first_outcome.replayed, second_outcome.replayed) == (False, True)
    assert sum(type(e.event).__name__ == "Submitted" for e in store.read(0, 1000)) == 1


def test_batched_commands_read_their_writes_and_the_model_equals_a_rebuild(
    sql_urls: tuple[str, str], tmp_path: Path
) -> None:
    events_url, read_url = sql_urls
    store = open_event_store(events_url)
    StrategyCommands(store).register_strategy_version(register(), "alice")
    live = SqlReadStore(create_engine(read_url))
    live.create()
    runner = SubscriberRunner(ReadModelProjector(live), store, poll_interval=0.05)
    store.on_commit(runner.wake)
    runner.start()
    batcher = CommandBatcher(store, runner, read_your_writes_timeout=5)
    batcher.start()
    backtests = BacktestCommands(store)

    async def scenario() -> None:
        async def submit_then_read(n: int) -> None:
            key = f"k{n % 7}" if n < 14 else None  # seven keys, each sent twice
            view, _ = await batcher.run(lambda: backtests.submit_backtest(submit(), "alice", key))
            assert live.get_job(view.id) is not None  # visible once answered
            if key is None and n % 3 == 0:
                cancelled, _ = await batcher.run(
                    lambda: backtests.cancel_backtest(
                        CancelBacktest(job_id=view.id), "alice", admin=True
                    )
                )
                assert live.get_job(view.id).status == cancelled.status == "cancelled"  # type: ignore[union-attr]

        await asyncio.gather(*(submit_then_read(n) for n in range(60)))

    try:
        asyncio.run(scenario())
    finally:
        batcher.stop()
        runner.stop()
    rebuilt = SqlReadStore(live.engine, prefix="rebuilt_")
    rebuild_read_model(store, rebuilt)
    assert len(live.dump()["jobs"]) == 7 + 46  # a key's second submit is a replay
    assert rebuilt.dump() == live.dump()
    store.close()
    live.engine.dispose()
