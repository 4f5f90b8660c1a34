"""The sweep coordinator: a subscriber that asks a sweep's trials and records how they end.

It keeps at most `in_flight` trials of a sweep waiting or running, so a sweep does not flood
the queue and a learning sampler (tpe) learns from finished trials before asking more. All it
decides is read from the event log (the sweep's trials, the jobs' states), and each step is
idempotent, so running it again over the same events (a restart, a second replica) repeats no
trial and loses none.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from commands.store import StoredEvent
from commands.sweeps import SweepCommands
from domain.backtest_job import BacktestJob
from domain.sweep import Sweep
from projections.ports import PositionStore

log = logging.getLogger(__name__)

JOB_ENDS = (BacktestJob.Completed, BacktestJob.Failed, BacktestJob.Cancelled)
DEFAULT_IN_FLIGHT = 4


class SweepCoordinator:
    """Reacts to Sweep.Created (asks the first trials) and to the end of a trial's backtest
    (records it, then asks the next trial or completes the sweep)."""

    name = "sweep-coordinator"

    def __init__(
        self,
        commands: SweepCommands,
        positions: PositionStore,
        *,
        in_flight: int = DEFAULT_IN_FLIGHT,
    ) -> None:
        if in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        self.commands = commands
        self.positions = positions
        self.in_flight = in_flight

    def position(self) -> int:
        return self.positions.position(self.name)

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        for stored in events:
            event = stored.event
            if isinstance(event, Sweep.Created):
                self.commands.ask_trials(event.originator_id, self.in_flight)
            elif isinstance(event, JOB_ENDS):
                sweep_id = self.commands.sweep_of(event.originator_id)
                if sweep_id is None:
                    continue
                if self.commands.record_trial_end(event.originator_id) is not None:
                    log.info("sweep %s: trial backtest %s ended", sweep_id, event.originator_id)
                self.commands.ask_trials(sweep_id, self.in_flight)
            else:
                continue
            self.positions.save_position(self.name, stored.position)
        if events:
            self.positions.save_position(self.name, events[-1].position)
