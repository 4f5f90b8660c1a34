"""The read model in memory: for fast unit tests; passes the same contract tests as SQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TypeVar
from uuid import UUID

import msgspec

from adapters import cursors
from commands.promotion_views import PromotionView
from commands.sweep_views import SweepView
from commands.views import BacktestJobView, StrategyVersionView, StrategyView
from domain.identity import strategy_id, strategy_version_id
from projections.ports import Changes, Page, PositionMoved
from projections.results import BacktestResultView, Trade

K = TypeVar("K")
V = TypeVar("V")


class InMemoryReadStore:
    """Dictionaries behind a lock; a commit swaps in documents and position together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._jobs: dict[UUID, BacktestJobView] = {}
            self._strategies: dict[UUID, StrategyView] = {}
            self._versions: dict[UUID, StrategyVersionView] = {}
            self._positions: dict[str, int] = {}
            self._results: dict[UUID, BacktestResultView] = {}
            self._trades: dict[UUID, list[Trade]] = {}
            self._promotions: dict[UUID, PromotionView] = {}
            self._sweeps: dict[UUID, SweepView] = {}

    def position(self, projection: str) -> int:
        return self._positions.get(projection, 0)

    def load_jobs(self, ids: Collection[UUID]) -> dict[UUID, BacktestJobView]:
        return _pick(self._jobs, ids)

    def load_strategies(self, ids: Collection[UUID]) -> dict[UUID, StrategyView]:
        return _pick(self._strategies, ids)

    def load_versions(self, ids: Collection[UUID]) -> dict[UUID, StrategyVersionView]:
        return _pick(self._versions, ids)

    def commit(self, projection: str, expected: int, position: int, changes: Changes) -> None:
        with self._lock:
            if self._positions.get(projection, 0) != expected:
                raise PositionMoved(f"{projection} is not at {expected}")
            self._jobs.update(changes.jobs)
            self._strategies.update(changes.strategies)
            self._versions.update(changes.versions)
            self._results.update(changes.results)
            self._promotions.update(changes.promotions)
            self._sweeps.update(changes.sweeps)
            self._trades.update({k: list(v) for k, v in changes.trades.items()})
            self._positions[projection] = position

    def save_position(self, projection: str, position: int) -> None:
        with self._lock:
            self._positions[projection] = position

    def load_promotions(self, ids: Collection[UUID]) -> dict[UUID, PromotionView]:
        return _pick(self._promotions, ids)

    def load_sweeps(self, ids: Collection[UUID]) -> dict[UUID, SweepView]:
        return _pick(self._sweeps, ids)

    def get_sweep(self, sweep_id: UUID) -> SweepView | None:
        return self._sweeps.get(sweep_id)

    def list_sweeps(self, *, status: str | None, limit: int, cursor: str | None) -> Page:
        with self._lock:
            found = [w for w in self._sweeps.values() if status is None or w.status == status]
        return _newest_first([(w.submitted_at, w.id, w) for w in found], limit, cursor)

    def get_promotion(self, promotion_id: UUID) -> PromotionView | None:
        return self._promotions.get(promotion_id)

    def list_promotions(self, *, status: str | None, limit: int, cursor: str | None) -> Page:
        with self._lock:
            found = [p for p in self._promotions.values() if status is None or p.status == status]
        return _newest_first([(p.requested_at, p.id, p) for p in found], limit, cursor)

    def get_result(self, job_id: UUID) -> BacktestResultView | None:
        return self._results.get(job_id)

    def list_trades(self, job_id: UUID, *, limit: int, cursor: str | None) -> Page:
        trades = self._trades.get(job_id, [])
        start = cursors.decode_seq_cursor(cursor) + 1 if cursor else 0
        page = trades[start : start + limit]
        more = start + limit < len(trades)
        next_cursor = cursors.encode(start + limit - 1, "") if more else None
        return Page(items=list(page), next_cursor=next_cursor)

    def get_job(self, job_id: UUID) -> BacktestJobView | None:
        return self._jobs.get(job_id)

    def list_jobs(
        self,
        *,
        status: str | None,
        strategy: str | None,
        limit: int,
        cursor: str | None,
        sweep: UUID | None = None,
    ) -> Page:
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if (status is None or j.status == status)
                and (strategy is None or j.strategy == strategy)
                and (sweep is None or j.sweep_id == sweep)
            ]
        return _newest_first([(j.submitted_at, j.id, j) for j in found], limit, cursor)

    def count_jobs_by_status(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(j.status for j in self._jobs.values()))

    def get_strategy(self, name: str) -> StrategyView | None:
        return self._strategies.get(strategy_id(name))

    def list_strategies(self, *, limit: int, cursor: str | None) -> Page:
        with self._lock:
            ordered = sorted(self._strategies.values(), key=lambda s: s.name)
        if cursor:
            after = cursors.decode_name_cursor(cursor)
            ordered = [s for s in ordered if s.name > after]
        page = ordered[:limit]
        more = len(ordered) > limit
        return Page(
            items=list(page), next_cursor=cursors.encode(page[-1].name, "") if more else None
        )

    def get_version(self, name: str, number: int) -> StrategyVersionView | None:
        return self._versions.get(strategy_version_id(name, number))

    def list_versions(self, name: str) -> Sequence[StrategyVersionView]:
        with self._lock:
            found = [v for v in self._versions.values() if v.name == name]
        return sorted(found, key=lambda v: v.version)

    def dump(self) -> dict[str, dict[str, bytes]]:
        encode = msgspec.json.encode
        with self._lock:
            return {
                "jobs": {str(k): encode(v) for k, v in self._jobs.items()},
                "strategies": {str(k): encode(v) for k, v in self._strategies.items()},
                "versions": {str(k): encode(v) for k, v in self._versions.items()},
                "results": {str(k): encode(v) for k, v in self._results.items()},
                "promotions": {str(k): encode(v) for k, v in self._promotions.items()},
                "sweeps": {str(k): encode(v) for k, v in self._sweeps.items()},
                "trades": {
                    f"{k}:{seq}": encode(t)
                    for k, ts in self._trades.items()
                    for seq, t in enumerate(ts)
                },
            }

    def ping(self) -> None:
        return None


def _pick(source: dict[K, V], keys: Collection[K]) -> dict[K, V]:
    return {k: source[k] for k in keys if k in source}


def _newest_first(
    rows: list[tuple[datetime, UUID, msgspec.Struct]], limit: int, cursor: str | None
) -> Page:
    """The same keyset paging as the SQL store: (microseconds, id) descending."""
    keyed = sorted(
        ((int(at.timestamp() * 1_000_000), str(key), doc) for at, key, doc in rows),
        key=lambda t: (t[0], t[1]),
        reverse=True,
    )
    if cursor:
        after = cursors.decode_job_cursor(cursor)
        keyed = [t for t in keyed if (t[0], t[1]) < after]
    page = keyed[:limit]
    next_cursor = cursors.encode(page[-1][0], page[-1][1]) if len(keyed) > limit else None
    return Page(items=[t[2] for t in page], next_cursor=next_cursor)
