"""The DynamoDB read-model table: one table, documents as items, lists through sparse indexes.

Items (pk, sk):
- `JOB#<id>` / `DOC`: a backtest job; indexed for `GET /backtests` in four sparse GSIs
  (all jobs, by status, by strategy, by status and strategy), newest first, and the trial job
  of a sweep in two more (by sweep, by status and sweep);
- `JOB#<id>` / `RESULT` and `TRADES`: its result and its trades;
- `STRATEGY#<id>` / `DOC`: a catalog entry (index: all strategies by name);
- `VERSION#<id>` / `DOC`: a strategy version (index: versions of one strategy by number);
- `PROMOTION#<id>` / `DOC`: a promotion (indexes: all, by status, newest first);
- `SWEEP#<id>` / `DOC`: a sweep with its trials (indexes: all, by status, newest first);
- `POSITION#<projection>` / `POSITION`: how far a projector got in the event log.

A document larger than an item may be (400 KB) is split: the item holds `parts`, and the bytes
sit in `<sk>#PART#<n>` items of the same pk, written before the item that points to them.
Every document item carries `mark`: the log position of the last event applied to it, which
conditional writes compare, so an old or repeated event changes nothing.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

# Index name -> (partition key attribute, sort key attribute).
INDEXES = {
    "lists": ("l1pk", "l1sk"),
    "by_status": ("l2pk", "l2sk"),
    "by_strategy": ("l3pk", "l3sk"),
    "by_status_strategy": ("l4pk", "l4sk"),
    "by_sweep": ("l5pk", "l5sk"),
    "by_status_sweep": ("l6pk", "l6sk"),
}


def _attributes(indexes: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
    attributes = [("pk", "S"), ("sk", "S")]
    for pk, sk in indexes.values():
        attributes += [(pk, "S"), (sk, "S")]
    return [{"AttributeName": a, "AttributeType": t} for a, t in attributes]


def _index(index: str) -> dict[str, Any]:
    pk, sk = INDEXES[index]
    return {
        "IndexName": index,
        "KeySchema": [
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def table_definition(name: str) -> dict[str, Any]:
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": _attributes(INDEXES),
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [_index(index) for index in INDEXES],
    }


def ensure_table(client: Any, name: str, timeout: float = 60.0) -> None:
    """Create the table with its indexes when it is missing, add the indexes a table made by
    an earlier release lacks (DynamoDB adds one per request), and wait until all are active.

    An added index holds the items written after it: documents written before show in it
    after `tradai projections rebuild`, which fills a new table."""
    # ResourceInUse: it exists already (or another process is creating it).
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_table(**table_definition(name))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = client.describe_table(TableName=name)["Table"]
        indexes = table.get("GlobalSecondaryIndexes", [])
        active = table["TableStatus"] == "ACTIVE" and all(
            i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes
        )
        missing = [i for i in INDEXES if i not in {x["IndexName"] for x in indexes}]
        if active and not missing:
            return
        if active:
            # ResourceInUse or a limit: another process is adding one; look again.
            with contextlib.suppress(
                client.exceptions.ResourceInUseException, client.exceptions.LimitExceededException
            ):
                client.update_table(
                    TableName=name,
                    AttributeDefinitions=_attributes({missing[0]: INDEXES[missing[0]]}),
                    GlobalSecondaryIndexUpdates=[{"Create": _index(missing[0])}],
                )
        time.sleep(0.2)
    raise TimeoutError(f"DynamoDB table {name} did not become active in {timeout:.0f} s")


def delete_table(client: Any, name: str) -> None:
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_table(TableName=name)
