"""The files a finished run hands back, taken out of its run directory under caps.

The worker names them in `Done.files`, and the worker runs strategy code: a name may be
anything, a file may be a symlink to the service's secrets, a FIFO, or a sparse file of
terabytes. Only the expected names are taken, each opened without following any symlink
(O_NOFOLLOW on every component, from the run directory down), checked to be a regular file
within its size cap, and copied with a bounded read into the supervisor's own directory, before
anything else reads it. The result file must decode as a RunResult within the trade cap.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

import msgspec

from adapters.freqtrade.limits import ARTIFACT_CAPS, MAX_ARTIFACT_BYTES
from projections.results import RunResult

_CHUNK = 1 << 20


class RefusedFiles(ValueError):
    """The run's files break a rule; the message says which (the run fails with it)."""


def _open_inside(root: Path, name: str) -> int:
    """A read-only fd of `name` under `root`, no component of it a symlink or `..`."""
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or any(p in ("..", ".") for p in parts):
        raise RefusedFiles(f"the run named a file outside its run directory: {name!r}")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, flags | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            inner = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)  # a FIFO must not block
    except OSError as error:
        raise RefusedFiles(
            f"the run's file {name!r} cannot be taken (a symlink, missing, or outside its run "
            f"directory): {error.strerror}"
        ) from None
    finally:
        os.close(fd)


def _copy(source: int, target: Path, cap: int) -> int:
    """Copy at most `cap` bytes (and say if there were more): st_size can lie for files
    still being written, so the read is bounded too."""
    copied = 0
    with target.open("xb") as out:
        while chunk := os.read(source, min(_CHUNK, cap + 1 - copied)):
            copied += len(chunk)
            if copied > cap:
                raise RefusedFiles(f"the run's file {target.name} is over its cap of {cap} bytes")
            out.write(chunk)
    return copied


def take_files(run_dir: Path, named: dict[str, str], outbox: Path) -> dict[str, str]:
    """Copies of the expected files the run named, in `outbox`; RefusedFiles otherwise."""
    unexpected = sorted(set(named) - set(ARTIFACT_CAPS))
    if unexpected:
        raise RefusedFiles(f"the run handed back unexpected files: {', '.join(unexpected)[:200]}")
    if "result" not in named:
        raise RefusedFiles("the run handed back no result file")
    outbox.mkdir(mode=0o700, exist_ok=True)
    taken: dict[str, str] = {}
    total = 0
    for name, relative in named.items():
        cap = ARTIFACT_CAPS[name]
        fd = _open_inside(run_dir.resolve(), relative)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise RefusedFiles(f"the run's file {relative!r} is not a regular file")
            if info.st_size > cap:
                raise RefusedFiles(
                    f"the run's file {name} is too large ({info.st_size} bytes > {cap})"
                )
            if total + info.st_size > MAX_ARTIFACT_BYTES:
                raise RefusedFiles(
                    f"the run's files are too large together (> {MAX_ARTIFACT_BYTES} bytes)"
                )
            target = outbox / name
            total += _copy(fd, target, min(cap, MAX_ARTIFACT_BYTES - total))
        finally:
            os.close(fd)
        taken[name] = str(target)
    return taken


def check_result(path: str, max_trades: int) -> None:
    """The result must be a RunResult with at most `max_trades` trades (each becomes a row of
    the read model)."""
    data = Path(path).read_bytes()  # bounded by its cap above
    try:
        counted = msgspec.json.decode(data, type=_TradeCount)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise RefusedFiles(f"the run's result is not a valid result: {error}") from None
    if len(counted.trades) > max_trades:
        raise RefusedFiles(
            f"the run reported {len(counted.trades)} trades, more than the {max_trades} a run "
            "may have (BACKEND_RUN_MAX_TRADES)"
        )
    try:
        msgspec.json.decode(data, type=RunResult)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise RefusedFiles(f"the run's result is not a valid result: {error}") from None


class _TradeCount(msgspec.Struct):
    """Counts trades without building them (a first, cheap look at an untrusted file)."""

    trades: list[msgspec.Raw] = []
