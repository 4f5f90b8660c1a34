"""Kafka end to end: a real server (memory executor) and a real broker (Tansu), both started
here. Every event reaches its topic in order per key; a broker outage loses nothing and blocks
nothing; a relay killed mid-stream republishes a few events and skips none."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from adapters.event_store import open_event_store
from projections.kafka_relay import EventMessage, event_id
from tests.e2e.conftest import client_for
from tests.factories import LEASE, new_job
from tests.support.kafka import KafkaBroker, read_topics, running_broker
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

pytestmark = pytest.mark.e2e

JOB_TOPIC = "backtest-jobs"
TOPICS = ("backtest-jobs", "strategies", "strategy-versions", "idempotency-records")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    with running_broker(tmp_path_factory.mktemp("kafka")) as running:
        yield running


def kafka_env(broker: KafkaBroker, prefix: str) -> dict[str, str]:
    return {
        "BACKEND_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "BACKEND_KAFKA_IDEMPOTENT_PRODUCER": "false",  # Tansu has no idempotent producer
        "BACKEND_KAFKA_TOPIC_PREFIX": prefix,
    }


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def server(tmp_path: Path, broker: KafkaBroker, prefix: str) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path / "server",
        {"BACKEND_EXECUTOR": "memory", "BACKEND_SUBSCRIBER_POLL_INTERVAL": "0.2"}
        | kafka_env(broker, prefix),
    )
    with process:
        yield process


def ready(server: ServerProcess) -> httpx.Response:
    return httpx.get(f"{server.url}/ready", timeout=10)


def wait_relayed(server: ServerProcess, timeout: float = 60) -> int:
    """Wait until the relay has published everything in the store; the head it reached."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        positions = ready(server).json()["positions"]
        if positions["kafka-relay"] == positions["event_store"]:
            return int(positions["event_store"])
        time.sleep(0.1)
    raise AssertionError(f"the relay did not catch up: {ready(server).json()}")


