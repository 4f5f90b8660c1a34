"""Items of the DynamoDB read model: keys, index attributes, and writes packed into
transactions within DynamoDB's limits (adapters/dynamodb/table.py has the layout)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from commands.promotion_views import PromotionView
from commands.sweep_views import SweepView
from commands.views import BacktestJobView

MAX_PART_BYTES = 350_000  # DynamoDB's item limit is 400 KB, keys and attributes included
MAX_TRANSACTION_ITEMS = 100
MAX_TRANSACTION_BYTES = 3_500_000  # of the 4 MB a transaction may carry
CONTROL = {"pk": {"S": "CONTROL"}, "sk": {"S": "ACTIVE"}}


def s(value: str) -> dict[str, str]:
    return {"S": value}


def item_key(pk: str, sk: str = "DOC") -> dict[str, dict[str, str]]:
    return {"pk": s(pk), "sk": s(sk)}


def newest(at: datetime, doc_id: UUID) -> str:
    """A sort key that orders like the SQL store's keyset: (microseconds, id)."""
    return f"{int(at.timestamp() * 1_000_000):020d}#{doc_id}"


def job_indexes(job: BacktestJobView) -> dict[str, Any]:
    order = s(newest(job.submitted_at, job.id))
    indexes = {
        "l1pk": s("JOBS"), "l1sk": order,
        "l2pk": s(f"JOBS#{job.status}"), "l2sk": order,
        "l3pk": s(f"JOBS#{job.strategy}"), "l3sk": order,
        "l4pk": s(f"JOBS#{job.status}#{job.strategy}"), "l4sk": order,
    }  # fmt: skip
    if job.sweep_id is not None:  # a sweep's trial
        indexes |= {
            "l5pk": s(f"TRIALS#{job.sweep_id}"), "l5sk": order,
            "l6pk": s(f"TRIALS#{job.status}#{job.sweep_id}"), "l6sk": order,
        }  # fmt: skip
    return indexes


def sweep_indexes(sweep: SweepView) -> dict[str, Any]:
    order = s(newest(sweep.submitted_at, sweep.id))
    return {
        "l1pk": s("SWEEPS"), "l1sk": order,
        "l2pk": s(f"SWEEPS#{sweep.status}"), "l2sk": order,
    }  # fmt: skip


def promotion_indexes(promotion: PromotionView) -> dict[str, Any]:
    order = s(newest(promotion.requested_at, promotion.id))
    return {
        "l1pk": s("PROMOTIONS"), "l1sk": order,
        "l2pk": s(f"PROMOTIONS#{promotion.status}"), "l2sk": order,
    }  # fmt: skip


def transactions(groups: list[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    """Whole groups packed into transactions within DynamoDB's item and size limits."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for group in groups:
        group_size = sum(len(str(v)) for put in group for v in put["Item"].values())
        full = len(chunk) + len(group) > MAX_TRANSACTION_ITEMS - 1
        if chunk and (full or size + group_size > MAX_TRANSACTION_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk += group
        size += group_size
    if chunk:
        yield chunk


@dataclass(frozen=True)
class Item:
    """One document to write: its key, bytes, mark, index keys, and the group it lands with."""

    pk: str
    sk: str
    doc: bytes
    mark: int
    indexes: dict[str, Any]
    group: str = ""
