"""The read-store contract, run against memory, SQLite, PostgreSQL and DynamoDB (moto server and
DynamoDB Local)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from msgspec.structs import replace

from adapters.dynamodb.read_store import DynamoReadStore
from adapters.dynamodb.table import INDEXES, table_definition
from adapters.memory_read_store import InMemoryReadStore
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from adapters.sql_rows import job_row
from commands.promotion_views import GateView, PromotionView
from commands.sweep_views import BestTrial, SweepView, TrialView
from commands.views import BacktestJobView, Progress, StrategyView
from domain.identity import strategy_id
from projections.ports import BadCursor, Changes, Page, PositionMoved
from tests.support.aws import DynamoDBEndpoint

ReadStore = InMemoryReadStore | SqlReadStore | DynamoReadStore
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def job(
    n: int, status: str = "submitted", strategy: str = "EmaCross", sweep: UUID | None = None
) -> BacktestJobView:
    return BacktestJobView(
        id=uuid4(), strategy=strategy, strategy_version=1, code_sha256="0" * 64,
        pairs=("BTC/USDT",), timeframe="5m", timerange="20240101-20240301", exchange="binance",
        stake_amount=None, max_open_trades=None, starting_balance=None, fee=None,
        status=status, progress=Progress(), attempt=0, worker=None, submitted_by="alice",
        submitted_at=T0 + timedelta(seconds=n), started_at=None, finished_at=None, error=None,
        cancel_requested=False, summary=None, artifacts={}, lease_expires_at=None, version=1,
        sweep_id=sweep,
    )  # fmt: skip


def strategy(name: str) -> StrategyView:
    return StrategyView(
        name=name, latest_version=1, versions=(1,), stages={"staging": None, "production": None},
        created_by="alice", created_at=T0, updated_at=T0,
    )  # fmt: skip


def test_position_moves_only_from_the_expected_one(read_store: ReadStore) -> None:
    assert read_store.position("p") == 0
    read_store.commit("p", 0, 5, Changes(jobs={}, strategies={}, versions={}))
    assert read_store.position("p") == 5
    doc = job(1)
    with pytest.raises(PositionMoved):
        read_store.commit("p", 3, 9, Changes(jobs={doc.id: doc}, strategies={}, versions={}))
    assert read_store.position("p") == 5
    assert read_store.get_job(doc.id) is None, "a refused commit writes nothing"
    assert read_store.position("other") == 0


def test_documents_round_trip_and_replace(read_store: ReadStore) -> None:
    doc = job(1)
    read_store.commit("p", 0, 1, Changes(jobs={doc.id: doc}, strategies={}, versions={}))
    assert read_store.get_job(doc.id) == doc
    running = replace(doc, status="running", attempt=1, version=2)
    read_store.commit("p", 1, 2, Changes(jobs={doc.id: running}, strategies={}, versions={}))
    assert read_store.load_jobs([doc.id, uuid4()]) == {doc.id: running}


def test_jobs_list_newest_first_with_filters_and_cursors(read_store: ReadStore) -> None:
    docs = [
        job(n, status="failed" if n % 3 == 0 else "submitted", strategy=f"S{n % 2}")
        for n in range(25)
    ]
    read_store.commit("p", 0, 1, Changes(jobs={d.id: d for d in docs}, strategies={}, versions={}))
    seen: list[BacktestJobView] = []
    cursor = None
    while True:
        page = read_store.list_jobs(status=None, strategy=None, limit=7, cursor=cursor)
        seen += page.items  # type: ignore[arg-type]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [d.id for d in seen] == [d.id for d in reversed(docs)], "every job once, newest first"
    failed = read_store.list_jobs(status="failed", strategy="S1", limit=100, cursor=None)
    assert {d.id for d in failed.items} == {  # type: ignore[attr-defined]
        d.id for d in docs if d.status == "failed" and d.strategy == "S1"
    }
    assert failed.next_cursor is None
    with pytest.raises(BadCursor):
        read_store.list_jobs(status=None, strategy=None, limit=5, cursor="not-a-cursor")


def test_jobs_are_counted_by_status(read_store: ReadStore) -> None:
    assert read_store.count_jobs_by_status() == {}
    docs = [job(n, status=("submitted", "running", "failed")[n % 3]) for n in range(10)]
    read_store.commit("p", 0, 1, Changes(jobs={d.id: d for d in docs}))
    assert read_store.count_jobs_by_status() == {"submitted": 4, "running": 3, "failed": 3}
    moved = {d.id: replace(d, status="completed", version=2) for d in docs[:2]}
    read_store.commit("p", 1, 2, Changes(jobs=moved))
    assert read_store.count_jobs_by_status() == {
        "submitted": 3,
        "running": 2,
        "failed": 3,
        "completed": 2,
    }, "a job that changes status is counted once, in its new status"


def test_strategies_page_by_name(read_store: ReadStore) -> None:
    names = [f"Strat{i:02d}" for i in range(12)]
    docs = {strategy_id(n): strategy(n) for n in reversed(names)}
    read_store.commit("p", 0, 1, Changes(jobs={}, strategies=docs, versions={}))
    first = read_store.list_strategies(limit=5, cursor=None)
    second = read_store.list_strategies(limit=50, cursor=first.next_cursor)
    assert [s.name for s in first.items + second.items] == names  # type: ignore[attr-defined]
    assert second.next_cursor is None
    assert read_store.get_strategy("Strat03") == strategy("Strat03")
    assert read_store.get_strategy("Missing") is None


def test_reset_and_dump(read_store: ReadStore) -> None:
    doc = job(1)
    read_store.commit("p", 0, 1, Changes(jobs={doc.id: doc}, strategies={}, versions={}))
    assert list(read_store.dump()["jobs"]) == [str(doc.id)]
    read_store.reset()
    assert all(not docs for docs in read_store.dump().values())
    assert read_store.position("p") == 0


def promotion(n: int, status: str) -> PromotionView:
    return PromotionView(
        id=uuid4(), strategy="EmaCross", version=1, target_stage="staging", backtest_id=uuid4(),
        status=status, gates=[GateView("min_trades", True, 12, 10)], requested_by="alice",
        requested_at=T0 + timedelta(seconds=n),
    )  # fmt: skip


def test_promotions_page_newest_first_and_filter(read_store: ReadStore) -> None:
    docs = [promotion(n, "approved" if n % 2 else "pending") for n in range(9)]
    read_store.commit("p", 0, 1, Changes(promotions={d.id: d for d in docs}))
    first = read_store.list_promotions(status=None, limit=4, cursor=None)
    rest = read_store.list_promotions(status=None, limit=10, cursor=first.next_cursor)
    assert [p.id for p in first.items + rest.items] == [d.id for d in reversed(docs)]  # type: ignore[attr-defined]
    pending = read_store.list_promotions(status="pending", limit=10, cursor=None)
    assert {p.id for p in pending.items} == {d.id for d in docs if d.status == "pending"}  # type: ignore[attr-defined]
    assert read_store.get_promotion(docs[3].id) == docs[3]
    assert read_store.load_promotions([docs[0].id, uuid4()]) == {docs[0].id: docs[0]}


def sweep(n: int, status: str = "running", trials: int = 2) -> SweepView:
    return SweepView(
        id=uuid4(), strategy="EmaCross", strategy_version=1, pairs=("BTC/USDT",), timeframe="5m",
        timerange="20240101-20240301", exchange="binance", stake_amount=None,
        max_open_trades=None, starting_balance=None, fee=None,
        space={"buy_fast": [5, 10], "sell_ratio": {"low": 0.1, "high": 0.3, "step": 0.1}},
        method="grid", max_trials=6, objective="sharpe", direction="maximize", seed=7,
        priority="low", submitted_by="alice", submitted_at=T0 + timedelta(seconds=n),
        status=status, error="all 2 trials failed" if status == "failed" else None, total=6,
        done=1, failed=0, pending=trials - 1,
        best=BestTrial(trial=0, parameters={"buy_fast": 5, "sell_ratio": 0.1}, objective=1.5),
        trials=[
            TrialView(
                number=t, backtest_id=uuid4(), parameters={"buy_fast": 5, "sell_ratio": 0.1},
                status="completed" if t == 0 else "pending", objective=1.5 if t == 0 else None,
            )
            for t in range(trials)
        ],
        version=1 + trials,
    )  # fmt: skip


def test_sweeps_round_trip_and_replace(read_store: ReadStore) -> None:
    doc = sweep(1)
    read_store.commit("p", 0, 1, Changes(sweeps={doc.id: doc}))
    assert read_store.get_sweep(doc.id) == doc
    assert read_store.get_sweep(uuid4()) is None
    done = replace(doc, status="completed", pending=0, version=doc.version + 1)
    read_store.commit("p", 1, 2, Changes(sweeps={doc.id: done}))
    assert read_store.load_sweeps([doc.id, uuid4()]) == {doc.id: done}
    assert read_store.list_sweeps(status="running", limit=10, cursor=None).items == []
    assert read_store.list_sweeps(status="completed", limit=10, cursor=None).items == [done]
    assert list(read_store.dump()["sweeps"]) == [str(doc.id)]


def test_sweeps_list_newest_first_by_status_with_cursors(read_store: ReadStore) -> None:
    statuses = ("running", "completed", "cancelled", "failed")
    docs = [sweep(n, statuses[n % 4]) for n in range(11)]
    read_store.commit("p", 0, 1, Changes(sweeps={d.id: d for d in docs}))
    seen: list[SweepView] = []
    cursor = None
    while True:
        page = read_store.list_sweeps(status=None, limit=3, cursor=cursor)
        assert len(page.items) <= 3
        seen += page.items  # type: ignore[arg-type]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [d.id for d in seen] == [d.id for d in reversed(docs)], "every sweep once, newest first"
    assert seen[0] == docs[-1], "whole documents, trials included"
    for status in statuses:  # three of each, but two failed
        first = read_store.list_sweeps(status=status, limit=2, cursor=None)
        assert first.next_cursor is not None or status == "failed"
        rest = (
            read_store.list_sweeps(status=status, limit=10, cursor=first.next_cursor)
            if first.next_cursor
            else Page(items=[], next_cursor=None)
        )
        assert rest.next_cursor is None
        assert [d.id for d in first.items + rest.items] == [  # type: ignore[attr-defined]
            d.id for d in reversed(docs) if d.status == status
        ]
    with pytest.raises(BadCursor):
        read_store.list_sweeps(status=None, limit=5, cursor="not-a-cursor")


def test_jobs_of_one_sweep_newest_first(read_store: ReadStore) -> None:
    ours, theirs = uuid4(), uuid4()
    trials = [job(n, status="completed" if n % 3 else "running", sweep=ours) for n in range(10)]
    others = [job(n, sweep=theirs) for n in range(10, 13)] + [job(n) for n in range(13, 16)]
    docs = {d.id: d for d in trials + others}
    read_store.commit("p", 0, 1, Changes(jobs=docs))
    seen: list[BacktestJobView] = []
    cursor = None
    while True:
        page = read_store.list_jobs(status=None, strategy=None, limit=4, cursor=cursor, sweep=ours)
        seen += page.items  # type: ignore[arg-type]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [d.id for d in seen] == [d.id for d in reversed(trials)], "its trials, newest first"
    assert seen[0] == trials[-1]
    running = read_store.list_jobs(
        status="running", strategy=None, limit=2, cursor=None, sweep=ours
    )
    rest = read_store.list_jobs(
        status="running", strategy=None, limit=10, cursor=running.next_cursor, sweep=ours
    )
    assert [d.id for d in running.items + rest.items] == [  # type: ignore[attr-defined]
        d.id for d in reversed(trials) if d.status == "running"
    ]
    with_strategy = read_store.list_jobs(
        status="completed", strategy="EmaCross", limit=3, cursor=None, sweep=ours
    )
    assert (
        [d.id for d in with_strategy.items]
        == [  # type: ignore[attr-defined]
            d.id for d in reversed(trials) if d.status == "completed"
        ][:3]
    )
    assert with_strategy.next_cursor is not None
    other = read_store.list_jobs(status=None, strategy="Other", limit=5, cursor=None, sweep=ours)
    assert other.items == [] and other.next_cursor is None
    assert (
        read_store.list_jobs(status=None, strategy=None, limit=10, cursor=None, sweep=uuid4()).items
        == []
    )
    everything = read_store.list_jobs(status=None, strategy=None, limit=100, cursor=None)
    assert len(everything.items) == 16, "without sweep: every job, as before"
    # A trial that moves on leaves the lists of its old status.
    moved = replace(trials[0], status="completed", version=2)
    read_store.commit("p", 1, 2, Changes(jobs={moved.id: moved}))
    running_now = read_store.list_jobs(
        status="running", strategy=None, limit=10, cursor=None, sweep=ours
    )
    assert moved.id not in {d.id for d in running_now.items}  # type: ignore[attr-defined]


def test_a_jobs_table_from_before_sweeps_gets_its_sweep_column(sql_urls: tuple[str, str]) -> None:
    """`create` adds `sweep_id` (and its index) to a jobs table an earlier release made, filled
    from the stored documents, so the trials already stored are found by sweep."""
    engine = create_engine(sql_urls[1])
    md = sa.MetaData()
    old = sa.Table(
        "backtest_jobs", md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sort_key", sa.BigInteger, nullable=False),
        sa.Column("doc", sa.LargeBinary, nullable=False),
    )  # fmt: skip
    md.create_all(engine)
    ours = uuid4()
    docs = [job(1, sweep=ours), job(2), job(3, sweep=ours)]
    with engine.begin() as conn:
        rows = [{k: v for k, v in job_row(d).items() if k != "sweep_id"} for d in docs]
        conn.execute(sa.insert(old), rows)
    store = SqlReadStore(engine)
    store.create()
    store.create()  # once added, left alone
    found = store.list_jobs(status=None, strategy=None, limit=10, cursor=None, sweep=ours)
    assert [d.id for d in found.items] == [docs[2].id, docs[0].id]  # type: ignore[attr-defined]
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("backtest_jobs")}
    assert "ix_jobs_sweep" in indexes
    engine.dispose()


def test_a_dynamodb_table_from_before_sweeps_gets_its_indexes(
    dynamodb_endpoint: DynamoDBEndpoint,
) -> None:
    client = dynamodb_endpoint.client()
    definition = table_definition(dynamodb_endpoint.table)
    new = {"by_sweep", "by_status_sweep"}
    new_attributes = {a for index in new for a in INDEXES[index]}
    definition["GlobalSecondaryIndexes"] = [
        i for i in definition["GlobalSecondaryIndexes"] if i["IndexName"] not in new
    ]
    definition["AttributeDefinitions"] = [
        a for a in definition["AttributeDefinitions"] if a["AttributeName"] not in new_attributes
    ]
    client.create_table(**definition)
    store = DynamoReadStore(dynamodb_endpoint.table, client=client)
    store.create()
    described = client.describe_table(TableName=dynamodb_endpoint.table)["Table"]
    assert {i["IndexName"] for i in described["GlobalSecondaryIndexes"]} == set(INDEXES)
    ours = uuid4()
    trial = job(1, sweep=ours)
    store.commit("p", 0, 1, Changes(jobs={trial.id: trial}))
    found = store.list_jobs(status="submitted", strategy=None, limit=5, cursor=None, sweep=ours)
    assert found.items == [trial]
