"""Keeps credentials out of the server's logs and output. Uvicorn logs each WebSocket handshake
with its path and query string, and a live stream's query string carries a (short-lived)
token; an error's message may carry a header, a URL with its password, or a settings field."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"(\btoken=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
# A JWT anywhere (header.payload.signature, base64url, the header starting `{"` -> `eyJ`).
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# `name=value`, `name: value`, `"name": "value"`, `name='value'` (repr of a settings field).
_SECRET_FIELD = re.compile(
    r"(\b(?:\w*password|\w*secret|\w*secret_access_key|session_token|api_key|authorization)"
    r"[\"']?\s*[=:]\s*[\"']?)(?!\[redacted\])[^\s\"',}&]+",
    re.IGNORECASE,
)
# The password of a URL's user info: scheme://user:password@host.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+(@)", re.IGNORECASE)
# AWS access key ids (their secret keys have no form of their own: caught by field name).
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """`text` with tokens (query parameters, bearer credentials, any JWT) and `secret=...`
    style values replaced by `[redacted]`."""
    text = _TOKEN.sub(r"\1[redacted]", text)
    text = _BEARER.sub(r"\1[redacted]", text)
    text = _JWT.sub("[redacted]", text)
    text = _URL_PASSWORD.sub(r"\1[redacted]\2", text)
    text = _AWS_KEY_ID.sub("[redacted]", text)
    return _SECRET_FIELD.sub(r"\1[redacted]", text)


def redact_url(url: str) -> str:
    """`url` with the password of its user info (postgresql://user:pw@host) replaced."""
    return _URL_PASSWORD.sub(r"\1[redacted]\2", url)


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
