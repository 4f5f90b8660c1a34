"""Group commit for async handlers: commands that arrive while a batch is being written wait
and go together in the next one, so more concurrent clients mean bigger batches, not a longer
queue in front of the database."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any, TypeVar

from commands.batch import Command, execute_batch
from commands.idempotency import Outcome
from commands.store import EventStore
from projections.runner import SubscriberRunner

log = logging.getLogger(__name__)
T = TypeVar("T")
Pending = tuple[Command[Any], asyncio.Future[Any]]


class CommandBatcher:
    """One writer thread takes whatever commands are waiting, runs them as one batch (see
    commands.batch), projects the batch into the read model on the same thread, and answers.

    Projecting here, from the events just saved, spares the read model's runner a re-read and
    a thread hand-off; when the runner is not exactly at the batch's start (another writer came
    first), the batch waits for it as any command does (read-your-writes, bounded).
    """

    def __init__(
        self,
        store: EventStore,
        read_model: SubscriberRunner,
        read_your_writes_timeout: float,
        max_batch: int = 256,
        also_offer_to: Sequence[SubscriberRunner] = (),
    ) -> None:
        self.store = store
        self.read_model = read_model
        # Subscribers that are cheap to run here (the live feed): offered each batch after the
        # read model, so they need not read it back from the log and decode it again.
        self.followers = tuple(also_offer_to)
        self.timeout = read_your_writes_timeout
        self.max_batch = max_batch
        self._queue: deque[Pending] = deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._write_batches, name="command-writer", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the writer thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        if self._thread.is_alive():
            self._thread.join(30)

    async def run(self, command: Command[T]) -> tuple[T, Outcome]:
        """The command's answer (or its exception) once its effects can be read."""
        future: asyncio.Future[tuple[T, Outcome]] = asyncio.get_running_loop().create_future()
        with self._ready:
            if self._stopping:
                raise RuntimeError("the service is stopping")
            self._queue.append((command, future))
            self._ready.notify()
        return await future

    def _write_batches(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if not self._queue:
                    return
                batch = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))
                ]
            answers = self._write([command for command, _ in batch])
            try:
                batch[0][1].get_loop().call_soon_threadsafe(_deliver, batch, answers)
            except RuntimeError:  # the event loop has closed: nobody is waiting any more
                log.warning("answers to %d commands could not be delivered", len(batch))

    def _write(self, commands: list[Command[Any]]) -> list[Any]:
        runners = (self.read_model, *self.followers)
        with ExitStack() as held:
            for runner in runners:  # their threads would otherwise read this batch back
                held.enter_context(runner.holding())
            try:
                result = execute_batch(self.store, commands)
            except Exception as error:  # the store failed: every request of the batch hears it
                log.exception("a batch of %d commands failed", len(commands))
                return [error] * len(commands)
            for runner in runners:
                runner.offer(result.events)
        positions = [a[1].position for a in result.answers if not isinstance(a, Exception)]
        if positions and not self.read_model.wait_for(max(positions), self.timeout):
            log.warning("read model lags behind position %s", max(positions))
        return result.answers


def _deliver(batch: list[Pending], answers: list[Any]) -> None:
    for (_, future), answer in zip(batch, answers, strict=True):
        if future.done():  # the client went away
            continue
        if isinstance(answer, Exception):
            future.set_exception(answer)
        else:
            future.set_result(answer)
