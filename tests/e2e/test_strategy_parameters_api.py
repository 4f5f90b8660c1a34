"""Registration checks and per-backtest strategy parameters through a real server."""

from __future__ import annotations

from importlib import resources
from typing import Any

import httpx
import pytest

from tests.factories import submit_body

SAMPLE = (resources.files("app.samples") / "SampleEmaCross.py").read_text()


def _problem(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    return body


def test_registration_refuses_code_it_cannot_read(researcher: httpx.Client) -> None:
    broken = researcher.post(
        "/strategies/Foo/versions", json={"code": "import os\nclass Foo(IStrategy:\n  pass\n"}
    )
    assert "line 2" in _problem(broken, 422, "code")["detail"]
    other = researcher.post("/strategies/Foo/versions", json={"code": "class Bar: pass"})
    assert "class named Foo" in _problem(other, 422, "code")["detail"]
    plain = researcher.post("/strategies/Foo/versions", json={"code": "class Foo: pass"})
    assert "derive from IStrategy" in _problem(plain, 422, "code")["detail"]
    dynamic = researcher.post(
        "/strategies/Foo/versions",
        json={"code": "class Foo(IStrategy):\n  x = IntParameter(1, N, default=1, space='buy')\n"},
    )
    assert "line 2: parameter x" in _problem(dynamic, 422, "code")["detail"]
    assert researcher.get("/strategies/Foo").status_code == 404  # nothing was registered


def test_a_version_shows_its_parameters(researcher: httpx.Client, viewer: httpx.Client) -> None:
    registered = researcher.post("/strategies/SampleEmaCross/versions", json={"code": SAMPLE})
    assert registered.status_code == 201, registered.text
    shown = viewer.get("/strategies/SampleEmaCross/versions/1").json()
    by_name = {p["name"]: p for p in shown["declared_parameters"]}
    assert list(by_name) == ["fast_span", "slow_span", "trend_margin", "use_trend_filter"]
    assert by_name["fast_span"] == {
        "name": "fast_span", "kind": "int", "space": "buy", "default": 12, "low": 5, "high": 30,
        "choices": None, "decimals": None,
    }  # fmt: skip
    assert by_name["trend_margin"]["decimals"] == 3
    assert by_name["use_trend_filter"]["choices"] == [True, False]
    listed = viewer.get("/strategies/SampleEmaCross").json()["versions"][0]
    assert listed["declared_parameters"] == shown["declared_parameters"]
    assert shown["parameters"] == {}  # the free-form registration object, as given


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"parameters": {"fast": 10}}, "parameters.fast"),
        ({"parameters": {"fast_span": 31}}, "parameters.fast_span"),
        ({"parameters": {"fast_span": "10"}}, "parameters.fast_span"),
        ({"parameters": {"trend_margin": 0.2}}, "parameters.trend_margin"),
        ({"parameters": {"use_trend_filter": "yes"}}, "parameters.use_trend_filter"),
        ({"priority": "urgent"}, "priority"),
    ],
)
def test_submit_refuses_bad_parameters_and_priority(
    researcher: httpx.Client, overrides: dict[str, Any], field: str
) -> None:
    body = submit_body(strategy="SampleEmaCross") | overrides
    _problem(researcher.post("/backtests", json=body), 422, field)


def test_submit_keeps_parameters_and_priority(
    researcher: httpx.Client, viewer: httpx.Client
) -> None:
    values = {"fast_span": 8, "trend_margin": 0.01, "use_trend_filter": False}
    body = submit_body(strategy="SampleEmaCross", parameters=values, priority="high")
    submitted = researcher.post("/backtests", json=body)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert (job["parameters"], job["priority"], job["sweep_id"]) == (values, "high", None)
    assert viewer.get(f"/backtests/{job['id']}").json() == job
    listed = viewer.get("/backtests", params={"strategy": "SampleEmaCross"}).json()["items"]
    assert {j["id"]: j for j in listed}[job["id"]] == job
    (event,) = viewer.get(f"/backtests/{job['id']}/events").json()
    assert event["data"]["parameters"] == values and event["data"]["priority"] == "high"
    plain = researcher.post("/backtests", json=submit_body(strategy="SampleEmaCross")).json()
    assert (plain["parameters"], plain["priority"], plain["sweep_id"]) == ({}, "normal", None)
