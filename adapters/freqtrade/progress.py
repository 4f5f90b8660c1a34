"""Progress as the listener gets it: coalesced, whatever the worker sends."""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.freqtrade import protocol


class ProgressCoalescer:
    """At most about one progress report a second, and only changes: a worker may send many
    (freqtrade's callbacks, or a strategy speaking the protocol itself). A move to a later
    phase goes out at once (there are four)."""

    def __init__(self, send: Callable[[str, float], None], interval: float = 1.0) -> None:
        self.send = send
        self.interval = interval
        self.sent: tuple[str, float] | None = None
        self.pending: tuple[str, float] | None = None
        self.sent_at = -interval
        self.phase_index = -1

    def offer(self, phase: str, fraction: float) -> None:
        phase = phase[:32]
        self.pending = (phase, min(max(fraction, 0.0), 1.0))
        index = protocol.PHASES.index(phase) if phase in protocol.PHASES else -1
        if index > self.phase_index:
            self.phase_index = index
            self.flush(force=True)
        else:
            self.flush()

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.pending is None or self.pending == self.sent:
            return
        if force or now - self.sent_at >= self.interval:
            self.sent, self.sent_at = self.pending, now
            self.send(*self.pending)
