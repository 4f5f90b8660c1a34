"""How documents become rows of the read model's tables: the document plus the columns queries
filter and sort on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from adapters import cursors
from commands.sweep_views import SweepView
from commands.views import BacktestJobView

_encode = msgspec.json.Encoder().encode


def micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def job_row(view: BacktestJobView) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "strategy": view.strategy,
        "status": view.status,
        "sort_key": cursors.job_sort_key(view),
        "doc": _encode(view),
        "sweep_id": None if view.sweep_id is None else str(view.sweep_id),
    }


def sweep_row(view: SweepView) -> dict[str, Any]:
    return {
        "id": str(view.id),
        "status": view.status,
        "sort_key": micros(view.submitted_at),
        "doc": _encode(view),
    }
