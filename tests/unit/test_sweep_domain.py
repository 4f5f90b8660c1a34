"""The Sweep aggregate and its samplers: space checks, grid and random trials, best, endings."""

from __future__ import annotations

import itertools
from typing import Any
from uuid import uuid4

import pytest

from adapters.freqtrade.results import METRICS
from domain.errors import IllegalTransition, InvalidValue
from domain.strategy_source import ParameterSpec
from domain.sweep import Sweep, SweepStatus, TrialStatus
from domain.sweep_settings import OBJECTIVES
from domain.sweep_space import grid_point, parse_space, random_point
from tests.support.sweeps import DECLARED, new_sweep

SPECS = [ParameterSpec.from_dict(d) for d in DECLARED]


def ask_all(sweep: Sweep) -> list[Any]:
    """Ask every trial the sweep plans, each as a made-up job; the job ids in order."""
    jobs = []
    for number in range(sweep.total):
        job_id = uuid4()
        sweep.ask_trial(number, sweep.suggest(number), job_id)
        jobs.append(job_id)
    return jobs


def test_grid_runs_every_combination_in_name_order_the_last_name_fastest() -> None:
    sweep = new_sweep()
    assert sweep.total == 12
    points = [sweep.suggest(n) for n in range(sweep.total)]
    expected = [
        {"buy_fast": f, "buy_mode": m, "sell_ratio": r}
        for f, m, r in itertools.product([5, 10], ["ema", "sma"], [0.1, 0.2, 0.3])
    ]
    assert points == expected
    assert list(points[0]) == ["buy_fast", "buy_mode", "sell_ratio"]


def test_grid_is_cut_at_max_trials_and_caps_it() -> None:
    assert new_sweep(max_trials=5).total == 5
    assert [new_sweep(max_trials=5).suggest(n) for n in range(5)] == [
        new_sweep().suggest(n) for n in range(5)
    ]
    assert new_sweep(max_trials=10_000).total == 12
    with pytest.raises(InvalidValue, match="no point 12"):
        grid_point(new_sweep().dimensions, 12)


def test_integer_ranges_step_by_one_unless_told() -> None:
    sweep = new_sweep(space={"buy_fast": {"low": 5, "high": 9}})
    assert [sweep.suggest(n)["buy_fast"] for n in range(sweep.total)] == [5, 6, 7, 8, 9]
    stepped = new_sweep(space={"buy_fast": {"low": 5, "high": 12, "step": 3}})
    assert [stepped.suggest(n)["buy_fast"] for n in range(stepped.total)] == [5, 8, 11]


def test_random_trials_are_a_pure_function_of_seed_and_number() -> None:
    space = {
        "buy_fast": {"low": 5, "high": 30},
        "sell_ratio": {"low": 0.1, "high": 0.9},
        "buy_mode": ["ema", "sma", "wma"],
        "buy_on": [True, False],
    }
    one = new_sweep(method="random", space=space, seed=42, max_trials=50)
    again = new_sweep(method="random", space=space, seed=42, max_trials=50)
    other = new_sweep(method="random", space=space, seed=43, max_trials=50)
    first = [one.suggest(n) for n in range(50)]
    assert first == [again.suggest(n) for n in range(50)]
    assert [again.suggest(n) for n in reversed(range(50))] == first[::-1]  # no hidden state
    assert first != [other.suggest(n) for n in range(50)]
    assert len({tuple(p.items()) for p in first}) > 40
    for point in first:
        assert 5 <= point["buy_fast"] <= 30 and isinstance(point["buy_fast"], int)
        assert 0.1 <= point["sell_ratio"] <= 0.9
        assert round(point["sell_ratio"], 2) == point["sell_ratio"]  # the declared decimals
    # Pinned values: the same on every machine and Python build (random's SHA-512 seeding).
    assert random_point(one.dimensions, 42, 1) == {
        "buy_fast": 25,
        "buy_mode": "sma",
        "buy_on": True,
        "sell_ratio": 0.14,
    }


