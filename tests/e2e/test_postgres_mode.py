"""The server configured for PostgreSQL (event store and read model), end to end."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import client_for
from tests.factories import submit_body
from tests.support.postgres import running_postgres
from tests.support.server import ServerProcess
from tests.support.strategies import minimal


@pytest.mark.postgres
def test_two_replicas_on_one_postgres_serve_the_same_state(tmp_path: Path) -> None:
    with running_postgres() as postgres:
        url = postgres.new_database()
        env = {
            "BACKEND_EVENT_STORE_URL": url,
            "BACKEND_READ_MODEL_URL": url,
            "BACKEND_JWT_SECRET": "s" * 40,
            "BACKEND_SUBSCRIBER_POLL_INTERVAL": "0.1",
            "BACKEND_EXECUTOR": "memory",
            "BACKEND_LEASE_SECONDS": "5",
        }
        first, second = ServerProcess(tmp_path / "a", env), ServerProcess(tmp_path / "b", env)
        first.start()
        second.start()
        try:
            with (
                client_for(first, "alice", "researcher") as a,
                client_for(second, "bob", "viewer") as b,
            ):
                assert (
                    a.post(
                        "/strategies/PgStrategy/versions", json={"code": minimal("PgStrategy")}
                    ).status_code
                    == 201
                )
                body = submit_body(strategy="PgStrategy")
                ids = [a.post("/backtests", json=body).json()["id"] for _ in range(12)]
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # both replicas' executors take jobs
                    page = b.get("/backtests", params={"limit": 50}).json()["items"]
                    if len(page) == 12 and {j["status"] for j in page} == {"completed"}:
                        break
                    time.sleep(0.1)
                assert [j["id"] for j in page] == list(reversed(ids))
                assert {j["status"] for j in page} == {"completed"}
                for job_id in ids:  # each job ran exactly once, on one replica or the other
                    kinds = [e["type"] for e in b.get(f"/backtests/{job_id}/events").json()]
                    assert kinds.count("Started") == 1 and kinds[-1] == "Completed"
                assert a.get("/backtests", params={"limit": 50}).json()["items"] == page
        finally:
            first.stop()
            second.stop()
