"""Fixtures for every test folder: the AWS stand-ins, started by the suite once per session
when a test asks for them (tests/support/aws.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.aws import (
    DynamoDBEndpoint,
    DynamoDBLocal,
    MotoServer,
    running_dynamodb_local,
    running_moto,
)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with running_moto(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBLocal]:
    with running_dynamodb_local(tmp_path_factory.mktemp("dynamodb-local")) as server:
        yield server


@pytest.fixture(
    params=[
        pytest.param("moto", marks=pytest.mark.aws),
        pytest.param("dynamodb-local", marks=pytest.mark.aws),
    ]
)
def dynamodb_endpoint(request: pytest.FixtureRequest) -> Iterator[DynamoDBEndpoint]:
    """Each DynamoDB stand-in in turn, with a table name of this test's own; the tables made
    under that name are dropped afterwards."""
    fixture = "moto_server" if request.param == "moto" else "dynamodb_local"
    server: MotoServer | DynamoDBLocal = request.getfixturevalue(fixture)
    target = DynamoDBEndpoint(request.param, server.endpoint, f"tradai-t-{uuid.uuid4().hex[:12]}")
    yield target
    target.drop_tables()


# The longest test files, longest first (from `--durations`): `make test` runs files on several
# processes (pytest-xdist, one file per process at a time, in collection order), so starting
# these first keeps one of them from being the last thing the whole run waits for.
LONGEST_FIRST = (
    "e2e/test_cluster.py",
    "e2e/test_remote_workers.py",
    "e2e/test_execution_api.py",
    "e2e/test_gateway_mlflow.py",
    "e2e/test_openapi_contract.py",
    "e2e/test_crash_safety.py",
    "e2e/test_sweeps_api.py",
    "e2e/test_lifecycle_api.py",
    "e2e/test_kafka_api.py",
    "integration/test_sandbox_limits.py",
    "e2e/web_ui/test_accessibility_ui.py",
    "integration/test_freqtrade_pool.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0].removeprefix("tests/")
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file keeps its own order
