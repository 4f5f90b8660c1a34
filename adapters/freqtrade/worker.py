"""A worker process: imports freqtrade, runs one backtest on request, then exits.

Started by the pool (adapters/freqtrade/sandbox.py says how: normally inside bubblewrap) as
`python -m adapters.freqtrade.worker --fd N ...`, with its run directory as the working
directory. It warms up before a job arrives, so a run does not pay the ~3 s import; it serves
one run only, so nothing of one researcher's code outlives their run. Messages on the socket
`--fd` are adapters/freqtrade/protocol.py's: Ready, Progress, Done (file names inside the run
directory) or Failed from the worker; one Run from the pool.
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import resource
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from adapters.freqtrade import protocol
from adapters.freqtrade.results import ResultMissing, latest_zip, run_result, strategy_stats
from adapters.freqtrade.run_config import freqtrade_args, freqtrade_config
from adapters.market_data import coverage, missing_data_message
from domain.errors import InvalidValue
from domain.market import parse_timerange
from domain.strategy_source import check_parameter_values, parameter_file, read_strategy
from projections.execution_ports import RunOutput, RunSpec

PHASES = protocol.PHASES


class RunFailed(Exception):
    """The run cannot produce a result; the message says why, in freqtrade's words if any."""


class ProgressThrottle:
    """Turns freqtrade's many progress callbacks into a handful of messages."""

    def __init__(
        self, send: Callable[[str, float], None], min_step: float = 0.1, min_seconds: float = 0.5
    ) -> None:
        self.send = send
        self.min_step = min_step
        self.min_seconds = min_seconds
        self.phase: str | None = None
        self.fraction = -1.0
        self.sent_at = 0.0

    def __call__(self, task: Any) -> None:
        phase = str(task.description).lower()
        if phase not in PHASES or not task.total:
            return
        index = PHASES.index(phase)
        within = min(max(float(task.completed) / float(task.total), 0.0), 1.0)
        fraction = round((index + within) / len(PHASES), 3)
        now = time.monotonic()
        if phase != self.phase or (
            fraction - self.fraction >= self.min_step and now - self.sent_at >= self.min_seconds
        ):
            self.phase, self.fraction, self.sent_at = phase, fraction, now
            self.send(phase, fraction)


class LogTail(logging.Handler):
    """Keeps freqtrade's last warnings and errors, to explain a failure."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.lines: deque[str] = deque(maxlen=20)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _silence_stdio() -> None:
    # freqtrade prints result tables; the parent reads only the pipe and the run's log file.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def _limit_resources(max_processes: int, max_file_bytes: int, max_data_mb: int) -> None:
    """Kernel limits set before any user code runs; the code cannot raise them again (it has
    no CAP_SYS_RESOURCE). The data segment, not the address space: numpy, pandas and pyarrow
    map ~600 MB of address space for ~300 MB resident, while the data limit counts what can
    become resident (heap and private anonymous mappings)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if max_file_bytes:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    if max_processes:  # counted per user (per user namespace, without root)
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))
    if max_data_mb:
        limit = max_data_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _limit_cpu(seconds: int) -> None:
    """The run's CPU time, from now (the warm-up before it is not the strategy's): SIGXCPU at
    the soft limit, SIGKILL two seconds of CPU later for a strategy that ignores SIGXCPU."""
    if seconds:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime) + 1 + seconds
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 2))


def main(argv: list[str]) -> int:
    """Worker entry point: warm up, report ready, run the one request, exit."""
    parser = argparse.ArgumentParser(prog="adapters.freqtrade.worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--market-data", required=True)
    parser.add_argument("--max-processes", type=int, default=0)
    parser.add_argument("--max-file-bytes", type=int, default=0)
    parser.add_argument("--max-data-mb", type=int, default=0)
    parser.add_argument("--max-cpu-seconds", type=int, default=0)
    parser.add_argument("--online-markets", action="store_true")
    parser.add_argument("--preload", action="append", default=[], help="a candle file to read now")
    parser.add_argument("--preload-budget-mb", type=int, default=0)
    options = parser.parse_args(argv)
    _limit_resources(options.max_processes, options.max_file_bytes, options.max_data_mb)
    conn = Connection(options.fd)
    _silence_stdio()
    logging.basicConfig(level=logging.WARNING)
    from freqtrade.commands.optimize_commands import setup_optimize_configuration  # noqa: F401
    from freqtrade.data.history.datahandlers import featherdatahandler  # noqa: F401
    from freqtrade.exchange import check_exchange  # noqa: F401
    from freqtrade.optimize.backtesting import Backtesting  # noqa: F401

    if not options.online_markets:
        from adapters.freqtrade import offline_markets

        offline_markets.install()
    if options.preload and options.preload_budget_mb > 0:
        from adapters.freqtrade import warm_data

        budget = options.preload_budget_mb * 1024 * 1024
        warm_data.preload(Path(options.market_data), options.preload, budget)
    conn.send_bytes(protocol.encode(protocol.Ready()))
    try:
        request = protocol.decode_run(conn.recv_bytes(protocol.MAX_MESSAGE_BYTES))
    except (EOFError, OSError):
        return 0  # the pool stopped before giving this worker a run
    _limit_cpu(options.max_cpu_seconds)
    workdir = Path.cwd()

    def progress(phase: str, fraction: float) -> None:
        conn.send_bytes(protocol.encode(protocol.Progress(phase, fraction)))

    reply: protocol.FromWorker
    try:
        output = run(request.spec, workdir, Path(options.market_data), progress)
        names = {name: str(Path(path).relative_to(workdir)) for name, path in output.files.items()}
        reply = protocol.Done(summary=output.summary, files=names)
    except RunFailed as failure:
        reply = protocol.Failed(str(failure))
    except Exception as error:  # anything else is still a failed run, told plainly
        reply = protocol.Failed(f"{type(error).__name__}: {error}")
    conn.send_bytes(protocol.encode(reply))
    return 0


