"""`tradai backtest ...` and `tradai strategy ...`: the API from a terminal."""

from __future__ import annotations

import ast
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from app.client import FINAL, Api, ApiError

# Piped output gets wide lines, so ids and times are never cut (scripts grep them).
console = Console() if sys.stdout.isatty() else Console(width=200)
errors = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)
backtest_cli = typer.Typer(no_args_is_help=True, help="Submit, follow and inspect backtests.")
strategy_cli = typer.Typer(no_args_is_help=True, help="Register and browse strategy versions.")

Url = Annotated[str, typer.Option("--url", envvar="TRADAI_URL", help="API base URL")]
Token = Annotated[str | None, typer.Option("--token", envvar="TRADAI_TOKEN", help="bearer token")]
AsJson = Annotated[bool, typer.Option("--json", help="print the raw JSON answer")]
DEFAULT_URL = "http://localhost:8000"
METRICS = (
    "total_trades", "profit_total", "profit_total_abs", "max_drawdown", "sharpe", "sortino",
    "calmar", "winrate", "profit_factor", "starting_balance", "final_balance",
)  # fmt: skip


def _api(url: str, token: str | None) -> Api:
    try:
        return Api(url, token)
    except ApiError as error:
        _fail(error)


def _fail(error: ApiError) -> NoReturn:
    errors.print(f"[red]error:[/red] {error}", highlight=False, markup=True)
    raise typer.Exit(1)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}"
    return "-" if value is None else str(value)


def _result_tables(result: dict[str, Any]) -> None:
    metrics = Table(title="metrics", show_header=False)
    for name in METRICS:
        metrics.add_row(name, _number(result["metrics"].get(name)))
    console.print(metrics)
    pairs = Table("pair", "trades", "profit_total", "profit_total_abs", "winrate", title="per pair")
    for row in result["per_pair"]:
        pairs.add_row(
            row["pair"], str(row["trades"]), _number(row["profit_total"]),
            _number(row["profit_total_abs"]), _number(row["winrate"]),
        )  # fmt: skip
    console.print(pairs)


def _follow(api: Api, job_id: str, since: int | None) -> dict[str, Any]:
    """Show the job's progress from its live stream until it ends; returns the final job."""
    job: dict[str, Any] = api.get(f"/backtests/{job_id}")
    if job["status"] in FINAL and since is None:  # nothing to replay from: just the outcome
        return job
    live = console.is_terminal
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
        console=console, disable=not live,
    ) as progress:  # fmt: skip
        task = progress.add_task(job["status"], total=1.0)
        for message in api.stream(f"backtests/{job_id}", since):
            kind = str(message.get("type", "")).rsplit(".", 1)[-1]
            data = message.get("data", {})
            text = None
            if kind == "Started":
                text = f"running (attempt {data.get('attempt')})"
            elif kind == "ProgressReported":
                progress.update(task, completed=data["fraction"])
                text = f"{data['phase']} {data['fraction']:.0%}"
            elif kind == "Requeued":
                text = f"queued again: {data.get('reason')}"
            elif kind in {"Completed", "Failed", "Cancelled"}:
                progress.update(
                    task, completed=1.0 if kind == "Completed" else progress.tasks[0].completed
                )
                text = kind.lower()
            if text:
                progress.update(task, description=text)
                if not live:
                    console.print(text, highlight=False)
            if kind in {"Completed", "Failed", "Cancelled"}:
                break
    # The stream can be a few milliseconds ahead of the read model that GET answers from.
    deadline = time.monotonic() + 10
    while True:
        final: dict[str, Any] = api.get(f"/backtests/{job_id}")
        if final["status"] in FINAL or time.monotonic() > deadline:
            return final
        time.sleep(0.05)


