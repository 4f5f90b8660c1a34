"""Which waiting job runs next: `priority` first, then round-robin across submitters, and within
one submitter round-robin across their sweeps (their single backtests count as one more lane).

Log order would let a 500-trial sweep hold every worker until its last trial: with this queue,
another researcher's single backtest takes the next free slot, and a second sweep of the same
researcher advances at the same pace as the first.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from uuid import UUID

PRIORITIES = ("high", "normal", "low")  # the order they are served in


@dataclass(frozen=True)
class Waiting:
    """A job that waits for a worker, with what fairness needs to know about it."""

    job_id: UUID
    submitter: str
    priority: str = "normal"
    sweep_id: UUID | None = None


class FairQueue:
    """Thread-safe; a job is in it at most once (putting it again does nothing).

    Among the submitters with waiting jobs of the highest priority, the one served least
    recently goes next (one who was never served, or whose jobs all ran, first); within that
    submitter, the lane (a sweep, or the single backtests) served least recently; within a lane,
    submission order.
    """

    def __init__(self) -> None:
        # priority -> submitter -> lane (a sweep id, or None for single backtests) -> job ids
        self._lanes: dict[str, dict[str, dict[UUID | None, deque[UUID]]]] = {
            priority: {} for priority in PRIORITIES
        }
        self._where: dict[UUID, Waiting] = {}
        self._tick = 0
        self._submitter_served: dict[tuple[str, str], int] = {}
        self._lane_served: dict[tuple[str, str, UUID | None], int] = {}
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._where)

    def __contains__(self, job_id: object) -> bool:
        with self._changed:
            return job_id in self._where

    def put(self, waiting: Waiting) -> bool:
        """Add a job; False when it is waiting already."""
        priority = waiting.priority if waiting.priority in self._lanes else "normal"
        with self._changed:
            if waiting.job_id in self._where:
                return False
            lanes = self._lanes[priority].setdefault(waiting.submitter, {})
            lanes.setdefault(waiting.sweep_id, deque()).append(waiting.job_id)
            self._where[waiting.job_id] = Waiting(
                waiting.job_id, waiting.submitter, priority, waiting.sweep_id
            )
            self._changed.notify()
            return True

    def discard(self, job_id: UUID) -> bool:
        """Take a job out (it was cancelled, or claimed elsewhere); False when it was not in."""
        with self._changed:
            waiting = self._where.pop(job_id, None)
            if waiting is None:
                return False
            self._lanes[waiting.priority][waiting.submitter][waiting.sweep_id].remove(job_id)
            self._prune(waiting.priority, waiting.submitter, waiting.sweep_id)
            return True

    def wait_for_job(self, timeout: float) -> bool:
        """Block until some job waits (True) or `timeout` ran out (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: bool(self._where), timeout)

    def take(self, timeout: float | None = None) -> Waiting | None:
        """The next job to run (None when none came within `timeout`)."""
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self._where), timeout):
                return None
            for priority in PRIORITIES:
                submitters = self._lanes[priority]
                if not submitters:
                    continue
                submitter = min(  # the least recently served; min keeps arrival order on ties
                    submitters, key=lambda s: self._submitter_served.get((priority, s), -1)
                )
                lanes = submitters[submitter]
                sweep = min(
                    lanes, key=lambda lane: self._lane_served.get((priority, submitter, lane), -1)
                )
                job_id = lanes[sweep].popleft()
                self._tick += 1
                self._submitter_served[(priority, submitter)] = self._tick
                self._lane_served[(priority, submitter, sweep)] = self._tick
                self._prune(priority, submitter, sweep)
                return self._where.pop(job_id)
            raise AssertionError("a job is recorded but in no lane")  # pragma: no cover

    def _prune(self, priority: str, submitter: str, sweep: UUID | None) -> None:
        """Forget empty lanes and submitters (and when they were served: whoever comes back
        after all their jobs ran is as new)."""
        lanes = self._lanes[priority][submitter]
        if not lanes[sweep]:
            del lanes[sweep]
            self._lane_served.pop((priority, submitter, sweep), None)
        if not lanes:
            del self._lanes[priority][submitter]
            self._submitter_served.pop((priority, submitter), None)

    def snapshot(self) -> list[Waiting]:
        """Every waiting job in the order `take` would serve them now, if nothing else came
        (for tests and metrics)."""
        with self._changed:
            copy = FairQueue()
            copy._tick = self._tick
            copy._submitter_served = dict(self._submitter_served)
            copy._lane_served = dict(self._lane_served)
            for priority in PRIORITIES:
                for submitter, lanes in self._lanes[priority].items():
                    for sweep, lane in lanes.items():
                        for job_id in lane:
                            copy.put(Waiting(job_id, submitter, priority, sweep))
        order = []
        while (waiting := copy.take(0)) is not None:
            order.append(waiting)
        return order
