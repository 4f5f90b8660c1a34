"""Messages between the pool and a worker: length-prefixed msgspec JSON, never pickle.

The worker runs strategy code, so everything it sends is untrusted: the supervisor decodes
it into these types with a size cap (a pickle from the sandbox would run code in the API).
"""

from __future__ import annotations

import msgspec

from projections.execution_ports import RunSpec

MAX_MESSAGE_BYTES = 1 << 20
PHASES = ("dataload", "analyze", "convert", "backtest")  # a run's phases, in order


class Ready(msgspec.Struct, tag="ready", frozen=True):
    """The worker imported freqtrade and waits for its one run."""


class Progress(msgspec.Struct, tag="progress", frozen=True):
    phase: str
    fraction: float


class Done(msgspec.Struct, tag="done", frozen=True):
    """The run finished; `files` are names of files inside the run directory."""

    summary: dict[str, float | int | None]
    files: dict[str, str]


class Failed(msgspec.Struct, tag="failed", frozen=True):
    reason: str


class Run(msgspec.Struct, tag="run", frozen=True):
    """The pool's one request: run this spec in the worker's run directory."""

    spec: RunSpec


FromWorker = Ready | Progress | Done | Failed

_from_worker: msgspec.json.Decoder[FromWorker] = msgspec.json.Decoder(FromWorker)
_run = msgspec.json.Decoder(Run)


def decode_from_worker(data: bytes) -> FromWorker:
    """Raises msgspec.DecodeError/ValidationError on anything that is not a known message."""
    return _from_worker.decode(data)


def decode_run(data: bytes) -> Run:
    return _run.decode(data)


def encode(message: FromWorker | Run) -> bytes:
    return msgspec.json.encode(message)