def submit_jobs(client: httpx.Client, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        body = {"strategy": "Relayed", "pairs": ["BTC/USDT"], "timeframe": "5m",
                "timerange": "20240101-20240201"}  # fmt: skip
        response = client.post("/backtests", json=body)
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


def wait_final(client: httpx.Client, ids: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for job in ids:
        while client.get(f"/backtests/{job}").json()["status"] != "completed":
            assert time.monotonic() < deadline, f"job {job} did not complete"
            time.sleep(0.05)


def messages(broker: KafkaBroker, prefix: str, expect: int) -> list[tuple[str, EventMessage]]:
    found = read_topics(broker.bootstrap, [f"{prefix}.{t}" for t in TOPICS], expect=expect)
    out = []
    for topic, key, value in found:
        message = msgspec.json.decode(value, type=EventMessage)
        assert key == str(message.aggregate_id).encode()
        assert message.event_id == event_id(message.aggregate_id, message.version)
        out.append((topic, message))
    return out


def relay_position(data: Path) -> int:
    """The relay's recorded position, read from the SQL read model's file."""
    path = data / "read_model.db"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as db:
            row = db.execute(
                "SELECT position FROM projection_positions WHERE name = 'kafka-relay'"
            ).fetchone()
    except sqlite3.OperationalError:  # the table is being created
        return 0
    return int(row[0]) if row else 0


def first_deliveries(found: list[tuple[str, EventMessage]]) -> dict[Any, list[EventMessage]]:
    """Per aggregate, its messages in topic order with repeats dropped (as a consumer does)."""
    seen: set[uuid.UUID] = set()
    per_key: dict[Any, list[EventMessage]] = {}
    for _, message in found:
        if message.event_id not in seen:
            seen.add(message.event_id)
            per_key.setdefault(message.aggregate_id, []).append(message)
    return per_key


def test_a_backtest_s_events_arrive_on_its_topic_in_order(
    server: ServerProcess, broker: KafkaBroker, prefix: str
) -> None:
    with client_for(server, "alice", "researcher") as client:
        assert (
            client.post(
                "/strategies/Relayed/versions", json={"code": minimal("Relayed")}
            ).status_code
            == 201
        )
        [job] = submit_jobs(client, 1)
        wait_final(client, [job])
        stored = client.get(f"/backtests/{job}/events").json()
    head = wait_relayed(server)
    found = messages(broker, prefix, expect=head)
    assert len(found) >= head
    assert {m.position for _, m in found} == set(range(1, head + 1)), "every event, none left out"
    mine = [m for topic, m in found if str(m.aggregate_id) == job]
    assert {topic for topic, m in found if str(m.aggregate_id) == job} == {f"{prefix}.{JOB_TOPIC}"}
    assert [m.version for m in mine] == list(range(1, len(stored) + 1))
    assert [m.type for m in mine] == [f"BacktestJob.{e['type']}" for e in stored]
    assert [m.position for m in mine] == [e["position"] for e in stored]
    assert mine[0].data["strategy"] == "Relayed" and mine[0].aggregate_type == "BacktestJob"
    kinds = {m.type for _, m in found}
    assert {"StrategyVersion.Registered", "Strategy.Created"} <= kinds


def test_a_broker_outage_loses_nothing_and_blocks_nothing(
    server: ServerProcess, broker: KafkaBroker, prefix: str
) -> None:
    with client_for(server, "alice", "researcher") as client:
        client.post("/strategies/Relayed/versions", json={"code": minimal("Relayed")})
        wait_final(client, submit_jobs(client, 2))
        before = wait_relayed(server)
        broker.stop()
        down_at = time.monotonic()
        try:
            during = submit_jobs(client, 10)  # commands keep working
            wait_final(client, during)
            deadline = time.monotonic() + 30
            while True:  # the relay is reported degraded, the service stays ready
                answer = ready(server)
                state = answer.json()
                if state["status"] == "degraded" and state["gauges"]["kafka_relay_lag"] > 0:
                    break
                assert time.monotonic() < deadline, state
                time.sleep(0.2)
            assert answer.status_code == 200
            assert "degraded" in state["checks"]["subscriber:kafka-relay"]
            time.sleep(max(0.0, 20 - (time.monotonic() - down_at)))  # down for 20 s
        finally:
            broker.start()  # empty again (memory storage): the relay creates the topics
        head = wait_relayed(server, timeout=90)
        assert ready(server).json()["status"] == "ok"
        stored = {job: client.get(f"/backtests/{job}/events").json() for job in during}
    found = messages(broker, prefix, expect=head - before)
    per_key = first_deliveries(found)
    assert {m.position for _, m in found} >= set(range(before + 1, head + 1)), "a gap"
    for job, events in stored.items():
        relayed = per_key[uuid.UUID(job)]
        assert [m.version for m in relayed] == list(range(1, len(events) + 1)), "out of order"


def test_a_relay_killed_mid_stream_republishes_and_skips_nothing(
    tmp_path: Path, broker: KafkaBroker, prefix: str
) -> None:
    data = tmp_path / "relay"
    data.mkdir()
    store = open_event_store(f"sqlite:///{data / 'events.db'}")
    for _ in range(8):  # 16,000 events: eight of the relay's batches
        jobs = [new_job() for _ in range(500)]
        for job in jobs:
            job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
            job.report_progress("dataload", 0.5)
            job.complete({"total_trades": 1})
        store.save(*jobs)
    head = store.max_position()
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    env |= {"BACKEND_DATA_DIR": str(data), "BACKEND_LOG_LEVEL": "warning"}
    env |= kafka_env(broker, prefix)
    relay = [str(Path(sys.executable).parent / "tradai"), "relay"]
    topic = [f"{prefix}.{JOB_TOPIC}"]
    first = subprocess.Popen(relay, env=env)
    try:
        # Killed as soon as it has recorded its first batch (a batch takes some 50 ms): the
        # record is what a restart goes on from, and most of the stream is still to come.
        deadline = time.monotonic() + 60
        while relay_position(data) == 0:
            assert time.monotonic() < deadline, "the relay recorded nothing"
            time.sleep(0.005)
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.kill()
        first.wait(10)
    killed_at = len(read_topics(broker.bootstrap, topic, expect=head, timeout=2))
    assert 0 < killed_at < head, "the kill should land mid-stream"
    second = subprocess.Popen(relay, env=env)
    try:
        # A restarted relay republishes from its recorded position first, so once every
        # position is there, so is every repeat.
        found = messages(broker, prefix, expect=head)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    positions = [m.position for _, m in found]
    assert set(positions) == set(range(1, head + 1)), "no event skipped"
    repeats = len(positions) - head
    ids = {m.event_id for _, m in found}
    assert len(ids) == head, "a repeated event carries its first delivery's id"
    print(f"killed after {killed_at} of {head} messages; {repeats} republished")
