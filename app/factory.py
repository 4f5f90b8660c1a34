"""The Litestar application factory: routes, auth, problem details, OpenAPI, lifecycle."""

from __future__ import annotations

import gc

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.middleware import DefineMiddleware

from adapters.sql_write_budgets import SqlWriteBudgets
from app.auth import JWTAuthMiddleware
from app.bootstrap import Container, bootstrap
from app.controllers.asyncapi import AsyncAPIController
from app.controllers.backtests import BacktestController
from app.controllers.data import DataController
from app.controllers.health import HealthController
from app.controllers.live import live_stream, ws_token
from app.controllers.metrics import metrics
from app.controllers.operations import OperationsController
from app.controllers.promotions import PromotionController
from app.controllers.proxy import proxy_read, proxy_write
from app.controllers.strategies import StrategyController
from app.controllers.sweeps import SweepController
from app.controllers.ui import UI_ROUTES
from app.controllers.workers import worker_routes
from app.gateway import Gateway
from app.identity_provider import identity_provider
from app.json_depth import refuse_deep_bodies
from app.live_sessions import LiveSessions
from app.log_redaction import redact_tokens_in_server_logs
from app.logging_setup import configure_logging, write_directly
from app.metrics import MetricsMiddleware, metrics_registry
from app.openapi import BEARER, ClosedBodySchemas, openapi_config
from app.problems import EXCEPTION_HANDLERS
from app.rate_limit import write_rate_limit
from app.request_id import RequestIdMiddleware
from app.settings import Settings, load_settings
from app.tracing import instrument, tracing_enabled

# Reachable without a token (API.md): health, readiness, metrics, the OpenAPI docs and the
# AsyncAPI document (/schema/asyncapi.json), and the web UI's page and files (`/`, /ui/...: the data
# they load needs a token); their handlers stay outside the router that documents the token
# (create_app).
# /ws checks its own short-lived token from the query string (browsers cannot set headers there).
PUBLIC_PATHS = [
    "^/health$",
    "^/ready$",
    "^/metrics$",
    "^/schema",
    "^/ws$",
    "^/api/v1/ws$",
    "^/$",
    "^/ui(/|$)",
]


def _freeze_startup_objects() -> None:
    """Move everything built at start-up (modules, the app, its routes) out of the collector's
    sight: they live as long as the process, and scanning them again and again in full
    collections only delays requests."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, container: Container | None = None) -> Litestar:
    """Build the API; the container's subscribers start with the app and stop with it."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)
    container = container or bootstrap(settings)
    # Everything here needs a token, and the OpenAPI document says so for these routes only.
    with_token = Router(
        path="/",
        route_handlers=[
            BacktestController,
            StrategyController,
            DataController,
            PromotionController,
            SweepController,
            OperationsController,
            *worker_routes(settings.executor),  # none unless remote workers run the jobs
            proxy_read,
            proxy_write,
            ws_token,
        ],
        security=BEARER,
    )
    rate_limit = write_rate_limit(settings.rate_limit_per_minute, _shared_budgets(container))
    gateway = Gateway(
        urls={
            "strategy-service": settings.strategy_service_url,
            "data-collection": settings.data_collection_url,
            "mlflow": settings.mlflow_tracking_uri,
        },
        timeout_seconds=settings.proxy_timeout_seconds,
        max_connections=settings.proxy_max_connections,
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            metrics,
            AsyncAPIController,
            with_token,
            live_stream,
            *UI_ROUTES,
        ],
        dependencies={
            "container": Provide(lambda: container, use_cache=True, sync_to_thread=False)
        },
        middleware=[
            DefineMiddleware(
                JWTAuthMiddleware,
                secret=container.jwt_secret,
                identity_provider=identity_provider(settings),
                max_ttl=settings.jwt_max_ttl_seconds,
                exclude=PUBLIC_PATHS,
                scopes={"http", "websocket"},
            ),
            *([rate_limit] if rate_limit else []),  # after auth: it counts per token subject
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=refuse_deep_bodies,  # bounded nesting before any body is decoded
        request_max_body_size=settings.max_body_bytes,
        on_startup=[
            redact_tokens_in_server_logs,
            container.start,
            container.bind_loop,
            _freeze_startup_objects,
        ],
        on_shutdown=[container.stop, gateway.aclose, write_directly],
        openapi_config=openapi_config(),
        plugins=[ClosedBodySchemas()],
        debug=False,
        logging_config=None,  # configure_logging() set up the process's logging (structlog)
    )
    app.state.max_body_bytes = settings.max_body_bytes
    app.state.container = container
    app.state.gateway = gateway
    app.state.live_sessions = LiveSessions(
        settings.ws_max_connections_per_user,
        settings.ws_max_connections,
        settings.ws_replay_events_per_minute,
    )
    app.state.metrics_registry, http_metrics = metrics_registry(container)
    app.asgi_handler = MetricsMiddleware(app.asgi_handler, http_metrics)
    if tracing_enabled():  # OTEL_EXPORTER_OTLP_ENDPOINT: OpenTelemetry is imported only then
        app.asgi_handler, flush_spans = instrument(app.asgi_handler)
        app.on_shutdown.append(flush_spans)
    # Outermost, so every answer (a 401, a 404 of no route) carries its X-Request-ID.
    app.asgi_handler = RequestIdMiddleware(app.asgi_handler)
    return app


def _shared_budgets(container: Container) -> SqlWriteBudgets | None:
    """With PostgreSQL, replicas share the read model's database, and the write budgets with it;
    the embedded SQLite default has one process, whose memory is quicker."""
    settings = container.settings
    engine = container.sql_store.engine
    if settings.rate_limit_per_minute <= 0 or engine.dialect.name != "postgresql":
        return None
    per_minute = settings.rate_limit_per_minute
    budgets = SqlWriteBudgets(engine, per_minute, per_minute / 60)
    budgets.create()
    return budgets
