"""The remote worker: receives job messages, claims them through the API, runs them in the
same sandboxed pool as the `local` executor, and settles the message after the API accepted the
report.

A message is deleted only after the API recorded a final report (or said the job is settled),
so a worker that dies leaves its job to the queue: after the visibility timeout it is delivered
again and runs as the next attempt elsewhere. While a run goes on, one heartbeat thread renews
both the API lease and the message's invisibility. SIGTERM hands running jobs back (reported
`released`, the message made visible at once) before the worker exits.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
import structlog

from app.worker.api import ApiUnavailable, ClaimAnswer, RefusedReport, WorkerApi
from projections.execution_ports import (
    JobQueue,
    QueueMessage,
    RunOutput,
    RunSpec,
    WorkerPool,
)
from projections.ports import ArtifactStore

log = logging.getLogger(__name__)
_REPORT_PATIENCE = 600.0  # seconds a final report is retried while the API is away


@dataclass
class HeldRun:
    """A run this worker holds: its attempt, the claim's secret and its message."""

    spec: RunSpec
    receipt: str
    secret: str  # sent with every report on the attempt: the API knows the claim by it
    let_go: bool = False  # the attempt is over or handed back: its message is not ours now


class RemoteWorker:
    """One `tradai worker` process: `pool.size` runs at a time."""

    def __init__(
        self,
        api: WorkerApi,
        queue: JobQueue,
        pool: WorkerPool,
        artifacts: ArtifactStore,
        *,
        visibility_seconds: int,
        wait_seconds: int = 10,
    ) -> None:
        self.api = api
        self.queue = queue
        self.pool = pool
        self.artifacts = artifacts
        self.visibility_seconds = max(visibility_seconds, 2)
        self.wait_seconds = wait_seconds
        self.held: dict[UUID, HeldRun] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._heartbeat_seconds = self.visibility_seconds / 3

    # --- running ---------------------------------------------------------------------------

    def start(self) -> None:
        self.pool.start()
        for target, name in ((self._receive_loop, "receiver"), (self._heartbeats, "heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker %s: %s slots, %s", self.api.worker, self.pool.size, self.queue)

    def _receive_loop(self) -> None:
        while not self.stopping.is_set():
            if not self.pool.acquire(timeout=0.5):
                continue
            try:
                messages = self.queue.receive(1, self.wait_seconds)
            except Exception as error:
                self.pool.release()
                log.warning("receiving from the queue failed: %s; retrying", error)
                self.stopping.wait(2.0)
                continue
            if not messages:
                self.pool.release()
                continue
            try:
                self._take(messages[0])
            except Exception:
                log.exception("message %s could not be handled", messages[0].message_id)
                self.pool.release()

    def _take(self, message: QueueMessage) -> None:
        """Claim the message's job and start it; the slot is given back unless a run starts."""
        if self.stopping.is_set():
            self.queue.hide(message.receipt, 0)  # arrived as we stop: someone else's now
            self.pool.release()
            return
        if message.job is None:
            log.warning("message %s is not a job message; deleted", message.message_id)
            self.queue.delete(message.receipt)
            self.pool.release()
            return
        job_id = message.job.job_id
        with structlog.contextvars.bound_contextvars(job_id=str(job_id)):
            self._claim(message, job_id)

    def _claim(self, message: QueueMessage, job_id: UUID) -> None:
        try:
            answer = self.api.claim(job_id, patience=self.visibility_seconds / 2)
        except ApiUnavailable as error:
            # Left as it is: the queue delivers it again after its visibility timeout.
            log.warning("job %s: cannot claim (%s); the queue will deliver it again", job_id, error)
            self.pool.release()
            return
        if answer.run is None:
            self._not_ours(message, job_id, answer)
            self.pool.release()
            return
        spec = msgspec.convert(answer.run, RunSpec)
        lease = float(answer.run.get("lease_seconds", self.visibility_seconds))
        self._heartbeat_seconds = max(min(self.visibility_seconds, lease) / 3, 0.5)
        with self._lock:
            self.held[job_id] = HeldRun(spec, message.receipt, str(answer.run["claim_secret"]))
        log.info("job %s attempt %s: claimed (receive %s)", job_id, spec.attempt, message.receives)
        self.pool.run(spec, self)

    def _not_ours(self, message: QueueMessage, job_id: UUID, answer: ClaimAnswer) -> None:
        if answer.retry_after:
            # A duplicate of a job another worker runs: back to the queue until that run ends
            # (then the job is settled and this copy is dropped), so the job keeps a message.
            log.info("job %s runs elsewhere; message %s hidden", job_id, message.message_id)
            self.queue.hide(message.receipt, int(answer.retry_after))
        else:
            log.info("job %s: %s; message %s dropped", job_id, answer.settled, message.message_id)
            self.queue.delete(message.receipt)

    def _heartbeats(self) -> None:
        while not self.stopping.wait(self._heartbeat_seconds):
            with self._lock:
                runs = [(job_id, run) for job_id, run in self.held.items() if not run.let_go]
            for job_id, run in runs:
                self._beat(job_id, run)

    def _beat(self, job_id: UUID, run: HeldRun) -> None:
        try:
            self.queue.hide(run.receipt, self.visibility_seconds)
        except Exception as error:
            log.warning("job %s: visibility heartbeat failed: %s", job_id, error)
        try:
            answer = self.api.heartbeat(job_id, run.spec.attempt, run.secret)
        except (ApiUnavailable, RefusedReport) as error:
            log.warning("job %s: lease heartbeat failed: %s", job_id, error)
            return
        if answer.over:
            self._let_go(job_id, "its attempt is over")
        elif answer.cancel_requested:
            self.pool.cancel(job_id)

    def _let_go(self, job_id: UUID, why: str) -> None:
        """Stop a run whose attempt is not ours any more; its message goes back at once."""
        with self._lock:
            run = self.held.get(job_id)
            if run is None or run.let_go:
                return
            run.let_go = True
        log.warning("job %s attempt %s: %s; stopping the run", job_id, run.spec.attempt, why)
        self.pool.cancel(job_id)
        try:
            self.queue.hide(run.receipt, 0)
        except Exception as error:
            log.warning("job %s: could not hand the message back: %s", job_id, error)

    # --- what the pool reports (a RunListener) -----------------------------------------------

    def on_progress(self, spec: RunSpec, phase: str, fraction: float) -> None:
        with self._lock:
            run = self.held.get(spec.job_id)
        if run is None or run.spec.attempt != spec.attempt:
            return  # not (or no longer) a run this worker holds
        try:
            answer = self.api.progress(spec.job_id, spec.attempt, run.secret, phase, fraction)
        except (ApiUnavailable, RefusedReport) as error:
            log.info("job %s: progress not reported: %s", spec.job_id, error)
            return
        if answer.over:
            self._let_go(spec.job_id, "its attempt is over")
        elif answer.cancel_requested:
            self.pool.cancel(spec.job_id)

    def on_completed(self, spec: RunSpec, output: RunOutput) -> None:
        try:
            keys = {
                name: self.artifacts.put_file(f"{spec.job_id}/{spec.attempt}/{name}", path)
                for name, path in output.files.items()
            }
        except Exception as error:
            self._settle(spec, "failed", {"reason": f"could not store the results: {error}"})
            return
        self._settle(spec, "completed", {"summary": output.summary, "artifacts": keys})

    def on_failed(self, spec: RunSpec, reason: str) -> None:
        self._settle(spec, "failed", {"reason": reason or "the run failed"})

    def on_lost(self, spec: RunSpec, reason: str) -> None:
        # The sandboxed process died: the API requeues the job, and the message is made
        # visible now, so the next attempt starts at once and counts a receive (a run that
        # kills its process every time ends in the dead-letter queue).
        self._settle(spec, "lost", {"reason": reason or "the run's process died"}, delete=False)

    def on_cancelled(self, spec: RunSpec) -> None:
        self._settle(spec, "cancelled", {"reason": "cancelled on request"})

    def _settle(
        self, spec: RunSpec, outcome: str, body: dict[str, Any], delete: bool = True
    ) -> None:
        with self._lock:
            run = self.held.get(spec.job_id)
            if run is None or run.spec.attempt != spec.attempt or self.stopping.is_set():
                return  # stopping: stop() hands the job back
            if run.let_go:  # the attempt is over: its message is not ours to settle
                self.held.pop(spec.job_id, None)
                return
        try:
            recorded = self.api.report(
                spec.job_id, spec.attempt, run.secret, outcome, body, patience=_REPORT_PATIENCE
            )
        except (ApiUnavailable, RefusedReport) as error:
            log.error(
                "job %s attempt %s: %s not reported: %s", spec.job_id, spec.attempt, outcome, error
            )
            recorded = False
        with self._lock:
            self.held.pop(spec.job_id, None)
        try:
            if recorded and delete:
                self.queue.delete(run.receipt)
            else:
                self.queue.hide(run.receipt, 0)
        except Exception as error:
            log.warning("job %s: could not settle its message: %s", spec.job_id, error)
        log.info(
            "job %s attempt %s: %s (recorded: %s)", spec.job_id, spec.attempt, outcome, recorded
        )

    # --- stopping ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop receiving, end the runs, and hand their jobs back to the queue."""
        self.stopping.set()
        with self._lock:
            runs = list(self.held.items())
            self.held.clear()
        self.pool.stop()  # the runs end; what they report now is ignored (stopping)
        for job_id, run in runs:
            reason = f"worker {self.api.worker} stopped"
            try:
                self.api.report(
                    job_id, run.spec.attempt, run.secret, "released", {"reason": reason}, 10.0
                )
            except (ApiUnavailable, RefusedReport) as error:
                log.warning(
                    "job %s: release not reported (%s); its lease will run out", job_id, error
                )
            try:
                self.queue.hide(run.receipt, 0)
            except Exception as error:
                log.warning("job %s: could not hand the message back: %s", job_id, error)
        for thread in self._threads:
            thread.join(self.wait_seconds + 5)
        self.api.close()
