"""OpenTelemetry tracing, on only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the SDK's standard
variable; `OTEL_SERVICE_NAME` and the other `OTEL_*` variables work as documented by the SDK).

Off, nothing of OpenTelemetry is imported. On, every HTTP request and WebSocket of the API is a
server span (the ASGI instrumentation, which continues a caller's `traceparent`), and every
call the gateway makes downstream is a client span whose `traceparent` header the downstream
service receives: one trace across the gateway. Spans go to the collector over OTLP/HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"


def tracing_enabled() -> bool:
    return bool(os.environ.get(ENDPOINT))


def instrument(asgi_handler: Any) -> tuple[Any, Callable[[], None]]:
    """Wrap the ASGI handler in server spans and instrument httpx; returns the wrapped handler
    and a shutdown function that flushes the spans still queued."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME", "tradai-backend")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    wrapped = OpenTelemetryMiddleware(asgi_handler, tracer_provider=provider)

    def shutdown() -> None:
        provider.shutdown()

    return wrapped, shutdown
