"""The order waiting jobs are served in: priority, then round-robin across submitters, then
across one submitter's sweeps."""

from __future__ import annotations

import threading
import time
from uuid import UUID, uuid4

from projections.fair_queue import FairQueue, Waiting


def jobs(queue: FairQueue, submitter: str, count: int, **kw: object) -> list[UUID]:
    ids = [uuid4() for _ in range(count)]
    for job_id in ids:
        assert queue.put(Waiting(job_id, submitter, **kw))  # type: ignore[arg-type]
    return ids


def served(queue: FairQueue) -> list[UUID]:
    order = []
    while (waiting := queue.take(0)) is not None:
        order.append(waiting.job_id)
    return order


def test_a_big_sweep_does_not_starve_a_single_backtest() -> None:
    queue = FairQueue()
    sweep = jobs(queue, "alice", 500, sweep_id=uuid4())
    first = queue.take(0)
    assert first is not None and first.job_id == sweep[0]
    single = jobs(queue, "bob", 1)
    # Bob's backtest is the very next one served, ahead of 499 waiting trials.
    assert queue.take(0).job_id == single[0]  # type: ignore[union-attr]
    assert served(queue) == sweep[1:]


def test_round_robin_across_submitters_keeps_each_ones_order() -> None:
    queue = FairQueue()
    a = jobs(queue, "alice", 3)
    b = jobs(queue, "bob", 2)
    c = jobs(queue, "carol", 1)
    assert served(queue) == [a[0], b[0], c[0], a[1], b[1], a[2]]


def test_priority_first_then_fairness_within_it() -> None:
    queue = FairQueue()
    low = jobs(queue, "alice", 2, priority="low")
    normal = jobs(queue, "alice", 2)
    high_a = jobs(queue, "alice", 2, priority="high")
    high_b = jobs(queue, "bob", 1, priority="high")
    assert served(queue) == [high_a[0], high_b[0], high_a[1], *normal, *low]


def test_sweeps_of_one_submitter_take_turns_with_their_singles() -> None:
    queue = FairQueue()
    one = jobs(queue, "alice", 3, sweep_id=uuid4())
    two = jobs(queue, "alice", 3, sweep_id=uuid4())
    single = jobs(queue, "alice", 1)
    assert served(queue) == [one[0], two[0], single[0], one[1], two[1], one[2], two[2]]


def test_a_job_is_in_once_and_can_be_discarded() -> None:
    queue = FairQueue()
    a = jobs(queue, "alice", 2)
    assert not queue.put(Waiting(a[0], "alice"))
    assert len(queue) == 2 and a[1] in queue
    assert queue.discard(a[0])
    assert not queue.discard(a[0])
    assert served(queue) == [a[1]]
    assert len(queue) == 0


def test_an_unknown_priority_counts_as_normal() -> None:
    queue = FairQueue()
    odd = jobs(queue, "alice", 1, priority="urgent")
    high = jobs(queue, "bob", 1, priority="high")
    assert served(queue) == [high[0], odd[0]]


def test_snapshot_is_the_serving_order_and_changes_nothing() -> None:
    queue = FairQueue()
    a = jobs(queue, "alice", 2)
    b = jobs(queue, "bob", 1)
    queue.take(0)  # alice's first: bob is next now
    assert [w.job_id for w in queue.snapshot()] == [b[0], a[1]]
    assert served(queue) == [b[0], a[1]]


def test_take_waits_for_a_put() -> None:
    queue = FairQueue()
    assert queue.take(0.01) is None
    job_id = uuid4()
    threading.Timer(0.05, lambda: queue.put(Waiting(job_id, "alice"))).start()
    started = time.monotonic()
    waiting = queue.take(5)
    assert waiting is not None and waiting.job_id == job_id
    assert time.monotonic() - started < 4
