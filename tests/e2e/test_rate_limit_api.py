"""Per-user write limits on a real server: one user over the limit gets 429 with Retry-After and
a problem document, writes nothing more, and neither other users nor reads are held back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.rate_limit import REGISTER_COST
from tests.e2e.conftest import client_for, head
from tests.factories import submit_body
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

pytestmark = pytest.mark.e2e

LIMIT = 8  # a registration counts REGISTER_COST (5) of them


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"BACKEND_EXECUTOR": "off", "BACKEND_RATE_LIMIT_PER_MINUTE": str(LIMIT)}
    process = ServerProcess(tmp_path_factory.mktemp("limited"), env)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_a_user_over_the_write_limit_is_refused_alone(server: ServerProcess) -> None:
    with (
        client_for(server, "alice", "researcher") as alice,
        client_for(server, "bob", "researcher") as bob,
    ):
        registered = alice.post("/strategies/Limited/versions", json={"code": minimal("Limited")})
        assert registered.status_code == 201, registered.text
        for _ in range(LIMIT - REGISTER_COST):
            assert alice.post("/backtests", json=submit_body(strategy="Limited")).status_code == 202

        before = head(server)
        refused = alice.post("/backtests", json=submit_body(strategy="Limited"))
        assert refused.status_code == 429, refused.text
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["status"] == 429 and problem["title"] and "retry after" in problem["detail"]
        assert alice.post("/ws/token").status_code == 429  # every write counts, not only submits
        assert head(server) == before, "a refused write writes nothing"

        for _ in range(3 * LIMIT):  # reads stay unlimited
            assert alice.get("/backtests").status_code == 200
        assert bob.post("/backtests", json=submit_body(strategy="Limited")).status_code == 202
        assert head(server) > before
