"""End-to-end fixtures: a real `tradai serve` process on a loopback port and real HTTP clients."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # These modules test the API itself: without an executor, jobs stay as submitted.
    process = ServerProcess(tmp_path_factory.mktemp("server"), {"BACKEND_EXECUTOR": "off"})
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
