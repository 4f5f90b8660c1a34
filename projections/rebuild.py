"""Rebuilds a read model from position 0 of the event store, in batches."""

from __future__ import annotations

import time

import msgspec

from projections.ports import ArtifactStore, EventSource, ReadStore
from projections.read_model import ReadModelProjector


class RebuildReport(msgspec.Struct, frozen=True):
    """How much a rebuild replayed and how long it took."""

    events: int
    position: int
    seconds: float


def rebuild_read_model(
    source: EventSource,
    target: ReadStore,
    *,
    artifacts: ArtifactStore | None = None,
    batch_size: int = 2000,
    name: str = "read_model",
) -> RebuildReport:
    """Empty `target`, then replay every event into it; it ends at the source's newest position.

    `artifacts` must be the live model's artifact store: results, trades and equity are read
    from the runs' result artifacts, exactly as the live projector reads them.
    """
    started = time.perf_counter()
    target.reset()
    projector = ReadModelProjector(target, name, artifacts=artifacts)
    position = 0
    count = 0
    while True:
        events = source.read(position, batch_size)
        if not events:
            break
        projector.handle(events, position)
        position = events[-1].position
        count += len(events)
    return RebuildReport(events=count, position=position, seconds=time.perf_counter() - started)
