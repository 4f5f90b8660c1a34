"""`s3://bucket/prefix` locations (no boto3 here: the settings check them at start-up)."""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEME = "s3://"
# S3's rules for new buckets: 3 to 63 lowercase letters, digits, dots and hyphens.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def is_s3_url(value: str) -> bool:
    return value.startswith(SCHEME)


@dataclass(frozen=True)
class S3Url:
    """A bucket and a key prefix (no slash at either end; empty for the bucket's root)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Url:
        """ValueError, saying what is wrong, for anything but s3://bucket or s3://bucket/prefix."""
        if not is_s3_url(url):
            raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
        bucket, _, prefix = url.removeprefix(SCHEME).partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"{url!r}: {bucket!r} is not an S3 bucket name")
        parts = [part for part in prefix.split("/") if part]
        if any(part in (".", "..") for part in parts):
            raise ValueError(f"{url!r}: the prefix may not contain . or .. parts")
        return cls(bucket, "/".join(parts))

    def key(self, *parts: str) -> str:
        """The object key of `parts` under the prefix."""
        return "/".join([self.prefix, *parts] if self.prefix else parts)

    def uri(self, key: str) -> str:
        return f"{SCHEME}{self.bucket}/{key}"

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"
