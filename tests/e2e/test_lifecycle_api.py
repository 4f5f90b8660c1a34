"""The promotion lifecycle through HTTP: two versions, real backtests, gates, four eyes,
staging and production, deployments, a rollback, the audit trail and time travel."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import QUERY_STORES, client_for, query_store_env
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

RANGE = "20240101-20240301"


@pytest.fixture(scope="module", params=QUERY_STORES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    # Catalog, promotions and results answered by the SQL, then by the DynamoDB read model.
    env = {"BACKEND_WORKERS": "2"} | query_store_env(request, request.param)
    process = ServerProcess(tmp_path_factory.mktemp("lifecycle"), env)
    tradai = str(Path(sys.executable).parent / "tradai")
    process.data_dir.mkdir(parents=True, exist_ok=True)
    generate = [tradai, "data", "generate", "--timerange", RANGE, "--timeframes", "5m"]
    subprocess.run(generate, env=process.env(), check=True, capture_output=True)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def backtest(client: httpx.Client, version: int) -> str:
    body = {"strategy": "Lifecycle", "strategy_version": version, "pairs": ["BTC/USDT", "ETH/USDT"],
            "timeframe": "5m", "timerange": RANGE}  # fmt: skip
    job_id = str(client.post("/backtests", json=body).json()["id"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/backtests/{job_id}").json()
        if job["status"] in {"completed", "failed", "cancelled"}:
            assert job["status"] == "completed", job["error"]
            return job_id
        time.sleep(0.1)
    raise AssertionError("backtest did not finish")


def promote(client: httpx.Client, version: int, stage: str, job: str) -> httpx.Response:
    body = {"target_stage": stage, "backtest_id": job}
    return client.post(f"/strategies/Lifecycle/versions/{version}/promotions", json=body)


def test_full_lifecycle(server: ServerProcess) -> None:  # noqa: PLR0915
    code = (
        (resources.files("app.samples") / "SampleEmaCross.py")
        .read_text()
        .replace("SampleEmaCross", "Lifecycle")
    )
    alice, bob, carol = (client_for(server, n, "researcher") for n in ("alice", "bob", "carol"))
    approver, second, olga, root = (
        client_for(server, "dana", "approver"), client_for(server, "erin", "approver"),
        client_for(server, "olga", "operator"), client_for(server, "root", "admin"),
    )  # fmt: skip
    done: list[
        tuple[str, str, int | None]
    ] = []  # (actor, action, version) in the order we did them

    assert alice.post("/strategies/Lifecycle/versions", json={"code": code}).status_code == 201
    done += [("alice", "strategy created", None), ("alice", "version registered", 1)]
    v2_code = code.replace('minimal_roi = {"0": 0.04', 'minimal_roi = {"0": 0.05')
    refused = bob.post("/strategies/Lifecycle/versions", json={"code": v2_code})
    assert refused.status_code == 403  # alice's name: bob may add versions once she lets him
    grant = alice.post("/strategies/Lifecycle/maintainers", json={"user": "bob"})
    assert grant.status_code == 200, grant.text
    done.append(("alice", "maintainer added", None))
    assert bob.post("/strategies/Lifecycle/versions", json={"code": v2_code}).status_code == 201
    done.append(("bob", "version registered", 2))
    job1, job2 = backtest(alice, 1), backtest(bob, 2)

    # A gate fails: v2 cited with v1's backtest. Every gate is listed; nothing is recorded.
    refused = promote(bob, 2, "staging", job1)
    assert refused.status_code == 422
    gates = {g["name"]: g for g in refused.json()["gates"]}
    assert not gates["same_strategy_version"]["passed"]
    assert gates["same_strategy_version"]["actual"] == "Lifecycle v1"
    assert all(
        gates[n]["passed"]
        for n in ("backtest_completed", "min_trades", "max_drawdown", "min_profit")
    )
    assert {"field": "gates.same_strategy_version"}.items() <= refused.json()["errors"][0].items()
    assert promote(alice, 1, "production", job1).status_code == 409  # staging first

    # v1 to staging: requested by alice, approved by dana (researchers may not approve).
    staged = promote(alice, 1, "staging", job1)
    assert staged.status_code == 201 and staged.json()["status"] == "pending"
    assert all(g["passed"] for g in staged.json()["gates"])
    done.append(("alice", "promotion requested", 1))
    assert carol.post(f"/promotions/{staged.json()['id']}/approve").status_code == 403
    assert (
        approver.post(f"/promotions/{staged.json()['id']}/approve").json()["status"] == "approved"
    )
    done += [("dana", "promotion approved", 1), ("dana", "stage changed", 1)]
    between = datetime.now(UTC)
    time.sleep(0.05)

    # Four eyes: an admin who requested cannot approve their own promotion.
    prod = promote(root, 1, "production", job1)
    done.append(("root", "promotion requested", 1))
    assert root.post(f"/promotions/{prod.json()['id']}/approve").status_code == 403
    # Two approvers race: one wins, the other gets 409.
    with ThreadPoolExecutor(2) as pool:
        url = f"/promotions/{prod.json()['id']}/approve"
        codes = sorted(pool.map(lambda c: c.post(url).status_code, [approver, second]))
    assert codes == [200, 409]
    winner = alice.get(f"/promotions/{prod.json()['id']}").json()["decided_by"]
    done += [(winner, "promotion approved", 1), (winner, "stage changed", 1)]

    # Deploy v1 (operators only); a rollback has nothing before revision 1.
    deploy_v1 = {"version": 1, "environment": "production"}
    assert alice.post("/strategies/Lifecycle/deployments", json=deploy_v1).status_code == 403
    first = olga.post("/strategies/Lifecycle/deployments", json=deploy_v1)
    assert first.status_code == 201 and first.json()["revision"] == 1
    done.append(("olga", "deployed", 1))
    nothing = olga.post("/strategies/Lifecycle/rollback", json={"environment": "production"})
    assert nothing.status_code == 409 and "nothing before it" in nothing.json()["detail"]
    never = olga.post("/strategies/Lifecycle/rollback", json={"environment": "staging"})
    assert never.status_code == 409 and "never deployed" in never.json()["detail"]

    # v2: staging rejected once, then staging and production.
    rejected = promote(bob, 2, "staging", job2).json()
    done.append(("bob", "promotion requested", 2))
    assert (
        approver.post(
            f"/promotions/{rejected['id']}/reject", json={"reason": "wait for Q2"}
        ).status_code
        == 200
    )
    done.append(("dana", "promotion rejected", 2))
    for stage in ("staging", "production"):
        request = promote(bob, 2, stage, job2).json()
        assert approver.post(f"/promotions/{request['id']}/approve").status_code == 200
        done += [
            ("bob", "promotion requested", 2),
            ("dana", "promotion approved", 2),
            ("dana", "stage changed", 2),
        ]
        if stage == "production":
            done.append(("dana", "stage changed", 1))  # v1 retires

    # Deploy v2, then roll back: revision 3 runs v1 again; revisions 1 and 2 stay in the history.
    retired_v1 = {"version": 1, "environment": "staging"}
    assert olga.post("/strategies/Lifecycle/deployments", json=retired_v1).status_code == 409
    second_rev = olga.post(
        "/strategies/Lifecycle/deployments", json={"version": 2, "environment": "production"}
    )
    assert second_rev.json()["revision"] == 2
    done.append(("olga", "deployed", 2))
    bad = olga.post(
        "/strategies/Lifecycle/rollback", json={"environment": "production", "to_revision": 7}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to_revision"
    back = olga.post("/strategies/Lifecycle/rollback", json={"environment": "production"})
    assert back.status_code == 201
    assert (back.json()["revision"], back.json()["version"], back.json()["kind"]) == (
        3,
        1,
        "rollback",
    )
    done.append(("olga", "rolled back", 1))

    catalog = alice.get("/strategies/Lifecycle").json()
    assert catalog["stages"] == {"staging": 2, "production": 2}
    assert catalog["live"] == {"production": {"revision": 3, "version": 1}}
    versions = {v["version"]: v["stage"] for v in catalog["versions"]}
    assert versions == {1: "retired", 2: "production"}

    deployments = alice.get("/strategies/Lifecycle/deployments").json()
    production = deployments["environments"]["production"]
    assert [(r["revision"], r["version"], r["kind"]) for r in production] == [
        (1, 1, "deploy"), (2, 2, "deploy"), (3, 1, "rollback"),
    ]  # fmt: skip

    # History replays the store: every action, its actor, in order, with the gate results.
    history = alice.get("/strategies/Lifecycle/history").json()["entries"]
    assert [(e["actor"], e["action"], e["version"]) for e in history] == done
    positions = [e["position"] for e in history]
    assert positions == sorted(set(positions)), "log order, each entry its own position"
    requested = next(e for e in history if e["action"] == "promotion requested")
    assert {g["name"] for g in requested["details"]["gates"]} >= {"min_trades", "max_drawdown"}

    # Time travel: v1 as it was between its staging and production approvals.
    then = alice.get("/strategies/Lifecycle/versions/1", params={"at": between.isoformat()}).json()
    assert then["stage"] == "staging" and [p["status"] for p in then["promotions"]] == ["approved"]
    now = alice.get("/strategies/Lifecycle/versions/1").json()
    assert now["stage"] == "retired" and len(now["promotions"]) == 2 and now["backtests"] == [job1]
    early = alice.get("/strategies/Lifecycle/versions/1", params={"at": "2020-01-01T00:00:00Z"})
    assert early.status_code == 404
    assert (
        alice.get("/strategies/Lifecycle/versions/1", params={"at": "yesterday"}).status_code == 400
    )
    assert [
        p["status"] for p in alice.get("/promotions", params={"status": "rejected"}).json()["items"]
    ] == ["rejected"]


def test_a_promotion_must_cite_an_existing_backtest(server: ServerProcess) -> None:
    researcher = client_for(server, "ann", "researcher")
    assert (
        researcher.post("/strategies/Cited/versions", json={"code": minimal("Cited")}).status_code
        == 201
    )
    body = {"target_stage": "staging", "backtest_id": "6f1c1f3e-2b7a-4c55-9d0e-7a4f3b8e9c21"}
    answer = researcher.post("/strategies/Cited/versions/1/promotions", json=body)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "backtest_id"
    assert researcher.post("/strategies/Cited/versions/1/promotions", json={"target_stage": "moon",
        "backtest_id": body["backtest_id"]}).status_code == 422  # fmt: skip
    assert researcher.post("/strategies/Cited/versions/9/promotions", json=body).status_code == 404
    assert researcher.post("/promotions/not-a-uuid/approve").status_code in (400, 403)
