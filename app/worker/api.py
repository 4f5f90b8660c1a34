"""The worker's side of the API (role `worker`): claim, heartbeat, progress and reports.

Final reports are retried (tenacity, exponential backoff) while the API is unreachable or
answers 5xx/429, so a restarting API loses nothing: a report repeated after an answer that got
lost is answered `already recorded`. Progress is best effort: the next report supersedes it.
Every report carries the secret the claim answered with (header X-Claim-Secret): the API
accepts a report only from the claim it belongs to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

log = logging.getLogger(__name__)


class ApiUnavailable(Exception):
    """The API could not be reached, or answered with a server error."""


class RefusedReport(Exception):
    """The API refused a report as malformed (4xx other than 409): a bug, not a state."""


SECRET_HEADER = "X-Claim-Secret"


@dataclass(frozen=True)
class ClaimAnswer:
    run: dict[str, Any] | None = None  # the claimed run (ClaimedRun)
    settled: str = ""  # the job is settled or unknown: drop the message
    retry_after: float = 0.0  # another worker holds the job: hand the message back for this long


@dataclass(frozen=True)
class HeldAnswer:
    over: bool  # the attempt is over: stop the run, leave the message alone
    cancel_requested: bool = False


def _transient(error: BaseException) -> bool:
    return isinstance(error, ApiUnavailable)


class WorkerApi:
    """HTTP calls of one worker, with a `worker` token. `url` may list several API replicas,
    comma-separated: a replica that cannot be reached is left for the next one."""

    def __init__(
        self,
        url: str,
        token: str,
        worker: str,
        timeout: float = 15.0,
        token_file: Path | None = None,
    ) -> None:
        self.urls = [u.strip().rstrip("/") for u in url.split(",") if u.strip()]
        if not self.urls:
            raise ValueError("no API URL: set TRADAI_URL")
        self.worker = worker
        # Worker tokens are short-lived: with a token file, whatever renews them (a timer
        # running `tradai token`, a secrets agent) replaces the file, and the next call uses it.
        self.token_file = token_file
        self._token_stamp: tuple[int, int] | None = None
        if token_file is not None:
            token = self._read_token() or token
        self.clients = [
            httpx.Client(
                base_url=f"{base}/api/v1/workers/jobs",
                headers={"Authorization": f"Bearer {token}"},
                timeout=timeout,
                limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            )
            for base in self.urls
        ]
        self._current = 0

    @property
    def url(self) -> str:
        return self.urls[self._current]

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def _post(self, path: str, body: Any = None, secret: str = "") -> httpx.Response:
        """POST to the current replica; an unreachable one is swapped for the next (the caller
        retries), one that answers 5xx too. `secret`: the claim's, for a report."""
        index = self._current
        if self.token_file is not None:
            self._renew_token()
        headers = {SECRET_HEADER: secret} if secret else None
        try:
            response = self.clients[index].post(
                path, json=body if body is not None else {}, headers=headers
            )
        except httpx.HTTPError as error:
            self._current = (index + 1) % len(self.clients)
            raise ApiUnavailable(
                f"{self.urls[index]}: {error.__class__.__name__}: {error}"
            ) from None
        if response.status_code >= 500:
            self._current = (index + 1) % len(self.clients)
            raise ApiUnavailable(f"{self.urls[index]} answered {response.status_code}")
        if response.status_code == 429:
            raise ApiUnavailable(f"{self.urls[index]} answered 429")
        if response.status_code in (401, 403):
            raise RefusedReport(f"the API refused the report: {_detail(response)}")
        return response

    def _read_token(self) -> str:
        """The token file's token ('' when it cannot be read), remembering the file's stamp."""
        assert self.token_file is not None
        try:
            stat = self.token_file.stat()
            token = self.token_file.read_text().strip()
        except OSError as error:
            log.warning("cannot read the token file %s: %s", self.token_file, error)
            return ""
        self._token_stamp = (stat.st_mtime_ns, stat.st_size)
        return token

    def _renew_token(self) -> None:
        """Use the token file's token when the file changed since it was last read."""
        assert self.token_file is not None
        try:
            stat = self.token_file.stat()
        except OSError:
            return  # being replaced: the current token serves until the file is back
        if (stat.st_mtime_ns, stat.st_size) == self._token_stamp:
            return
        token = self._read_token()
        if token:
            for client in self.clients:
                client.headers["Authorization"] = f"Bearer {token}"
            log.info("worker token renewed from %s", self.token_file)

    def _retrying(self, seconds: float) -> Retrying:
        return Retrying(
            retry=retry_if_exception(_transient),
            wait=wait_exponential(multiplier=0.2, max=5.0),
            stop=stop_after_delay(seconds),
            reraise=True,
        )

    def claim(self, job_id: UUID, patience: float) -> ClaimAnswer:
        """Claim the job's next attempt, retrying for up to `patience` seconds."""
        response = self._retrying(patience)(self._post, f"/{job_id}/claim", {"worker": self.worker})
        if response.status_code == 200:
            return ClaimAnswer(run=response.json())
        kind = _kind(response)
        if response.status_code == 409 and kind == "job-held":
            return ClaimAnswer(retry_after=float(response.headers.get("Retry-After", "5")))
        if response.status_code in (404, 409):
            return ClaimAnswer(settled=_detail(response))
        raise RefusedReport(f"claim of job {job_id}: {_detail(response)}")

    def heartbeat(self, job_id: UUID, attempt: int, secret: str) -> HeldAnswer:
        path = f"/{job_id}/attempts/{attempt}/heartbeat"
        return self._held(self._retrying(2.0)(self._post, path, None, secret))

    def progress(
        self, job_id: UUID, attempt: int, secret: str, phase: str, fraction: float
    ) -> HeldAnswer:
        body = {"phase": phase, "fraction": fraction}
        path = f"/{job_id}/attempts/{attempt}/progress"
        return self._held(self._retrying(1.0)(self._post, path, body, secret))

    def report(
        self,
        job_id: UUID,
        attempt: int,
        secret: str,
        outcome: str,
        body: dict[str, Any],
        patience: float,
    ) -> bool:
        """Send a final report, retrying for up to `patience` seconds; True when the API
        recorded it (now or before), False when the attempt was over."""
        path = f"/{job_id}/attempts/{attempt}/{outcome}"
        response = self._retrying(patience)(self._post, path, body, secret)
        if response.status_code == 200:
            return True
        if response.status_code == 409:
            log.warning("job %s attempt %s: %s", job_id, attempt, _detail(response))
            return False
        raise RefusedReport(f"{outcome} report of job {job_id}: {_detail(response)}")

    @staticmethod
    def _held(response: httpx.Response) -> HeldAnswer:
        if response.status_code == 200:
            return HeldAnswer(
                over=False, cancel_requested=bool(response.json()["cancel_requested"])
            )
        if response.status_code == 409:
            return HeldAnswer(over=True)
        raise RefusedReport(_detail(response))


def _kind(response: httpx.Response) -> str:
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1]
    except ValueError:
        return ""


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.reason_phrase)
    except ValueError:
        return response.reason_phrase
