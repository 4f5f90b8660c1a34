"""The seccomp filter of the sandbox: syscalls a backtest never needs fail with EPERM.

Built with pyseccomp (ctypes over the libseccomp that bubblewrap brings), exported as BPF and
handed to bubblewrap on a file descriptor (`--seccomp FD`): it applies to every process of the
run, from `setpriv` on (which still needs setuid/setgid/capset, so those stay allowed). What is
denied: new namespaces (unshare, setns, clone with a CLONE_NEW* flag), mounts, kernel keyrings,
BPF, tracing or reading other processes, perf, kernel modules, kexec, swap, reboot and the like.
Everything else is allowed: numpy, pandas and freqtrade use a wide, changing set of syscalls.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import tempfile

DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "bpf", "keyctl", "add_key", "request_key",
    "ptrace", "process_vm_readv", "process_vm_writev", "perf_event_open", "kcmp",
    "pidfd_getfd", "userfaultfd",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "swapon", "swapoff", "reboot", "acct", "quotactl", "syslog", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "iopl", "ioperm", "lookup_dcookie", "name_to_handle_at", "open_by_handle_at",
    "nfsservctl", "vhangup", "fanotify_init",
)  # fmt: skip
# clone's flags that would make a new namespace (CLONE_NEWNS ... CLONE_NEWTIME).
_CLONE_NEW = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
_CLONE_NEW |= 0x20000000 | 0x40000000 | 0x00000080


@functools.cache
def bpf() -> bytes:
    """The compiled filter for this machine's architecture."""
    import pyseccomp as seccomp

    denied = seccomp.ERRNO(errno.EPERM)
    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED:
        # A name that is no syscall on this architecture has nothing to deny.
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            flt.add_rule(denied, name)
    for bit in range(32):
        if _CLONE_NEW & (1 << bit):
            flt.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, 1 << bit, 1 << bit))
    # clone3 passes its flags in a struct a filter cannot read: ENOSYS makes libc fall back to
    # clone, where the rule above applies (what container runtimes do).
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as file:
        flt.export_bpf(file)
        file.seek(0)
        return file.read()


def filter_fd() -> int:
    """A file descriptor at the start of the filter, for one bubblewrap to read (and close)."""
    fd = os.memfd_create("tradai-seccomp", 0)
    os.write(fd, bpf())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
