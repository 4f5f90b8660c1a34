"""Assemble and run one `tradai worker` from the settings (BACKEND_*) and TRADAI_URL/TOKEN."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from pathlib import Path

from app.logging_setup import configure_logging
from app.settings import Settings
from app.storage import open_artifact_store, open_market_data
from app.worker.api import WorkerApi
from app.worker.service import RemoteWorker

log = logging.getLogger(__name__)


def run_worker(
    settings: Settings, url: str, token: str, name: str = "", token_file: Path | None = None
) -> None:
    """Run until SIGTERM or SIGINT; running jobs are handed back before it returns."""
    from adapters.aws.sqs import SqsJobQueue
    from adapters.freqtrade.pool import LocalWorkerPool, RunLimits
    from adapters.freqtrade.sandbox import Sandbox

    configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per report is noise
    market_data = open_market_data(settings)
    sandbox = Sandbox.create(settings.sandbox, market_data.root)
    if not sandbox.sandboxed:
        log.warning("BACKEND_SANDBOX=none: %s", sandbox.describe())
    pool = LocalWorkerPool(
        settings.worker_count,
        settings.data_path / "work",
        market_data.root,
        market_data=market_data,
        sandbox=sandbox,
        offline_markets=settings.offline_markets,
        limits=RunLimits(
            settings.run_time_limit_seconds,
            settings.run_memory_limit_mb,
            max_trades=settings.run_max_trades,
        ),
        keep_workdirs=settings.keep_workdirs,
        candle_cache_mb=settings.candle_cache_mb,
    )
    queue = SqsJobQueue(settings.sqs_queue_url)
    worker = RemoteWorker(
        WorkerApi(
            url, token, name or f"{socket.gethostname()}:{os.getpid()}", token_file=token_file
        ),
        queue,
        pool,
        open_artifact_store(settings),
        visibility_seconds=queue.visibility_timeout(),
        wait_seconds=settings.sqs_wait_seconds,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    log.info("strategy runs: %s", sandbox.describe())
    stop.wait()
    log.info("stopping: handing running jobs back to the queue")
    worker.stop()
