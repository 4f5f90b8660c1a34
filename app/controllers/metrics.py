"""`GET /metrics`: Prometheus's text format, public like /health (app/metrics.py has the
families)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.openapi import ResponseSpec
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# generate_latest writes the 0.0.4 text format (prometheus_client's CONTENT_TYPE_LATEST names
# version 1.0.0 since 0.22). Litestar adds the charset to a text/* media type itself.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4.removesuffix("; charset=utf-8")


@get(
    "/metrics",
    sync_to_thread=True,  # the scrape asks the read model, the event store and maybe SQS
    media_type=CONTENT_TYPE,
    tags=["operations"],
    responses={
        200: ResponseSpec(
            str,
            media_type=CONTENT_TYPE,
            description="the service's metrics in Prometheus's text exposition format",
            generate_examples=False,
        )
    },
)
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Metrics for Prometheus: HTTP requests by route, jobs by status, subscriber lag,
    WebSocket clients, worker slots."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
