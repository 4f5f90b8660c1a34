"""Rebuilds a read model from the event store: replayed in batches, optionally by several
processes at once, each owning a share of the aggregates."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from commands.store import StoredEvent
from projections.ports import ArtifactStore, ReadStore
from projections.read_model import ReadModelProjector


class PartitionedSource(Protocol):
    """The event log, read by partitions of aggregates (see EventStore.read_partition)."""

    def read_partition(
        self, after: int, limit: int, *, stop: int, part: int, parts: int
    ) -> tuple[list[StoredEvent], int]: ...

    def max_position(self) -> int: ...


class ForkableReadStore(ReadStore, Protocol):
    """A read store other processes can write too (SQL), that can drop inherited connections."""

    def after_fork(self) -> None:
        """Called first thing in a forked child: open new connections, never the parent's."""

    def save_position(self, projection: str, position: int) -> None: ...


class RebuildAbandoned(Exception):
    """The process that started a rebuild is gone, so its result would never be swapped in."""


class RebuildReport(msgspec.Struct, frozen=True):
    """How much a rebuild replayed and how long it took."""

    events: int
    position: int
    seconds: float


def rebuild_read_model(
    source: PartitionedSource,
    target: ReadStore,
    *,
    artifacts: ArtifactStore | None = None,
    batch_size: int = 2000,
    name: str = "read_model",
) -> RebuildReport:
    """Empty `target`, then replay every event up to the current head into it, in this process.

    `artifacts` must be the live model's artifact store: results, trades and equity are read
    from the runs' result artifacts, exactly as the live projector reads them.
    """
    started = time.perf_counter()
    target.reset()
    stop = source.max_position()
    count = replay_partition(source, target, artifacts, batch_size, name, stop, 0, 1)
    return RebuildReport(events=count, position=stop, seconds=time.perf_counter() - started)


def rebuild_read_model_parallel(
    open_source: Callable[[], PartitionedSource],
    target: ForkableReadStore,
    *,
    workers: int,
    artifacts: ArtifactStore | None = None,
    batch_size: int = 2000,
    name: str = "read_model",
) -> RebuildReport:
    """The same rebuild by `workers` processes, each replaying the aggregates of one partition.

    Sound because every read-model document is derived from the events of one aggregate (a job,
    a sweep, a strategy, a version and its promotions), so partitions never write the same
    document.
    Each partition records its own position; at the end the model's position is the head
    taken at the start, which every partition has reached. Children are forked (they inherit
    the loaded code, not connections: each opens its own with `open_source`, which should not
    try to create tables), so call this from a process that runs no other threads, such as the
    `tradai projections rebuild` command.
    """
    started = time.perf_counter()
    target.reset()
    source = open_source()
    stop = source.max_position()
    context = multiprocessing.get_context("fork")
    counts: Any = context.Array("q", workers)  # events each partition replayed
    parent = os.getpid()
    children = [
        context.Process(
            target=_child,
            args=(
                open_source,
                target,
                artifacts,
                batch_size,
                name,
                stop,
                part,
                workers,
                counts,
                parent,
            ),
            name=f"rebuild-{part}",
        )
        for part in range(1, workers)
    ]
    for child in children:
        child.start()
    try:
        counts[0] = replay_partition(source, target, artifacts, batch_size, name, stop, 0, workers)
    finally:
        for child in children:
            child.join()
    failed = [child.name for child in children if child.exitcode != 0]
    if failed:
        raise RuntimeError(f"rebuild partitions failed: {', '.join(failed)} (see their output)")
    target.save_position(name, stop)
    replayed: list[int] = list(counts)
    return RebuildReport(events=sum(replayed), position=stop, seconds=time.perf_counter() - started)


def _child(
    open_source: Callable[[], PartitionedSource],
    target: ForkableReadStore,
    artifacts: ArtifactStore | None,
    batch_size: int,
    name: str,
    stop: int,
    part: int,
    parts: int,
    counts: Any,
    parent: int,
) -> None:
    # A forked child outlives its parent: when the rebuild command is killed (SIGKILL, which it
    # cannot pass on), an orphan would go on replaying into the rebuild tables for nobody, under
    # the feet of the next rebuild and holding the database's write lock against the live
    # model. So each child checks before every batch that its parent is still the one that
    # forked it (an orphan is adopted by init or a subreaper) and stops when it is not.
    def orphaned() -> bool:
        return os.getppid() != parent

    try:
        target.after_fork()
        source = open_source()
        counts[part] = replay_partition(
            source, target, artifacts, batch_size, name, stop, part, parts, abandoned=orphaned
        )
    except RebuildAbandoned:
        sys.exit(1)


class LogSource(Protocol):
    """The event log read in order (see EventStore.read)."""

    def read(self, after: int, limit: int) -> list[StoredEvent]: ...


def catch_up(
    source: LogSource,
    target: ReadStore,
    until: int,
    *,
    artifacts: ArtifactStore | None = None,
    batch_size: int = 2000,
    name: str = "read_model",
) -> int:
    """Project into a rebuilt `target` the events after its recorded position, at least up to
    `until` (the live model's position, which moved on while the rebuild replayed), so the
    rebuild can be swapped in without moving the live model back; returns how many."""
    projector = ReadModelProjector(target, name, artifacts=artifacts)
    position, count = projector.position(), 0
    while position < until:
        events = source.read(position, batch_size)
        if not events:
            break
        projector.handle(events, position)
        position, count = events[-1].position, count + len(events)
    return count


def replay_partition(
    source: PartitionedSource,
    target: ReadStore,
    artifacts: ArtifactStore | None,
    batch_size: int,
    name: str,
    stop: int,
    part: int,
    parts: int,
    *,
    abandoned: Callable[[], bool] = lambda: False,
) -> int:
    """Project partition `part`'s events up to `stop` into `target`; return how many.

    `abandoned()` is asked before each batch; True stops the replay with RebuildAbandoned."""
    projector_name = name if parts == 1 else f"{name}.part{part}"
    projector = ReadModelProjector(target, projector_name, artifacts=artifacts, fresh=True)
    scanned, committed, count = 0, 0, 0
    while scanned < stop:
        if abandoned():
            raise RebuildAbandoned(f"{projector_name}: the rebuild was abandoned at {scanned}")
        events, last = source.read_partition(scanned, batch_size, stop=stop, part=part, parts=parts)
        if last == scanned:  # no rows left up to `stop`
            break
        scanned = last
        if events:
            projector.handle(events, committed)
            committed = events[-1].position
            count += len(events)
    return count
