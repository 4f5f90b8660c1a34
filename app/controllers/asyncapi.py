"""The AsyncAPI document (Kafka topics and WebSocket protocol), public like the OpenAPI one."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get

from app.asyncapi import cached_document
from app.bootstrap import Container

ASYNCAPI_PATH = "/schema/asyncapi.json"


class AsyncAPIController(Controller):
    path = ""
    tags = ["operations"]

    @get(
        ASYNCAPI_PATH,
        sync_to_thread=False,
        summary="AsyncAPI document",
        description=(
            "The AsyncAPI 3.0 document of what this service sends besides HTTP answers: every "
            "event type on its Kafka topic (named with BACKEND_KAFKA_TOPIC_PREFIX), and the "
            "WebSocket live streams. A copy is kept in docs/asyncapi.json."
        ),
    )
    def asyncapi(self, container: Container) -> dict[str, Any]:
        return cached_document(container.settings.kafka_topic_prefix)
