"""The DynamoDB read-model table: one table, documents as items, lists through sparse indexes.

Items (pk, sk):
- `JOB#<id>` / `DOC`: a backtest job; indexed for `GET /backtests` in four sparse GSIs
  (all jobs, by status, by strategy, by status and strategy), newest first;
- `JOB#<id>` / `RESULT` and `TRADES`: its result and its trades;
- `STRATEGY#<id>` / `DOC`: a catalog entry (index: all strategies by name);
- `VERSION#<id>` / `DOC`: a strategy version (index: versions of one strategy by number);
- `PROMOTION#<id>` / `DOC`: a promotion (indexes: all, by status, newest first);
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
}


def table_definition(name: str) -> dict[str, Any]:
    attributes = [("pk", "S"), ("sk", "S")]
    for pk, sk in INDEXES.values():
        attributes += [(pk, "S"), (sk, "S")]
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in attributes],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": pk, "KeyType": "HASH"},
                    {"AttributeName": sk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (pk, sk) in INDEXES.items()
        ],
    }


def ensure_table(client: Any, name: str, timeout: float = 60.0) -> None:
    """Create the table with its indexes when it is missing, and wait until it is active."""
    # ResourceInUse: it exists already (or another process is creating it).
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_table(**table_definition(name))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = client.describe_table(TableName=name)["Table"]
        indexes = table.get("GlobalSecondaryIndexes", [])
        if table["TableStatus"] == "ACTIVE" and all(
            i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes
        ):
            return
        time.sleep(0.2)
    raise TimeoutError(f"DynamoDB table {name} did not become active in {timeout:.0f} s")


def delete_table(client: Any, name: str) -> None:
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_table(TableName=name)
