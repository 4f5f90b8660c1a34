"""Structured logs (structlog) for every process: `console` for a terminal, `json` for machines.

Every logger of the process, the standard library's included (uvicorn, botocore, the service's
own modules), goes through one handler whose structlog formatter adds the context bound for
the current request or run (request_id, user, job_id, attempt), the level, the logger and a
UTC timestamp, redacts tokens and secrets, and renders the line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from app.log_redaction import redact

FORMATS = ("console", "json")
ACCESS = logging.getLogger("tradai.access")


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def configure_logging(level: str, fmt: str = "console") -> None:
    """Route every log record of the process through structlog, rendered as `fmt`."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    if fmt == "json":
        final: list[Any] = [
            structlog.processors.format_exc_info,
            _redact,
            structlog.processors.JSONRenderer(),
        ]
    else:
        final = [_redact, structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []  # theirs would print the line a second time
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


bind = structlog.contextvars.bind_contextvars
bound = structlog.contextvars.bound_contextvars
clear = structlog.contextvars.clear_contextvars
