"""Projects Sweep events into SweepView documents."""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from commands.sweep_views import BestTrial, SweepView, TrialView
from domain.sweep import Sweep, SweepStatus, TrialStatus, improves, plan_sweep


def project_sweep(view: SweepView | None, event: Any) -> SweepView | None:
    """The sweep document after `event`; the same answer `sweep_view` gives of the aggregate."""
    if isinstance(event, Sweep.Created):
        _, total = plan_sweep(
            event.strategy, event.strategy_version, event.space, event.declared, event.method,
            event.max_trials, event.objective, event.direction,
        )  # fmt: skip
        return SweepView(
            id=event.originator_id,
            strategy=event.strategy,
            strategy_version=event.strategy_version,
            pairs=tuple(event.pairs),
            timeframe=event.timeframe,
            timerange=event.timerange,
            exchange=event.exchange,
            stake_amount=event.stake_amount,
            max_open_trades=event.max_open_trades,
            starting_balance=event.starting_balance,
            fee=event.fee,
            space=dict(event.space),
            method=event.method,
            max_trials=event.max_trials,
            objective=event.objective,
            direction=event.direction,
            seed=event.seed,
            priority=event.priority,
            submitted_by=event.submitted_by,
            submitted_at=event.timestamp,
            status=SweepStatus.RUNNING.value,
            error=None,
            total=total,
            done=0,
            failed=0,
            pending=0,
            best=None,
            trials=[],
            version=event.originator_version,
        )
    if view is None:
        return None  # an event of a sweep whose creation this model never saw
    version = event.originator_version
    if isinstance(event, Sweep.TrialAsked):
        trial = TrialView(
            number=event.number,
            backtest_id=event.job_id,
            parameters=dict(event.parameters),
            status=TrialStatus.PENDING.value,
            objective=None,
        )
        return _counted(replace(view, trials=[*view.trials, trial], version=version))
    if isinstance(event, Sweep.TrialFinished):
        trials = list(view.trials)
        old = trials[event.number]
        trials[event.number] = replace(
            old, status=TrialStatus(event.job_status).value, objective=event.objective
        )
        best = view.best
        current = None if best is None else (best.trial, best.objective)
        if event.objective is not None and improves(
            view.direction, event.number, event.objective, current
        ):
            best = BestTrial(
                trial=event.number, parameters=dict(old.parameters), objective=event.objective
            )
        return _counted(replace(view, trials=trials, best=best, version=version))
    if isinstance(event, Sweep.Completed):
        return replace(view, status=SweepStatus.COMPLETED.value, version=version)
    if isinstance(event, Sweep.Failed):
        return replace(view, status=SweepStatus.FAILED.value, error=event.reason, version=version)
    if isinstance(event, Sweep.Cancelled):
        return replace(view, status=SweepStatus.CANCELLED.value, version=version)
    return replace(view, version=version)  # an event type this projection does not show


_FAILED = (TrialStatus.FAILED.value, TrialStatus.CANCELLED.value)


def _counted(view: SweepView) -> SweepView:
    """The view with its trial counts taken from its trials, as the aggregate counts them."""
    statuses = [t.status for t in view.trials]
    return replace(
        view,
        done=statuses.count(TrialStatus.COMPLETED.value),
        failed=sum(s in _FAILED for s in statuses),
        pending=statuses.count(TrialStatus.PENDING.value),
    )
