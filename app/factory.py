"""The Litestar application factory: routes, auth, problem details, OpenAPI, lifecycle."""

from __future__ import annotations

import gc
import logging

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.middleware import DefineMiddleware

from app.auth import JWTAuthMiddleware
from app.bootstrap import Container, bootstrap
from app.controllers.asyncapi import AsyncAPIController
from app.controllers.backtests import BacktestController
from app.controllers.data import DataController
from app.controllers.health import HealthController
from app.controllers.live import live_stream, ws_token
from app.controllers.operations import OperationsController
from app.controllers.promotions import PromotionController
from app.controllers.strategies import StrategyController
from app.controllers.workers import WorkerController
from app.log_redaction import redact_tokens_in_server_logs
from app.openapi import BEARER, ClosedBodySchemas, openapi_config
from app.problems import EXCEPTION_HANDLERS
from app.rate_limit import write_rate_limit
from app.settings import Settings, load_settings

# Reachable without a token (API.md): health, readiness, metrics, the OpenAPI docs and the
# AsyncAPI document (/schema/asyncapi.json); their handlers stay outside the router that
# documents the token (create_app).
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
    # Everything here needs a token, and the OpenAPI document says so for these routes only.
    with_token = Router(
        path="/",
        route_handlers=[
            BacktestController,
            StrategyController,
            DataController,
            PromotionController,
            OperationsController,
            WorkerController,
            ws_token,
        ],
        security=BEARER,
    )
    rate_limit = write_rate_limit(settings.rate_limit_per_minute)
    app = Litestar(
        route_handlers=[HealthController, AsyncAPIController, with_token, live_stream],
        dependencies={
            "container": Provide(lambda: container, use_cache=True, sync_to_thread=False)
        },
        middleware=[
            DefineMiddleware(
                JWTAuthMiddleware,
                secret=container.jwt_secret,
                exclude=PUBLIC_PATHS,
                scopes={"http", "websocket"},
            ),
            *([rate_limit] if rate_limit else []),  # after auth: it counts per token subject
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
        openapi_config=openapi_config(),
        plugins=[ClosedBodySchemas()],
        debug=False,
    )
    app.state.max_body_bytes = settings.max_body_bytes
    app.state.container = container
    return app
