"""A real `tradai serve` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.ports import free_port


class ServerProcess:
    """Starts the installed `tradai` command with BACKEND_* settings; stop() always reaps it."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
        env |= {
            "BACKEND_HOST": "127.0.0.1",
            "BACKEND_DATA_DIR": str(self.data_dir),
            "BACKEND_LOG_LEVEL": "warning",
        }
        if self.port:
            env["BACKEND_PORT"] = str(self.port)
        return env | self.extra_env

    def start(self, timeout: float = 30.0, *, same_port: bool = False) -> None:
        """Start the server; `same_port` restarts it where its clients expect it."""
        if not (same_port and self.port):
            self.port = free_port()
        tradai = Path(sys.executable).parent / "tradai"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(tradai), "serve"], env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log_path.read_text()}")

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def token(self, sub: str, *roles: str) -> str:
        tradai = Path(sys.executable).parent / "tradai"
        args = [str(tradai), "token", "--sub", sub]
        for role in roles:
            args += ["--role", role]
        done = subprocess.run(args, env=self.env(), check=True, capture_output=True, text=True)
        return done.stdout.strip()


def grant_maintainer(server: ServerProcess, strategy: str, user: str) -> None:
    """As an admin, let `user` register versions of `strategy` (the seeded sample strategy is the
    service's own, `tradai-seed`'s)."""
    headers = {"Authorization": f"Bearer {server.token('root', 'admin')}"}
    answer = httpx.post(
        f"{server.url}/api/v1/strategies/{strategy}/maintainers",
        json={"user": user},
        headers=headers,
        timeout=15,
    )
    answer.raise_for_status()
