"""Rebuild the SQL read model online: replay into fresh tables, then swap them in atomically."""

from __future__ import annotations

from adapters.artifact_store import LocalArtifactStore
from adapters.event_store import open_event_store
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from app.settings import Settings
from projections.rebuild import RebuildReport, rebuild_read_model

REBUILD_PREFIX = "rebuild_"


def rebuild_and_swap(settings: Settings, batch_size: int = 2000) -> RebuildReport:
    """A running server keeps serving the old tables until the swap; its projector then resumes
    from the rebuilt position (its next write sees the moved position and re-reads it)."""
    store = open_event_store(settings.resolved_event_store_url)
    engine = create_engine(settings.resolved_read_model_url)
    try:
        fresh = SqlReadStore(engine, prefix=REBUILD_PREFIX)
        artifacts = LocalArtifactStore(settings.artifacts_path)
        report = rebuild_read_model(store, fresh, artifacts=artifacts, batch_size=batch_size)
        live = SqlReadStore(engine)
        live.create()
        live.replace_with(fresh)
        fresh.drop()
        return report
    finally:
        store.close()
        engine.dispose()