@backtest_cli.command("submit")
def submit(
    strategy: Annotated[str, typer.Option(help="registered strategy name")],
    pair: Annotated[list[str], typer.Option(help="a pair (BASE/QUOTE); repeat for several")],
    timeframe: Annotated[str, typer.Option(help="candle size, e.g. 5m")],
    timerange: Annotated[str, typer.Option(help="YYYYMMDD-YYYYMMDD")],
    version: Annotated[int | None, typer.Option(help="strategy version (default: latest)")] = None,
    exchange: Annotated[str, typer.Option()] = "binance",
    stake_amount: Annotated[float | None, typer.Option()] = None,
    max_open_trades: Annotated[int | None, typer.Option()] = None,
    starting_balance: Annotated[float | None, typer.Option()] = None,
    fee: Annotated[float | None, typer.Option()] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="retry-safe key")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="show progress live, then the results")
    ] = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Submit a backtest (and with --follow, watch it to the end)."""
    api = _api(url, token)
    body: dict[str, Any] = {
        "strategy": strategy, "strategy_version": version, "pairs": pair, "timeframe": timeframe,
        "timerange": timerange, "exchange": exchange, "stake_amount": stake_amount,
        "max_open_trades": max_open_trades, "starting_balance": starting_balance, "fee": fee,
    }  # fmt: skip
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    try:
        response = api.post("/backtests", {k: v for k, v in body.items() if v is not None}, headers)
        job = response.json()
        console.print(
            f"submitted {job['id']}: {job['strategy']} v{job['strategy_version']}, "
            f"{', '.join(job['pairs'])}, {job['timeframe']}, {job['timerange']}",
            highlight=False,
        )
        if not follow:
            return
        position = response.headers.get("X-Position")
        job = _follow(api, job["id"], int(position) if position else None)
        if job["status"] != "completed":
            _fail(ApiError(f"backtest {job['status']}: {job['error']}"))
        console.print(f"completed in attempt {job['attempt']}", highlight=False)
        _result_tables(api.get(f"/backtests/{job['id']}/result"))
    except ApiError as error:
        _fail(error)


@backtest_cli.command("list")
def list_backtests(
    status: Annotated[str | None, typer.Option()] = None,
    strategy: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 20,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """The newest backtests."""
    try:
        page = _api(url, token).get("/backtests", status=status, strategy=strategy, limit=limit)
    except ApiError as error:
        _fail(error)
    if as_json:
        _print_json(page)
        return
    table = Table("strategy", "status", "progress", "attempt", "submitted", "error")
    table.columns.insert(0, Column("id", no_wrap=True, min_width=36))
    for job in page["items"]:
        table.add_row(
            job["id"], f"{job['strategy']} v{job['strategy_version']}", job["status"],
            f"{job['progress']['fraction']:.0%}", str(job["attempt"]), job["submitted_at"][:19],
            (job["error"] or "")[:60],
        )  # fmt: skip
    console.print(table)


@backtest_cli.command("show")
def show(job_id: str, as_json: AsJson = False, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """One backtest."""
    try:
        job = _api(url, token).get(f"/backtests/{job_id}")
    except ApiError as error:
        _fail(error)
    if as_json:
        _print_json(job)
        return
    table = Table(show_header=False)
    for key, value in job.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else _number(value))
    console.print(table)


@backtest_cli.command("result")
def result(
    job_id: str, as_json: AsJson = False, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """Metrics and per-pair results of a completed backtest."""
    try:
        answer = _api(url, token).get(f"/backtests/{job_id}/result")
    except ApiError as error:
        _fail(error)
    if as_json:
        _print_json(answer)
    else:
        _result_tables(answer)


@backtest_cli.command("cancel")
def cancel(job_id: str, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Cancel a backtest that has not finished."""
    try:
        job = _api(url, token).post(f"/backtests/{job_id}/cancel").json()
    except ApiError as error:
        _fail(error)
    state = (
        "cancelled" if job["status"] == "cancelled" else "cancel requested (the worker stops it)"
    )
    console.print(f"{job['id']}: {state}", highlight=False)


def _class_name(source: str, path: Path) -> str:
    try:
        tree = ast.parse(source, filename=path.name)
    except SyntaxError:
        return path.stem  # the backtest will report the syntax error with its line
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    strategies = [c for c in classes if any("Strategy" in ast.unparse(b) for b in c.bases)]
    found = strategies or classes
    return found[0].name if found else path.stem


@strategy_cli.command("register")
def register(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    name: Annotated[
        str | None, typer.Option(help="default: the strategy class in the file")
    ] = None,
    description: Annotated[str, typer.Option()] = "",
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Register FILE (a freqtrade strategy) as the next version of its strategy."""
    source = file.read_text()
    name = name or _class_name(source, file)
    try:
        version = (
            _api(url, token)
            .post(f"/strategies/{name}/versions", {"code": source, "description": description})
            .json()
        )
    except ApiError as error:
        _fail(error)
    console.print(
        f"registered {version['name']} version {version['version']} "
        f"(sha256 {version['code_sha256'][:12]})",
        highlight=False,
    )


@strategy_cli.command("list")
def list_strategies(as_json: AsJson = False, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """The strategy catalog."""
    try:
        page = _api(url, token).get("/strategies", limit=200)
    except ApiError as error:
        _fail(error)
    if as_json:
        _print_json(page)
        return
    table = Table("name", "latest", "staging", "production", "updated")
    for s in page["items"]:
        stages = s["stages"]
        table.add_row(
            s["name"], str(s["latest_version"]), _number(stages.get("staging")),
            _number(stages.get("production")), s["updated_at"][:19],
        )  # fmt: skip
    console.print(table)


@strategy_cli.command("show")
def show_strategy(
    name: str, as_json: AsJson = False, url: Url = DEFAULT_URL, token: Token = None
) -> None:
    """One strategy and its versions."""
    try:
        strategy = _api(url, token).get(f"/strategies/{name}")
    except ApiError as error:
        _fail(error)
    if as_json:
        _print_json(strategy)
        return
    maintainers = ", ".join(strategy["maintainers"]) or "none"
    table = Table(
        "version", "stage", "sha256", "registered by", "registered at", "description",
        title=name, caption=f"owner {strategy['created_by']}; maintainers: {maintainers}",
    )  # fmt: skip
    for v in strategy["versions"]:
        table.add_row(
            str(v["version"]), v["stage"], v["code_sha256"][:12], v["registered_by"],
            v["registered_at"][:19], v["description"],
        )  # fmt: skip
    console.print(table)
