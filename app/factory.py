"""The Litestar application factory: routes, auth, problem details, OpenAPI, lifecycle."""

from __future__ import annotations

import gc
import logging

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from app.auth import JWTAuthMiddleware
from app.bootstrap import Container, bootstrap
from app.controllers.backtests import BacktestController
from app.controllers.data import DataController
from app.controllers.health import HealthController
from app.controllers.live import live_stream, ws_token
from app.controllers.operations import OperationsController
from app.controllers.promotions import PromotionController
from app.controllers.strategies import StrategyController
from app.log_redaction import redact_tokens_in_server_logs
from app.problems import EXCEPTION_HANDLERS
from app.settings import Settings, load_settings

# Reachable without a token (API.md): health, readiness, metrics and the OpenAPI docs.
# /ws checks its own short-lived token from the query string (browsers cannot set headers there).
PUBLIC_PATHS = ["^/health$", "^/ready$", "^/metrics$", "^/schema", "^/ws$", "^/api/v1/ws$"]


def _freeze_startup_objects() -> None:
    """Move everything built at start-up (modules, the app, its routes) out of the collector's
    sight: they live as long as the process, and scanning them again and again in full
    collections only delays requests."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, container: Container | None = None) -> Litestar:
    """Build the API; the container's subscribers start with the app and stop with it."""
    settings = settings or load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    container = container or bootstrap(settings)
    app = Litestar(
        route_handlers=[
            HealthController,
            BacktestController,
            StrategyController,
            DataController,
            PromotionController,
            OperationsController,
            ws_token,
            live_stream,
        ],
        dependencies={
            "container": Provide(lambda: container, use_cache=True, sync_to_thread=False)
        },
        middleware=[
            DefineMiddleware(
                JWTAuthMiddleware,
                secret=container.jwt_secret,
                exclude=PUBLIC_PATHS,
                scopes={"http", "websocket"},
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        on_startup=[
            redact_tokens_in_server_logs,
            container.start,
            container.bind_loop,
            _freeze_startup_objects,
        ],
        on_shutdown=[container.stop],
        openapi_config=OpenAPIConfig(
            title="TradAI Backend",
            version="0.1.0",
            description="Event-sourced backtests, strategy catalog and promotion workflow.",
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"BearerToken": []}],
        ),
        debug=False,
    )
    app.state.max_body_bytes = settings.max_body_bytes
    app.state.container = container
    return app
