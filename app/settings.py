"""Settings: one frozen object read from BACKEND_* environment variables, each with a default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import msgspec

from adapters.aws.s3_url import S3Url, is_s3_url
from app.log_redaction import redact_url

PREFIX = "BACKEND_"


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every knob of the service. The README's configuration table lists the same fields."""

    host: str = "0.0.0.0"
    port: int = 8000
    data_dir: str = "var"
    event_store_url: str = ""
    read_model_url: str = ""
    jwt_secret: str = ""
    jwt_ttl_seconds: Annotated[int, msgspec.Meta(ge=1)] = 3600
    jwt_max_ttl_seconds: Annotated[int, msgspec.Meta(ge=60)] = 86_400
    jwt_jwks_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_roles_claim: Annotated[str, msgspec.Meta(min_length=1)] = "roles"
    max_body_bytes: int = 1_048_576
    rate_limit_per_minute: Annotated[int, msgspec.Meta(ge=0)] = 600
    max_queued_per_user: Annotated[int, msgspec.Meta(ge=0)] = 1000
    read_your_writes_timeout: float = 2.0
    subscriber_poll_interval: float = 1.0
    projection_batch_size: int = 500
    log_level: str = "info"
    log_format: str = "console"
    executor: str = "local"
    workers: int = 0
    sandbox: str = "bubblewrap"
    run_time_limit_seconds: float = 900.0
    run_memory_limit_mb: int = 3072
    run_max_trades: int = 50_000
    lease_seconds: float = 30.0
    max_attempts: int = 2
    market_data_dir: str = ""
    offline_markets: bool = True
    artifacts_dir: str = ""
    artifacts_url: str = ""
    keep_workdirs: bool = False
    gate_min_trades: int = 10
    gate_max_drawdown: float = 0.25
    gate_min_profit: float = 0.0
    ws_token_ttl_seconds: int = 60
    ws_buffer_messages: int = 1000
    ws_max_connections_per_user: Annotated[int, msgspec.Meta(ge=1)] = 8
    ws_max_connections: Annotated[int, msgspec.Meta(ge=1)] = 1000
    ws_replay_events_per_minute: Annotated[int, msgspec.Meta(ge=1)] = 50_000
    trusted_proxies: str = ""
    strategy_service_url: str = "http://localhost:8003"
    data_collection_url: str = "http://localhost:8002"
    mlflow_tracking_uri: str = "http://localhost:5001"
    proxy_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    proxy_max_connections: Annotated[int, msgspec.Meta(ge=1)] = 100
    sqs_queue_url: str = ""
    sqs_dead_letter_queue_url: str = ""
    sqs_wait_seconds: Annotated[int, msgspec.Meta(ge=0, le=20)] = 10
    sqs_dispatch_window: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 4
    sweep_in_flight: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 8
    candle_cache_mb: Annotated[int, msgspec.Meta(ge=0, le=65536)] = 256
    kafka_bootstrap_servers: str = ""
    kafka_topic_prefix: str = "tradai"
    kafka_idempotent_producer: bool = True
    kafka_topic_partitions: Annotated[int, msgspec.Meta(ge=1)] = 4
    kafka_topic_replication: Annotated[int, msgspec.Meta(ge=1)] = 1
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    dynamodb_table: str = ""
    query_store: str = "sql"

    def redacted(self) -> dict[str, Any]:
        """Every field, secrets replaced (URLs keep all but their password): what repr, a
        traceback and `tradai settings` show."""
        return {name: _shown(name, getattr(self, name)) for name in self.__struct_fields__}

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.redacted().items())
        return f"Settings({fields})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:  # msgspec's own shows every value
        return list(self.redacted().items())

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).resolve()

    @property
    def worker_count(self) -> int:
        """Worker processes of the local executor; 0 means one per CPU."""
        return self.workers or os.cpu_count() or 1

    @property
    def market_data_url(self) -> str:
        """The s3:// URL of the candles when they are in S3; empty when they are local."""
        return self.market_data_dir if is_s3_url(self.market_data_dir) else ""

    @property
    def market_data_cache_path(self) -> Path:
        """Where candles from S3 are kept once downloaded."""
        return self.data_path / "market-data-cache"

    @property
    def market_data_path(self) -> Path:
        """The local directory freqtrade reads candles from: the configured one, or the cache
        of the S3 data (never the s3:// URL as a path)."""
        if self.market_data_url:
            return self.market_data_cache_path
        return (
            Path(self.market_data_dir).resolve()
            if self.market_data_dir
            else self.data_path / "market-data"
        )

    @property
    def artifacts_s3_url(self) -> str:
        """The s3:// URL run artifacts go to; empty when they stay in a local directory."""
        return self.artifacts_url if is_s3_url(self.artifacts_url) else ""

    @property
    def artifacts_path(self) -> Path:
        """The local artifacts directory (when artifacts are not in S3)."""
        local = self.artifacts_dir or ("" if self.artifacts_s3_url else self.artifacts_url)
        return Path(local).resolve() if local else self.data_path / "artifacts"

    @property
    def resolved_event_store_url(self) -> str:
        """The event store URL; empty means a SQLite file in the data directory."""
        return self.event_store_url or f"sqlite:///{self.data_path / 'events.db'}"

    @property
    def resolved_read_model_url(self) -> str:
        """The SQL read model URL; empty means a SQLite file in the data directory."""
        return self.read_model_url or f"sqlite:///{self.data_path / 'read_model.db'}"


