"""State survives a restart; idempotency keys too; the rebuild command restores the read model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.conftest import client_for
from tests.factories import submit_body
from tests.support.server import ServerProcess
from tests.support.strategies import minimal


def test_restart_keeps_jobs_and_idempotency_then_rebuild(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", {"BACKEND_EXECUTOR": "off"})
    server.start()
    try:
        with client_for(server, "alice", "researcher") as client:
            assert (
                client.post(
                    "/strategies/Durable/versions", json={"code": minimal("Durable")}
                ).status_code
                == 201
            )
            key = {"Idempotency-Key": "nightly-run-42"}
            first = client.post(
                "/backtests", json=submit_body(strategy="Durable"), headers=key
            ).json()
            for _ in range(3):
                client.post("/backtests", json=submit_body(strategy="Durable"))
    finally:
        server.stop()

    server.start()
    try:
        with client_for(server, "alice", "researcher") as client:
            again = client.post("/backtests", json=submit_body(strategy="Durable"), headers=key)
            assert again.status_code == 202 and again.json()["id"] == first["id"]
            other = client.post(
                "/backtests", json=submit_body(strategy="Durable", timeframe="1h"), headers=key
            )
            assert other.status_code == 422
            before = client.get("/backtests", params={"limit": 200}).json()
            assert len(before["items"]) == 4

            tradai = Path(sys.executable).parent / "tradai"
            done = subprocess.run(
                [str(tradai), "projections", "rebuild"],
                env=server.env(),
                capture_output=True,
                text=True,
                check=True,
            )
            assert "rebuilt the read model from" in done.stdout
            after = client.get("/backtests", params={"limit": 200}).json()
            assert after == before
            new = client.post("/backtests", json=submit_body(strategy="Durable")).json()
            assert client.get(f"/backtests/{new['id']}").status_code == 200
            assert httpx.get(f"{server.url}/ready").json()["status"] == "ok"
    finally:
        server.stop()
