"""The Backtests and Strategies API through a real server: the new user's first steps and more."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.e2e.conftest import head
from tests.factories import STRATEGY_CODE, strategy_code, submit_body
from tests.support.server import ServerProcess


def _register(client: httpx.Client, name: str, code: str | None = None) -> dict[str, object]:
    code = code or strategy_code(name)
    response = client.post(f"/strategies/{name}/versions", json={"code": code, "description": "d"})
    assert response.status_code == 201, response.text
    return response.json()


def test_register_submit_and_read_back(researcher: httpx.Client, viewer: httpx.Client) -> None:
    version = _register(researcher, "EmaCross")
    assert version["version"] == 1 and len(str(version["code_sha256"])) == 64
    submitted = researcher.post("/backtests", json=submit_body())
    assert submitted.status_code == 202
    job = submitted.json()
    assert submitted.headers["location"] == f"/api/v1/backtests/{job['id']}"
    assert job["status"] == "submitted" and job["attempt"] == 0
    assert job["progress"] == {"phase": None, "fraction": 0.0}
    assert job["strategy_version"] == 1 and job["submitted_by"] == "alice"

    shown = viewer.get(f"/backtests/{job['id']}")  # read-your-writes: visible at once
    assert shown.status_code == 200 and shown.json() == job
    events = viewer.get(f"/backtests/{job['id']}/events").json()
    assert [e["type"] for e in events] == ["Submitted"]
    assert events[0]["data"]["pairs"] == ["BTC/USDT", "ETH/USDT"]
    assert str(events[0]["position"]) == submitted.headers["x-position"]
    assert viewer.get(f"/backtests/{job['id']}/result").status_code == 409

    catalog = viewer.get("/strategies").json()["items"]
    assert {"name": "EmaCross", "latest_version": 1}.items() <= catalog[0].items()
    detail = viewer.get("/strategies/EmaCross").json()
    assert [v["version"] for v in detail["versions"]] == [1]
    one = viewer.get("/strategies/EmaCross/versions/1").json()
    assert one["code"] == STRATEGY_CODE and one["stage"] == "registered"


def test_versions_count_up_and_submit_picks_latest(researcher: httpx.Client) -> None:
    _register(researcher, "RsiDip")
    second = _register(researcher, "RsiDip", strategy_code("RsiDip") + "\n# v2\n")
    job = researcher.post("/backtests", json=submit_body(strategy="RsiDip")).json()
    assert job["strategy_version"] == 2 and job["code_sha256"] == second["code_sha256"]
    pinned = researcher.post(
        "/backtests", json=submit_body(strategy="RsiDip", strategy_version=1)
    ).json()
    assert pinned["strategy_version"] == 1


def test_list_filters_and_pages(researcher: httpx.Client, viewer: httpx.Client) -> None:
    _register(researcher, "Pager")
    ids = [
        researcher.post("/backtests", json=submit_body(strategy="Pager")).json()["id"]
        for _ in range(5)
    ]
    researcher.post(f"/backtests/{ids[0]}/cancel")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"strategy": "Pager", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = viewer.get("/backtests", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    cancelled = viewer.get("/backtests", params={"strategy": "Pager", "status": "cancelled"}).json()
    assert [item["id"] for item in cancelled["items"]] == [ids[0]]


def test_cancel_then_cancel_again_is_a_conflict(researcher: httpx.Client) -> None:
    _register(researcher, "Canceller")
    job = researcher.post("/backtests", json=submit_body(strategy="Canceller")).json()
    first = researcher.post(f"/backtests/{job['id']}/cancel")
    assert first.status_code == 202 and first.json()["status"] == "cancelled"
    again = researcher.post(f"/backtests/{job['id']}/cancel")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert "cancelled" in again.json()["detail"]


def test_racing_cancels_one_wins_the_rest_get_409(
    researcher: httpx.Client, viewer: httpx.Client
) -> None:
    _register(researcher, "Racer")
    job = researcher.post("/backtests", json=submit_body(strategy="Racer")).json()
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda _: researcher.post(f"/backtests/{job['id']}/cancel").status_code, range(8)
            )
        )
    assert codes.count(202) >= 1 and set(codes) <= {202, 409}
    events = [e["type"] for e in viewer.get(f"/backtests/{job['id']}/events").json()]
    assert events == ["Submitted", "CancelRequested", "Cancelled"]


def test_idempotent_submit(server: ServerProcess, researcher: httpx.Client) -> None:
    _register(researcher, "Idem")
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = researcher.post("/backtests", json=submit_body(strategy="Idem"), headers=key)
    position = head(server)
    again = researcher.post("/backtests", json=submit_body(strategy="Idem"), headers=key)
    assert again.status_code == 202 and again.json() == first.json()
    assert head(server) == position, "a replay writes nothing"
    other = researcher.post(
        "/backtests", json=submit_body(strategy="Idem", timeframe="1h"), headers=key
    )
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"


def test_public_operations_endpoints(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
    ready = httpx.get(f"{server.url}/ready").json()
    assert ready["status"] == "ok" and ready["checks"]["event_store"] == "ok"
    spec = httpx.get(f"{server.url}/schema/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/v1/backtests" in paths and "/api/v1/strategies/{name}/versions" in paths
