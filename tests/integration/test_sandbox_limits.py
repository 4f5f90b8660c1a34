"""Hostile strategies against the limits of a run, each a real freqtrade worker in the real
bubblewrap sandbox: limits the supervisor checks on its own timer (a strategy that speaks the
worker protocol itself cannot hold them off), limits the kernel enforces (rlimits, cgroups, a
size-limited /tmp, a seccomp filter), and caps on what a run hands back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.freqtrade.pool import LocalWorkerPool, RunLimits
from tests.integration.test_freqtrade_pool import market_data, run, spec  # noqa: F401
from tests.support import strategies

SHORT = "20240101-20240108"  # a week of candles: a run takes a few seconds

# The worker's socket, found the way a strategy can: its number is in the worker's argv. Written
# with os.write (a Connection object would close the fd when collected).
SPEAK = """
import os, struct, sys, time
fd = int(sys.argv[sys.argv.index("--fd") + 1])
def say(message):
    os.write(fd, struct.pack("!i", len(message)) + message)
def progress(i):
    say(b'{"type": "progress", "phase": "backtest", "fraction": %.2f}' % ((i % 100) / 100))
"""


def spamming(seconds: float, work: str = "pass") -> str:
    """Sends Progress every 50 ms for `seconds`, doing `work` (one line) each time."""
    return (
        SPEAK
        + f"""
end, i = time.monotonic() + {seconds}, 0
while time.monotonic() < end:
    {work}
    progress(i)
    i += 1
    time.sleep(0.05)
"""
    )


HOG = """
hoard = []
def grab():
    if len(hoard) < 18:
        try:
            hoard.append(b"x" * (50 << 20))
        except MemoryError:
            pass
"""


def done_with(files: str, prepare: str = "pass") -> str:
    """Writes what `prepare` says, then claims Done with `files` (a dict literal) and exits."""
    return (
        SPEAK
        + f"""
{prepare}
say(b'{{"type": "done", "summary": {{}}, "files": ' + {files}.encode() + b'}}')
os._exit(0)
"""
    )


@pytest.fixture(scope="module")
def pool(market_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalWorkerPool]:  # noqa: F811
    """The issue's numbers: 12 s and 600 MB."""
    pool = LocalWorkerPool(
        1, tmp_path_factory.mktemp("work"), market_data, limits=RunLimits(12, 600)
    )
    pool.start()
    yield pool
    pool.stop()


def hostile(pool: LocalWorkerPool, name: str, attempt: str, timeout: float = 60) -> tuple:  # type: ignore[type-arg]
    recorder, outcome = run(
        pool, spec(strategies.hostile(name, attempt), name, timerange=SHORT), timeout
    )
    return recorder, outcome


def test_a_normal_run_completes_within_the_kernel_limits(pool: LocalWorkerPool) -> None:
    _, (kind, detail) = run(pool, spec(strategies.crossover(), "TestCross", timerange=SHORT))
    assert kind == "completed", detail
    assert "cgroup v1 memory and pids" in pool.sandbox_description
    assert "seccomp" in pool.sandbox_description


def test_a_progress_spamming_memory_hog_is_stopped_for_memory(pool: LocalWorkerPool) -> None:
    started = time.monotonic()
    _, (kind, reason) = hostile(pool, "SpamHog", HOG + spamming(30, "grab()"))
    assert kind == "failed", reason
    assert "memory limit" in reason
    assert time.monotonic() - started < 12


def test_a_progress_spammer_is_stopped_for_time_and_its_progress_coalesced(
    pool: LocalWorkerPool,
) -> None:
    started = time.monotonic()
    recorder, (kind, reason) = hostile(pool, "SpamSlow", spamming(40))
    elapsed = time.monotonic() - started
    assert (kind, reason) == ("failed", "the run exceeded its time limit of 12 s")
    assert elapsed < 30
    # ~240 progress messages arrived: at most about one a second reaches the listener.
    assert len(recorder.progress) <= elapsed + 4, len(recorder.progress)


def test_parking_memory_in_tmp_counts_against_the_memory_limit(
    market_data: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """900 MB written to /tmp (RAM) against a 500 MB limit: the run fails, whether the write
    fails (the tmpfs is size-limited) or the kernel or supervisor counts what it holds."""
    park = """
import time
written = 0
try:
    with open("/tmp/parked", "wb") as f:
        for _ in range(90):
            f.write(b"x" * (10 << 20))
            written += 10
except OSError:
    pass
time.sleep(4)
"""
    pool = LocalWorkerPool(1, tmp_path / "work", market_data, limits=RunLimits(30, 500))
    pool.start()
    try:
        _, (kind, reason) = hostile(pool, "Parker", park)
    finally:
        pool.stop()
    assert kind == "failed", reason
    assert "memory limit" in reason
