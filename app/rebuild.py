"""Rebuild the SQL read model online: replay into fresh tables, then swap them in atomically."""

from __future__ import annotations

import contextlib
import os
import time

from adapters.event_store import open_event_store
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from app.settings import Settings
from app.storage import open_artifact_store
from projections.ports import PositionMoved
from projections.rebuild import (
    RebuildReport,
    catch_up,
    rebuild_read_model,
    rebuild_read_model_parallel,
)

REBUILD_PREFIX = "rebuild_"
# Each attempt catches the rebuilt tables up to the live model, then swaps unless the live
# model moved on again meanwhile; it falls further behind only under more writes than a
# projector can follow, so a few attempts always do.
SWAP_ATTEMPTS = 20


def default_workers() -> int:
    """One rebuild process per core, at most four (beyond that the database's single writer,
    not decoding, is what everyone waits for)."""
    return max(1, min(os.cpu_count() or 1, 4))


def rebuild_and_swap(settings: Settings, batch_size: int = 2000, workers: int = 1) -> RebuildReport:
    """A running server keeps serving the old tables until the swap; its projector then goes
    on from the swapped-in position, which is where it was: the rebuilt tables are caught up
    to the live model's position before they are swapped in, never swapped in behind it.

    With `workers` > 1 the replay is shared out by aggregate between forked processes; an
    in-memory event store cannot be shared, so it is always replayed by one.
    """
    started = time.perf_counter()
    url = settings.resolved_event_store_url
    store = open_event_store(url)
    engine = create_engine(settings.resolved_read_model_url)
    try:
        fresh = SqlReadStore(engine, prefix=REBUILD_PREFIX)
        artifacts = open_artifact_store(settings)
        if workers > 1 and not url.startswith("memory:"):
            report = rebuild_read_model_parallel(
                lambda: open_event_store(url, create_tables=False),
                fresh,
                workers=workers,
                artifacts=artifacts,
                batch_size=batch_size,
            )
        else:
            report = rebuild_read_model(store, fresh, artifacts=artifacts, batch_size=batch_size)
        live = SqlReadStore(engine)
        live.create()
        events = report.events
        for _ in range(SWAP_ATTEMPTS):
            events += catch_up(
                store, fresh, live.position("read_model"), artifacts=artifacts,
                batch_size=batch_size,
            )  # fmt: skip
            if live.replace_if_not_ahead(fresh):
                break
        else:
            raise RuntimeError(
                "the live read model kept moving ahead of the rebuilt one; nothing was swapped "
                "in: run the rebuild again"
            )
        position = fresh.position("read_model")
        fresh.drop()
        return RebuildReport(events, position, time.perf_counter() - started)
    finally:
        store.close()
        engine.dispose()


def rebuild_dynamodb(settings: Settings, batch_size: int = 500) -> RebuildReport:
    """Replay the event store into a fresh DynamoDB table, catch it up to the live one, and
    switch the configured table's CONTROL item to it: replicas follow within seconds, and
    their projector carries the new table on from its recorded position. The previous table is
    deleted after a grace period (the configured table itself is kept: it holds CONTROL)."""
    from adapters.dynamodb.read_store import ACTIVE_TABLE_TTL, DynamoReadStore
    from app.bootstrap import DYNAMODB_PROJECTION

    started = time.perf_counter()
    store = open_event_store(settings.resolved_event_store_url)
    try:
        live = DynamoReadStore(settings.dynamodb_table)
        live.create()
        old = live.table
        new = f"{settings.dynamodb_table}-{time.strftime('%Y%m%d%H%M%S')}"
        fresh = DynamoReadStore(settings.dynamodb_table, live.client, physical=new)
        fresh.create()
        artifacts = open_artifact_store(settings)
        report = rebuild_read_model(
            store, fresh, artifacts=artifacts, batch_size=batch_size, name=DYNAMODB_PROJECTION
        )
        events = report.events + catch_up(
            store, fresh, live.position(DYNAMODB_PROJECTION), artifacts=artifacts,
            batch_size=batch_size, name=DYNAMODB_PROJECTION,
        )  # fmt: skip
        live.switch_to(new, old)
        # Replicas go on writing to the old table until they look again (within the TTL), and
        # read what they write: keep the new one caught up with the old meanwhile, so a replica
        # that switches finds everything it already answered for.
        previous = DynamoReadStore(settings.dynamodb_table, live.client, physical=old)
        until = time.monotonic() + 2 * ACTIVE_TABLE_TTL
        while time.monotonic() < until:
            # A replica that switched writes to the new table too: whoever commits second
            # finds the position moved and starts again from the one recorded.
            with contextlib.suppress(PositionMoved):
                events += catch_up(
                    store, fresh, previous.position(DYNAMODB_PROJECTION), artifacts=artifacts,
                    batch_size=batch_size, name=DYNAMODB_PROJECTION,
                )  # fmt: skip
            time.sleep(0.05)
        if old != settings.dynamodb_table:
            previous.drop()  # every replica has moved on
        return RebuildReport(
            events, fresh.position(DYNAMODB_PROJECTION), time.perf_counter() - started
        )
    finally:
        store.close()
