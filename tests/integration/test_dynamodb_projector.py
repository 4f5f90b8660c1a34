"""The DynamoDB read model without a shared transaction: conditional writes on each document's
mark make repeated, reordered and replayed deliveries change nothing, on moto server and on
DynamoDB Local."""

from __future__ import annotations

from pathlib import Path

from adapters.dynamodb.read_store import DynamoReadStore
from adapters.event_store import open_event_store
from adapters.memory_read_store import InMemoryReadStore
from commands.store import EventStore
from commands.strategies import StrategyCommands
from commands.sweep_views import sweep_view
from commands.sweeps import SweepCommands
from projections.read_model import ReadModelProjector
from tests.factories import LEASE, new_job, register
from tests.support.aws import DynamoDBEndpoint
from tests.support.sweeps import register_swept_strategy, run_pending_trials, submit_sweep

NAME = "dynamodb_read_model"


def write_history(store: EventStore, jobs: int) -> None:
    """Jobs at several stages, and a strategy whose versions come first and last."""
    strategies = StrategyCommands(store)
    strategies.register_strategy_version(register("Cross"), "alice")
    for n in range(jobs):
        job = new_job(strategy=f"S{n % 3}")
        job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
        job.report_progress("dataload", 0.5)
        if n % 2:
            job.complete({"total_trades": n})
        store.save(job)
    strategies.register_strategy_version(register("Cross"), "alice")


def fresh(endpoint: DynamoDBEndpoint, suffix: str) -> DynamoReadStore:
    table = DynamoReadStore(f"{endpoint.table}{suffix}", client=endpoint.client())
    table.create()
    return table


def test_repeated_and_reordered_deliveries_change_nothing(
    dynamodb_endpoint: DynamoDBEndpoint, tmp_path: Path
) -> None:
    store = open_event_store(f"sqlite:///{tmp_path / 'events.db'}")
    write_history(store, 12)
    events = store.read(0, 1000)
    dynamo = fresh(dynamodb_endpoint, "")
    projector = ReadModelProjector(dynamo, name=NAME)
    projector.handle(events, 0)
    before = dynamo.dump()
    assert len(before["jobs"]) == 12 and len(before["results"]) == 6

    dynamo.save_position(NAME, 0)  # the same batch delivered again
    ReadModelProjector(dynamo, name=NAME).handle(events, 0)
    assert dynamo.dump() == before

    for event in reversed(events):  # one by one, newest first
        dynamo.save_position(NAME, event.position - 1)
        ReadModelProjector(dynamo, name=NAME).handle([event], event.position - 1)
    assert dynamo.dump() == before

    # And the same as the in-memory model, which writes in one step.
    memory = InMemoryReadStore()
    ReadModelProjector(memory, name=NAME).handle(events, 0)
    assert memory.dump() == before
    store.close()


def test_a_lost_position_write_replays_into_the_right_documents(
    dynamodb_endpoint: DynamoDBEndpoint, tmp_path: Path
) -> None:
    store = open_event_store(f"sqlite:///{tmp_path / 'events.db'}")
    write_history(store, 8)
    first = store.read(0, 1000)
    dynamo = fresh(dynamodb_endpoint, "")
    ReadModelProjector(dynamo, name=NAME).handle(first, 0)
    # A crash after the documents, before the position: the position is behind them. Then
    # more events arrive, some for the same strategy; one batch holds old and new events of
    # one document (its versions list would repeat a version if old events applied again).
    middle = first[len(first) // 2].position
    dynamo.save_position(NAME, middle)
    write_history(store, 4)
    rest = store.read(middle, 1000)
    ReadModelProjector(dynamo, name=NAME).handle(rest, middle)

    rebuilt = fresh(dynamodb_endpoint, "-rebuilt")
    ReadModelProjector(rebuilt, name=NAME).handle(store.read(0, 1000), 0)
    assert dynamo.dump() == rebuilt.dump()
    assert dynamo.position(NAME) == rebuilt.position(NAME) == store.max_position()
    store.close()


def test_sweeps_replayed_after_a_lost_position_equal_a_rebuild(
    dynamodb_endpoint: DynamoDBEndpoint, tmp_path: Path
) -> None:
    """A sweep's document grows by a trial per event: events applied twice would repeat trials."""
    store = open_event_store(f"sqlite:///{tmp_path / 'events.db'}")
    register_swept_strategy(store)
    sweeps = SweepCommands(store)
    view, _ = sweeps.submit_sweep(submit_sweep(max_trials=4), "alice")
    trials = sweeps.ask_trials(view.id, in_flight=4)
    run_pending_trials(store, view.id)
    for job_id in trials:
        sweeps.record_trial_end(job_id)
    events = store.read(0, 1000)
    dynamo = fresh(dynamodb_endpoint, "")
    ReadModelProjector(dynamo, name=NAME).handle(events[: len(events) // 2], 0)
    dynamo.save_position(NAME, events[len(events) // 4].position)  # lost position writes
    ReadModelProjector(dynamo, name=NAME).handle(
        events[len(events) // 4 + 1 :], events[len(events) // 4].position
    )
    expected = sweep_view(store.load(view.id, "sweep"))
    assert expected.status == "completed" and len(expected.trials) == 4
    assert dynamo.get_sweep(view.id) == expected
    page = dynamo.list_sweeps(status="completed", limit=5, cursor=None)
    assert page.items == [expected]
    found = dynamo.list_jobs(
        status="completed", strategy=None, limit=10, cursor=None, sweep=view.id
    )
    assert [j.id for j in found.items] == list(reversed(trials))  # type: ignore[attr-defined]
    memory = InMemoryReadStore()
    ReadModelProjector(memory, name=NAME).handle(events, 0)
    assert dynamo.dump() == memory.dump()
    store.close()
