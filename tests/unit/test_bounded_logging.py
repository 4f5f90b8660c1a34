"""A log line costs its caller little and shows no secret: the record is formatted and written
on the listener's thread, and a traceback is plain text without any frame's locals, redacted."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from app.logging_setup import configure_logging, write_directly

LOCAL_SECRET = "local-value-Zx81Qp"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield capsys
    finally:
        write_directly()
        root.handlers, root.level = handlers, level


def fail_with_a_secret_local() -> None:
    secret = LOCAL_SECRET  # noqa: F841  (a local that a traceback renderer could show)
    raise ValueError(f"refused Authorization: Bearer {TOKEN}")


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_traceback_has_no_locals_and_no_token(logs: pytest.CaptureFixture[str], fmt: str) -> None:
    configure_logging("info", fmt)
    try:
        fail_with_a_secret_local()
    except ValueError:
        logging.getLogger("tradai.test").exception("it failed")
    write_directly()  # every queued line written
    err = logs.readouterr().err
    assert "fail_with_a_secret_local" in err, "the traceback is there"
    assert LOCAL_SECRET not in err, "no frame's locals"
    assert TOKEN not in err and "eyJzdWIiOiJhbGljZSJ9" not in err


def test_records_are_formatted_on_the_listeners_thread(logs: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "console")
    formatted_on: list[threading.Thread] = []

    class Spy:
        def __str__(self) -> str:
            formatted_on.append(threading.current_thread())
            return "spy"

    logging.getLogger("tradai.test").info("rendered: %s", Spy())
    write_directly()
    assert "rendered: spy" in logs.readouterr().err
    assert formatted_on and formatted_on[0] is not threading.current_thread()


def test_the_callers_context_reaches_the_line(logs: pytest.CaptureFixture[str]) -> None:
    import structlog

    configure_logging("info", "json")
    with structlog.contextvars.bound_contextvars(request_id="rid-42"):
        logging.getLogger("tradai.test").warning("with context")
    write_directly()
    line = next(ln for ln in logs.readouterr().err.splitlines() if "with context" in ln)
    assert '"request_id": "rid-42"' in line and "_tradai_context" not in line
