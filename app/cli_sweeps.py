"""`tradai sweep ...`: parameter sweeps from a terminal, followed live over the WebSocket."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from app.cli_client import (
    DEFAULT_URL,
    AsJson,
    Token,
    Url,
    _api,
    _fail,
    _number,
    _print_json,
    console,
)
from app.client import Api, ApiError

sweep_cli = typer.Typer(no_args_is_help=True, help="Parameter sweeps: many backtests, one search.")
SWEEP_ENDS = {"Completed", "Failed", "Cancelled"}
SHOWN = 5  # best trials in the live table


def parse_value(text: str) -> Any:
    """A command-line value as JSON would have it: int, float, true/false, or text."""
    lowered = text.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text.strip()


def parse_space(entries: list[str]) -> dict[str, Any]:
    """`name=8,12,16` (values) or `name=20..100:10` (low..high:step; the step is optional)."""
    space: dict[str, Any] = {}
    for entry in entries:
        name, sep, values = entry.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise typer.BadParameter(f"{entry!r}: write name=v1,v2,... or name=low..high:step")
        if ".." in values:
            bounds, _, step = values.partition(":")
            low, _, high = bounds.partition("..")
            dimension: dict[str, Any] = {"low": parse_value(low), "high": parse_value(high)}
            if step:
                dimension["step"] = parse_value(step)
            space[name.strip()] = dimension
        else:
            space[name.strip()] = [parse_value(v) for v in values.split(",")]
    return space


def _best_table(sweep: dict[str, Any], trials: dict[int, dict[str, Any]]) -> Table:
    done = sweep["done"] + sweep["failed"]
    title = (
        f"sweep {sweep['id']} · {sweep['status']} · {done}/{sweep['total']} trials "
        f"({sweep['failed']} failed) · {sweep['objective']} ({sweep['direction']})"
    )
    table = Table("trial", "parameters", sweep["objective"], "status", title=title)
    finished = [t for t in trials.values() if t.get("objective") is not None]
    reverse = sweep["direction"] == "maximize"
    for trial in sorted(finished, key=lambda t: t["objective"], reverse=reverse)[:SHOWN]:
        parameters = ", ".join(f"{k}={v}" for k, v in sorted(trial["parameters"].items()))
        table.add_row(str(trial["number"]), parameters, _number(trial["objective"]), "done")
    return table


def follow_sweep(api: Api, sweep: dict[str, Any], since: int | None) -> dict[str, Any]:
    """A live table of the best trials until the sweep ends; returns the final sweep."""
    sweep_id = sweep["id"]
    trials: dict[int, dict[str, Any]] = {}
    # A live table on a terminal; one line per finished trial when piped.
    live = Live(_best_table(sweep, trials), console=console) if console.is_terminal else None
    with live or contextlib.nullcontext():
        if sweep["status"] == "running" or since is not None:
            for message in api.stream(f"sweeps/{sweep_id}", since):
                kind = str(message.get("type", "")).rsplit(".", 1)[-1]
                data = message.get("data", {})
                if kind == "TrialAsked":
                    trials[data["number"]] = {"number": data["number"],
                                              "parameters": data["parameters"],
                                              "objective": None}  # fmt: skip
                elif kind == "TrialFinished" and data["number"] in trials:
                    trials[data["number"]]["objective"] = data.get("objective")
                    if live is not None:
                        sweep = api.get(f"/sweeps/{sweep_id}", trials_limit=1)
                        live.update(_best_table(sweep, trials))
                    else:
                        objective = _number(data.get("objective"))
                        console.print(f"trial {data['number']} finished: {objective}")
                if kind in SWEEP_ENDS:
                    break
    deadline = time.monotonic() + 10  # the stream may be a moment ahead of the read model
    while True:
        final: dict[str, Any] = api.get(f"/sweeps/{sweep_id}", trials_limit=1000)
        if final["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for trial in final["trials"]["items"]:
        trials[trial["number"]] = trial
    console.print(_best_table(final, trials))
    return final


@sweep_cli.command("submit")
def submit(
    strategy: Annotated[str, typer.Option(help="registered strategy name")],
    pair: Annotated[list[str], typer.Option(help="a pair (BASE/QUOTE); repeat for several")],
    timeframe: Annotated[str, typer.Option(help="candle size, e.g. 5m")],
    timerange: Annotated[str, typer.Option(help="YYYYMMDD-YYYYMMDD")],
    space: Annotated[
        list[str],
        typer.Option(help="name=v1,v2,... or name=low..high:step; repeat for each parameter"),
    ],
    objective: Annotated[str, typer.Option(help="result metric to optimise, e.g. sharpe")],
    direction: Annotated[str, typer.Option(help="maximize or minimize")] = "maximize",
    method: Annotated[str, typer.Option(help="grid, random or tpe")] = "grid",
    max_trials: Annotated[int, typer.Option(help="at most this many trials")] = 100,
    version: Annotated[int | None, typer.Option(help="strategy version (default: latest)")] = None,
    seed: Annotated[int | None, typer.Option(help="random and tpe: a fixed seed")] = None,
    priority: Annotated[str, typer.Option(help="low, normal or high")] = "normal",
    follow: Annotated[bool, typer.Option("--follow", help="live table of the best trials")] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Start a parameter sweep (and with --follow, watch it to the end)."""
    api = _api(url, token)
    body: dict[str, Any] = {
        "strategy": strategy, "strategy_version": version, "pairs": pair,
        "timeframe": timeframe, "timerange": timerange, "space": parse_space(space),
        "objective": objective, "direction": direction, "method": method,
        "max_trials": max_trials, "seed": seed, "priority": priority,
    }  # fmt: skip
    try:
        response = api.post("/sweeps", {k: v for k, v in body.items() if v is not None})
        sweep = response.json()
        console.print(
            f"sweep {sweep['id']}: {sweep['total']} trials of {sweep['strategy']} "
            f"v{sweep['strategy_version']} ({sweep['method']}), best {sweep['objective']}",
            highlight=False,
        )
        if not follow:
            return
        position = response.headers.get("X-Position")
        final = follow_sweep(api, sweep, int(position) if position else None)
        best = final.get("best")
        if final["status"] != "completed" or best is None:
            _fail(ApiError(f"sweep {final['status']}: {final.get('error') or 'no best trial'}"))
        parameters = ", ".join(f"{k}={v}" for k, v in sorted(best["parameters"].items()))
        console.print(
            f"best: trial {best['trial']} with {parameters}: "
            f"{final['objective']} {_number(best['objective'])}",
            highlight=False,
        )
    except ApiError as error:
        _fail(error)


