"""How a worker process is started: inside a bubblewrap sandbox, or (opted out) as a plain child.

Strategy code is user code. A sandboxed worker sees only what one run needs: its own run
directory (read-write), the market data, the Python environment and the project's packages
(read-only), a private /tmp, and nothing of the service's environment. It has no network
(its own empty network namespace), its own pid namespace (it cannot see or signal the API or
other runs), and runs as another uid with no capabilities and a cap on its processes.

Two ways to get there, by who runs the service:
- as root (the embedded default on these machines): bubblewrap builds the mount, pid, net,
  ipc and uts namespaces, then `setpriv` drops to a uid of the worker's own (no user namespace:
  the uid is a real, unprivileged one on the host, so the kernel's per-user process limit
  applies to that run and to nothing else, not even the standby warming up beside it);
- as any other user: bubblewrap's user namespace maps the run to uid 65534 inside (the
  kernel counts RLIMIT_NPROC per user namespace, so the process cap holds there too), and no
  further user namespaces may be made inside (`--disable-userns`).

In both, kernel limits (limits.py) hold whatever the strategy does: rlimits the worker sets
before any strategy code runs (data segment, CPU time, processes, file size), a size-limited
/tmp, a seccomp filter (seccomp_filter.py), and control groups where the host offers them
(cgroups.py, applied by the worker process around this command).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from importlib import util
from pathlib import Path

from adapters.freqtrade import seccomp_filter
from adapters.freqtrade.limits import MAX_FILE_BYTES, MAX_PROCESSES, RunLimits

KINDS = ("bubblewrap", "none")
# Packages of this project a worker imports (the runner, its ports, the domain's value types).
WORKER_PACKAGES = ("adapters", "projections", "commands", "domain")
# Host uids for root-run sandboxes, far above any login user: each worker process takes the next
# one, round the range, so a uid comes back only after a thousand processes are long gone.
SANDBOX_UID_BASE = 420_000
SANDBOX_UIDS = 1024


class SandboxUnavailable(RuntimeError):
    """bubblewrap was asked for and cannot run here; the message says what to do."""


def clean_environment(home: Path) -> dict[str, str]:
    """The whole environment a worker gets: nothing of the service's (no BACKEND_*, AWS_*,
    tokens), just enough for Python and freqtrade."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",  # numpy/numexpr thread pools: one run uses one core
        "OPENBLAS_NUM_THREADS": "1",
    }


def _package_dirs() -> list[Path]:
    dirs = []
    for name in WORKER_PACKAGES:
        spec = util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SandboxUnavailable(f"cannot find the package {name} to bind into the sandbox")
        dirs.append(Path(spec.origin).resolve().parent)
    return dirs


def _python_dirs() -> list[Path]:
    """The interpreter's installation and the virtual environment, outside /usr."""
    found = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(p for p in found if not p.is_relative_to("/usr"))


