"""Hostile strategies, each a real freqtrade run through the API of a real server.

Strategy code is user code: each of these tries one way to reach the service's secrets, its
event store, the network, other runs or the machine. Each run must end failed, with nothing of
the service in its job, events or result, and the service must keep serving.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import client_for
from tests.e2e.test_execution_api import register, submit, tradai, wait
from tests.support import strategies
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

CANARY = "canary-7f3a9e61-aws-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("sandbox"),
        {
            "BACKEND_WORKERS": "2",
            "BACKEND_RUN_MEMORY_LIMIT_MB": "1200",
            "BACKEND_RUN_TIME_LIMIT_SECONDS": "90",
            # Secrets of the service's environment that a run must never see.
            "AWS_SECRET_ACCESS_KEY": CANARY,
            "TRADAI_TOKEN": CANARY,
        },
    )
    process.data_dir.mkdir(parents=True, exist_ok=True)
    tradai(process, "seed")
    with process:
        yield process


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "mallory", "researcher") as c:
        yield c


def secret(server: ServerProcess) -> str:
    return (server.data_dir / "jwt-secret").read_text().strip()


def run_hostile(client: httpx.Client, name: str, attempt: str) -> dict[str, Any]:
    register(client, name, strategies.hostile(name, attempt))
    return wait(client, submit(client, name), timeout=180)


def assert_nothing_leaked(client: httpx.Client, server: ServerProcess, job: dict[str, Any]) -> None:
    """The secret and the environment's canary are in none of what the researcher can read."""
    seen = [json.dumps(job), client.get(f"/backtests/{job['id']}/events").text]
    result = client.get(f"/backtests/{job['id']}/result")
    seen.append(result.text)
    for text in seen:
        assert secret(server) not in text
        assert CANARY not in text
        assert "BACKEND_" not in text


def test_secret_and_event_store_are_private_files(server: ServerProcess) -> None:
    for name in ("jwt-secret", "events.db", "read_model.db"):
        mode = (server.data_dir / name).stat().st_mode & 0o777
        assert mode == 0o600, f"{name} has mode {oct(mode)}"


def test_a_run_sees_none_of_the_service_environment(
    client: httpx.Client, server: ServerProcess
) -> None:
    job = run_hostile(client, "ReadEnv", strategies.READ_ENVIRONMENT)
    assert job["status"] == "failed"
    assert "environment: {" in job["error"] and "'HOME'" in job["error"], job["error"]
    assert_nothing_leaked(client, server, job)


def test_a_run_cannot_read_the_secret_or_the_event_store(
    client: httpx.Client, server: ServerProcess
) -> None:
    paths = [server.data_dir / "jwt-secret", server.data_dir / "events.db"]
    before = hashlib.sha256(paths[1].read_bytes()).hexdigest()
    job = run_hostile(client, "ReadFiles", strategies.read_files(*map(str, paths)))
    assert job["status"] == "failed"
    assert job["error"].count("FileNotFoundError") == 2, job["error"]
    assert_nothing_leaked(client, server, job)
    assert before  # the store changes only by the API's own commits, checked next
    assert client.get(f"/backtests/{job['id']}/events").status_code == 200


def test_a_run_has_no_network(client: httpx.Client, server: ServerProcess) -> None:
    job = run_hostile(client, "CallHome", strategies.connect(server.port))
    assert job["status"] == "failed"
    assert "connect: ConnectionRefusedError" in job["error"] or "unreachable" in job["error"]
    assert "connected" not in job["error"].replace("connect:", "")
    assert_nothing_leaked(client, server, job)


def test_a_run_cannot_write_outside_its_run_directory(
    client: httpx.Client, server: ServerProcess
) -> None:
    data = server.data_dir
    targets = [
        data / "pwned",  # the service's data directory: not there at all
        data / "market-data" / "pwned",  # the market data: read-only
        Path(os.__file__).parent / "pwned.py",  # the Python environment: read-only
        data / "work" / "pwned",  # other runs' directories: not there at all
    ]
    job = run_hostile(client, "Escape", strategies.write_files(*map(str, targets)))
    assert job["status"] == "failed"
    assert "written" not in job["error"], job["error"]
    for target in targets:
        assert not target.exists(), f"{target} was written from the sandbox"
    assert_nothing_leaked(client, server, job)


def test_a_fork_loop_is_stopped(client: httpx.Client, server: ServerProcess) -> None:
    job = run_hostile(client, "ForkLoop", strategies.FORK_LOOP)
    assert job["status"] == "failed"
    assert "fork stopped" in job["error"] or "too many processes" in job["error"], job["error"]
    assert_nothing_leaked(client, server, job)


def test_endless_allocation_hits_the_memory_limit(
    client: httpx.Client, server: ServerProcess
) -> None:
    job = run_hostile(client, "Hoarder", strategies.ALLOCATE_FOREVER)
    assert job["status"] == "failed"
    assert "memory limit" in job["error"], job["error"]


def test_a_forged_result_pointing_at_the_secret_is_refused(
    client: httpx.Client, server: ServerProcess
) -> None:
    job = run_hostile(
        client, "Forger", strategies.forge_result(str(server.data_dir / "jwt-secret"))
    )
    assert job["status"] == "failed"
    assert "outside its run directory" in job["error"], job["error"]
    assert_nothing_leaked(client, server, job)


def test_the_service_kept_serving_and_runs_still_work(
    client: httpx.Client, server: ServerProcess
) -> None:
    ready = httpx.get(f"{server.url}/ready", timeout=5).json()
    assert ready["status"] == "ok" and ready["checks"]["sandbox"].startswith("ok (bubblewrap")
    # Which kernel limits are in force (root on these machines: cgroup v1 memory and pids).
    assert "seccomp filter" in ready["checks"]["sandbox"]
    assert ready["checks"]["sandbox"].endswith("cgroup v1 memory and pids)")
    register(client, "Honest", strategies.crossover("Honest"))
    started = time.monotonic()
    job = wait(client, submit(client, "Honest"), timeout=120)
    assert job["status"] == "completed", job["error"]
    assert time.monotonic() - started < 120
    assert secret(server) not in (server.log_path.read_text())
