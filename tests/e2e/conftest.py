"""End-to-end fixtures: a real `tradai serve` process on a loopback port and real HTTP clients."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.aws import aws_env
from tests.support.server import ServerProcess


def query_store_env(request: pytest.FixtureRequest, kind: str) -> dict[str, str]:
    """The settings of a server whose queries are answered by `kind` (sql or dynamodb); the
    DynamoDB read model lives in moto server, in a table of the module's own."""
    if kind == "sql":
        return {}
    moto = request.getfixturevalue("moto_server")
    table = f"tradai-e2e-{uuid.uuid4().hex[:12]}"
    return aws_env(moto.endpoint) | {
        "BACKEND_DYNAMODB_TABLE": table,
        "BACKEND_QUERY_STORE": "dynamodb",
    }


QUERY_STORES = ["sql", pytest.param("dynamodb", marks=pytest.mark.aws)]


@pytest.fixture(scope="module", params=QUERY_STORES)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    # These modules test the API itself: without an executor, jobs stay as submitted. Each runs
    # twice: queries answered by the SQL read model, then by the DynamoDB one.
    env = {"BACKEND_EXECUTOR": "off"} | query_store_env(request, request.param)
    process = ServerProcess(tmp_path_factory.mktemp("server"), env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def client_for(server: ServerProcess, sub: str, *roles: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.token(sub, *roles)}"} if roles else {}
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=15)


@pytest.fixture(scope="module")
def researcher(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "alice", "researcher") as client:
        yield client


@pytest.fixture(scope="module")
def viewer(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "victor", "viewer") as client:
        yield client


def head(server: ServerProcess) -> int:
    """The newest position in the server's event store, read from /ready."""
    return int(httpx.get(f"{server.url}/ready", timeout=5).json()["positions"]["event_store"])
