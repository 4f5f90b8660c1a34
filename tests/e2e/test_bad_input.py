"""Bad input gets a 4xx problem naming the field, and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import head
from tests.factories import submit_body
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

MISSING = "6f1c1f3e-2b7a-4c55-9d0e-7a4f3b8e9c21"

# (method, path, json body or raw bytes, expected status, field named in `errors` or None)
CASES: list[tuple[str, str, Any, int, str | None]] = [
    ("POST", "/backtests", submit_body(pairs=["BTCUSDT"]), 422, "pairs[0]"),
    ("POST", "/backtests", submit_body(pairs=[]), 400, "pairs"),
    ("POST", "/backtests", submit_body(pairs="BTC/USDT"), 400, "pairs"),
    ("POST", "/backtests", submit_body(timeframe="7m"), 422, "timeframe"),
    ("POST", "/backtests", submit_body(timerange="20240301-20240101"), 422, "timerange"),
    ("POST", "/backtests", submit_body(timerange="2024-01-01"), 422, "timerange"),
    ("POST", "/backtests", submit_body(timerange="20240231-20240301"), 422, "timerange"),
    ("POST", "/backtests", submit_body(strategy="Unknown"), 422, "strategy"),
    ("POST", "/backtests", submit_body(strategy_version=99), 422, "strategy_version"),
    ("POST", "/backtests", submit_body(strategy_version="one"), 400, "strategy_version"),
    ("POST", "/backtests", submit_body(stake_amount=-5), 400, "stake_amount"),
    ("POST", "/backtests", submit_body(fee="cheap"), 400, "fee"),
    ("POST", "/backtests", submit_body(exchange="Bin ance"), 422, "exchange"),
    ("POST", "/backtests", submit_body(unexpected=1), 400, "body"),
    ("POST", "/backtests", {"pairs": ["BTC/USDT"]}, 400, "body"),
    ("POST", "/backtests", b'{"strategy": ', 400, "body"),
    ("POST", "/backtests", b"[1, 2]", 400, "body"),
    ("POST", "/strategies/bad-name/versions", {"code": "x = 1"}, 422, "name"),
    ("POST", "/strategies/Good/versions", {"code": ""}, 400, "code"),
    ("POST", "/strategies/Good/versions", {"code": "   "}, 422, "code"),
    ("POST", "/strategies/Good/versions", {"code": 5}, 400, "code"),
    ("POST", "/strategies/Good/versions", {"code": "x", "parameters": []}, 400, "parameters"),
    ("POST", "/strategies/Good/versions", {"code": "x" * 2_000_000}, 413, None),
    ("POST", "/backtests/not-a-uuid/cancel", None, 400, "job_id"),
    ("POST", f"/backtests/{MISSING}/cancel", None, 404, None),
    ("GET", "/backtests/123", None, 400, "job_id"),
    ("GET", f"/backtests/{MISSING}", None, 404, None),
    ("GET", f"/backtests/{MISSING}/events", None, 404, None),
    ("GET", "/backtests/zzz/result", None, 400, "job_id"),
    ("GET", "/backtests?limit=0", None, 400, "limit"),
    ("GET", "/backtests?limit=many", None, 400, "limit"),
    ("GET", "/backtests?status=sleeping", None, 400, "status"),
    ("GET", "/backtests?cursor=%%%", None, 400, "cursor"),
    ("GET", "/strategies/Nope", None, 404, None),
    ("GET", "/strategies/Known/versions/abc", None, 400, "version"),
    ("GET", "/strategies/Known/versions/0", None, 400, "version"),
    ("GET", "/strategies/Known/versions/7", None, 404, None),
]


@pytest.fixture(scope="module", autouse=True)
def _catalog(researcher: httpx.Client) -> None:
    for name in ("EmaCross", "Known"):
        assert (
            researcher.post(
                f"/strategies/{name}/versions", json={"code": minimal(name)}
            ).status_code
            == 201
        )


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), CASES)
def test_bad_input(
    server: ServerProcess,
    researcher: httpx.Client,
    method: str,
    path: str,
    body: Any,
    status: int,
    field: str | None,
) -> None:
    before = head(server)
    kwargs: dict[str, Any] = {}
    if isinstance(body, bytes):
        kwargs = {"content": body, "headers": {"content-type": "application/json"}}
    elif body is not None:
        kwargs = {"json": body}
    response = researcher.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status and problem["type"].startswith("https://")
    assert problem["title"] and problem["detail"]
    assert "Traceback" not in response.text
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem
    assert head(server) == before, "bad input must write nothing"
