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
        args = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": _s(pk), ":s": _s(sk_prefix)},
            "ConsistentRead": True,
        }
        return list(self._pages(self.client.query, args))

    def _query(
        self,
        index: str,
        condition: str,
        values: dict[str, Any],
        *,
        forward: bool,
        limit: int | None = None,
        filter_expression: str | None = None,
    ) -> list[dict[str, Any]]:
        args = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
        }
        if filter_expression:  # `limit` counts the items it keeps: pages go on until then
            args["FilterExpression"] = filter_expression
        return list(self._pages(self.client.query, args, limit))

    def _count(self, index: str, condition: str, values: dict[str, Any]) -> int:
        """How many items of the index match, page after page (no item is sent back)."""
        args: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "Select": "COUNT",
        }
        count = 0
        while True:
            answer = self.client.query(**args)
            count += int(answer["Count"])
            start = answer.get("LastEvaluatedKey")
            if not start:
                return count
            args["ExclusiveStartKey"] = start

    def _scan(self) -> Iterator[dict[str, Any]]:
        return self._pages(self.client.scan, {"TableName": self.table, "ConsistentRead": True})

    @staticmethod
    def _pages(
        operation: Any, args: dict[str, Any], limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item a query or scan finds, page after page (at most `limit` of them)."""
        found = 0
        start: dict[str, Any] | None = None
        while limit is None or found < limit:
            page = dict(args)
            if limit is not None:
                page["Limit"] = limit - found
            if start:
                page["ExclusiveStartKey"] = start
            answer = operation(**page)
            found += len(answer["Items"])
            yield from answer["Items"]
            start = answer.get("LastEvaluatedKey")
            if not start:
                return
