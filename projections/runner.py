"""Runs a subscriber in a thread: reads the log from its own position, woken after each commit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from commands.store import StoredEvent
from projections.ports import EventSource, PositionMoved

log = logging.getLogger(__name__)


class Subscriber(Protocol):
    """Something that processes the event stream and remembers how far it got."""

    name: str

    def position(self) -> int:
        """The position of the last event it processed (0 before any)."""

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        """Process events (all after position `after`) and record the last position with the work.

        Raises PositionMoved when someone else moved the recorded position in the meantime.
        """


class SubscriberRunner:
    """Feeds one subscriber from the event source on its own thread.

    `wake()` (called after each local commit) ends the wait at once; `poll_interval` catches
    events written by other processes. A failing batch is retried with back-off, never skipped.
    """

    def __init__(
        self,
        subscriber: Subscriber,
        source: EventSource,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.subscriber = subscriber
        self.source = source
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.last_error: str | None = None
        self._position = 0
        self._progress = threading.Condition()
        # One batch at a time, this thread's or an offered one; re-entrant so that a writer can
        # hold it from saving a batch until it offers that batch (see `holding`).
        self._handling = threading.RLock()
        self._wanted = 0  # the last position a local commit reported
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.subscriber.name

    @property
    def position(self) -> int:
        return self._position

    def start(self) -> None:
        self._position = self.subscriber.position()
        self._thread = threading.Thread(
            target=self._run, name=f"subscriber-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self, position: int) -> None:
        """A local commit reached `position`: read it now unless it is handled already."""
        self._wanted = max(self._wanted, position)
        self._wakeup.set()

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep this runner's thread from handling anything while the caller saves a batch it
        will `offer`: the thread, woken by that commit, then finds the batch handled and need
        not read it back from the log."""
        with self._handling:
            yield

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the subscriber has processed `position`; False on timeout."""
        with self._progress:
            return self._progress.wait_for(lambda: self._position >= position, timeout)

    def offer(self, events: Sequence[StoredEvent]) -> bool:
        """Process events this process has just committed, on the caller's thread, when they
        follow on exactly from the subscriber's position (no re-reading, no hand-off); False
        leaves them to the runner's own thread, which reads them from the log as usual."""
        if not events:
            return False
        with self._handling:
            if events[0].position != self._position + 1:
                return False
            try:
                self._handle(events, self._position)
            except Exception:  # the runner's own thread retries from the log
                log.warning("offered events failed in %s; the runner takes over", self.name)
                return False
            return self._position >= events[-1].position

    def run_once(self, *, only_if_behind: bool = False) -> int:
        """Process one batch if any is waiting; return how many events it held.

        `only_if_behind`: skip the read when every local commit reported so far is handled."""
        with self._handling:
            if only_if_behind and self._position >= self._wanted:
                return 0
            after = self._position
            events = self.source.read(after, self.batch_size)
            self._handle(events, after)
        return len(events)

    def _handle(self, events: Sequence[StoredEvent], after: int) -> None:
        if events:
            try:
                self.subscriber.handle(events, after)
            except PositionMoved:
                # A replica or a rebuild wrote first: continue from where the store says.
                with self._progress:
                    self._position = self.subscriber.position()
                    self._progress.notify_all()
                return
            with self._progress:
                self._position = events[-1].position
                self._progress.notify_all()

    def _recheck_position(self) -> None:
        """Take the recorded position again when it changed behind this runner's back (a
        rebuild switched a store without transactions to a fresh table): nothing else would
        tell, since only a refused commit raises PositionMoved, and an idle runner makes none."""
        try:
            stored = self.subscriber.position()
        except Exception:  # the next batch reports what is wrong
            return
        if stored != self._position:
            with self._handling, self._progress:
                self._position = stored
                self._progress.notify_all()

    def _run(self) -> None:
        backoff = 0.1
        woken = False  # by a local commit (not by the poll interval running out)
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                processed = self.run_once(only_if_behind=woken)
                self.last_error = None
                backoff = 0.1
            except Exception as error:  # a broken batch must not kill the thread; retry it
                if self._stopping.is_set():
                    break
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("subscriber %s failed at position %s", self.name, self._position)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                self._position = self.subscriber.position()
                continue
            woken = False
            if processed < self.batch_size:
                # A poll timeout always reads: other processes' commits wake nobody here.
                woken = self._wakeup.wait(self.poll_interval)
                if not woken and getattr(self.subscriber, "recheck_position", False):
                    self._recheck_position()
