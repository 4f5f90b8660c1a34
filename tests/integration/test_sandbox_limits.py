"""Hostile strategies against the limits of a run, each a real freqtrade worker in the real
bubblewrap sandbox: limits the supervisor checks on its own timer (a strategy that speaks the
worker protocol itself cannot hold them off), limits the kernel enforces (rlimits, cgroups, a
size-limited /tmp, a seccomp filter), and caps on what a run hands back."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.freqtrade import seccomp_filter
from adapters.freqtrade.limits import MAX_PROCESSES
from adapters.freqtrade.pool import LocalWorkerPool, RunLimits
from adapters.freqtrade.sandbox import Sandbox
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
        1, tmp_path_factory.mktemp("work"), market_data, limits=RunLimits(12, 600, max_trades=50)
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


SYSCALLS = """
import ctypes, errno, os, signal, time
libc = ctypes.CDLL(None, use_errno=True)
def call(number, *args):
    ctypes.set_errno(0)
    done = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    if done == 0 and number == 56:
        os._exit(0)  # a clone that worked: this is the child
    if done > 0 and number == 56:
        os.waitpid(done, 0)
    return "ok" if done >= 0 else errno.errorcode[ctypes.get_errno()]
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
found = {
    "unshare(CLONE_NEWUSER)": call(272, 0x10000000),
    "unshare(CLONE_NEWNET)": call(272, 0x40000000),
    "clone(CLONE_NEWUSER)": call(56, 0x10000000 | 17, 0, 0, 0, 0),
    "setns": call(308, 0, 0),
    "mount": call(165, 0, 0, 0, 0, 0),
    "ptrace(PTRACE_ATTACH)": call(101, 16, child, 0, 0),
    "bpf": call(321, 0, 0, 0),
    "keyctl": call(250, 0, -3, 1),
    "add_key": call(248, 0, 0, 0, 0, -3),
    "perf_event_open": call(298, 0, 0, -1, -1, 0),
    "process_vm_readv": call(310, child, 0, 0, 0, 0, 0),
}
os.kill(child, signal.SIGKILL)
raise RuntimeError("syscalls: " + repr(found))
"""


def test_strategy_code_cannot_make_namespaces_mount_trace_or_reach_the_kernel(
    pool: LocalWorkerPool,
) -> None:
    _, (kind, reason) = hostile(pool, "Escaper", SYSCALLS)
    assert kind == "failed" and "syscalls: " in reason, reason
    found = ast.literal_eval(reason.split("syscalls: ", 1)[1].split(" (Escaper.py")[0])
    assert found == dict.fromkeys(found, "EPERM"), found


def test_a_fork_bomb_is_bounded_by_the_kernel(pool: LocalWorkerPool) -> None:
    _, (kind, reason) = hostile(pool, "Forker", strategies.FORK_LOOP)
    assert kind == "failed" and "fork stopped after" in reason, reason
    children = int(reason.split("fork stopped after ")[1].split()[0])
    assert children < MAX_PROCESSES


def test_the_cpu_time_limit_is_the_kernels(market_data: Path, tmp_path: Path) -> None:  # noqa: F811
    """A wall limit far away: the CPU-time rlimit stops a busy loop, even if it ignores
    SIGXCPU (SIGKILL follows)."""
    pool = LocalWorkerPool(
        1, tmp_path / "work", market_data, limits=RunLimits(60, 1000, cpu_seconds=3)
    )
    pool.start()
    try:
        started = time.monotonic()
        _, (kind, reason) = hostile(pool, "Spinner", "while True:\n    pass")
        ignoring = (
            "import signal; signal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass"
        )
        _, (kind2, reason2) = hostile(pool, "Stubborn", ignoring)
    finally:
        pool.stop()
    assert (kind, reason) == (
        "failed",
        "the run exceeded its CPU time limit of 3 s (killed by SIGXCPU)",
    )
    assert (kind2, reason2) == (
        "failed",
        "the run exceeded its CPU time limit of 3 s (killed by SIGKILL)",
    )
    assert time.monotonic() - started < 45


SPARSE = """
with open("big", "wb") as f:
    f.truncate(100 << 20)  # 100 MB that take no disk: only its size would show it
with open("medium", "wb") as f:
    f.truncate(60 << 20)
with open("ten", "wb") as f:
    f.truncate(10 << 20)