@pytest.mark.parametrize(
    ("space", "field", "message"),
    [
        ({}, "space", "at least one"),
        ({"nope": [1]}, "space.nope", "declares no parameter 'nope'"),
        ({"buy_fast": [5, 31]}, "space.buy_fast", "outside 5..30"),
        ({"buy_fast": [5, 5]}, "space.buy_fast", "listed twice"),
        ({"buy_fast": []}, "space.buy_fast", "at least one value"),
        ({"buy_fast": [5.5]}, "space.buy_fast", "integer is expected"),
        ({"buy_fast": {"low": 1, "high": 10}}, "space.buy_fast", "outside 5..30"),
        ({"buy_fast": {"low": 10, "high": 5}}, "space.buy_fast", "above high"),
        ({"buy_fast": {"low": 5, "high": 9, "step": 0.5}}, "space.buy_fast", "an integer"),
        ({"buy_fast": {"low": 5, "high": 9, "step": 0}}, "space.buy_fast", "above 0"),
        ({"buy_fast": {"low": 5}}, "space.buy_fast", "a range is"),
        ({"buy_fast": 5}, "space.buy_fast", "give a list"),
        ({"buy_mode": ["ema", "hma"]}, "space.buy_mode", "not one of"),
        ({"buy_mode": {"low": 1, "high": 2}}, "space.buy_mode", "takes a list of values"),
        ({"buy_on": [1]}, "space.buy_on", "true or false"),
        ({"sell_ratio": [0.123]}, "space.sell_ratio", "more than 2 decimals"),
        ({"sell_ratio": {"low": 0.1, "high": 0.5}}, "space.sell_ratio", "a grid needs a step"),
        ({"sell_ratio": {"low": 0.1, "high": 0.5, "step": 0.001}}, "space.sell_ratio", "decimals"),
    ],
)
def test_the_space_is_checked_against_the_declared_parameters(
    space: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidValue, match=message) as caught:
        new_sweep(space=space)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"method": "bayes"}, "method"),
        ({"direction": "up"}, "direction"),
        ({"objective": "luck"}, "objective"),
        ({"max_trials": 0}, "max_trials"),
        ({"max_trials": 10_001}, "max_trials"),
        ({"pairs": ()}, "pairs"),
        ({"priority": "urgent"}, "priority"),
    ],
)
def test_sweep_settings_are_checked(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        new_sweep(**overrides)
    assert caught.value.field == field


def test_the_objectives_are_the_metrics_a_result_summary_holds() -> None:
    assert set(OBJECTIVES) == set(METRICS)
    assert parse_space({"buy_fast": [5]}, SPECS, "x")[0].name == "buy_fast"


def test_trials_are_asked_in_order_with_values_of_the_space() -> None:
    sweep = new_sweep()
    with pytest.raises(InvalidValue, match="next trial is 0"):
        sweep.ask_trial(1, sweep.suggest(1), uuid4())
    with pytest.raises(InvalidValue, match="outside the sweep's space"):
        sweep.ask_trial(0, {**sweep.suggest(0), "buy_fast": 7}, uuid4())
    with pytest.raises(InvalidValue, match="exactly the swept"):
        sweep.ask_trial(0, {"buy_fast": 5}, uuid4())
    ask_all(sweep)
    assert sweep.wants_trials(4) == 0
    with pytest.raises(IllegalTransition):
        sweep.ask_trial(12, sweep.suggest(0), uuid4())


@pytest.mark.parametrize(
    ("direction", "objectives", "best_trial"),
    [
        ("maximize", [1.0, 3.0, 2.0, 3.0], 1),
        ("minimize", [1.0, 3.0, -2.0, -2.0], 2),
        ("maximize", [None, -1.0, None, -5.0], 1),
    ],
)
def test_best_follows_the_direction_and_a_tie_keeps_the_earlier_trial(
    direction: str, objectives: list[float | None], best_trial: int
) -> None:
    sweep = new_sweep(direction=direction, max_trials=4)
    jobs = ask_all(sweep)
    # Trials end out of order: the later of two equal trials is recorded first.
    for number in reversed(range(4)):
        sweep.finish_trial(jobs[number], "completed", objectives[number])
    assert sweep.best is not None
    assert sweep.best.trial == best_trial
    assert sweep.best.objective == objectives[best_trial]
    assert sweep.best.parameters == sweep.suggest(best_trial)
    assert sweep.status is SweepStatus.COMPLETED


def test_a_failed_trial_does_not_fail_the_sweep_and_an_end_counts_once() -> None:
    sweep = new_sweep(max_trials=3)
    jobs = ask_all(sweep)
    assert sweep.finish_trial(jobs[0], "failed", None)
    assert not sweep.finish_trial(jobs[0], "failed", None)
    assert sweep.finish_trial(jobs[1], "cancelled", 2.0)  # no objective from a cancelled run
    assert sweep.status is SweepStatus.RUNNING
    assert (sweep.done, sweep.failed, sweep.pending) == (0, 2, 1)
    assert sweep.best is None
    assert sweep.finish_trial(jobs[2], "completed", float("nan"))  # no number: no objective
    assert sweep.status is SweepStatus.COMPLETED
    assert [t.status for t in sweep.trials] == [
        TrialStatus.FAILED,
        TrialStatus.CANCELLED,
        TrialStatus.COMPLETED,
    ]
    assert sweep.best is None


def test_a_sweep_whose_every_trial_failed_fails() -> None:
    sweep = new_sweep(max_trials=2)
    for job_id in ask_all(sweep):
        sweep.finish_trial(job_id, "failed", None)
    assert sweep.status is SweepStatus.FAILED
    assert sweep.error == "all 2 trials failed"


def test_cancel_stops_asking_but_records_late_ends() -> None:
    sweep = new_sweep(max_trials=4)
    job = uuid4()
    sweep.ask_trial(0, sweep.suggest(0), job)
    sweep.cancel("bob")
    assert sweep.wants_trials(4) == 0
    with pytest.raises(IllegalTransition):
        sweep.ask_trial(1, sweep.suggest(1), uuid4())
    assert sweep.finish_trial(job, "completed", 1.5)
    assert sweep.status is SweepStatus.CANCELLED and sweep.best is not None
    with pytest.raises(IllegalTransition):
        sweep.cancel("bob")


def test_a_tpe_sweep_asks_its_own_sampler() -> None:
    sweep = new_sweep(method="tpe", space={"sell_ratio": {"low": 0.1, "high": 0.5}})
    assert sweep.total == 100
    with pytest.raises(InvalidValue, match="own sampler"):
        sweep.suggest(0)
