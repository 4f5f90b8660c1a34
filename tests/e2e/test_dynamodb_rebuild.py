"""`tradai projections rebuild` with the DynamoDB read model: a fresh table is filled from the
event store and switched to while the server answers from DynamoDB; afterwards the DynamoDB
model equals the SQL one (both live), document for document, and writes go on."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.dynamodb.read_store import DynamoReadStore
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from tests.e2e.conftest import client_for
from tests.support.aws import MotoServer, aws_env, boto3_client
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

pytestmark = [pytest.mark.e2e, pytest.mark.aws]


@pytest.fixture
def server(tmp_path: Path, moto_server: MotoServer) -> Iterator[ServerProcess]:
    env = aws_env(moto_server.endpoint) | {
        "BACKEND_EXECUTOR": "memory",
        "BACKEND_DYNAMODB_TABLE": f"tradai-rebuild-{uuid.uuid4().hex[:8]}",
        "BACKEND_QUERY_STORE": "dynamodb",
    }
    with ServerProcess(tmp_path / "server", env) as process:
        yield process


def submit(client: httpx.Client, count: int) -> list[str]:
    body = {"strategy": "Rebuilt", "pairs": ["BTC/USDT"], "timeframe": "5m",
            "timerange": "20240101-20240201"}  # fmt: skip
    return [client.post("/backtests", json=body).json()["id"] for _ in range(count)]


def settled(server: ServerProcess, client: httpx.Client) -> int:
    """Wait until every job completed and both read models reached the head; return it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        positions = httpx.get(f"{server.url}/ready", timeout=5).json()["positions"]
        head = positions["event_store"]
        same = positions["read_model"] == positions["dynamodb_read_model"] == head
        if same and {j["status"] for j in jobs(client)} <= {"completed"}:
            return int(head)
        time.sleep(0.1)
    raise AssertionError("the read models did not settle")


def jobs(client: httpx.Client) -> list[dict[str, object]]:
    page = client.get("/backtests", params={"limit": 100})
    assert page.status_code == 200, page.text
    items: list[dict[str, object]] = page.json()["items"]
    return items


def test_rebuild_switches_to_a_fresh_table_equal_to_the_sql_model(server: ServerProcess) -> None:
    env = server.env()
    table = env["BACKEND_DYNAMODB_TABLE"]
    with client_for(server, "alice", "researcher") as client:
        assert (
            client.post(
                "/strategies/Rebuilt/versions", json={"code": minimal("Rebuilt")}
            ).status_code
            == 201
        )
        before = submit(client, 15)
        settled(server, client)
        tradai = str(Path(sys.executable).parent / "tradai")
        done = subprocess.run(
            [tradai, "projections", "rebuild", "--workers", "1"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "rebuilt the DynamoDB read model" in done.stdout
        after = submit(client, 5)  # the server's projector follows the switch
        head = settled(server, client)
        listed = {j["id"] for j in jobs(client)}

    client = boto3_client("dynamodb", aws_env_endpoint(env))
    dynamo = DynamoReadStore(table, client)
    assert dynamo.table != table, "the configured table now points at the rebuilt one"
    assert table + "-" in dynamo.table
    deadline = time.monotonic() + 30  # the server's projector noticed the switch, caught up
    while dynamo.position("dynamodb_read_model") != head:
        assert time.monotonic() < deadline, dynamo.position("dynamodb_read_model")
        time.sleep(0.2)
    sql = SqlReadStore(create_engine(f"sqlite:///{server.data_dir / 'read_model.db'}"))
    assert dynamo.dump() == sql.dump()
    assert listed == set(before) | set(after)
    sql.engine.dispose()


def aws_env_endpoint(env: dict[str, str]) -> str:
    return env["AWS_ENDPOINT_URL"]