os.symlink("/etc/passwd", "link")
os.mkfifo("pipe")
"""

REFUSED = [
    ('{"result": "medium", "evil": "medium", "evil2": "medium"}', "unexpected files: evil, evil2"),
    ('{"result": "big"}', "the run's file result is too large (104857600 bytes > 67108864)"),
    (
        '{"result": "medium", "freqtrade-result.zip": "medium", "freqtrade.log": "results/../big"}',
        "outside its run directory",
    ),
    (
        '{"result": "medium", "freqtrade-result.zip": "medium", "freqtrade.log": "ten"}',
        "too large together",
    ),
    ('{"result": "link"}', "a symlink, missing, or outside its run directory"),
    ('{"result": "pipe"}', "is not a regular file"),
    ('{"freqtrade.log": "medium"}', "no result file"),
]


@pytest.mark.parametrize(("files", "expected"), REFUSED)
def test_files_a_run_hands_back_are_checked_before_they_are_copied(
    pool: LocalWorkerPool, files: str, expected: str
) -> None:
    _, (kind, reason) = hostile(pool, "Hander", done_with(f"'{files}'", SPARSE))
    assert kind == "failed", reason
    assert expected in reason


def _invented(trades: int) -> str:
    trade = {
        "pair": "BTC/USDT", "open_date": "2024-01-01T00:00:00Z",
        "close_date": "2024-01-01T01:00:00Z", "open_rate": 1.0, "close_rate": 1.0,
        "amount": 1.0, "stake_amount": 1.0, "profit_abs": 0.0, "profit_ratio": 0.0,
        "exit_reason": "roi",
    }  # fmt: skip
    result = {
        "strategy": "Inventor", "metrics": {}, "per_pair": [], "trades": [trade] * trades,
        "backtest_start": "2024-01-01T00:00:00Z", "backtest_end": "2024-01-08T00:00:00Z",
    }  # fmt: skip
    return f"open('result.json', 'w').write({json.dumps(result)!r})"


def test_a_result_with_more_trades_than_the_cap_fails(pool: LocalWorkerPool) -> None:
    files = """'{"result": "result.json"}'"""
    _, (kind, reason) = hostile(pool, "Inventor", done_with(files, _invented(60)))
    assert (kind, reason) == (
        "failed",
        "the run reported 60 trades, more than the 50 a run may have (BACKEND_RUN_MAX_TRADES)",
    )
    _, (kind, detail) = hostile(pool, "Inventor", done_with(files, _invented(50)))
    assert kind == "completed", detail


NON_ROOT_PROBE = r"""
import ctypes, errno, os, resource, sys, time
limit = int(sys.argv[1])
if limit:  # what the worker does first with its --max-processes
    resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
libc = ctypes.CDLL(None, use_errno=True)
found = {"unshare": "ok" if libc.unshare(0x10000000) == 0 else errno.errorcode[ctypes.get_errno()]}
written = 0
try:
    with open("/tmp/parked", "wb") as f:
        for _ in range(90):
            f.write(b"x" * (10 << 20))
            written += 10
except OSError:
    pass
os.unlink("/tmp/parked")
found["tmp_mb"] = written
children = 0
try:
    while children < 1000:
        if os.fork() == 0:
            time.sleep(5)
            os._exit(0)
        children += 1
except OSError:
    pass
found["children"] = children
print(repr(found))
"""


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory another user can pass through (pytest's own are root's alone)."""
    with tempfile.TemporaryDirectory(prefix="tradai-non-root-") as name:
        Path(name).chmod(0o755)
        yield Path(name)


def test_the_non_root_sandbox_bounds_forks_tmp_and_namespaces(
    open_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox as a service without root builds it (bubblewrap in a user namespace, as
    uid 65534 on the host here), with Debian's own python3 inside: this machine's interpreter
    lives under /root, which another user cannot reach, so a whole non-root pool cannot run
    here. What the kernel enforces is checked: the process cap, the /tmp size, no user
    namespaces."""
    monkeypatch.setattr(Sandbox, "as_root", property(lambda self: False))
    (open_dir / "data").mkdir(mode=0o755)
    run_dir = open_dir / "run"
    run_dir.mkdir()
    os.chown(run_dir, 65534, 65534)
    sandbox = Sandbox("bubblewrap", open_dir / "data", (), shutil.which("bwrap") or "bwrap")
    seccomp = seccomp_filter.filter_fd()
    try:
        command = sandbox.command(run_dir, 1, 3, True, RunLimits(30, 300), seccomp)
        python = command.index(str(Path(sys.prefix) / "bin" / "python"))
        limit = (
            command[command.index("--max-processes") + 1] if "--max-processes" in command else "0"
        )
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command[:python],
             "/usr/bin/python3", "-c", NON_ROOT_PROBE, limit],
            pass_fds=(seccomp,), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(seccomp)
    assert done.returncode == 0, done.stderr
    found = ast.literal_eval(done.stdout.strip())
    assert found["unshare"] == "EPERM"
    assert found["tmp_mb"] <= 300
    assert found["children"] < MAX_PROCESSES
