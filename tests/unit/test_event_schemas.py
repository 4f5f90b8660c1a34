"""The published event schemas match the event classes, so the docs cannot drift from the code."""

from __future__ import annotations

import json
from pathlib import Path

from app.event_catalog import event_schemas

DOC = Path(__file__).resolve().parents[2] / "docs" / "event-schemas.json"


def test_published_schemas_match_the_code() -> None:
    published = json.loads(DOC.read_text())
    assert published == json.loads(json.dumps(event_schemas())), (
        "event classes changed: regenerate with `tradai events schemas > docs/event-schemas.json`"
        " and remember that stored events are forever (add a type or an upcaster)"
    )


def test_every_lifecycle_event_is_published() -> None:
    topics = set(event_schemas())
    for name in (
        "Submitted",
        "Started",
        "ProgressReported",
        "Completed",
        "Failed",
        "CancelRequested",
        "Cancelled",
    ):
        assert f"domain.backtest_job:BacktestJob.{name}" in topics
    assert "domain.strategy_version:StrategyVersion.Registered" in topics
