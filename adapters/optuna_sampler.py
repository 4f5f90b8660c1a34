"""The tpe sampler of sweeps, on optuna: asked and told only through the sweep's events.

Nothing of optuna's is kept between asks. Each ask builds an in-memory study from the trials
the sweep recorded (TrialAsked, TrialFinished) and asks it for the next, with a sampler seeded
by the sweep's seed and the trial number: trial n's parameters are a function of the sweep's
log up to n, the same after a restart. optuna is imported at the first ask of a tpe sweep.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from domain.sweep import Sweep, TrialStatus
from domain.sweep_settings import Direction
from domain.sweep_space import Dimension

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution


class OptunaTpeSampler:
    """commands.sweeps.TrialSampler for `tpe` sweeps (optuna's TPESampler, constant liar: a
    pending trial counts as a poor one, so parallel trials spread out)."""

    def suggest(self, sweep: Sweep, number: int) -> dict[str, Any]:
        import optuna
        from optuna.trial import TrialState, create_trial

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        distributions = {d.name: distribution(d) for d in sweep.dimensions}
        sampler = optuna.samplers.TPESampler(
            seed=trial_seed(sweep.seed, number), constant_liar=True
        )
        maximize = sweep.direction is Direction.MAXIMIZE
        study = optuna.create_study(
            direction="maximize" if maximize else "minimize", sampler=sampler
        )
        for trial in sweep.trials[:number]:
            if trial.objective is not None:
                state, value = TrialState.COMPLETE, trial.objective
            elif trial.status is TrialStatus.PENDING:
                state, value = TrialState.RUNNING, None
            else:  # failed, cancelled, or completed without the metric: nothing to learn
                state, value = TrialState.FAIL, None
            study.add_trial(
                create_trial(
                    params=dict(trial.parameters),
                    distributions=distributions,
                    value=value,
                    state=state,
                )
            )
        asked = study.ask(distributions)
        return {d.name: exact(d, asked.params[d.name]) for d in sweep.dimensions}


def distribution(dimension: Dimension) -> BaseDistribution:
    """optuna's distribution of a dimension: its list as categories, or its range."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if dimension.values is not None:
        return CategoricalDistribution(dimension.values)
    assert dimension.low is not None and dimension.high is not None
    size = dimension.size
    # optuna wants high on the step grid: end the range at the last value the step reaches.
    high = dimension.high if size is None else dimension.value_at(size - 1)
    assert isinstance(high, int | float)
    if dimension.kind == "int":
        return IntDistribution(int(dimension.low), int(high), step=int(dimension.step or 1))
    return FloatDistribution(float(dimension.low), float(high), step=dimension.step)


def exact(dimension: Dimension, value: Any) -> Any:
    """The value as the strategy declares it: an int, or a decimal with its declared digits."""
    if dimension.values is not None or dimension.kind == "int":
        return value
    return round(float(value), dimension.decimals if dimension.decimals is not None else 12)


def trial_seed(seed: int, number: int) -> int:
    """A seed of trial `number`, stable across machines and Python builds."""
    digest = hashlib.sha256(f"tradai-sweep-tpe:{seed}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "big")
