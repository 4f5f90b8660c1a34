"""A real MLflow tracking server for the gateway's test: `mlflow server` from its own environment
(.tools/mlflow, installed by `make mlflow` from tests/mlflow/requirements.lock), on a free loopback
port, with its own SQLite store and artifact directory; stopped with its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.ports import free_port

MLFLOW = Path(__file__).resolve().parents[2] / ".tools" / "mlflow" / "bin" / "mlflow"


@contextmanager
def mlflow_server(data_dir: Path, timeout: float = 240.0) -> Iterator[str]:
    """Yields the server's base URL once its /health answers."""
    if not MLFLOW.exists():
        raise RuntimeError(f"{MLFLOW} is missing: run `make mlflow` (make test does)")
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "mlflow.log").open("wb")
    process = subprocess.Popen(
        [str(MLFLOW), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{data_dir / 'mlflow.db'}",
         "--artifacts-destination", str(data_dir / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(data_dir / 'mlflow.log').read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer within {timeout} s")
            time.sleep(0.2)
        yield url
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()
