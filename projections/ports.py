"""Ports of the read side: what projectors need from a read store and what queries ask of it."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import msgspec

from commands.promotion_views import PromotionView
from commands.store import StoredEvent
from commands.sweep_views import SweepView
from commands.views import BacktestJobView, StrategyVersionView, StrategyView
from projections.results import BacktestResultView, Trade


class StorageUnavailable(RuntimeError):
    """The artifact or market-data store did not answer, or refused for a reason other than a
    missing object (a network error, a missing bucket, no permission). Not an OSError on
    purpose: a projector that meets it retries, instead of recording the artifact as unreadable
    for good; the API answers 503."""


class BadCursor(ValueError):
    """A list cursor that this service did not make (or that was altered)."""


class PositionMoved(RuntimeError):
    """Another writer (a replica, or a rebuild's swap) moved the projection's position first."""


class Page(msgspec.Struct, frozen=True):
    """One page of a list and the opaque cursor of the next page (None on the last)."""

    items: list[msgspec.Struct]
    next_cursor: str | None


class Changes(msgspec.Struct):
    """Documents a batch of events changed, to be written with the new position in one go."""

    jobs: dict[UUID, BacktestJobView] = {}
    strategies: dict[UUID, StrategyView] = {}
    versions: dict[UUID, StrategyVersionView] = {}
    results: dict[UUID, BacktestResultView] = {}
    trades: dict[UUID, list[Trade]] = {}
    promotions: dict[UUID, PromotionView] = {}
    sweeps: dict[UUID, SweepView] = {}
    # Per changed document (by its own id; results and trades go by their job's), the log
    # position of the last event applied: stores without transactions write conditionally on it.
    marks: dict[UUID, int] = {}


class EventSource(Protocol):
    """The ordered log of every event (the event store's notification log)."""

    def read(self, after: int, limit: int) -> list[StoredEvent]: ...

    def max_position(self) -> int: ...


class ReadModelWriter(Protocol):
    """What the read-model projector needs: load documents, then write changes plus position."""

    def position(self, projection: str) -> int: ...

    def load_jobs(self, ids: Collection[UUID]) -> dict[UUID, BacktestJobView]: ...

    def load_strategies(self, ids: Collection[UUID]) -> dict[UUID, StrategyView]: ...

    def load_versions(self, ids: Collection[UUID]) -> dict[UUID, StrategyVersionView]: ...

    def load_promotions(self, ids: Collection[UUID]) -> dict[UUID, PromotionView]: ...

    def load_sweeps(self, ids: Collection[UUID]) -> dict[UUID, SweepView]: ...

    def commit(self, projection: str, expected: int, position: int, changes: Changes) -> None:
        """Write the changes and move the position from `expected` to `position` atomically.

        Raises PositionMoved (writing nothing) when the stored position is not `expected`.
        """


class ReadModelQueries(Protocol):
    """What query endpoints ask of the read model; never the event store."""

    def get_job(self, job_id: UUID) -> BacktestJobView | None: ...

    def list_jobs(
        self,
        *,
        status: str | None,
        strategy: str | None,
        limit: int,
        cursor: str | None,
        sweep: UUID | None = None,
    ) -> Page:
        """Jobs newest first, of one status, strategy and sweep (its trials) when given."""

    def count_jobs_by_status(self) -> dict[str, int]:
        """How many jobs are in each status; a status no job is in is left out."""

    def get_strategy(self, name: str) -> StrategyView | None: ...

    def list_strategies(self, *, limit: int, cursor: str | None) -> Page: ...

    def get_version(self, name: str, number: int) -> StrategyVersionView | None: ...

    def list_versions(self, name: str) -> Sequence[StrategyVersionView]: ...

    def get_result(self, job_id: UUID) -> BacktestResultView | None: ...

    def get_promotion(self, promotion_id: UUID) -> PromotionView | None: ...

    def list_promotions(self, *, status: str | None, limit: int, cursor: str | None) -> Page: ...

    def list_trades(self, job_id: UUID, *, limit: int, cursor: str | None) -> Page: ...

    def get_sweep(self, sweep_id: UUID) -> SweepView | None: ...

    def list_sweeps(self, *, status: str | None, limit: int, cursor: str | None) -> Page:
        """Sweeps newest first (by submission), of one status when given."""


@dataclass(frozen=True)
class ArtifactStream:
    """A stored artifact opened for reading: its size, and its bytes in chunks as they are read
    (the underlying file or connection is closed when `chunks` ends or is closed)."""

    size: int
    chunks: Iterator[bytes]


class ArtifactStore(Protocol):
    """Where runs keep their files (freqtrade's result zip, the normalised result, logs).

    Keys are relative paths like `<job>/<attempt>/result`: ValueError for an empty key, an
    absolute one, or one with a `..` part."""

    def put_file(self, key: str, path: str) -> str:
        """Store the file at `path` under `key`; return the key. Write-once: FileExistsError when
        `key` holds a file already; an OSError when the file cannot be stored."""

    def read(self, key: str) -> bytes:
        """The stored bytes; FileNotFoundError when there is nothing under `key`. A store that
        cannot be reached raises something other than an OSError, so that a projector retries
        instead of recording the artifact as unreadable."""

    def stream(self, key: str) -> ArtifactStream:
        """The stored bytes in chunks, without holding the whole file in memory; raises as
        `read` does, before the first chunk."""


class PositionStore(Protocol):
    """Positions of subscribers whose work is not in the read model (the executor)."""

    def position(self, projection: str) -> int: ...

    def save_position(self, projection: str, position: int) -> None: ...


class ReadStore(ReadModelWriter, ReadModelQueries, Protocol):
    """A read store serves both sides, and can be reset and dumped for rebuilds."""

    def reset(self) -> None:
        """Drop every document and position (a fresh, empty read model)."""

    def dump(self) -> dict[str, dict[str, bytes]]:
        """Every document per table, encoded, to compare two read models."""
