"""The per-user quota on waiting work through a real server (BACKEND_MAX_QUEUED_PER_USER=3):
429 with Retry-After beyond it, nothing written; a sweep counts every trial it will run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import client_for, head
from tests.factories import submit_body
from tests.support.server import ServerProcess
from tests.support.sweeps import SWEPT_CODE

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"BACKEND_EXECUTOR": "off", "BACKEND_MAX_QUEUED_PER_USER": "3"}
    with ServerProcess(tmp_path_factory.mktemp("quota"), env) as process:
        yield process


def test_a_user_s_waiting_work_is_bounded(server: ServerProcess) -> None:
    with (
        client_for(server, "alice", "researcher") as alice,
        client_for(server, "bob", "researcher") as bob,
    ):
        code = SWEPT_CODE.replace("EmaCross", "Quota")
        assert alice.post("/strategies/Quota/versions", json={"code": code}).status_code == 201
        body = submit_body(strategy="Quota")
        jobs = [alice.post("/backtests", json=body).json()["id"] for _ in range(3)]
        before = head(server)
        refused = alice.post("/backtests", json=body)
        assert refused.status_code == 429, refused.text
        assert refused.headers["retry-after"] == "30"
        problem = refused.json()
        assert problem["type"] == "https://tradai.dev/problems/quota"
        assert "alice has 3 backtests" in problem["detail"]
        assert head(server) == before, "a refused submit wrote something"
        assert bob.post("/backtests", json=body).status_code == 202  # bob's quota is his own

        assert alice.post(f"/backtests/{jobs[0]}/cancel").status_code == 202
        assert alice.post("/backtests", json=body).status_code == 202  # room again

        sweep = body | {"space": {"buy_fast": [5, 10]}, "method": "grid", "objective": "sharpe"}
        assert alice.post("/sweeps", json=sweep).status_code == 429  # 3 waiting + 2 trials
        too_big = bob.post("/sweeps", json=sweep | {"space": {"buy_fast": [5, 10, 15, 20]}})
        assert too_big.status_code == 422  # 4 trials never fit under 3
        assert too_big.json()["errors"][0]["field"] == "max_trials"
