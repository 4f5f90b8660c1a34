"""The whole topology on one machine, without Docker: PostgreSQL (event store and SQL read
model), a Kafka-compatible broker (Tansu), moto server (SQS with a dead-letter queue, S3,
DynamoDB), API replicas sharing them, and `tradai worker` processes. Every part is a real
process on loopback; `make cluster` runs it until Ctrl-C, and the cluster tests use it as their
fixture.

    .venv/bin/python -m tests.support.cluster [--replicas 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from tests.support.aws import MotoServer, boto3_client
from tests.support.kafka import KafkaBroker
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer
from tests.support.remote import TRADAI, Queues, WorkerProcess, seed
from tests.support.server import ServerProcess


class Cluster:
    """Start with `with Cluster(root) as cluster:`; everything stops on exit, whatever failed."""

    def __init__(
        self,
        root: Path,
        *,
        replicas: int = 2,
        workers: int = 2,
        worker_slots: int = 1,
        visibility_seconds: int = 12,
        lease_seconds: float = 8,
        max_receives: int = 4,
        log_level: str = "warning",
        poll_interval: float = 1.0,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.replica_count = replicas
        self.worker_count = workers
        self.worker_slots = worker_slots
        self.visibility_seconds = visibility_seconds
        self.lease_seconds = lease_seconds
        self.max_receives = max_receives
        self.log_level = log_level
        self.poll_interval = poll_interval
        self.extra_env = dict(extra_env or {})
        # A directory of its own: the server runs as the `postgres` user, who cannot enter
        # `root` (made private by mkdtemp).
        self.postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="tradai-pg-")), free_port())
        self.broker = KafkaBroker(root / "kafka.log")
        self.moto = MotoServer(root / "moto")
        self.replicas: list[ServerProcess] = []
        self.workers: list[WorkerProcess] = []
        self.database_url = ""
        self.queues: Queues | None = None
        self.bucket = f"tradai-cluster-{uuid.uuid4().hex[:8]}"
        self.table = f"tradai-cluster-{uuid.uuid4().hex[:8]}"
        self.topic_prefix = "tradai"
        self.jwt_secret = secrets.token_hex(32)
        self.env: dict[str, str] = {}

    # --- starting and stopping ------------------------------------------------------------

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.postgres.start()
        self.database_url = self.postgres.new_database()
        self.broker.start()
        self.moto.start()
        self.queues = Queues.create(
            self.moto.endpoint,
            max_receives=self.max_receives,
            visibility_seconds=self.visibility_seconds,
        )
        boto3_client("s3", self.moto.endpoint).create_bucket(Bucket=self.bucket)
        self.env = {
            "AWS_ENDPOINT_URL": self.moto.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "BACKEND_EVENT_STORE_URL": self.database_url,
            "BACKEND_READ_MODEL_URL": self.database_url,
            "BACKEND_JWT_SECRET": self.jwt_secret,
            "BACKEND_EXECUTOR": "sqs",
            "BACKEND_SQS_QUEUE_URL": self.queues.jobs,
            "BACKEND_SQS_DEAD_LETTER_QUEUE_URL": self.queues.dead,
            "BACKEND_SQS_WAIT_SECONDS": "1",
            "BACKEND_LEASE_SECONDS": str(self.lease_seconds),
            "BACKEND_ARTIFACTS_URL": f"s3://{self.bucket}/artifacts",
            "BACKEND_MARKET_DATA_DIR": f"s3://{self.bucket}/market-data",
            "BACKEND_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "BACKEND_KAFKA_TOPIC_PREFIX": self.topic_prefix,
            "BACKEND_KAFKA_IDEMPOTENT_PRODUCER": "false",  # Tansu has no idempotent producer
            "BACKEND_DYNAMODB_TABLE": self.table,
            "BACKEND_LOG_LEVEL": self.log_level,
            "BACKEND_SUBSCRIBER_POLL_INTERVAL": str(self.poll_interval),
        } | self.extra_env
        for n in range(1, self.replica_count + 1):
            # The last replica answers queries from DynamoDB, the others from SQL.
            store = "dynamodb" if n == self.replica_count and n > 1 else "sql"
            replica = ServerProcess(
                self.root / f"api-{n}", self.env | {"BACKEND_QUERY_STORE": store}
            )
            if n == 1:
                seed(replica)  # creates the tables: replicas then start without racing on it
            replica.start(timeout=60)
            self.replicas.append(replica)
        for n in range(1, self.worker_count + 1):
            self.start_worker(f"worker-{n}")

    def start_worker(self, name: str) -> WorkerProcess:
        """A `tradai worker` knowing every replica, starting with a different one each."""
        urls = [r.url for r in self.replicas]
        turn = len(self.workers) % len(urls)
        env = self.replicas[0].env() | {
            "BACKEND_DATA_DIR": str(self.root / name),
            "BACKEND_WORKERS": str(self.worker_slots),
            "BACKEND_LOG_LEVEL": "info",
            "TRADAI_URL": ",".join(urls[turn:] + urls[:turn]),
            "TRADAI_TOKEN": self.replicas[0].token(name, "worker"),
        }
        for key in ("BACKEND_EVENT_STORE_URL", "BACKEND_READ_MODEL_URL", "BACKEND_JWT_SECRET"):
            env.pop(key)  # a worker needs no database and no signing secret
        worker = WorkerProcess(name, self.root / name, env)
        worker.start()
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.stop()
        for replica in self.replicas:
            replica.stop()
        self.moto.stop()
        self.broker.stop()
        self.postgres.stop()
        shutil.rmtree(self.postgres.root, ignore_errors=True)

    # --- using it ---------------------------------------------------------------------------

    def token(self, sub: str, *roles: str) -> str:
        return self.replicas[0].token(sub, *roles)

    def describe(self) -> str:
        lines = [f"API replica {n}: {r.url}" for n, r in enumerate(self.replicas, 1)]
        lines += [
            f"PostgreSQL: {self.database_url}",
            f"Kafka (Tansu): {self.broker.bootstrap}, topics {self.topic_prefix}.*",
            f"moto server (SQS, S3, DynamoDB): {self.moto.endpoint}",
            f"SQS queue: {self.queues.jobs if self.queues else ''}",
            f"S3 bucket: {self.bucket}; DynamoDB table: {self.table}",
            f"workers: {', '.join(w.name for w in self.workers)} (logs under {self.root})",
            f"a token: {self.token('alice', 'researcher')}",
        ]
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="The whole TradAI topology on this machine")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", type=Path, default=None, help="where data and logs go")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="tradai-cluster-"))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"starting the cluster in {root} ...", flush=True)
    with Cluster(root, replicas=args.replicas, workers=args.workers, log_level="info") as cluster:
        print(cluster.describe(), flush=True)
        print("Ctrl-C stops everything.", flush=True)
        stop.wait()
        print("stopping ...", flush=True)
    if args.root is None:
        shutil.rmtree(root, ignore_errors=True)


def tradai(cluster: Cluster, *args: str) -> Any:
    """Run a `tradai` command against the cluster's stores (as replica 1 would)."""
    return subprocess.run(
        [str(TRADAI), *args],
        env=cluster.replicas[0].env(),
        capture_output=True,
        text=True,
        check=False,
    )


if __name__ == "__main__":
    main()
