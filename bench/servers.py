"""Servers the benchmarks start and stop themselves: the API and the bare baseline app."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.ports import free_port
from tests.support.server import ServerProcess

UNLIMITED = str(10**9)  # writes a minute: the limiter runs, nobody is refused


@contextmanager
def api(env: dict[str, str] | None = None, seed: bool = False) -> Iterator[ServerProcess]:
    """`tradai serve` on a free port with its own data directory. The write limit is on, as by
    default, but high enough that wrk (one user, thousands of submits a second) never meets it."""
    server = ServerProcess(
        Path(tempfile.mkdtemp(prefix="tradai-bench-")),
        {
            "BACKEND_LOG_LEVEL": "warning",
            "BACKEND_RATE_LIMIT_PER_MINUTE": UNLIMITED,
            "BACKEND_MAX_QUEUED_PER_USER": "0",  # wrk submits tens of thousands as one user
        }
        | (env or {}),
    )
    if seed:
        exe = Path(sys.executable).parent / "tradai"
        server.data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(exe), "seed"], env=server.env(), check=True, capture_output=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def baseline() -> Iterator[str]:
    """The bare Litestar app under the same server and flags as the API; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.baseline_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def busy_core(busy: bool = True) -> Iterator[None]:
    """A second process spinning on one core for as long as the block runs (a busy machine)."""
    if not busy:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        yield
    finally:
        spinner.kill()
        spinner.wait(5)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")