# One line per setting, for `tradai settings` and the README table.
DESCRIPTIONS: dict[str, str] = {
    "host": "address the API listens on",
    "port": "port the API listens on",
    "data_dir": "directory for the embedded SQLite files and the generated JWT secret",
    "event_store_url": "event store: empty = SQLite in data_dir; postgresql://user:pw@host:port/db",
    "read_model_url": "SQL read model (SQLAlchemy URL): empty = SQLite in data_dir; postgresql://...",
    "jwt_secret": "HS256 secret for API tokens; empty = generated once into data_dir/jwt-secret",
    "jwt_ttl_seconds": "lifetime of tokens minted by `tradai token`",
    "jwt_max_ttl_seconds": (
        "longest lifetime (exp - iat) of a token the API accepts, local or identity-provider; "
        "longer ones (or ones without iat) are 401"
    ),
    "jwt_jwks_url": (
        "JWKS URL of an identity provider whose RS256/ES256 tokens are accepted next to the "
        "local ones (needs BACKEND_JWT_ISSUER); empty = local tokens only"
    ),
    "jwt_issuer": "the `iss` identity-provider tokens must carry (with BACKEND_JWT_JWKS_URL)",
    "jwt_audience": (
        "the `aud` (or, without one, `client_id`) identity-provider tokens must carry; "
        "required with BACKEND_JWT_JWKS_URL"
    ),
    "jwt_roles_claim": (
        "claim of identity-provider tokens listing the roles (cognito:groups for Cognito; "
        "a dotted path such as realm_access.roles reaches into an object)"
    ),
    "max_body_bytes": "largest request body accepted (413 above it)",
    "max_queued_per_user": (
        "backtests and sweep trials of one user that may wait or run at once (429 beyond; 0: "
        "no bound)"
    ),
    "rate_limit_per_minute": (
        "writes (POST, PUT, PATCH, DELETE) one user may send per minute, 429 above it; 0 = off"
    ),
    "read_your_writes_timeout": "seconds a command waits for the read model to show its effect",
    "subscriber_poll_interval": "seconds between polls for events written by other processes",
    "projection_batch_size": "events per read-model transaction",
    "log_level": "debug, info, warning or error",
    "log_format": "console (for a terminal) or json (one object per line, for machines)",
    "executor": (
        "who runs backtests: local (worker processes of this host), sqs (`tradai worker` "
        "processes through BACKEND_SQS_QUEUE_URL), memory (tests, no freqtrade), off"
    ),
    "workers": "worker processes of the local executor; 0 = one per CPU",
    "sandbox": (
        "where strategy code runs: bubblewrap (no network, own uid, only its run directory); "
        "none = unsandboxed, for development only"
    ),
    "run_time_limit_seconds": "wall time (and CPU time) one backtest may take before it is failed",
    "run_memory_limit_mb": "memory one backtest may use (its /tmp included) before it is failed",
    "run_max_trades": "trades one backtest may report; a run with more fails",
    "lease_seconds": "how long a claimed job stays claimed without a sign of life from its worker",
    "max_attempts": "runs a job gets when its worker dies before it is failed",
    "market_data_dir": (
        "candles as <dir>/<exchange>/<PAIR>-<tf>.feather; empty = data_dir/market-data; "
        "s3://bucket/prefix = in S3, cached in data_dir/market-data-cache"
    ),
    "offline_markets": "generate market metadata locally instead of loading it from the exchange",
    "artifacts_dir": "run artifacts (freqtrade's result zip, logs); empty = data_dir/artifacts",
    "artifacts_url": (
        "where run artifacts go: s3://bucket/prefix, or a local directory; "
        "empty = BACKEND_ARTIFACTS_DIR"
    ),
    "keep_workdirs": "keep each run's working directory after it ends (for debugging)",
    "gate_min_trades": "promotion gate: the backtest made at least this many trades",
    "gate_max_drawdown": "promotion gate: the backtest's max drawdown (a ratio) is at most this",
    "gate_min_profit": "promotion gate: the backtest's profit_total (a ratio, may be < 0) >= this",
    "ws_token_ttl_seconds": "lifetime of the WebSocket tokens from POST /ws/token",
    "ws_buffer_messages": "messages queued for a WebSocket client before it is closed as too slow",
    "ws_max_connections_per_user": "open WebSocket connections one user may have (per process)",
    "ws_max_connections": "open WebSocket connections of all users together (per process)",
    "ws_replay_events_per_minute": (
        "log positions one user's subscriptions with `since` may replay per minute (per process); "
        "a replay beyond it is refused"
    ),
    "trusted_proxies": (
        "addresses of reverse proxies (comma-separated, or *) whose X-Forwarded-For/-Proto "
        "name the client; empty = none: the peer is the client"
    ),
    "strategy_service_url": "Strategy Service base URL (gateway)",
    "data_collection_url": "Data Collection base URL (gateway)",
    "mlflow_tracking_uri": "MLflow base URL (gateway)",
    "proxy_timeout_seconds": (
        "the gateway's wait for a downstream service to connect, answer, or send the next "
        "bytes (504 after it)"
    ),
    "proxy_max_connections": "connections the gateway keeps to each downstream service, at most",
    "sqs_queue_url": "SQS queue of backtest jobs (BACKEND_EXECUTOR=sqs, and `tradai worker`)",
    "sqs_dead_letter_queue_url": (
        "the jobs queue's dead-letter queue: the API fails the jobs whose message lands there"
    ),
    "sqs_wait_seconds": "long-poll wait of SQS receives, in seconds (0..20)",
    "candle_cache_mb": (
        "per worker slot: candles of the slot's last run that its next worker preloads "
        "(decoded size, MiB; 0: off)"
    ),
    "sweep_in_flight": (
        "trials of one sweep waiting or running at once; the next is asked when one ends"
    ),
    "sqs_dispatch_window": (
        "jobs sent to the SQS queue and not claimed yet, at most; the others wait in the API's "
        "fair queue (priority, then round-robin across submitters). 0: send every job at once"
    ),
    "kafka_bootstrap_servers": "Kafka brokers (host:port,...) that get every event; empty = off",
    "kafka_topic_prefix": "topics are <prefix>.backtest-jobs, <prefix>.strategies, ...",
    "kafka_idempotent_producer": "idempotent producer (false for brokers without it, e.g. Tansu)",
    "kafka_topic_partitions": "partitions of the topics the relay creates when they are missing",
    "kafka_topic_replication": "replication factor of the topics the relay creates",
    "kafka_security_protocol": "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (managed: SASL_SSL)",
    "kafka_sasl_mechanism": "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL protocol)",
    "kafka_sasl_username": "SASL user name",
    "kafka_sasl_password": "SASL password (never logged)",
    "dynamodb_table": "DynamoDB read-model table, kept by a projector (empty = off)",
    "query_store": "which read model answers the query endpoints: sql or dynamodb",
}


