"""Subscriber runners: woken by commits, exactly-once with racing writers, retry after failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from adapters.memory_read_store import InMemoryReadStore
from adapters.sql_read_store import SqlReadStore
from commands.store import EventStore, StoredEvent
from projections.read_model import ReadModelProjector
from projections.runner import SubscriberRunner
from tests.factories import LEASE, new_job

ReadStore = InMemoryReadStore | SqlReadStore


def test_a_commit_wakes_the_subscriber_without_polling(
    event_store: EventStore, read_store: ReadStore
) -> None:
    runner = SubscriberRunner(ReadModelProjector(read_store), event_store, poll_interval=3600)
    event_store.on_commit(runner.wake)
    runner.start()
    try:
        for _ in range(20):
            job = new_job()
            position = event_store.commit(job)
            # With an hour between polls, only the wake-up can make this true in time.
            assert runner.wait_for(position, timeout=10)
            assert read_store.get_job(job.id) is not None
    finally:
        runner.stop()


def test_two_runners_on_one_store_apply_each_event_once(
    event_store: EventStore, read_store: ReadStore
) -> None:
    runners = [
        SubscriberRunner(ReadModelProjector(read_store), event_store, batch_size=1)
        for _ in range(2)
    ]
    for _ in range(30):
        job = new_job()
        job.start(attempt=1, worker="w", lease_expires_at=LEASE)
        event_store.commit(job)
    done = threading.Barrier(2)

    def drain(runner: SubscriberRunner) -> None:
        done.wait()
        while runner.position < event_store.max_position():
            runner.run_once()

    threads = [threading.Thread(target=drain, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read_store.position("read_model") == event_store.max_position()
    jobs = read_store.list_jobs(status="running", strategy=None, limit=100, cursor=None).items
    assert len(jobs) == 30 and all(j.version == 2 for j in jobs)  # type: ignore[attr-defined]


class FlakySubscriber:
    """Fails its first batch, then records what it saw."""

    name = "flaky"

    def __init__(self) -> None:
        self.failures = 0
        self.seen: list[int] = []
        self._position = 0

    def position(self) -> int:
        return self._position

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        if self.failures == 0:
            self.failures += 1
            raise RuntimeError("the database went away")
        self.seen += [e.position for e in events]
        self._position = events[-1].position


class CountingSource:
    """The event store, counting how often a runner reads it."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.reads = 0

    def read(self, after: int, limit: int) -> list[StoredEvent]:
        self.reads += 1
        return self.store.read(after, limit)

    def max_position(self) -> int:
        return self.store.max_position()


def test_a_batch_offered_while_holding_the_runner_is_not_read_back(
    event_store: EventStore, read_store: ReadStore
) -> None:
    source = CountingSource(event_store)
    runner = SubscriberRunner(ReadModelProjector(read_store), source, poll_interval=3600)
    runner.start()
    try:
        assert runner.wait_for(0, timeout=5)
        time.sleep(0.1)  # the runner's first read, at start
        reads_at_start = source.reads
        for _ in range(10):  # what the command writer does for each batch
            with runner.holding():
                job = new_job()
                position = event_store.commit(job)
                runner.wake(position)  # the commit listener, woken before the offer
                assert runner.offer(event_store.read(position - 1, 10))
            assert read_store.get_job(job.id) is not None
        time.sleep(0.2)  # time enough for the woken thread to read, if it were going to
        assert source.reads == reads_at_start
        position = event_store.commit(new_job())
        runner.wake(position)  # a commit nobody offered is read from the log
        assert runner.wait_for(position, timeout=5)
        assert source.reads > reads_at_start
    finally:
        runner.stop()


def test_a_failing_batch_is_retried_not_skipped(event_store: EventStore) -> None:
    positions = [event_store.commit(new_job()) for _ in range(3)]
    subscriber = FlakySubscriber()
    runner = SubscriberRunner(subscriber, event_store, poll_interval=0.05)
    runner.start()
    try:
        assert runner.wait_for(positions[-1], timeout=10)
    finally:
        runner.stop()
    assert subscriber.failures == 1 and subscriber.seen == positions
    assert runner.last_error is None
