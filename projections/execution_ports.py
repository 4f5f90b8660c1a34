"""Ports of the executor: what it hands a worker pool, and what the pool reports back."""

from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

import msgspec


class RunSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a worker needs for one attempt of one job; the code is the version's own."""

    job_id: UUID
    attempt: int
    strategy: str
    code: str
    code_sha256: str
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str
    exchange: str
    stake_amount: float | None
    max_open_trades: int | None
    starting_balance: float | None
    fee: float | None
    # Values for the strategy's declared parameters by name; {} runs its defaults. A default,
    # so a worker newer than its API reads an older claim answer.
    parameters: dict[str, Any] = {}


class RunOutput(msgspec.Struct, frozen=True, kw_only=True):
    """A finished run: freqtrade's headline metrics and the files to keep (name -> local path)."""

    summary: dict[str, float | int | None]
    files: dict[str, str]


class RunListener(Protocol):
    """Receives what happens to a run; called from the pool's threads."""

    def on_progress(self, spec: RunSpec, phase: str, fraction: float) -> None: ...

    def on_completed(self, spec: RunSpec, output: RunOutput) -> None: ...

    def on_failed(self, spec: RunSpec, reason: str) -> None:
        """The run itself failed (bad strategy, no data, a limit): final for the job."""

    def on_lost(self, spec: RunSpec, reason: str) -> None:
        """The worker vanished (killed, crashed): the attempt is lost, the job may be retried."""

    def on_cancelled(self, spec: RunSpec) -> None: ...


class WorkerPool(Protocol):
    """Runs backtests somewhere: local processes, or (later) a queue to other machines."""

    @property
    def size(self) -> int: ...

    @property
    def busy(self) -> int:
        """Slots reserved or running a job now; the other `size - busy` are idle."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def acquire(self, timeout: float) -> bool:
        """Reserve a free slot; False when none freed up within `timeout` seconds."""

    def release(self) -> None:
        """Give back a reserved slot that was not used."""

    def run(self, spec: RunSpec, listener: RunListener) -> None:
        """Start `spec` on the reserved slot; returns at once. The slot frees when it ends."""

    def cancel(self, job_id: UUID) -> bool:
        """Stop the job's run if this pool holds it; True when it did."""


class JobMessage(msgspec.Struct, frozen=True, kw_only=True):
    """The body of a job's queue message: which job, and the attempt it was first sent for."""

    job_id: UUID
    attempt: int


class QueueMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A message as a queue delivered it: its id, the handle to settle it with, its job
    (None when the body is not a job message), and how often it was delivered."""

    message_id: str
    receipt: str
    job: JobMessage | None
    receives: int


class JobQueue(Protocol):
    """A queue of jobs for remote workers (SQS)."""

    def send(self, message: JobMessage) -> str:
        """Send `message`; return the queue's message id."""

    def receive(self, max_messages: int, wait_seconds: int) -> list[QueueMessage]:
        """Up to `max_messages` messages, waiting up to `wait_seconds` for the first."""

    def delete(self, receipt: str) -> None: ...

    def hide(self, receipt: str, seconds: int) -> None:
        """Keep the message from other receivers for `seconds` more (0: deliver it again now)."""