SECRETS = frozenset({"jwt_secret", "kafka_sasl_password"})


def _shown(name: str, value: Any) -> Any:
    if name in SECRETS:
        return "[redacted]" if value else ""
    return redact_url(value) if isinstance(value, str) and "://" in value else value


class SettingsError(ValueError):
    """An environment variable holds a value the setting cannot take."""


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read BACKEND_* variables; unknown BACKEND_* names are an error, not silently ignored."""
    environ = os.environ if environ is None else environ
    fields = set(Settings.__struct_fields__)
    values: dict[str, str] = {}
    for key, value in environ.items():
        if not key.startswith(PREFIX):
            continue
        name = key.removeprefix(PREFIX).lower()
        if name not in fields:
            raise SettingsError(f"{key} is not a setting; known: {', '.join(sorted(fields))}")
        values[name] = value
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise SettingsError(f"bad setting: {error}") from None
    if settings.log_format not in ("console", "json"):
        raise SettingsError("BACKEND_LOG_FORMAT must be console or json")
    if settings.sandbox not in SANDBOXES:
        raise SettingsError(f"BACKEND_SANDBOX must be one of {', '.join(SANDBOXES)}")
    if settings.kafka_security_protocol not in KAFKA_PROTOCOLS:
        raise SettingsError(
            f"BACKEND_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(KAFKA_PROTOCOLS)}"
        )
    if settings.query_store not in ("sql", "dynamodb"):
        raise SettingsError("BACKEND_QUERY_STORE must be sql or dynamodb")
    if settings.query_store == "dynamodb" and not settings.dynamodb_table:
        raise SettingsError("BACKEND_QUERY_STORE=dynamodb needs BACKEND_DYNAMODB_TABLE")
    if settings.executor not in EXECUTORS:
        raise SettingsError(f"BACKEND_EXECUTOR must be one of {', '.join(EXECUTORS)}")
    if settings.executor == "sqs" and not settings.sqs_queue_url:
        raise SettingsError("BACKEND_EXECUTOR=sqs needs BACKEND_SQS_QUEUE_URL")
    if settings.artifacts_url and settings.artifacts_dir:
        raise SettingsError(
            "set BACKEND_ARTIFACTS_URL or BACKEND_ARTIFACTS_DIR, not both (the URL may also be "
            "a local directory)"
        )
    for name in ("artifacts_url", "market_data_dir"):
        _check_location(PREFIX + name.upper(), getattr(settings, name))
    _check_identity_provider(settings)
    _check_tokens(settings)
    return settings


MIN_SECRET_BYTES = 32  # HS256 keys shorter than its 256-bit output can be guessed offline


def _check_tokens(settings: Settings) -> None:
    """A secret long enough to resist guessing, and lifetimes within the maximum."""
    size = len(settings.jwt_secret.encode())
    if settings.jwt_secret and size < MIN_SECRET_BYTES:
        raise SettingsError(
            f"BACKEND_JWT_SECRET is {size} bytes; use at least {MIN_SECRET_BYTES} random bytes "
            "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))'), or unset it to "
            "have one generated into the data directory"
        )
    for name in ("jwt_ttl_seconds", "ws_token_ttl_seconds"):
        if getattr(settings, name) > settings.jwt_max_ttl_seconds:
            raise SettingsError(
                f"{PREFIX}{name.upper()} is longer than BACKEND_JWT_MAX_TTL_SECONDS "
                f"({settings.jwt_max_ttl_seconds} s): such tokens would be refused"
            )


def _check_identity_provider(settings: Settings) -> None:
    """A JWKS URL comes with the issuer its tokens carry; the issuer and the audience only
    mean something with a JWKS URL."""
    if not settings.jwt_jwks_url:
        if settings.jwt_issuer or settings.jwt_audience:
            raise SettingsError(
                "BACKEND_JWT_ISSUER and BACKEND_JWT_AUDIENCE check identity-provider tokens: "
                "set BACKEND_JWT_JWKS_URL too (or unset them)"
            )
        return
    if not settings.jwt_jwks_url.startswith(("https://", "http://")):
        raise SettingsError("BACKEND_JWT_JWKS_URL must be an https:// (or http://) URL")
    if not settings.jwt_issuer:
        raise SettingsError(
            "BACKEND_JWT_JWKS_URL needs BACKEND_JWT_ISSUER: the exact `iss` of the provider's "
            "tokens (Cognito: https://cognito-idp.<region>.amazonaws.com/<user pool id>)"
        )
    if not settings.jwt_audience:
        raise SettingsError(
            "BACKEND_JWT_JWKS_URL needs BACKEND_JWT_AUDIENCE: the client id (`aud`, or Cognito "
            "access tokens' `client_id`) the provider issues this service's tokens to; without "
            "it a token issued to any other client of the provider would be accepted"
        )


def _check_location(variable: str, value: str) -> None:
    """A local directory, or a well-formed s3://bucket/prefix; no other scheme."""
    if is_s3_url(value):
        try:
            S3Url.parse(value)
        except ValueError as error:
            raise SettingsError(f"{variable}: {error}") from None
    elif "://" in value:
        raise SettingsError(f"{variable} must be a local directory or s3://bucket/prefix")


EXECUTORS = ("local", "sqs", "memory", "off")
SANDBOXES = ("bubblewrap", "none")
KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
