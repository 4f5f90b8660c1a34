"""The remote-worker topology on one machine: moto server (SQS with a dead-letter queue, S3),
an API process with the `sqs` executor, and `tradai worker` processes, each a real process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.aws import aws_env, boto3_client
from tests.support.server import ServerProcess

TRADAI = Path(sys.executable).parent / "tradai"


@dataclass
class Queues:
    """A jobs queue whose redrive policy moves a message to `dead` after `max_receives`."""

    sqs: Any
    jobs: str
    dead: str
    max_receives: int
    visibility_seconds: int

    @classmethod
    def create(cls, endpoint: str, *, max_receives: int = 3, visibility_seconds: int = 8) -> Queues:
        sqs = boto3_client("sqs", endpoint)
        name = f"tradai-jobs-{uuid.uuid4().hex[:10]}"
        dead = sqs.create_queue(QueueName=f"{name}-dead")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
        policy = {
            "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
            "maxReceiveCount": str(max_receives),
        }
        jobs = sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(visibility_seconds),
                "RedrivePolicy": json.dumps(policy),
            },
        )["QueueUrl"]
        return cls(sqs, jobs, dead, max_receives, visibility_seconds)

    def counts(self, url: str) -> tuple[int, int]:
        got = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(got["ApproximateNumberOfMessages"]), int(
            got["ApproximateNumberOfMessagesNotVisible"]
        )


@dataclass
class WorkerProcess:
    """One `tradai worker` with a data directory (work and candle cache) of its own."""

    name: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.data_dir / "worker.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(TRADAI), "worker", "--name", self.name],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no hand-back, no report; its sandboxed runs die with it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
            raise

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class RemoteStand:
    """The API (executor `sqs`) and any number of workers, sharing moto's SQS and S3."""

    def __init__(
        self, endpoint: str, root: Path, queues: Queues, *, lease_seconds: float = 6
    ) -> None:
        self.endpoint = endpoint
        self.root = root
        self.queues = queues
        self.bucket = f"tradai-remote-{uuid.uuid4().hex[:10]}"
        boto3_client("s3", endpoint).create_bucket(Bucket=self.bucket)
        self.shared = aws_env(endpoint) | {
            "BACKEND_SQS_QUEUE_URL": queues.jobs,
            "BACKEND_ARTIFACTS_URL": f"s3://{self.bucket}/artifacts",
            "BACKEND_MARKET_DATA_DIR": f"s3://{self.bucket}/market-data",
            "BACKEND_SQS_WAIT_SECONDS": "1",
        }
        self.server = ServerProcess(
            root / "api",
            self.shared
            | {
                "BACKEND_EXECUTOR": "sqs",
                "BACKEND_SQS_DEAD_LETTER_QUEUE_URL": queues.dead,
                "BACKEND_LEASE_SECONDS": str(lease_seconds),
            },
        )
        self.workers: list[WorkerProcess] = []

    def seed(self) -> None:
        seed(self.server)

    def worker(self, name: str, slots: int = 1) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "TRADAI_"))}
        env |= self.shared | {
            "BACKEND_DATA_DIR": str(self.root / name),
            "BACKEND_WORKERS": str(slots),
            "BACKEND_LOG_LEVEL": "info",
            "TRADAI_URL": self.server.url,
            "TRADAI_TOKEN": self.server.token(name, "worker"),
        }
        process = WorkerProcess(name, self.root / name, env)
        process.start()
        self.workers.append(process)
        return process

    def stop(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.stop()
        self.server.stop()


def seed(server: ServerProcess) -> None:
    """What `make run` does before serving: sample candles (into S3 here) and the sample
    strategy."""
    server.data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(TRADAI), "seed"], env=server.env(), check=True, capture_output=True)


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
