"""Authentication and roles as API.md states them, through a real server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import jwt
import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import client_for
from tests.factories import submit_body
from tests.support.server import ServerProcess
from tests.support.strategies import minimal


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["detail"] and body["title"]
    return body


def test_no_token_is_401(server: ServerProcess) -> None:
    with client_for(server, "nobody") as anonymous:
        _problem(anonymous.get("/backtests"), 401)
        _problem(anonymous.post("/strategies/X/versions", json={"code": "x"}), 401)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        jwt.encode(
            {"sub": "a", "roles": ["admin"], "exp": 2_000_000_000}, "x" * 32, algorithm="HS256"
        ),
        jwt.encode(
            {"sub": "a", "roles": ["admin"], "exp": 1_000_000_000}, "x" * 32, algorithm="HS256"
        ),
    ],
)
def test_bad_wrong_or_expired_tokens_are_401(server: ServerProcess, token: str) -> None:
    response = httpx.get(
        f"{server.url}/api/v1/backtests", headers={"Authorization": f"Bearer {token}"}
    )
    _problem(response, 401)


def test_expired_token_says_so(server: ServerProcess) -> None:
    secret = (server.data_dir / "jwt-secret").read_text().strip()
    token = jwt.encode(
        {"sub": "a", "roles": ["admin"], "exp": 1_000_000_000}, secret, algorithm="HS256"
    )
    body = _problem(
        httpx.get(f"{server.url}/api/v1/backtests", headers={"Authorization": f"Bearer {token}"}),
        401,
    )
    assert "expired" in str(body["detail"])


@pytest.mark.parametrize("role", ["viewer", "approver", "operator"])
def test_roles_without_research_cannot_write(server: ServerProcess, role: str) -> None:
    with client_for(server, "eve", role) as client:
        _problem(client.post("/backtests", json=submit_body()), 403)
        _problem(
            client.post("/strategies/Forbidden/versions", json={"code": minimal("Forbidden")}), 403
        )
        assert client.get("/backtests").status_code == 200


def test_admin_may_do_everything(server: ServerProcess) -> None:
    with client_for(server, "root", "admin") as admin:
        assert (
            admin.post(
                "/strategies/AdminOwned/versions", json={"code": minimal("AdminOwned")}
            ).status_code
            == 201
        )
        assert admin.post("/backtests", json=submit_body(strategy="AdminOwned")).status_code == 202


def test_a_websocket_token_never_reaches_the_server_log(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "logged", {"BACKEND_LOG_LEVEL": "info"})
    server.start()
    try:
        with client_for(server, "alice", "researcher") as client:
            token = client.post("/ws/token").json()["token"]
        with connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={token}") as ws:
            ws.send(json.dumps({"action": "subscribe", "stream": "backtests"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        time.sleep(0.2)  # the handshake's log line is written by the server's event loop
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "WebSocket /api/v1/ws?token=[redacted]" in log, log[-2000:]
    assert token not in log and token.split(".")[2] not in log
