"""Structured logs (structlog) for every process: `console` for a terminal, `json` for machines.

Every logger of the process, the standard library's included (uvicorn, botocore, the service's
own modules), goes through one handler whose structlog formatter adds the context bound for
the current request or run (request_id, user, job_id, attempt), the level, the logger and a
UTC timestamp, redacts tokens and secrets, and renders the line.

What a log line may cost is bounded: the caller only puts the record on a queue (a thread of
the stdlib's QueueListener formats and writes it, so a slow terminal or a long traceback never
holds the event loop), and a traceback is rendered plain, without any frame's local variables
(rich's renderer showed every local: a 962-level recursion took minutes and printed secrets).
"""

from __future__ import annotations

import atexit
import copy
import logging
import logging.handlers
import os
import queue
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import structlog

from app.log_redaction import redact

FORMATS = ("console", "json")
ACCESS = logging.getLogger("tradai.access")
_CONTEXT = "_tradai_context"  # the caller's bound context, carried by the record to the thread
_listener: logging.handlers.QueueListener | None = None
_writer: logging.Handler | None = None  # the listener's handler, for a forked child


class _Enqueue(logging.handlers.QueueHandler):
    """Puts the record itself on the queue: the stdlib's `prepare` would format it (traceback
    included) in the caller's thread, which is what the queue is there to avoid."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        setattr(record, _CONTEXT, structlog.contextvars.get_contextvars())
        return record


def _capture_exc_info(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """`exc_info=True` means "the exception being handled": only the caller's thread knows it."""
    if event.get("exc_info") is True:
        event["exc_info"] = sys.exc_info()
    return event


def _caller_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """For records of stdlib loggers: the request's context as it was where the record was
    made, and the time it was made (they are formatted later, on the listener's thread)."""
    record = event.get("_record")
    context = record.__dict__.pop(_CONTEXT, {}) if record is not None else {}
    for key, value in context.items():
        event.setdefault(key, value)
    if record is not None:
        created = datetime.fromtimestamp(record.created, tz=UTC)
        event.setdefault("timestamp", created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return event


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def configure_logging(level: str, fmt: str = "console") -> None:
    """Route every log record of the process through structlog, rendered as `fmt` on a
    thread of its own."""
    global _listener, _writer
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    levels = [structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name]
    shared: list[Any] = [structlog.contextvars.merge_contextvars, *levels, stamp, _capture_exc_info]
    foreign: list[Any] = [_caller_context, *levels, structlog.stdlib.ExtraAdder()]
    # The traceback becomes text before redaction (so it is redacted too), plain: no locals.
    final: list[Any] = [structlog.processors.format_exc_info, _redact]
    if fmt == "json":
        final.append(structlog.processors.JSONRenderer())
    else:
        final.append(
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=foreign,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    _flush()  # configured again (tests, a second app): the previous listener writes its lines
    _writer = handler
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, handler, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers = [_Enqueue(records)]
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


def _flush() -> None:
    """Stop the listener once it has written every queued line."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


def write_directly() -> None:
    """From now on each line is written where it is made: at the end of the server's shutdown,
    whose last lines would otherwise wait in the queue when uvicorn re-raises the stopping
    signal (a death by signal runs no `atexit`)."""
    _flush()
    if _writer is not None:
        logging.getLogger().handlers = [_writer]


def _direct_in_child() -> None:
    """A forked child has the queue but not the listener's thread: it writes its lines itself."""
    global _listener
    _listener = None
    if _writer is not None:
        logging.getLogger().handlers = [_writer]


atexit.register(_flush)
os.register_at_fork(after_in_child=_direct_in_child)


bind = structlog.contextvars.bind_contextvars
bound = structlog.contextvars.bound_contextvars
clear = structlog.contextvars.clear_contextvars
