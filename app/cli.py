"""The `tradai` command line: serve the API, operate it, and use it (backtest, strategy)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from app.auth import Role, mint_token
from app.cli_client import backtest_cli, strategy_cli
from app.cli_maintainers import maintainers_cli
from app.cli_sweeps import sweep_cli
from app.secrets import jwt_secret
from app.settings import DESCRIPTIONS, PREFIX, Settings, SettingsError, load_settings

SAMPLE_STRATEGY = "SampleEmaCross"
SAMPLE_TIMERANGE = "20240101-20240701"
GIL_SWITCH_INTERVAL_SECONDS = 0.001

cli = typer.Typer(no_args_is_help=True, add_completion=False, help="TradAI Backend")
projections_cli = typer.Typer(no_args_is_help=True, help="Read models built from the event store.")
events_cli = typer.Typer(
    no_args_is_help=True, help="The stored event types, and the events on Kafka."
)
data_cli = typer.Typer(no_args_is_help=True, help="Market data (candles) for backtests.")
cli.add_typer(backtest_cli, name="backtest")
strategy_cli.add_typer(maintainers_cli, name="maintainers")
cli.add_typer(strategy_cli, name="strategy")
cli.add_typer(sweep_cli, name="sweep")
cli.add_typer(data_cli, name="data")
cli.add_typer(projections_cli, name="projections")
cli.add_typer(events_cli, name="events")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="listen address (BACKEND_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (BACKEND_PORT)")] = None,
) -> None:
    """Serve the API with the settings from the environment."""
    import uvicorn

    from app.factory import create_app

    settings = _settings()
    # The event loop and the command writer share the GIL. At Python's default 5 ms switch
    # interval, a thread the OS preempted while holding it (a busy machine) makes the other
    # wait whole intervals: submit p99 with one core busy went from 42-67 ms to 16-18 ms at
    # 1 ms, with no loss of throughput (bench/README.md).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        log_config=None,  # the app configured logging (structlog): uvicorn's lines go there too
        access_log=False,
        # uvicorn believes X-Forwarded-For/-Proto from 127.0.0.1 unless told otherwise: only the
        # proxies named in BACKEND_TRUSTED_PROXIES may say who the client is.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )


@cli.command()
def token(
    sub: Annotated[str, typer.Option(help="the user the token speaks for")],
    role: Annotated[list[Role], typer.Option(help="a role; repeat for several")],
    ttl: Annotated[
        int | None,
        typer.Option(help="lifetime in seconds (at most BACKEND_JWT_MAX_TTL_SECONDS)", min=1),
    ] = None,
) -> None:
    """Mint a token signed with the local secret (BACKEND_JWT_SECRET or data_dir/jwt-secret)."""
    settings = _settings()
    lifetime = ttl or settings.jwt_ttl_seconds
    if lifetime > settings.jwt_max_ttl_seconds:
        # Refused rather than shortened: a token that silently dies sooner than asked is worse.
        typer.echo(
            f"error: --ttl {lifetime} is longer than BACKEND_JWT_MAX_TTL_SECONDS "
            f"({settings.jwt_max_ttl_seconds} s): the API would refuse the token; ask for less",
            err=True,
        )
        raise typer.Exit(2)
    typer.echo(mint_token(jwt_secret(settings), sub, [r.value for r in role], lifetime))


@cli.command("settings")
def show_settings() -> None:
    """Print every setting with its environment variable, current value and meaning."""
    settings = _settings()
    for name, value in settings.redacted().items():  # secrets and URL passwords redacted
        typer.echo(f"{PREFIX}{name.upper():<32} {value!s:<40} {DESCRIPTIONS[name]}")


@projections_cli.command("rebuild")
def rebuild(
    batch_size: Annotated[int, typer.Option(help="events per transaction", min=1)] = 2000,
    workers: Annotated[
        int | None,
        typer.Option(help="processes replaying at once (default: one per core, at most 4)", min=1),
    ] = None,
) -> None:
    """Replay the event store into fresh read-model tables, then swap them in (and, with
    BACKEND_DYNAMODB_TABLE, into a fresh DynamoDB table, then switch to it)."""
    from app.rebuild import default_workers, rebuild_and_swap

    settings = _settings()
    report = rebuild_and_swap(settings, batch_size, workers or default_workers())
    rate = report.events / report.seconds if report.seconds else 0.0
    typer.echo(
        f"rebuilt the read model from {report.events} events up to position {report.position} "
        f"in {report.seconds:.2f} s ({rate:,.0f} events/s)"
    )
    if settings.dynamodb_table:
        from app.rebuild import rebuild_dynamodb

        report = rebuild_dynamodb(settings, min(batch_size, 500))
        rate = report.events / report.seconds if report.seconds else 0.0
        typer.echo(
            f"rebuilt the DynamoDB read model from {report.events} events up to position "
            f"{report.position} in {report.seconds:.2f} s ({rate:,.0f} events/s)"
        )


@events_cli.command("schemas")
def event_schemas() -> None:
    """Print the JSON Schema of every stored event type (docs/event-schemas.json holds a copy)."""
    from app.event_catalog import event_schemas as schemas

    typer.echo(json.dumps(schemas(), indent=2, sort_keys=True))


@events_cli.command("tail")
def events_tail(
    from_beginning: Annotated[
        bool,
        typer.Option(
            "--from-beginning", help="start at the oldest event kept where the group has no offset"
        ),
    ] = False,
    group: Annotated[
        str | None,
        typer.Option(help="consumer group: resumes where it last committed (default: a new one)"),
    ] = None,
    type_pattern: Annotated[
        str | None,
        typer.Option("--type", help="only event types matching this glob, e.g. 'BacktestJob.*'"),
    ] = None,
    bootstrap_servers: Annotated[
        str | None, typer.Option(help="host:port,... (default: BACKEND_KAFKA_BOOTSTRAP_SERVERS)")
    ] = None,
    topic_prefix: Annotated[
        str | None, typer.Option(help="topics <prefix>.* (default: BACKEND_KAFKA_TOPIC_PREFIX)")
    ] = None,
    max_events: Annotated[
        int | None, typer.Option(min=1, help="stop after printing this many")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0.0, help="stop after this many seconds")
    ] = None,
) -> None:
    """Print the events published to Kafka as they come, one JSON line each (the message value),
    once per event_id; offsets are committed after printing. Ctrl-C or SIGTERM stops."""
    import asyncio
    import os
    import uuid

    settings = _settings()
    servers = bootstrap_servers or settings.kafka_bootstrap_servers
    if not servers:
        typer.echo(
            "error: no Kafka brokers given: pass --bootstrap-servers host:port "
            "or set BACKEND_KAFKA_BOOTSTRAP_SERVERS",
            err=True,
        )
        raise typer.Exit(2)
    from adapters.kafka.consumer import BrokerUnavailable
    from app.bootstrap import kafka_config
    from app.events_tail import tail_events

    tail = tail_events(
        kafka_config(settings, servers).client_options(),
        group or f"tradai-tail-{uuid.uuid4().hex[:12]}",
        topic_prefix or settings.kafka_topic_prefix,
        from_beginning,
        type_pattern,
        max_events,
        timeout,
    )
    try:
        asyncio.run(tail)
    except BrokerUnavailable as error:
        typer.echo(
            f"error: cannot reach Kafka at {servers} ({error}); is the broker running there?",
            err=True,
        )
        raise typer.Exit(1) from None
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@data_cli.command("generate")
def data_generate(
    pairs: Annotated[str, typer.Option(help="comma-separated pairs")] = "BTC/USDT,ETH/USDT",
    timeframes: Annotated[str, typer.Option(help="comma-separated timeframes")] = "5m,1h",
    timerange: Annotated[str, typer.Option(help="YYYYMMDD-YYYYMMDD")] = SAMPLE_TIMERANGE,
    exchange: Annotated[str, typer.Option()] = "binance",
    overwrite: Annotated[bool, typer.Option(help="rewrite files that exist")] = False,
) -> None:
    """Write sample candles in freqtrade's layout under BACKEND_MARKET_DATA_DIR (when that is
    s3://bucket/prefix: made in a temporary directory and uploaded there, each file only if
    missing unless --overwrite)."""
    from adapters.market_data import MarketDataError
    from adapters.sample_data import generate
    from domain.errors import InvalidValue
    from domain.market import check_pair, check_timeframe, parse_timerange

    settings = _settings()
    try:
        start, end = parse_timerange(timerange)
        pair_list = [p.strip() for p in pairs.split(",") if p.strip()]
        for pair in pair_list:
            check_pair(pair)
        frames = [t.strip() for t in timeframes.split(",") if t.strip()]
        for timeframe in frames:
            check_timeframe(timeframe)
        if settings.market_data_url:
            count = _generate_into_s3(
                settings, exchange, pair_list, frames, start, end, overwrite=overwrite
            )
            where = f"{settings.market_data_url.rstrip('/')}/{exchange}"
        else:
            root = settings.market_data_path
            written = generate(root, exchange, pair_list, frames, start, end, overwrite=overwrite)
            count, where = len(written), str(root / exchange)
    except (InvalidValue, ValueError, MarketDataError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{count} candle files written to {where}" if count else f"candles already in {where}"
    )


def _generate_into_s3(
    settings: Settings,
    exchange: str,
    pairs: list[str],
    timeframes: list[str],
    start: date,
    end: date,
    *,
    overwrite: bool,
) -> int:
    """Sample candles made locally, then uploaded to the S3 prefix; returns the files uploaded."""
    import tempfile
    from pathlib import Path

    from adapters.aws.s3_market_data import S3MarketData
    from adapters.market_data import candle_name
    from adapters.sample_data import generate

    remote = S3MarketData(settings.market_data_url, settings.market_data_cache_path)
    names = [candle_name(exchange, p, tf) for p in pairs for tf in timeframes]
    wanted = names if overwrite else [n for n in names if remote.head(n) is None]
    if not wanted:
        return 0
    with tempfile.TemporaryDirectory(prefix="tradai-candles-") as folder:
        generate(Path(folder), exchange, pairs, timeframes, start, end)
        for name in wanted:
            remote.upload(Path(folder) / name, name)
    return len(wanted)


@cli.command()
def seed() -> None:
    """Make a new installation ready to backtest: sample candles (uploaded when
    BACKEND_MARKET_DATA_DIR is s3://bucket/prefix) and the sample strategy."""
    from importlib import resources

    from adapters.event_store import open_event_store
    from commands.messages import RegisterStrategyVersion
    from commands.strategies import StrategyCommands
    from domain.identity import strategy_id

    data_generate(
        pairs="BTC/USDT,ETH/USDT", timeframes="5m,1h", timerange=SAMPLE_TIMERANGE,
        exchange="binance", overwrite=False,
    )  # fmt: skip
    settings = _settings()
    store = open_event_store(settings.resolved_event_store_url)
    try:
        if store.exists(strategy_id(SAMPLE_STRATEGY)):
            typer.echo(f"strategy {SAMPLE_STRATEGY} is registered already")
            return
        code = (resources.files("app.samples") / f"{SAMPLE_STRATEGY}.py").read_text()
        command = RegisterStrategyVersion(
            name=SAMPLE_STRATEGY,
            code=code,
            description="EMA 12/48 crossover above EMA 200 (sample)",
        )
        view, _ = StrategyCommands(store).register_strategy_version(command, "tradai-seed")
        typer.echo(f"registered {view.name} version {view.version}")
    finally:
        store.close()


@cli.command()
def relay() -> None:
    """Publish every stored event to Kafka: the relay alone, without the API."""
    from app.relay import run_relay

    run_relay(_settings())


@cli.command()
def worker(
    url: Annotated[str, typer.Option("--url", envvar="TRADAI_URL", help="the API's base URL")],
    token: Annotated[
        str, typer.Option("--token", envvar="TRADAI_TOKEN", help="a token with role `worker`")
    ] = "",
    name: Annotated[str, typer.Option(help="the worker's name in job events")] = "",
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            envvar="TRADAI_TOKEN_FILE",
            help="a file holding the worker token, read again whenever it changes",
        ),
    ] = None,
) -> None:
    """Run backtests from BACKEND_SQS_QUEUE_URL and report them to the API (any machine)."""
    from app.worker.main import run_worker

    settings = _settings()
    if not settings.sqs_queue_url:
        typer.echo("error: set BACKEND_SQS_QUEUE_URL to the queue of backtest jobs", err=True)
        raise typer.Exit(2)
    if not token and token_file is None:
        typer.echo("error: set TRADAI_TOKEN or TRADAI_TOKEN_FILE (role `worker`)", err=True)
        raise typer.Exit(2)
    run_worker(settings, url, token, name, token_file)


def main() -> None:
    cli()
