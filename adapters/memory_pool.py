"""A worker pool without freqtrade, for tests: runs finish at once with a made-up result.

What a run does is read from a marker comment in the strategy's code, so tests can ask for it:
`# memory-run: fail <reason>`, `# memory-run: lose <reason>`, `# memory-run: hold` (runs until
cancelled or released). Without a marker the run completes with a small, fixed result.
"""

from __future__ import annotations

import re
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import msgspec

from projections.execution_ports import RunListener, RunOutput, RunSpec
from projections.results import PairResult, RunResult, Trade

_MARKER = re.compile(r"#\s*memory-run:\s*(\w+)\s*(.*)")


class MemoryWorkerPool:
    """`size` slots; each run is a thread that follows the strategy's marker."""

    def __init__(self, size: int = 2, work_root: Path | None = None) -> None:
        self._size = size
        self._slots = threading.BoundedSemaphore(size)
        self._work_root = work_root or Path(tempfile.mkdtemp(prefix="tradai-memory-pool-"))
        self._holds: dict[UUID, threading.Event] = {}
        self._lock = threading.Lock()
        self._busy = 0  # slots reserved or running

    @property
    def size(self) -> int:
        return self._size

    @property
    def busy(self) -> int:
        return self._busy

    def start(self) -> None:
        self._work_root.mkdir(parents=True, exist_ok=True)

    def stop(self) -> None:
        with self._lock:
            for event in self._holds.values():
                event.set()

    def acquire(self, timeout: float) -> bool:
        if not self._slots.acquire(timeout=timeout):
            return False
        with self._lock:
            self._busy += 1
        return True

    def release(self) -> None:
        with self._lock:
            self._busy -= 1
        self._slots.release()

    def run(self, spec: RunSpec, listener: RunListener) -> None:
        with self._lock:  # registered before the run starts, so no cancel can slip past it
            self._holds[spec.job_id] = threading.Event()
        threading.Thread(target=self._run, args=(spec, listener), daemon=True).start()

    def cancel(self, job_id: UUID) -> bool:
        with self._lock:
            hold = self._holds.get(job_id)
        if hold is None:
            return False
        hold.set()
        return True

    def _run(self, spec: RunSpec, listener: RunListener) -> None:
        try:
            match = _MARKER.search(spec.code)
            action, detail = (match.group(1), match.group(2).strip()) if match else ("complete", "")
            listener.on_progress(spec, "dataload", 0.25)
            if action == "fail":
                listener.on_failed(spec, detail or "the strategy failed")
            elif action == "lose":
                listener.on_lost(spec, detail or "the worker vanished")
            elif action == "hold":
                with self._lock:
                    hold = self._holds[spec.job_id]
                hold.wait()
                listener.on_cancelled(spec)
            else:
                listener.on_progress(spec, "backtest", 0.75)
                listener.on_completed(spec, self._output(spec))
        finally:
            with self._lock:
                self._holds.pop(spec.job_id, None)
            self.release()

    def _output(self, spec: RunSpec) -> RunOutput:
        start = datetime(2024, 1, 1, tzinfo=UTC)
        balance = spec.starting_balance or 1000.0
        trades = [
            Trade(
                pair=spec.pairs[i % len(spec.pairs)],
                open_date=start + timedelta(hours=2 * i),
                close_date=start + timedelta(hours=2 * i + 1),
                open_rate=100.0,
                close_rate=100.0 + profit,
                amount=1.0,
                stake_amount=100.0,
                profit_abs=profit,
                profit_ratio=profit / 100.0,
                exit_reason="roi" if profit > 0 else "stop_loss",
            )
            for i, profit in enumerate((10.0, -5.0, 7.5))
        ]
        total = sum(t.profit_abs for t in trades)
        metrics: dict[str, float | int | None] = {
            "total_trades": len(trades),
            "profit_total_abs": total,
            "profit_total": total / balance,
            "starting_balance": balance,
            "final_balance": balance + total,
            "max_drawdown": 5.0 / (balance + 10.0),
            "winrate": 2 / 3,
            "profit_factor": 17.5 / 5.0,
            "sharpe": None,
            "sortino": None,
            "calmar": None,
        }
        result = RunResult(
            strategy=spec.strategy,
            metrics=metrics,
            per_pair=[
                PairResult(
                    pair=p,
                    trades=0,
                    profit_mean=None,
                    profit_total=None,
                    profit_total_abs=None,
                    wins=0,
                    draws=0,
                    losses=0,
                    winrate=None,
                    max_drawdown=None,
                )
                for p in spec.pairs
            ],
            trades=trades,
            backtest_start=start,
            backtest_end=start + timedelta(days=1),
        )
        path = self._work_root / f"{spec.job_id}-{spec.attempt}-result.json"
        path.write_bytes(msgspec.json.encode(result))
        return RunOutput(summary=metrics, files={"result": str(path)})
