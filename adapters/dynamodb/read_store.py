"""The read model in DynamoDB (boto3): the same ports as the SQL store, kept without a shared
transaction by conditional writes.

Each document item carries the log position of the last event applied to it (`mark`); a write
succeeds only where the stored mark is lower, so an old, repeated or reordered delivery
changes nothing. The projector's position is an item of the table too, moved (compare and set)
only after the writes it covers; documents derived from an event (a result, trades, a
promotion) are written before the document of the event's own aggregate, whose mark the
projector checks before applying an event again after a crash (see ReadModelProjector).
Writes go in TransactWriteItems of up to 100 items (one round trip each); a transaction that
a stale item cancels is written again item by item, skipping the stale ones.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from uuid import UUID

import boto3
import msgspec

from adapters import cursors
from adapters.dynamodb.items import (
    CONTROL,
    MAX_PART_BYTES,
    MAX_TRANSACTION_ITEMS,
    Item,
    item_key,
    job_indexes,
    promotion_indexes,
    s,
    sweep_indexes,
    transactions,
)
from adapters.dynamodb.requests import TableRequests
from adapters.dynamodb.table import INDEXES, delete_table, ensure_table
from commands.promotion_views import PromotionView
from commands.sweep_views import SweepView
from commands.views import BacktestJobView, StrategyVersionView, StrategyView
from domain.backtest_job import JobStatus
from domain.identity import strategy_id, strategy_version_id
from projections.ports import Changes, Page, PositionMoved
from projections.results import BacktestResultView, Trade

T = TypeVar("T")
WRITE_THREADS = 8
_encode = msgspec.json.encode
_TRADES = msgspec.json.Decoder(list[Trade])
# Replicas notice a rebuild's switch to a new table within this many seconds; until then their
# projector writes to the old one, and then catches the new one up from its own position.
ACTIVE_TABLE_TTL = 2.0


class DynamoReadStore(TableRequests):
    """Read model in one DynamoDB table (adapters/dynamodb/table.py has the item layout)."""

    inline_reads = False  # every read is a network round trip: handlers use a thread

    def __init__(self, table: str, client: Any | None = None, *, physical: str = "") -> None:
        """`table` is the configured name; the documents live in the table its CONTROL item
        names (itself at first, a rebuilt one after `tradai projections rebuild`). With
        `physical`, this store works on that table only (a rebuild filling a fresh one)."""
        self.base = table
        self.client = client or boto3.client("dynamodb")
        self._fixed = bool(physical)
        self._active = physical or table
        self._checked_at = -ACTIVE_TABLE_TTL
        self._marks: dict[UUID, int] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def table(self) -> str:
        """The table holding the documents now (looked up at most every few seconds)."""
        now = time.monotonic()
        if not self._fixed and now - self._checked_at >= ACTIVE_TABLE_TTL:
            item = self.client.get_item(TableName=self.base, Key=CONTROL, ConsistentRead=True).get(
                "Item"
            )
            self._active = item["table"]["S"] if item else self.base
            self._checked_at = now
        return self._active

    # --- lifecycle ---------------------------------------------------------------------------

    def create(self) -> None:
        ensure_table(self.client, self.base)
        if self._active != self.base:
            ensure_table(self.client, self._active)

    def switch_to(self, new: str, old: str) -> None:
        """Make `new` the table that answers, if `old` still is (a rebuild's last step)."""
        try:
            self.client.put_item(
                TableName=self.base,
                Item=CONTROL | {"table": s(new)},
                ConditionExpression="attribute_not_exists(pk) OR #t = :old",
                ExpressionAttributeNames={"#t": "table"},
                ExpressionAttributeValues={":old": s(old)},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise RuntimeError(f"another rebuild switched {self.base} away from {old}") from None
        self._active, self._checked_at = new, time.monotonic()

    def drop(self) -> None:
        delete_table(self.client, self.table)

    def ping(self) -> None:
        self.client.describe_table(TableName=self.table)

    def reset(self) -> None:
        """Delete every item (a fresh, empty read model)."""
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in self._scan() if i["pk"]["S"] != "CONTROL"]
        for start in range(0, len(keys), 25):
            requests = [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
            self._batch_write(requests)
        with self._lock:
            self._marks.clear()

    # --- the projector's side ----------------------------------------------------------------

    def position(self, projection: str) -> int:
        item = self._get(f"POSITION#{projection}", "POSITION")
        return int(item["position"]["N"]) if item else 0

    def save_position(self, projection: str, position: int) -> None:
        self.client.put_item(
            TableName=self.table,
            Item=item_key(f"POSITION#{projection}", "POSITION")
            | {"position": {"N": str(position)}},
        )

    def load_jobs(self, ids: Collection[UUID]) -> dict[UUID, BacktestJobView]:
        return self._load("JOB", ids, BacktestJobView)

    def load_strategies(self, ids: Collection[UUID]) -> dict[UUID, StrategyView]:
        return self._load("STRATEGY", ids, StrategyView)

    def load_versions(self, ids: Collection[UUID]) -> dict[UUID, StrategyVersionView]:
        return self._load("VERSION", ids, StrategyVersionView)

    def load_promotions(self, ids: Collection[UUID]) -> dict[UUID, PromotionView]:
        return self._load("PROMOTION", ids, PromotionView)

    def load_sweeps(self, ids: Collection[UUID]) -> dict[UUID, SweepView]:
        return self._load("SWEEP", ids, SweepView)

    def load_marks(self, ids: Collection[UUID]) -> dict[UUID, int]:
        """The marks of documents loaded by the last load_* calls (the projector's guard)."""
        with self._lock:
            return {i: self._marks[i] for i in ids if i in self._marks}

    def commit(self, projection: str, expected: int, position: int, changes: Changes) -> None:
        marks = changes.marks
        items: list[Item] = []
        # Per group (one aggregate's documents), derived documents come before the aggregate's
        # own: a group is written in one transaction, so they land together.
        for job_id, result in changes.results.items():
            mark = marks.get(job_id, position)
            items.append(Item(f"JOB#{job_id}", "RESULT", _encode(result), mark, {}))
        for job_id, trades in changes.trades.items():
            mark = marks.get(job_id, position)
            items.append(Item(f"JOB#{job_id}", "TRADES", _encode(trades), mark, {}))
        for pid, promotion in changes.promotions.items():
            group = f"VERSION#{strategy_version_id(promotion.strategy, promotion.version)}"
            indexes = promotion_indexes(promotion)
            mark = marks.get(pid, position)
            items.append(Item(f"PROMOTION#{pid}", "DOC", _encode(promotion), mark, indexes, group))
        for vid, version in changes.versions.items():
            indexes = {
                "l3pk": s(f"VERSIONS#{version.name}"),
                "l3sk": s(f"{version.version:010d}"),
            }
            items.append(
                Item(f"VERSION#{vid}", "DOC", _encode(version), marks.get(vid, position), indexes)
            )
        for sid, strategy in changes.strategies.items():
            indexes = {"l1pk": s("STRATEGIES"), "l1sk": s(strategy.name)}
            items.append(
                Item(f"STRATEGY#{sid}", "DOC", _encode(strategy), marks.get(sid, position), indexes)
            )
        for sweep_id, sweep in changes.sweeps.items():
            mark = marks.get(sweep_id, position)
            indexes = sweep_indexes(sweep)
            items.append(Item(f"SWEEP#{sweep_id}", "DOC", _encode(sweep), mark, indexes))
        for job_id, job in changes.jobs.items():
            mark = marks.get(job_id, position)
            items.append(Item(f"JOB#{job_id}", "DOC", _encode(job), mark, job_indexes(job)))
        if self.position(projection) != expected:  # a refused commit writes nothing
            raise PositionMoved(f"{projection} is not at {expected}")
        self._write_guarded(items, self._position_put(projection, expected, position))

    # --- queries -----------------------------------------------------------------------------

    def get_job(self, job_id: UUID) -> BacktestJobView | None:
        return self._document(f"JOB#{job_id}", "DOC", BacktestJobView)

    def job_document(self, job_id: str) -> bytes | None:
        """The stored JSON of one job (handlers decode it into their own schema)."""
        item = self._get(f"JOB#{job_id}", "DOC")
        return self._bytes(item) if item else None

    def list_jobs(
        self,
        *,
        status: str | None,
        strategy: str | None,
        limit: int,
        cursor: str | None,
        sweep: UUID | None = None,
    ) -> Page:
        if sweep:
            # A sweep's trials are all of its strategy: one asked for another finds none.
            only = {"l3pk": f"JOBS#{strategy}"} if strategy else None
            if status:
                index, key = "by_status_sweep", f"TRIALS#{status}#{sweep}"
            else:
                index, key = "by_sweep", f"TRIALS#{sweep}"
            return self._newest_first(index, key, limit, cursor, BacktestJobView, only)
        if status and strategy:
            index, key = "by_status_strategy", f"JOBS#{status}#{strategy}"
        elif status:
            index, key = "by_status", f"JOBS#{status}"
        elif strategy:
            index, key = "by_strategy", f"JOBS#{strategy}"
        else:
            index, key = "lists", "JOBS"
        return self._newest_first(index, key, limit, cursor, BacktestJobView)

    def count_jobs_by_status(self) -> dict[str, int]:
        """One COUNT query of the status index per status (the index is eventually consistent:
        a job that just changed status may be counted in its previous one for a moment)."""
        index = INDEXES["by_status"][0]
        counts = {
            status.value: self._count("by_status", f"{index} = :p", {":p": s(f"JOBS#{status}")})
            for status in JobStatus
        }
        return {status: count for status, count in counts.items() if count}

    def get_strategy(self, name: str) -> StrategyView | None:
        return self._document(f"STRATEGY#{strategy_id(name)}", "DOC", StrategyView)

    def list_strategies(self, *, limit: int, cursor: str | None) -> Page:
        condition, values = "l1pk = :p", {":p": s("STRATEGIES")}
        if cursor:
            condition += " AND l1sk > :after"
            values[":after"] = s(cursors.decode_name_cursor(cursor))
        items = self._query("lists", condition, values, forward=True, limit=limit + 1)
        found = [self._decode(i, StrategyView) for i in items]
        page = found[:limit]
        more = len(found) > limit
        return Page(
            items=list(page), next_cursor=cursors.encode(page[-1].name, "") if more else None
        )

    def get_version(self, name: str, number: int) -> StrategyVersionView | None:
        return self._document(
            f"VERSION#{strategy_version_id(name, number)}", "DOC", StrategyVersionView
        )

    def list_versions(self, name: str) -> Sequence[StrategyVersionView]:
        items = self._query("by_strategy", "l3pk = :p", {":p": s(f"VERSIONS#{name}")}, forward=True)
        return [self._decode(i, StrategyVersionView) for i in items]

    def get_result(self, job_id: UUID) -> BacktestResultView | None:
        return self._document(f"JOB#{job_id}", "RESULT", BacktestResultView)

    def list_trades(self, job_id: UUID, *, limit: int, cursor: str | None) -> Page:
        item = self._get(f"JOB#{job_id}", "TRADES")
        trades = _TRADES.decode(self._bytes(item)) if item else []
        start = cursors.decode_seq_cursor(cursor) + 1 if cursor else 0
        page = trades[start : start + limit]
        more = start + limit < len(trades)
        return Page(
            items=list(page), next_cursor=cursors.encode(start + limit - 1, "") if more else None
        )

    def get_promotion(self, promotion_id: UUID) -> PromotionView | None:
        return self._document(f"PROMOTION#{promotion_id}", "DOC", PromotionView)

    def list_promotions(self, *, status: str | None, limit: int, cursor: str | None) -> Page:
        if status:
            return self._newest_first(
                "by_status", f"PROMOTIONS#{status}", limit, cursor, PromotionView
            )
        return self._newest_first("lists", "PROMOTIONS", limit, cursor, PromotionView)

    def get_sweep(self, sweep_id: UUID) -> SweepView | None:
        return self._document(f"SWEEP#{sweep_id}", "DOC", SweepView)

    def list_sweeps(self, *, status: str | None, limit: int, cursor: str | None) -> Page:
        if status:
            return self._newest_first("by_status", f"SWEEPS#{status}", limit, cursor, SweepView)
        return self._newest_first("lists", "SWEEPS", limit, cursor, SweepView)

    def dump(self) -> dict[str, dict[str, bytes]]:
        """Every document per kind, as the other stores dump them (to compare two models)."""
        kinds = {
            "JOB": "jobs",
            "STRATEGY": "strategies",
            "VERSION": "versions",
            "PROMOTION": "promotions",
            "SWEEP": "sweeps",
        }
        out: dict[str, dict[str, bytes]] = {k: {} for k in (*kinds.values(), "results", "trades")}
        for item in self._scan():
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            prefix, _, key = pk.partition("#")
            if "#PART#" in sk or prefix in ("POSITION", "CONTROL"):
                continue
            data = self._bytes(item)
            if sk == "DOC":
                out[kinds[prefix]][key] = data
            elif sk == "RESULT":
                out["results"][key] = data
            elif sk == "TRADES":
                for seq, trade in enumerate(_TRADES.decode(data)):
                    out["trades"][f"{key}:{seq}"] = _encode(trade)
        return out

    # --- plumbing ----------------------------------------------------------------------------

    def _load(self, kind: str, ids: Collection[UUID], cls: type[T]) -> dict[UUID, T]:
        found: dict[UUID, T] = {}
        keys = [item_key(f"{kind}#{i}") for i in ids]
        for item in self._batch_get(keys):
            key = UUID(item["pk"]["S"].partition("#")[2])
            found[key] = self._decode(item, cls)
            with self._lock:
                self._marks[key] = int(item["mark"]["N"])
        return found

    def _document(self, pk: str, sk: str, cls: type[T]) -> T | None:
        item = self._get(pk, sk)
        return self._decode(item, cls) if item else None

    def _decode(self, item: dict[str, Any], cls: type[T]) -> T:
        return msgspec.json.decode(self._bytes(item), type=cls)

    def _bytes(self, item: dict[str, Any]) -> bytes:
        """The document of an item, put together from its parts when it was split."""
        if "doc" in item:
            return bytes(item["doc"]["B"])
        pk, sk, mark = item["pk"]["S"], item["sk"]["S"], item["mark"]["N"]
        parts = self._query_table(pk, f"{sk}#PART#{mark}#")
        return b"".join(bytes(p["doc"]["B"]) for p in parts)

    def _newest_first(
        self,
        index: str,
        key: str,
        limit: int,
        cursor: str | None,
        cls: type[T],
        only: dict[str, str] | None = None,
    ) -> Page:
        """A page of the index's items under `key`, newest first; with `only`, of those whose
        attributes hold these values (a filter: DynamoDB reads the others, then drops them)."""
        pk, sk = INDEXES[index]
        condition, values = f"{pk} = :p", {":p": s(key)}
        if cursor:
            micros, tiebreak = cursors.decode_job_cursor(cursor)
            condition += f" AND {sk} < :before"
            values[":before"] = s(f"{micros:020d}#{tiebreak}")
        wanted = None
        if only:
            wanted = " AND ".join(f"{name} = :only{n}" for n, name in enumerate(only))
            values |= {f":only{n}": s(value) for n, value in enumerate(only.values())}
        items = self._query(
            index, condition, values, forward=False, limit=limit + 1, filter_expression=wanted
        )
        page = items[:limit]
        next_cursor = None
        if len(items) > limit:
            micros_text, _, last_id = page[-1][sk]["S"].partition("#")
            next_cursor = cursors.encode(int(micros_text), last_id)
        documents: list[Any] = [self._decode(i, cls) for i in page]
        return Page(items=documents, next_cursor=next_cursor)

    def _write_guarded(self, items: list[Item], position: dict[str, Any]) -> None:
        """Put each document unless the table holds it at the same or a later mark, then move
        the position: all in one transaction when they fit (up to 100 items); otherwise the
        transactions (whole groups each) go out at once on several threads, which is what
        DynamoDB's latency calls for, and the position moves when every one succeeded."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for entry in items:
            groups.setdefault(entry.group or entry.pk, []).append(self._guarded_put(entry))
        packed = list(transactions(list(groups.values())))
        if len(packed) <= 1 and sum(map(len, packed)) < MAX_TRANSACTION_ITEMS:
            self._transact([*(packed[0] if packed else []), position], position)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="dynamodb-write")
        for done in [self._pool.submit(self._transact, chunk, None) for chunk in packed]:
            done.result()  # the first failure raises: the position stays, the batch is retried
        self._put_position(position)

    def _guarded_put(self, entry: Item) -> dict[str, Any]:
        item = item_key(entry.pk, entry.sk) | {"mark": {"N": str(entry.mark)}} | entry.indexes
        doc = entry.doc
        if len(doc) <= MAX_PART_BYTES:
            item["doc"] = {"B": doc}
        else:  # parts first, under the mark's own keys: a stale writer cannot mix them
            pieces = [doc[i : i + MAX_PART_BYTES] for i in range(0, len(doc), MAX_PART_BYTES)]
            parts = [item_key(entry.pk, f"{entry.sk}#PART#{entry.mark}#{n:04d}") | {"doc": {"B": c}}
                     for n, c in enumerate(pieces)]  # fmt: skip
            self._batch_write([{"PutRequest": {"Item": part}} for part in parts])
            item["parts"] = {"N": str(len(pieces))}
        return {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk) OR mark < :mark",
            "ExpressionAttributeValues": {":mark": {"N": str(entry.mark)}},
        }

    def _transact(self, puts: list[dict[str, Any]], position: dict[str, Any] | None) -> None:
        try:
            self.client.transact_write_items(TransactItems=[{"Put": p} for p in puts])
        except self.client.exceptions.TransactionCanceledException:
            stale = self.client.exceptions.ConditionalCheckFailedException
            for put in puts:  # a stale item (or a moved position): one by one
                if put is position:
                    self._put_position(position)
                else:
                    with contextlib.suppress(stale):
                        self.client.put_item(**put)

    def _position_put(self, projection: str, expected: int, position: int) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Item": item_key(f"POSITION#{projection}", "POSITION")
            | {"position": {"N": str(position)}},
            "ConditionExpression": "(attribute_not_exists(pk) AND :expected = :zero) "
            "OR #p = :expected",
            "ExpressionAttributeNames": {"#p": "position"},
            "ExpressionAttributeValues": {
                ":expected": {"N": str(expected)},
                ":zero": {"N": "0"},
            },
        }

    def _put_position(self, put: dict[str, Any]) -> None:
        try:
            self.client.put_item(**put)
        except self.client.exceptions.ConditionalCheckFailedException:
            name = put["Item"]["pk"]["S"].removeprefix("POSITION#")
            raise PositionMoved(f"{name} moved while its documents were written") from None


def _position_item(projection: str, position: int) -> dict[str, Any]:
    return item_key(f"POSITION#{projection}", "POSITION") | {"position": {"N": str(position)}}
