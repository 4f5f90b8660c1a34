"""The read-store contract, run against memory, SQLite, PostgreSQL and DynamoDB (moto server and
DynamoDB Local)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from msgspec.structs import replace

from adapters.dynamodb.read_store import DynamoReadStore
from adapters.memory_read_store import InMemoryReadStore
from adapters.sql_read_store import SqlReadStore
from commands.promotion_views import GateView, PromotionView
from commands.views import BacktestJobView, Progress, StrategyView
from domain.identity import strategy_id
from projections.ports import BadCursor, Changes, PositionMoved

ReadStore = InMemoryReadStore | SqlReadStore | DynamoReadStore
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def job(n: int, status: str = "submitted", strategy: str = "EmaCross") -> BacktestJobView:
    return BacktestJobView(
        id=uuid4(), strategy=strategy, strategy_version=1, code_sha256="0" * 64,
        pairs=("BTC/USDT",), timeframe="5m", timerange="20240101-20240301", exchange="binance",
        stake_amount=None, max_open_trades=None, starting_balance=None, fee=None,
        status=status, progress=Progress(), attempt=0, worker=None, submitted_by="alice",
        submitted_at=T0 + timedelta(seconds=n), started_at=None, finished_at=None, error=None,
        cancel_requested=False, summary=None, artifacts={}, lease_expires_at=None, version=1,
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
