"""The read model in SQL (SQLite by default, PostgreSQL in production) through SQLAlchemy Core.

Each document is stored whole as msgspec JSON next to the columns that queries filter on.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, TypeVar
from uuid import UUID

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters import cursors
from adapters.sql_rows import job_row, micros, sweep_row
from adapters.sql_schema import read_model_tables
from adapters.sql_upsert import upsert
from adapters.sqlite_point_reads import SqlitePointReads
from commands.promotion_views import PromotionView
from commands.sweep_views import SweepView
from commands.views import BacktestJobView, StrategyVersionView, StrategyView
from domain.identity import strategy_id, strategy_version_id
from projections.ports import Changes, Page, PositionMoved
from projections.results import BacktestResultView, Trade

D = TypeVar("D", bound=msgspec.Struct)
_encode = msgspec.json.Encoder().encode


class SqlReadStore:
    """Read store on any SQLAlchemy engine; `prefix` names a separate set of tables."""

    def __init__(self, engine: Engine, prefix: str = "") -> None:
        self.engine = engine
        self.prefix = prefix
        tables = read_model_tables(prefix)
        self.metadata = tables.metadata
        self.jobs, self.strategies, self.versions = tables.jobs, tables.strategies, tables.versions
        self.results, self.trades = tables.results, tables.trades
        self.promotions, self.positions = tables.promotions, tables.positions
        self.sweeps = tables.sweeps
        self._points = SqlitePointReads.for_engine(engine)

    @property
    def inline_reads(self) -> bool:
        """True when a lookup by id takes microseconds (local SQLite), so an async handler may
        make it on the event loop instead of paying a thread hand-off."""
        return self._points is not None

    def after_fork(self) -> None:
        """In a forked process: forget the parent's pooled connections (SQLAlchemy's advice)."""
        self.engine.dispose(close=False)
        self._points = SqlitePointReads.for_engine(self.engine)

    def create(self) -> None:
        """Create the tables if they are missing (idempotent), and add the columns that came
        after them to tables made by an earlier release."""
        self.metadata.create_all(self.engine)
        self._add_sweep_column()

    def _add_sweep_column(self) -> None:
        """Jobs tables made before sweeps lack `sweep_id`: add it and its index, and fill it
        from the stored documents (the job of a sweep's trial names its sweep)."""
        t = self.jobs
        if "sweep_id" in {c["name"] for c in sa.inspect(self.engine).get_columns(t.name)}:
            return
        index = next(i for i in t.indexes if i.name == f"{self.prefix}ix_jobs_sweep")
        try:
            self._fill_sweep_column(index)
        except sa.exc.DBAPIError:  # another replica starting at the same time added it first
            columns = sa.inspect(self.engine).get_columns(t.name)
            if "sweep_id" not in {c["name"] for c in columns}:
                raise

    def _fill_sweep_column(self, index: sa.Index) -> None:
        t = self.jobs
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {t.name} ADD COLUMN sweep_id VARCHAR(36)"))
            index.create(conn, checkfirst=True)
            trials = [
                {"key": row.id, "sweep": str(sweep)}
                for row in conn.execute(sa.select(t.c.id, t.c.doc))
                if (sweep := msgspec.json.decode(row.doc, type=BacktestJobView).sweep_id)
            ]
            if trials:
                conn.execute(
                    sa.update(t)
                    .where(t.c.id == sa.bindparam("key"))
                    .values(sweep_id=sa.bindparam("sweep")),
                    trials,
                )

    def reset(self) -> None:
        self.metadata.drop_all(self.engine)
        self.metadata.create_all(self.engine)

    # --- writer side -------------------------------------------------------------------------

    def position(self, projection: str) -> int:
        with self.engine.connect() as conn:
            value = conn.scalar(
                sa.select(self.positions.c.position).where(self.positions.c.name == projection)
            )
        return int(value or 0)

    def load_jobs(self, ids: Collection[UUID]) -> dict[UUID, BacktestJobView]:
        return self._load(self.jobs, ids, BacktestJobView)

    def load_strategies(self, ids: Collection[UUID]) -> dict[UUID, StrategyView]:
        return self._load(self.strategies, ids, StrategyView)

    def load_versions(self, ids: Collection[UUID]) -> dict[UUID, StrategyVersionView]:
        return self._load(self.versions, ids, StrategyVersionView)

    def load_promotions(self, ids: Collection[UUID]) -> dict[UUID, PromotionView]:
        return self._load(self.promotions, ids, PromotionView)

    def load_sweeps(self, ids: Collection[UUID]) -> dict[UUID, SweepView]:
        return self._load(self.sweeps, ids, SweepView)

    def get_promotion(self, promotion_id: UUID) -> PromotionView | None:
        return self._get(self.promotions, promotion_id, PromotionView)

    def list_promotions(self, *, status: str | None, limit: int, cursor: str | None) -> Page:
        t = self.promotions
        filters = [t.c.status == status] if status else []
        return self._newest_first(t, filters, limit, cursor, PromotionView)

    def commit(self, projection: str, expected: int, position: int, changes: Changes) -> None:
        try:
            self._commit(projection, expected, position, changes)
        except (
            sa.exc.IntegrityError
        ) as error:  # two first-ever writers raced to insert the position
            raise PositionMoved(f"{projection} was moved by another writer") from error

    def _commit(self, projection: str, expected: int, position: int, changes: Changes) -> None:
        with self.engine.begin() as conn:
            self._move_position(conn, projection, expected, position)
            upsert(conn, self.jobs, [job_row(v) for v in changes.jobs.values()])
            upsert(conn, self.sweeps, [sweep_row(v) for v in changes.sweeps.values()])
            upsert(
                conn,
                self.strategies,
                [
                    {"id": str(k), "name": v.name, "doc": _encode(v)}
                    for k, v in changes.strategies.items()
                ],
            )
            upsert(
                conn,
                self.results,
                [{"id": str(k), "doc": _encode(v)} for k, v in changes.results.items()],
            )
            self._replace_trades(conn, changes.trades)
            upsert(
                conn,
                self.promotions,
                [
                    {
                        "id": str(k),
                        "status": v.status,
                        "sort_key": micros(v.requested_at),
                        "doc": _encode(v),
                    }
                    for k, v in changes.promotions.items()
                ],
            )
            upsert(
                conn,
                self.versions,
                [
                    {"id": str(k), "name": v.name, "number": v.version, "doc": _encode(v)}
                    for k, v in changes.versions.items()
                ],
            )

    def _replace_trades(self, conn: Connection, trades: dict[UUID, list[Trade]]) -> None:
        if not trades:
            return
        t = self.trades
        conn.execute(sa.delete(t).where(t.c.job_id.in_([str(k) for k in trades])))
        rows = [
            {"job_id": str(job_id), "seq": seq, "doc": _encode(trade)}
            for job_id, items in trades.items()
            for seq, trade in enumerate(items)
        ]
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(t), rows[start : start + 5000])

    def save_position(self, projection: str, position: int) -> None:
        """Record a position outside any document write (for subscribers without documents)."""
        p = self.positions
        with self.engine.begin() as conn:
            moved = conn.execute(
                sa.update(p).where(p.c.name == projection).values(position=position)
            ).rowcount
            if not moved:
                conn.execute(sa.insert(p).values(name=projection, position=position))

    def _move_position(
        self, conn: Connection, projection: str, expected: int, position: int
    ) -> None:
        """Compare-and-set the position first, so a racing writer fails before writing documents."""
        p = self.positions
        moved = conn.execute(
            sa.update(p)
            .where(p.c.name == projection, p.c.position == expected)
            .values(position=position)
        ).rowcount
        if moved == 1:
            return
        current = conn.scalar(sa.select(p.c.position).where(p.c.name == projection))
        if current is None and expected == 0:
            conn.execute(sa.insert(p).values(name=projection, position=position))
            return
        raise PositionMoved(f"{projection} is at {current}, not at {expected}")

    def replace_with(self, source: SqlReadStore, projection: str = "read_model") -> None:
        """Replace this store's documents and position with `source`'s, in one transaction."""
        with self.engine.begin() as conn:
            self._copy_from(conn, source, projection)

    def replace_if_not_ahead(self, source: SqlReadStore, projection: str = "read_model") -> bool:
        """Replace this store's documents and position with `source`'s, in one transaction,
        unless this store's `projection` is already further along the log than `source`'s;
        False (nothing changed) then: catch `source` up and ask again.

        Why: a rebuild replays up to the head it saw when it began, while the live projector
        goes on. Swapping it in regardless moved the live model back: documents written since
        (jobs whose submits had been answered 202) vanished from queries until the next event
        made the live projector notice and replay the gap. The position is locked first (a
        no-op update: SQLite's write lock, PostgreSQL's row lock), so the live projector cannot
        commit between the comparison and the swap.
        """
        p = self.positions
        with self.engine.begin() as conn:
            conn.execute(sa.update(p).where(p.c.name == projection).values(position=p.c.position))
            mine = conn.scalar(sa.select(p.c.position).where(p.c.name == projection)) or 0
            theirs_at = source.positions.c.position
            theirs = conn.scalar(sa.select(theirs_at).where(source.positions.c.name == projection))
            if mine > (theirs or 0):
                return False
            self._copy_from(conn, source, projection)
        return True

    def _copy_from(self, conn: Connection, source: SqlReadStore, projection: str) -> None:
        for mine, theirs in (
            (self.jobs, source.jobs),
            (self.strategies, source.strategies),
            (self.versions, source.versions),
            (self.results, source.results),
            (self.trades, source.trades),
            (self.promotions, source.promotions),
            (self.sweeps, source.sweeps),
        ):
            conn.execute(sa.delete(mine))
            conn.execute(sa.insert(mine).from_select(list(theirs.c.keys()), sa.select(theirs)))
        conn.execute(sa.delete(self.positions).where(self.positions.c.name == projection))
        conn.execute(
            sa.insert(self.positions).from_select(
                ["name", "position"],
                sa.select(source.positions.c.name, source.positions.c.position).where(
                    source.positions.c.name == projection
                ),
            )
        )

    def drop(self) -> None:
        self.metadata.drop_all(self.engine)

    # --- query side --------------------------------------------------------------------------

    def get_job(self, job_id: UUID) -> BacktestJobView | None:
        return self._get(self.jobs, job_id, BacktestJobView)

    def job_document(self, job_id: str) -> bytes | None:
        """The stored JSON of the job with this (canonical string) id, for handlers that decode
        it into their own schema."""
        if self._points is not None:
            return self._points.doc(self.jobs.name, job_id)
        with self.engine.connect() as conn:
            doc = conn.scalar(sa.select(self.jobs.c.doc).where(self.jobs.c.id == job_id))
        return None if doc is None else bytes(doc)

    def list_jobs(
        self,
        *,
        status: str | None,
        strategy: str | None,
        limit: int,
        cursor: str | None,
        sweep: UUID | None = None,
    ) -> Page:
        t = self.jobs
        filters = [t.c.status == status] if status else []
        filters += [t.c.strategy == strategy] if strategy else []
        filters += [t.c.sweep_id == str(sweep)] if sweep else []
        return self._newest_first(t, filters, limit, cursor, BacktestJobView)

    def get_sweep(self, sweep_id: UUID) -> SweepView | None:
        return self._get(self.sweeps, sweep_id, SweepView)

    def list_sweeps(self, *, status: str | None, limit: int, cursor: str | None) -> Page:
        t = self.sweeps
        filters = [t.c.status == status] if status else []
        return self._newest_first(t, filters, limit, cursor, SweepView)

    def count_jobs_by_status(self) -> dict[str, int]:
        t = self.jobs
        query = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)  # the status index
        with self.engine.connect() as conn:
            return {status: count for status, count in conn.execute(query)}

    def _newest_first(
        self, t: sa.Table, filters: list[Any], limit: int, cursor: str | None, kind: type[D]
    ) -> Page:
        """Keyset paging by (sort_key, id) descending: stable while new rows arrive."""
        query = sa.select(t.c.doc, t.c.sort_key, t.c.id).where(*filters)
        if cursor:
            key, tiebreak = cursors.decode_job_cursor(cursor)
            query = query.where(
                sa.or_(t.c.sort_key < key, sa.and_(t.c.sort_key == key, t.c.id < tiebreak))
            )
        query = query.order_by(t.c.sort_key.desc(), t.c.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        items: list[msgspec.Struct] = [msgspec.json.decode(r.doc, type=kind) for r in rows[:limit]]
        more = len(rows) > limit
        next_cursor = cursors.encode(rows[limit - 1].sort_key, rows[limit - 1].id) if more else None
        return Page(items=items, next_cursor=next_cursor)

    def get_strategy(self, name: str) -> StrategyView | None:
        sid = strategy_id(name)
        return self._get(self.strategies, sid, StrategyView)

    def list_strategies(self, *, limit: int, cursor: str | None) -> Page:
        t = self.strategies
        query = sa.select(t.c.doc, t.c.name).order_by(t.c.name).limit(limit + 1)
        if cursor:
            query = query.where(t.c.name > cursors.decode_name_cursor(cursor))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        items: list[msgspec.Struct] = [
            msgspec.json.decode(r.doc, type=StrategyView) for r in rows[:limit]
        ]
        more = len(rows) > limit
        return Page(
            items=items, next_cursor=cursors.encode(rows[limit - 1].name, "") if more else None
        )

    def get_version(self, name: str, number: int) -> StrategyVersionView | None:
        vid = strategy_version_id(name, number)
        return self._get(self.versions, vid, StrategyVersionView)

    def list_versions(self, name: str) -> Sequence[StrategyVersionView]:
        t = self.versions
        query = sa.select(t.c.doc).where(t.c.name == name).order_by(t.c.number)
        with self.engine.connect() as conn:
            return [msgspec.json.decode(d, type=StrategyVersionView) for d in conn.scalars(query)]

    def get_result(self, job_id: UUID) -> BacktestResultView | None:
        return self._get(self.results, job_id, BacktestResultView)

    def list_trades(self, job_id: UUID, *, limit: int, cursor: str | None) -> Page:
        t = self.trades
        after = cursors.decode_seq_cursor(cursor) if cursor else -1
        query = (
            sa.select(t.c.seq, t.c.doc)
            .where(t.c.job_id == str(job_id), t.c.seq > after)
            .order_by(t.c.seq)
            .limit(limit + 1)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        items: list[msgspec.Struct] = [msgspec.json.decode(r.doc, type=Trade) for r in rows[:limit]]
        more = len(rows) > limit
        next_cursor = cursors.encode(rows[limit - 1].seq, "") if more else None
        return Page(items=items, next_cursor=next_cursor)

    def dump(self) -> dict[str, dict[str, bytes]]:
        out: dict[str, dict[str, bytes]] = {}
        with self.engine.connect() as conn:
            query = sa.select(self.trades).order_by(self.trades.c.job_id, self.trades.c.seq)
            out["trades"] = {f"{r.job_id}:{r.seq}": bytes(r.doc) for r in conn.execute(query)}
            for name, table in (
                ("jobs", self.jobs),
                ("strategies", self.strategies),
                ("versions", self.versions),
                ("results", self.results),
                ("promotions", self.promotions),
                ("sweeps", self.sweeps),
            ):
                out[name] = {
                    r.id: bytes(r.doc) for r in conn.execute(sa.select(table.c.id, table.c.doc))
                }
        return out

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.select(1))

    # --- helpers -----------------------------------------------------------------------------

    def _get(self, table: sa.Table, key: UUID, kind: type[D]) -> D | None:
        """One document by id: a prepared statement on SQLite, the general path elsewhere."""
        if self._points is None:
            return self._load(table, [key], kind).get(key)
        doc = self._points.doc(table.name, str(key))
        return None if doc is None else msgspec.json.decode(doc, type=kind)

    def _load(self, table: sa.Table, ids: Collection[UUID], kind: type[D]) -> dict[UUID, D]:
        if not ids:
            return {}
        keys = [str(i) for i in ids]
        out: dict[UUID, D] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):  # keep IN lists within every database's limits
                query = sa.select(table.c.id, table.c.doc).where(
                    table.c.id.in_(keys[start : start + 500])
                )
                for row in conn.execute(query):
                    out[UUID(row.id)] = msgspec.json.decode(row.doc, type=kind)
        return out
