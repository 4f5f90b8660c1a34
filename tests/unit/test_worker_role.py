"""The worker role: remote workers claim and report on jobs, and do nothing else; nobody else
(admin included) may speak for a worker."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.exceptions import PermissionDeniedException

from app.auth import (
    APPROVE,
    OPERATE,
    READ,
    RESEARCH,
    WORK,
    Principal,
    authorize,
    mint_token,
    read_token,
)
from app.controllers.workers import WorkerController, worker_routes
from app.settings import EXECUTORS

K = "test-secret-of-at-least-32-bytes!"
WORKER = Principal("worker-1", frozenset({"worker"}))
ADMIN = Principal("root", frozenset({"admin"}))


def test_a_worker_token_keeps_its_role() -> None:
    assert read_token(K, mint_token(K, "worker-1", ["worker"], 60)) == WORKER


def test_a_worker_may_call_the_worker_routes() -> None:
    authorize(WORKER, WORK)
    authorize(Principal("w", frozenset({"worker", "viewer"})), WORK)


@pytest.mark.parametrize(
    "principal",
    [
        ADMIN,
        Principal("alice", frozenset({"researcher", "viewer", "approver", "operator"})),
        Principal("nobody", frozenset()),
    ],
)
def test_nobody_but_a_worker_may_call_the_worker_routes(principal: Principal) -> None:
    with pytest.raises(PermissionDeniedException, match=r"needs the role worker$"):
        authorize(principal, WORK)


@pytest.mark.parametrize(
    "route", [READ, RESEARCH, APPROVE, OPERATE], ids=["read", "research", "approve", "operate"]
)
def test_a_worker_may_call_nothing_else(route: dict[str, Any]) -> None:
    with pytest.raises(PermissionDeniedException):
        authorize(WORKER, route)
    authorize(ADMIN, route)  # the same routes admit admin, so the refusal is the role's


@pytest.mark.parametrize("executor", EXECUTORS)
def test_the_worker_routes_exist_only_where_remote_workers_run_the_jobs(executor: str) -> None:
    routes = worker_routes(executor)
    assert routes == ([WorkerController] if executor == "sqs" else []), executor