def run(
    spec: RunSpec, workdir: Path, datadir: Path, send: Callable[[str, float], None]
) -> RunOutput:
    """One backtest of `spec` in `workdir`; raises RunFailed with a reason a person can act on."""
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting

    from adapters.freqtrade import offline_markets

    _check_data(spec, datadir)
    strategy_file = _write_strategy(spec, workdir)
    for sub in ("user_data", "results"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.json"
    config_path.write_bytes(msgspec.json.encode(freqtrade_config(spec, workdir)))
    offline_markets.set_pairs(spec.pairs)

    tail = LogTail()
    log_path = workdir / "freqtrade.log"
    file_log = logging.FileHandler(log_path)
    file_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    file_log.setLevel(logging.INFO)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(tail)
    root.addHandler(file_log)
    from adapters.freqtrade import warm_data

    if warm_data.preloaded():
        logging.getLogger(__name__).info(
            "candles preloaded before the run: %s",
            ", ".join(p.name for p in warm_data.preloaded()),
        )
    try:
        try:
            config = setup_optimize_configuration(
                freqtrade_args(spec, workdir, config_path, datadir), RunMode.BACKTEST
            )
        except Exception as error:
            raise RunFailed(f"freqtrade configuration error: {error}") from None
        try:
            backtesting = Backtesting(config, progress_callback=ProgressThrottle(send))
            backtesting.start()
        except Exception as error:
            raise RunFailed(_explain(error, strategy_file, tail)) from None
        try:
            zip_path = latest_zip(workdir / "results")
            result = run_result(strategy_stats(zip_path, spec.strategy), spec.strategy)
        except ResultMissing as missing:
            raise RunFailed(
                f"{missing}; freqtrade said: {' | '.join(tail.lines) or 'nothing'}"
            ) from None
    finally:
        root.removeHandler(tail)
        root.removeHandler(file_log)
        file_log.close()
    dropped = sorted(set(spec.pairs) - {p.pair for p in result.per_pair})
    if dropped:
        raise RunFailed(
            f"freqtrade did not backtest {', '.join(dropped)} (unknown to the exchange)"
        )
    result_path = workdir / "result.json"
    result_path.write_bytes(msgspec.json.encode(result))
    files = {
        "result": str(result_path),
        "freqtrade-result.zip": str(zip_path),
        "freqtrade.log": str(log_path),
    }
    return RunOutput(summary=result.metrics, files=files)


def _check_data(spec: RunSpec, datadir: Path) -> None:
    start, end = parse_timerange(spec.timerange)
    try:
        found = [
            coverage(datadir, spec.exchange, p, spec.timeframe, start, end) for p in spec.pairs
        ]
    except PermissionError as error:
        raise RunFailed(
            f"the sandbox cannot read the market data ({error.filename}): it runs as another "
            "user, so the data must be readable by all users (chmod -R a+rX)"
        ) from None
    gaps = [c for c in found if not c.covers_range]
    if gaps:
        raise RunFailed(missing_data_message(spec.exchange, spec.timerange, gaps))


def _write_strategy(spec: RunSpec, workdir: Path) -> Path:
    """The strategy file, and next to it freqtrade's parameter file `<Strategy>.json` with the
    job's parameter values (none without values: the class's defaults apply)."""
    folder = workdir / "strategies"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.strategy}.py"
    path.write_text(spec.code)
    try:
        tree = ast.parse(spec.code, filename=path.name)
    except SyntaxError as error:
        where = f"{path.name}, line {error.lineno}"
        raise RunFailed(
            f"the strategy does not compile: SyntaxError: {error.msg} ({where})"
        ) from None
    if not any(isinstance(n, ast.ClassDef) and n.name == spec.strategy for n in tree.body):
        raise RunFailed(f"the strategy code defines no class named {spec.strategy}")
    if spec.parameters:
        try:
            declared = read_strategy(spec.code, spec.strategy)
            check_parameter_values(declared, spec.parameters, spec.strategy)
        except InvalidValue as error:
            raise RunFailed(f"the parameters cannot be applied: {error}") from None
        content = parameter_file(spec.strategy, declared, spec.parameters)
        path.with_suffix(".json").write_bytes(msgspec.json.encode(content))
    return path


def _explain(error: BaseException, strategy_file: Path, tail: LogTail) -> str:
    """Freqtrade's message, plus where in the strategy's own code it went wrong."""
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == strategy_file
    ]
    where = (
        f" ({strategy_file.name}, line {frames[-1].lineno}, in {frames[-1].name})" if frames else ""
    )
    message = f"{type(error).__name__}: {error}{where}"
    if isinstance(error, MemoryError):  # the kernel's data limit, set from the run's memory
        message = f"the run exceeded its memory limit ({message})"
    if type(error).__name__ == "OperationalException" and tail.lines:
        message += f"; freqtrade said: {tail.lines[-1]}"
    return message


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