@sweep_cli.command("show")
def show(
    sweep_id: str, as_json: AsJson = False, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """One sweep: status, counts, the best trials."""
    try:
        sweep = _api(url, token).get(f"/sweeps/{sweep_id}", trials_limit=1000)
    except ApiError as error:
        _fail(error)
    if as_json:
        _print_json(sweep)
        return
    console.print(_best_table(sweep, {t["number"]: t for t in sweep["trials"]["items"]}))


@sweep_cli.command("list")
def list_sweeps(
    status: Annotated[str | None, typer.Option(help="running, completed, ...")] = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Sweeps, newest first."""
    try:
        page = _api(url, token).get("/sweeps", status=status)
    except ApiError as error:
        _fail(error)
    if as_json:
        _print_json(page)
        return
    table = Table("id", "strategy", "status", "trials", "best")
    for sweep in page["items"]:
        best = sweep.get("best")
        table.add_row(
            sweep["id"], f"{sweep['strategy']} v{sweep['strategy_version']}", sweep["status"],
            f"{sweep['done'] + sweep['failed']}/{sweep['total']}",
            "-" if best is None else _number(best["objective"]),
        )  # fmt: skip
    console.print(table)


@sweep_cli.command("cancel")
def cancel(sweep_id: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Stop a sweep: trials not run yet are cancelled; finished ones are kept."""
    try:
        sweep = _api(url, token).post(f"/sweeps/{sweep_id}/cancel").json()
    except ApiError as error:
        _fail(error)
    console.print(f"sweep {sweep['id']}: {sweep['status']}", highlight=False)
