"""The per-user write limit, on a small app wired like the API (token auth, then the limiter),
with a clock the tests move by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar, get, post
from litestar.middleware import DefineMiddleware
from litestar.testing import TestClient

from app import rate_limit
from app.auth import READ, RESEARCH, JWTAuthMiddleware, mint_token
from app.problems import EXCEPTION_HANDLERS, MEDIA_TYPE
from app.rate_limit import WriteBudgets, WriteRateLimitMiddleware, write_rate_limit

SECRET = "s" * 40
PER_MINUTE = 3  # one write back every 20 s


@get("/things", opt=READ, sync_to_thread=False)
def read_things() -> list[str]:
    return []


@post("/things", opt=RESEARCH, sync_to_thread=False)
def add_thing() -> str:
    return "added"


@post("/other-things", opt=RESEARCH, sync_to_thread=False)
def add_other_thing() -> str:
    return "added"


@post("/dear-things", opt=RESEARCH | {rate_limit.COST: 2}, sync_to_thread=False)
def add_dear_thing() -> str:
    return "added"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> Iterator[TestClient[Litestar]]:
    app = Litestar(
        route_handlers=[read_things, add_thing, add_other_thing, add_dear_thing],
        middleware=[
            DefineMiddleware(JWTAuthMiddleware, secret=SECRET, exclude=[], scopes={"http"}),
            DefineMiddleware(
                WriteRateLimitMiddleware,
                budgets=WriteBudgets(PER_MINUTE, clock),
                per_minute=PER_MINUTE,
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    with TestClient(app) as client:
        yield client


def write(client: TestClient[Litestar], sub: str) -> int:
    return client.post("/things", headers=auth(sub)).status_code


def auth(sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, sub, ['researcher'], 600)}"}


def test_over_the_limit_a_write_gets_429_retry_after_and_a_problem(
    client: TestClient[Litestar], clock: Clock
) -> None:
    assert [write(client, "alice") for _ in range(PER_MINUTE)] == [201] * PER_MINUTE
    clock.now += 5
    refused = client.post("/things", headers=auth("alice"))
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith(MEDIA_TYPE)
    assert refused.headers["Retry-After"] == "15"  # a write comes back 20 s after the burst
    problem = refused.json()
    assert problem["status"] == 429 and problem["type"].endswith("/rate-limited")
    assert problem["detail"] == (
        f"more than {PER_MINUTE} writes a minute by this user; retry after 15 seconds"
    )


def test_writes_come_back_at_the_limit_rate_and_refusals_cost_nothing(
    client: TestClient[Litestar], clock: Clock
) -> None:
    for _ in range(PER_MINUTE):
        write(client, "alice")
    for _ in range(10):
        clock.now += 1
        assert write(client, "alice") == 429
    clock.now += 10  # 20 s since the burst: one write is back, however often alice knocked
    assert [write(client, "alice") for _ in range(2)] == [201, 429]
    clock.now += 60  # a full minute: the whole budget, never more
    assert [write(client, "alice") for _ in range(PER_MINUTE + 1)] == [201] * PER_MINUTE + [429]


def test_every_write_route_spends_the_same_budget(client: TestClient[Litestar]) -> None:
    """Litestar builds the middleware once per route; the budget is one for all of them."""
    assert write(client, "alice") == 201
    assert client.post("/other-things", headers=auth("alice")).status_code == 201
    assert write(client, "alice") == 201
    assert client.post("/other-things", headers=auth("alice")).status_code == 429


def test_other_users_and_reads_are_not_limited(client: TestClient[Litestar]) -> None:
    for _ in range(PER_MINUTE):
        write(client, "alice")
    assert write(client, "alice") == 429
    assert write(client, "bob") == 201
    for _ in range(5 * PER_MINUTE):
        assert client.get("/things", headers=auth("alice")).status_code == 200


def test_a_request_without_a_valid_token_is_401_and_spends_nothing(
    client: TestClient[Litestar],
) -> None:
    for _ in range(PER_MINUTE + 2):
        assert client.post("/things").status_code == 401
    assert write(client, "alice") == 201


def test_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    monkeypatch.setattr(rate_limit, "MAX_BUCKETS", 3)
    limiter = WriteBudgets(PER_MINUTE, clock)
    for user in ("a", "b", "c"):
        limiter.spend(user)
    clock.now += 60  # a, b and c have refilled: forgotten to make room for d
    limiter.spend("d")
    assert set(limiter._buckets) == {"d"}
    limiter.spend("e")
    limiter.spend("f")
    limiter.spend("g")  # d, e, f are all still spending: start over rather than grow
    assert set(limiter._buckets) == {"g"}
    for _ in range(PER_MINUTE - 1):
        assert limiter.spend("g") == 0.0
    assert limiter.spend("g") == 20.0  # one write back every 20 s


def test_a_dear_write_spends_what_its_route_costs(
    client: TestClient[Litestar], clock: Clock
) -> None:
    token = mint_token(SECRET, "alice", ["researcher"], 3600)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/dear-things", headers=headers).status_code == 201  # 2 of 3
    refused = client.post("/dear-things", headers=headers)  # 1 left, 2 wanted
    assert refused.status_code == 429 and "counts 2" in refused.json()["detail"]
    assert client.post("/things", headers=headers).status_code == 201  # 1 is enough here


def test_zero_turns_the_limit_off() -> None:
    assert write_rate_limit(0) is None
    assert write_rate_limit(600) is not None