@dataclass(frozen=True)
class Sandbox:
    """Builds the command line of one worker process."""

    kind: str
    market_data: Path
    read_only: tuple[Path, ...] = field(default_factory=tuple)
    bwrap: str = ""

    @classmethod
    def create(cls, kind: str, market_data: Path) -> Sandbox:
        if kind not in KINDS:
            raise SandboxUnavailable(f"BACKEND_SANDBOX must be one of {', '.join(KINDS)}")
        if kind == "none":
            return cls(kind, market_data)
        bwrap = shutil.which("bwrap") or ""
        if not bwrap:
            raise SandboxUnavailable(
                "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` (make run "
                "does it), or set BACKEND_SANDBOX=none to run strategies unsandboxed"
            )
        try:
            seccomp_filter.bpf()  # at start, not at the first run
        except Exception as error:
            raise SandboxUnavailable(
                f"cannot build the sandbox's seccomp filter ({error}): `apt-get install "
                "libseccomp2` (make sandbox does it)"
            ) from None
        read_only = tuple([*_python_dirs(), *_package_dirs()])
        return cls(kind, market_data.resolve(), read_only, bwrap)

    @property
    def sandboxed(self) -> bool:
        return self.kind != "none"

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def uid_for(self, number: int) -> int | None:
        """The host uid of worker `number` (root only); None where the user namespace maps it."""
        if not (self.sandboxed and self.as_root):
            return None
        return SANDBOX_UID_BASE + number % SANDBOX_UIDS

    def prepare(self, run_dir: Path, number: int) -> None:
        """Create the run directory, writable by the run's uid and nobody else."""
        run_dir.mkdir(parents=True, mode=0o700)
        uid = self.uid_for(number)
        if uid is not None:
            os.chown(run_dir, uid, uid)

    def command(
        self,
        run_dir: Path,
        number: int,
        fd: int,
        offline_markets: bool,
        limits: RunLimits,
        seccomp_fd: int | None = None,
    ) -> list[str]:
        """The argv that starts a worker for one run in `run_dir`, talking on `fd`; bubblewrap
        reads the seccomp filter from `seccomp_fd`."""
        worker = [
            str(Path(sys.prefix) / "bin" / "python"),
            "-m", "adapters.freqtrade.worker",
            "--fd", str(fd),
            "--market-data", str(self.market_data),
            "--max-file-bytes", str(MAX_FILE_BYTES),
            "--max-data-mb", str(limits.data_limit_mb),
            "--max-cpu-seconds", str(limits.cpu_limit),
        ]  # fmt: skip
        if self.sandboxed:  # unsandboxed, the worker shares the service's uid: no cap fits
            worker += ["--max-processes", str(MAX_PROCESSES)]
        if not offline_markets:
            worker.append("--online-markets")
        if not self.sandboxed:
            return worker
        bwrap = self._bwrap(run_dir, limits)
        if seccomp_fd is not None:
            bwrap[1:1] = ["--seccomp", str(seccomp_fd)]
        return [*bwrap, *self._drop_privileges(number), *worker]

    def _bwrap(self, run_dir: Path, limits: RunLimits) -> list[str]:
        args = [
            self.bwrap,
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "sandbox",
            "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--proc", "/proc", "--dev", "/dev",
            # /tmp is RAM: no bigger than the run's memory limit (the supervisor and the
            # memory cgroup count what is in it against that limit too).
            "--perms", "1777", "--size", str(limits.memory_bytes), "--tmpfs", "/tmp",
            "--clearenv",
        ]  # fmt: skip
        if not self.as_root:
            args += ["--unshare-user", "--uid", "65534", "--gid", "65534", "--disable-userns"]
        binds = [(p, "--ro-bind") for p in self.read_only]
        binds += [(self.market_data, "--ro-bind"), (run_dir.resolve(), "--bind")]
        # bubblewrap creates missing parents as 0700 root: a dropped uid could not pass them.
        parents = sorted({a for p, _ in binds for a in p.parents if a != Path("/")}, key=str)
        for parent in parents:
            if not any(parent.is_relative_to(p) for p, _ in binds) and not parent.is_relative_to(
                "/usr"
            ):
                args += ["--perms", "0755", "--dir", str(parent)]
        for path, how in binds:
            args += [how, str(path), str(path)]
        for name, value in clean_environment(run_dir).items():
            args += ["--setenv", name, value]
        return [*args, "--chdir", str(run_dir.resolve())]

    def _drop_privileges(self, number: int) -> list[str]:
        uid = self.uid_for(number)
        if uid is None:
            return []
        return [
            "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
        ]  # fmt: skip

    def describe(self) -> str:
        """One line for the start-up log and /ready."""
        if not self.sandboxed:
            return "NOT SANDBOXED: strategy code runs with the service's own user and files"
        who = "a host uid of its own" if self.as_root else "uid 65534 in a user namespace"
        return (
            f"bubblewrap: no network, {who}, only its run directory writable, seccomp filter, "
            "no user namespaces, rlimits (data, CPU, processes, file size), /tmp size-limited"
        )
