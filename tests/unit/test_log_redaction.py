"""Tokens in query strings are redacted from the server's log records."""

from __future__ import annotations

import logging

from app.log_redaction import RedactTokens, redact


def test_the_token_value_is_replaced_and_the_rest_kept() -> None:
    assert redact("/api/v1/ws?token=abc.def-ghi_j&x=1") == "/api/v1/ws?token=[redacted]&x=1"
    assert (
        redact('"WebSocket /ws?TOKEN=abc" [accepted]')
        == '"WebSocket /ws?TOKEN=[redacted]" [accepted]'
    )
    assert redact("/ws?mytoken=abc") == "/ws?mytoken=abc", "only a parameter named token"


def test_the_filter_rewrites_message_and_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1,
        '%s - "WebSocket %s" [accepted]', ("127.0.0.1:5", "/api/v1/ws?token=secret"), None,
    )  # fmt: skip
    assert RedactTokens().filter(record)
    assert "secret" not in record.getMessage()
    assert record.getMessage() == '127.0.0.1:5 - "WebSocket /api/v1/ws?token=[redacted]" [accepted]'
