"""`tradai events tail` as a subprocess against a real broker (Tansu)."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kafka import KafkaBroker, running_broker
from tests.support.kafka_events import job_events, messages, publish, strategy_events

TRADAI = str(Path(sys.executable).parent / "tradai")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    with running_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


def environment(tmp_path: Path, **backend: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "TRADAI_"))}
    return (
        clean
        | {"BACKEND_DATA_DIR": str(tmp_path)}
        | {f"BACKEND_{k}": v for k, v in backend.items()}
    )


def tail(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [TRADAI, "events", "tail", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> list[str]:
    """The lines it printed, once it exited by itself with 0."""
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        process.kill()
    assert process.returncode == 0, err
    return out.splitlines()


def test_tail_prints_each_event_once_and_filters_by_type(
    broker: KafkaBroker, tmp_path: Path
) -> None:
    """Four jobs' events and two strategies on two topics; six of them published twice (a
    relay restarted), before later events of the same jobs. Three tails at once from the
    beginning: all events, `--type 'Strategy.*'`, `--type 'BacktestJob.Progress*'`."""
    for topic in ("tail.backtest-jobs", "tail.strategies"):
        broker.create_topic(topic, 4)
    stored = job_events(4) + strategy_events(["TailOne", "TailTwo"], first_position=100)
    batch = messages(stored, "tail")
    publish(broker.bootstrap, batch[:12] + batch[6:12] + batch[12:])
    values = [m.value.decode() for m in batch]
    env = environment(tmp_path, KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, KAFKA_TOPIC_PREFIX="tail")
    flags = ["--bootstrap-servers", broker.bootstrap, "--topic-prefix", "tail"]
    bare = environment(tmp_path)  # the same from flags instead of the environment
    everything = tail(env, "--from-beginning", "--max-events", str(len(batch)))
    strategies = tail(bare, *flags, "--from-beginning", "--type", "Strategy.*", "--max-events", "2")
    progress = ["--type", "BacktestJob.Progress*", "--max-events", "8"]
    reports = tail(bare, *flags, "--from-beginning", *progress)

    lines = finish(everything)
    assert sorted(lines) == sorted(values)  # each exactly once, as published
    versions: dict[str, list[int]] = defaultdict(list)
    for line in lines:
        event = json.loads(line)
        versions[event["aggregate_id"]].append(event["version"])
    assert all(v == sorted(v) for v in versions.values())  # in order per aggregate
    assert sorted(finish(strategies)) == sorted(values[-2:])
    assert sorted(finish(reports)) == sorted(v for v in values if "ProgressReported" in v)


def test_tail_commits_what_it_printed_and_a_group_resumes_there(
    broker: KafkaBroker, tmp_path: Path
) -> None:
    """A tail in group `resume` prints ten events and is stopped with SIGTERM: it exits 0 and
    its offsets cover all ten. Five more are published; the same group without
    --from-beginning prints exactly those five."""
    broker.create_topic("resume.backtest-jobs", 4)
    first = messages(job_events(2), "resume")
    publish(broker.bootstrap, first)
    env = environment(
        tmp_path, KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, KAFKA_TOPIC_PREFIX="resume"
    )
    running = tail(env, "--group", "resume", "--from-beginning")
    try:
        printed = read_lines(running, len(first), timeout=60)
        running.send_signal(signal.SIGTERM)
        assert running.wait(15) == 0, running.stderr.read() if running.stderr else ""
    finally:
        running.kill()
    assert sorted(printed) == sorted(m.value.decode() for m in first)
    assert committed(broker, "resume", "resume.backtest-jobs") == len(first)

    later = messages(job_events(1, first_position=100), "resume")
    publish(broker.bootstrap, later)
    # (Tansu: the first member of a group never leaves it, so this join waits out its session)
    again = tail(env, "--group", "resume", "--max-events", str(len(later)))
    assert sorted(finish(again)) == sorted(m.value.decode() for m in later)
    assert committed(broker, "resume", "resume.backtest-jobs") == len(first) + len(later)


def test_tail_without_brokers_says_what_to_set(tmp_path: Path) -> None:
    done = subprocess.run(
        [TRADAI, "events", "tail"],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--bootstrap-servers" in done.stderr and "BACKEND_KAFKA_BOOTSTRAP_SERVERS" in done.stderr


def read_lines(process: subprocess.Popen[str], count: int, timeout: float) -> list[str]:
    """`count` lines of a running process's output, or a failure after `timeout` seconds."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    found: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count:
            found.append(lines.get(timeout=max(deadline - time.monotonic(), 0)).rstrip("\n"))
    except queue.Empty:
        raise AssertionError(f"{len(found)} of {count} lines within {timeout} s") from None
    return found


def committed(broker: KafkaBroker, group: str, topic: str) -> int:
    """The sum of the group's committed offsets over the topic's 4 partitions, each committed:
    the number of messages the group is done with (Tansu's end offsets cannot be trusted: they
    count a batch of records as one)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def read() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group)
        await consumer.start()
        try:
            offsets = [await consumer.committed(TopicPartition(topic, p)) for p in range(4)]
        finally:
            await consumer.stop()
        assert None not in offsets, offsets  # every partition, even one that got no message
        return sum(o for o in offsets if o is not None)

    return asyncio.run(read())
