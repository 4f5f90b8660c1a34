"""The DynamoDB requests the read store makes, with their paging and retries of unprocessed
items: batched reads and writes, queries, scans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from adapters.dynamodb.items import item_key
from adapters.dynamodb.items import s as _s


class TableRequests:
    """Requests on `self.table` through `self.client` (a boto3 DynamoDB client)."""

    client: Any

    @property
    def table(self) -> str:
        raise NotImplementedError

    def _batch_get(self, keys: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": keys[start : start + 100], "ConsistentRead": True}
            }
            while request:
                answer = self.client.batch_get_item(RequestItems=request)
                yield from answer["Responses"].get(self.table, [])
                request = answer.get("UnprocessedKeys") or {}

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: requests}
        while pending:
            pending = (
                self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            )

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key=item_key(pk, sk), ConsistentRead=True
        ).get("Item")
        return item

    def _query_table(self, pk: str, sk_prefix: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            args: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
                "ExpressionAttributeValues": {":p": _s(pk), ":s": _s(sk_prefix)},
                "ConsistentRead": True,
            }
            if start:
                args["ExclusiveStartKey"] = start
            answer = self.client.query(**args)
            found += answer["Items"]
            start = answer.get("LastEvaluatedKey")
            if not start:
                return found

    def _query(
        self,
        index: str,
        condition: str,
        values: dict[str, Any],
        *,
        forward: bool,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while limit is None or len(found) < limit:
            args: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": index,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": forward,
            }
            if limit is not None:
                args["Limit"] = limit - len(found)
            if start:
                args["ExclusiveStartKey"] = start
            answer = self.client.query(**args)
            found += answer["Items"]
            start = answer.get("LastEvaluatedKey")
            if not start:
                break
        return found

    def _scan(self) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            args: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
            if start:
                args["ExclusiveStartKey"] = start
            answer = self.client.scan(**args)
            yield from answer["Items"]
            start = answer.get("LastEvaluatedKey")
            if not start:
                return
