"""The S3 client (boto3) shared by the S3 adapters, and what its errors mean."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from projections.ports import StorageUnavailable

# Error codes that mean "no such object" (GetObject says NoSuchKey, HeadObject only 404).
MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
# A conditional write (If-None-Match: *) that found the key taken, or raced another writer.
TAKEN = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
ERRORS = (BotoCoreError, ClientError)
__all__ = ["ERRORS", "MISSING", "TAKEN", "S3Client", "StorageUnavailable", "error_code"]


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


class S3Client:
    """A boto3 S3 client made on first use with the SDK's standard configuration, and made
    again in a forked child (a client's connection pool must not be shared across a fork)."""

    def __init__(self, client: Any | None = None) -> None:
        self._given = client
        self._client: Any = None
        self._pid = -1

    def __call__(self) -> Any:
        if self._given is not None:
            return self._given
        if self._client is None or self._pid != os.getpid():
            # A session of its own: creating clients from boto3's default session is not
            # thread-safe. The client itself is, and is shared by every thread.
            self._client = boto3.session.Session().client("s3")
            self._pid = os.getpid()
        return self._client
