"""JSON logs of a real server: one request followed end to end by its id, the run's lines by
job id and attempt, and no token or secret anywhere."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import client_for
from tests.e2e.test_execution_api import submit, tradai, wait
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"BACKEND_WORKERS": "1", "BACKEND_LOG_FORMAT": "json", "BACKEND_LOG_LEVEL": "info"}
    process = ServerProcess(tmp_path_factory.mktemp("json-logs"), env)
    process.data_dir.mkdir(parents=True, exist_ok=True)
    tradai(process, "seed")
    with process:
        yield process


def lines(server: ServerProcess) -> list[dict[str, Any]]:
    text = server.log_path.read_text()
    parsed = []
    for line in text.splitlines():
        if line.strip():
            parsed.append(json.loads(line))  # every line is one JSON object
    return parsed


def lines_once(
    server: ServerProcess, written: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """The log's records once one of them is `written`: a thread of the server writes the
    lines, a moment after the answer left."""
    deadline = time.monotonic() + 10
    records = lines(server)
    while not any(written(r) for r in records):
        assert time.monotonic() < deadline, "the line never came"
        time.sleep(0.02)
        records = lines(server)
    return records


def test_a_request_and_its_run_can_be_followed_by_ids(server: ServerProcess) -> None:
    with client_for(server, "alice", "researcher") as client:
        client.headers["X-Request-ID"] = "trace-submit-1"
        job_id = submit(client, "SampleEmaCross", timeframe="1h", timerange="20240101-20240301")
        client.headers["X-Request-ID"] = "trace-poll"
        job = wait(client, job_id)
        assert job["status"] == "completed", job["error"]
        client.headers["X-Request-ID"] = "trace-get-1"
        assert client.get(f"/backtests/{job_id}").status_code == 200
        token = client.headers["Authorization"].split()[1]

    records = lines_once(server, lambda r: r.get("request_id") == "trace-get-1")
    submitted = [r for r in records if r.get("request_id") == "trace-submit-1"]
    access = [r for r in submitted if r["logger"] == "tradai.access"]
    assert len(access) == 1
    assert access[0]["user"] == "alice" and access[0]["status"] == 202
    assert access[0]["event"] == "POST /api/v1/backtests 202" and access[0]["level"] == "info"
    assert "duration_ms" in access[0] and access[0]["timestamp"].endswith("Z")

    fetched = [r for r in records if r.get("request_id") == "trace-get-1"]
    assert fetched and all(r.get("job_id") == job_id and r["user"] == "alice" for r in fetched)

    run = [r for r in records if r.get("job_id") == job_id and "request_id" not in r]
    assert run, "the run logged nothing with its job id"
    assert all(r["attempt"] == 1 for r in run)
    assert any("starts on" in r["event"] for r in run)

    text = server.log_path.read_text()
    assert token not in text


def test_tokens_in_a_websocket_url_are_redacted(server: ServerProcess) -> None:
    with client_for(server, "bob", "viewer") as client:
        ws_token = client.post("/ws/token").json()["token"]
    url = server.url.replace("http", "ws", 1) + f"/api/v1/ws?token={ws_token}"
    with connect(url, open_timeout=10) as socket:
        socket.send(json.dumps({"action": "subscribe", "stream": "backtests", "since": 0}))
        socket.recv(timeout=10)
    records = lines_once(server, lambda r: "token=[redacted]" in r["event"])
    assert ws_token not in server.log_path.read_text()
    assert any("token=[redacted]" in r["event"] for r in records)


def test_the_log_is_json_from_the_first_line(server: ServerProcess) -> None:
    records = lines(server)
    assert records[0]["level"] in ("info", "warning")
    assert httpx.get(f"{server.url}/health").status_code == 200
