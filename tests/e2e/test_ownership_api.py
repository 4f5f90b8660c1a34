"""Owners through a real server: a strategy name belongs to whoever registered its first version,
and a job or a sweep to whoever submitted it; others get 403 (`not-owner`) and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import client_for, head
from tests.factories import strategy_code, submit_body
from tests.support.server import ServerProcess
from tests.support.sweeps import SWEPT_CODE

NOT_OWNER = "https://tradai.dev/problems/not-owner"


@pytest.fixture(scope="module")
def bob(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "bob", "researcher") as client:
        yield client


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "root", "admin") as client:
        yield client


def _register(client: httpx.Client, name: str, stoploss: float = -0.1) -> httpx.Response:
    return client.post(
        f"/strategies/{name}/versions", json={"code": strategy_code(name, stoploss=stoploss)}
    )


def _refused(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 403, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == NOT_OWNER
    return body


def test_a_strategy_name_is_its_first_registrant_s(
    server: ServerProcess, researcher: httpx.Client, bob: httpx.Client, viewer: httpx.Client
) -> None:
    assert _register(researcher, "OwnedByAlice").status_code == 201
    before = head(server)
    refused = _refused(_register(bob, "OwnedByAlice", stoploss=-0.5))
    assert "belongs to alice" in refused["detail"]
    assert head(server) == before, "a refused registration wrote something"
    strategy = viewer.get("/strategies/OwnedByAlice").json()
    assert strategy["latest_version"] == 1
    assert (strategy["created_by"], strategy["maintainers"]) == ("alice", [])
    # alice's next unpinned backtest runs alice's code, not bob's
    job = researcher.post("/backtests", json=submit_body(strategy="OwnedByAlice")).json()
    assert job["strategy_version"] == 1


def test_the_owner_grants_and_takes_back_the_right_to_add_versions(
    researcher: httpx.Client, bob: httpx.Client, viewer: httpx.Client
) -> None:
    assert _register(researcher, "Shared").status_code == 201
    _refused(bob.post("/strategies/Shared/maintainers", json={"user": "bob"}))
    granted = researcher.post("/strategies/Shared/maintainers", json={"user": "bob"})
    assert granted.status_code == 200, granted.text
    assert granted.json() == {"name": "Shared", "owner": "alice", "maintainers": ["bob"]}
    again = researcher.post("/strategies/Shared/maintainers", json={"user": "bob"})
    assert again.json()["maintainers"] == ["bob"]  # granting twice changes nothing
    assert viewer.get("/strategies/Shared").json()["maintainers"] == ["bob"]
    catalog = viewer.get("/strategies").json()["items"]
    assert next(s for s in catalog if s["name"] == "Shared")["maintainers"] == ["bob"]
    second = _register(bob, "Shared", stoploss=-0.2)
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2 and second.json()["registered_by"] == "bob"

    _refused(bob.delete("/strategies/Shared/maintainers/bob"))  # only the owner takes it back
    taken = researcher.delete("/strategies/Shared/maintainers/bob")
    assert taken.status_code == 200 and taken.json()["maintainers"] == []
    _refused(_register(bob, "Shared", stoploss=-0.3))
    assert researcher.delete("/strategies/Shared/maintainers/bob").status_code == 404
    owner = researcher.delete("/strategies/Shared/maintainers/alice")
    assert owner.status_code == 422 and "owns" in owner.json()["detail"]
    bad = researcher.post("/strategies/Shared/maintainers", json={"user": "two words"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "user"

    history = viewer.get("/strategies/Shared/history").json()["entries"]
    changes = [(e["actor"], e["action"], e["details"].get("user")) for e in history]
    assert ("alice", "maintainer added", "bob") in changes
    assert ("alice", "maintainer removed", "bob") in changes


def test_an_admin_may_act_on_any_strategy(researcher: httpx.Client, admin: httpx.Client) -> None:
    assert _register(researcher, "AdminTouched").status_code == 201
    assert _register(admin, "AdminTouched", stoploss=-0.2).status_code == 201
    granted = admin.post("/strategies/AdminTouched/maintainers", json={"user": "carol"})
    assert granted.status_code == 200 and granted.json()["maintainers"] == ["carol"]


def test_only_the_submitter_or_an_admin_cancels_or_retries_a_job(
    researcher: httpx.Client, bob: httpx.Client, admin: httpx.Client, viewer: httpx.Client
) -> None:
    assert _register(researcher, "JobsOfAlice").status_code == 201
    first = researcher.post("/backtests", json=submit_body(strategy="JobsOfAlice")).json()
    second = researcher.post("/backtests", json=submit_body(strategy="JobsOfAlice")).json()
    _refused(bob.post(f"/backtests/{first['id']}/cancel"))
    _refused(bob.post(f"/backtests/{first['id']}/retry"))
    assert viewer.get(f"/backtests/{first['id']}").json()["status"] == "submitted"
    assert researcher.post(f"/backtests/{first['id']}/retry").status_code == 409  # not failed
    assert researcher.post(f"/backtests/{first['id']}/cancel").status_code == 202
    assert admin.post(f"/backtests/{second['id']}/cancel").status_code == 202
    assert viewer.get(f"/backtests/{second['id']}").json()["status"] == "cancelled"


def test_only_the_submitter_or_an_admin_cancels_a_sweep(
    researcher: httpx.Client, bob: httpx.Client, viewer: httpx.Client
) -> None:
    code = SWEPT_CODE.replace("EmaCross", "SweptByAlice")
    registered = researcher.post("/strategies/SweptByAlice/versions", json={"code": code})
    assert registered.status_code == 201, registered.text
    body = submit_body(strategy="SweptByAlice") | {
        "space": {"buy_fast": [5, 10]}, "method": "grid", "max_trials": 2, "objective": "sharpe",
    }  # fmt: skip
    sweep = researcher.post("/sweeps", json=body)
    assert sweep.status_code == 202, sweep.text
    sweep_id = sweep.json()["id"]
    _refused(bob.post(f"/sweeps/{sweep_id}/cancel"))
    assert viewer.get(f"/sweeps/{sweep_id}").json()["status"] == "running"
    assert researcher.post(f"/sweeps/{sweep_id}/cancel").status_code == 202
