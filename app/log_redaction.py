"""Keeps credentials out of the server's logs. Uvicorn logs each WebSocket handshake with its
path and query string, and a live stream's query string carries a (short-lived) token."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"(\btoken=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# A JWT anywhere (header.payload.signature, base64url, the header starting `{"` -> `eyJ`).
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_SECRET_FIELD = re.compile(
    r"(\b(?:password|secret|sasl_password|aws_secret_access_key)[=:]\s*)\S+", re.IGNORECASE
)
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """`text` with tokens (query parameters, bearer credentials, any JWT) and `secret=...`
    style values replaced by `[redacted]`."""
    text = _TOKEN.sub(r"\1[redacted]", text)
    text = _BEARER.sub(r"\1[redacted]", text)
    text = _JWT.sub("[redacted]", text)
    return _SECRET_FIELD.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """Rewrites `token=...` in a record's message and arguments before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_tokens_in_server_logs() -> None:
    """Install the filter on the server's loggers (filters apply where a record is made, so
    each logger needs its own); called once the server has configured its logging."""
    for name in _SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
