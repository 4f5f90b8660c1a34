"""The tpe sampler (optuna), asked and told only through the sweep's recorded trials."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from adapters.memory_read_store import InMemoryReadStore
from adapters.optuna_sampler import OptunaTpeSampler
from commands.store import EventStore
from commands.sweeps import SweepCommands
from domain.sweep import Sweep, SweepStatus
from projections.sweeps import SweepCoordinator
from tests.support.sweeps import (
    new_sweep,
    register_swept_strategy,
    run_pending_trials,
    score,
    submit_sweep,
)

pytest.importorskip("optuna")  # the sampler imports it only when asked

SPACE: dict[str, Any] = {
    "buy_fast": {"low": 5, "high": 30},
    "buy_mode": ["ema", "sma", "wma"],
    "sell_ratio": {"low": 0.1, "high": 0.9},
}


def tpe_sweep(**overrides: Any) -> Sweep:
    return new_sweep(**({"method": "tpe", "space": SPACE, "max_trials": 40} | overrides))


def ask(sweep: Sweep) -> tuple[Any, dict[str, Any]]:
    number = sweep.asked
    parameters = OptunaTpeSampler().suggest(sweep, number)
    job_id = uuid4()
    sweep.ask_trial(number, parameters, job_id)  # refuses values outside the space
    return job_id, parameters


def test_tpe_values_lie_in_the_space_with_the_declared_decimals() -> None:
    sweep = tpe_sweep(space=SPACE | {"buy_slow": {"low": 20, "high": 40, "step": 5}})
    for _ in range(15):
        job_id, parameters = ask(sweep)
        assert parameters["buy_slow"] in (20, 25, 30, 35, 40)
        assert round(parameters["sell_ratio"], 2) == parameters["sell_ratio"]
        sweep.finish_trial(job_id, "completed", score(parameters))


def test_tpe_asks_from_the_log_alone_and_learns_from_tells() -> None:
    sweep = tpe_sweep()
    for _ in range(12):
        job_id, parameters = ask(sweep)
        sweep.finish_trial(job_id, "completed", score(parameters))
    # A fresh sampler (a restart) asks the same of the same log.
    assert OptunaTpeSampler().suggest(sweep, 12) == OptunaTpeSampler().suggest(sweep, 12)
    # The same trials, still pending (nothing told): another question, another answer.
    untold = tpe_sweep()
    for trial in sweep.trials:
        untold.ask_trial(trial.number, trial.parameters, uuid4())
    assert OptunaTpeSampler().suggest(untold, 12) != OptunaTpeSampler().suggest(sweep, 12)


def test_a_tpe_sweep_runs_resumes_and_completes(store: EventStore) -> None:
    register_swept_strategy(store)
    commands = SweepCommands(store, tpe=OptunaTpeSampler())
    view, _ = commands.submit_sweep(submit_sweep(method="tpe", space=SPACE, max_trials=16), "a")
    positions = InMemoryReadStore()

    def drain(subscriber: SweepCoordinator) -> None:
        while events := store.read(subscriber.position(), 50):
            subscriber.handle(events, subscriber.position())

    drain(SweepCoordinator(commands, positions, in_flight=4))
    run_pending_trials(store, view.id)
    # A restart: new commands, a new sampler, the same log.
    restarted = SweepCoordinator(
        SweepCommands(store, tpe=OptunaTpeSampler()), positions, in_flight=4
    )
    while not commands.sweep(view.id).is_final:
        drain(restarted)
        run_pending_trials(store, view.id)
    sweep = commands.sweep(view.id)
    assert sweep.status is SweepStatus.COMPLETED and sweep.done == 16
    assert [t.number for t in sweep.trials] == list(range(16))
    assert sweep.best is not None and sweep.best.objective == max(
        score(t.parameters) for t in sweep.trials
    )
