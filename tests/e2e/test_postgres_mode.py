"""The server configured for PostgreSQL (event store and read model), end to end."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import client_for
from tests.factories import submit_body
from tests.support.postgres import running_postgres
from tests.support.server import ServerProcess


@pytest.mark.postgres
def test_two_replicas_on_one_postgres_serve_the_same_state(tmp_path: Path) -> None:
    with running_postgres() as postgres:
        url = postgres.new_database()
        env = {
            "BACKEND_EVENT_STORE_URL": url,
            "BACKEND_READ_MODEL_URL": url,
            "BACKEND_JWT_SECRET": "s" * 40,
            "BACKEND_SUBSCRIBER_POLL_INTERVAL": "0.1",
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
                    a.post("/strategies/PgStrategy/versions", json={"code": "x = 1"}).status_code
                    == 201
                )
                ids = [
                    a.post("/backtests", json=submit_body(strategy="PgStrategy")).json()["id"]
                    for _ in range(5)
                ]
                a.post(f"/backtests/{ids[0]}/cancel")
                expected = a.get("/backtests", params={"limit": 50}).json()
                assert [item["id"] for item in expected["items"]] == list(reversed(ids))
                for _ in range(100):  # the other replica sees the writes after its next poll
                    if b.get("/backtests", params={"limit": 50}).json() == expected:
                        break
                    time.sleep(0.05)
                assert b.get("/backtests", params={"limit": 50}).json() == expected
                assert b.get(f"/backtests/{ids[0]}/events").json()[-1]["type"] == "Cancelled"
        finally:
            first.stop()
            second.stop()
