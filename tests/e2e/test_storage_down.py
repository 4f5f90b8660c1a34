"""S3 that does not answer: the endpoints that read from it answer 503 with Retry-After and a
problem document, never 500; the rest of the API goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import client_for
from tests.support.aws import aws_env
from tests.support.ports import free_port
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.aws]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = aws_env(nobody) | {
        "BACKEND_EXECUTOR": "off",
        "BACKEND_MARKET_DATA_DIR": "s3://candles/market",
        "AWS_MAX_ATTEMPTS": "1",
    }
    with ServerProcess(tmp_path / "server", env) as process:
        yield process


def test_unreachable_market_data_is_503_with_retry_after(server: ServerProcess) -> None:
    with client_for(server, "victor", "viewer") as client:
        params = {"pairs": "BTC/USDT", "timeframe": "5m", "timerange": "20240101-20240201"}
        answer = client.get("/data/availability", params=params)
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers["retry-after"] == "30"
        assert answer.json()["type"].endswith("storage-unavailable")
        assert client.get("/strategies").status_code == 200
