"""Confine a freshly forked child before it runs any student code.

The order matters: limits and the network namespace need the privileges that dropping the uid
takes away, and Landlock comes last so that it also covers the files opened before it.
"""

from __future__ import annotations

import ctypes
import os
import resource

from . import landlock

_CLONE_NEWNET = 0x40000000
MB = 1 << 20


def virtual_memory_bytes() -> int | None:
    """This process's current address-space size, or None if /proc cannot tell."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _set(limit: int, value: int) -> None:
    _, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(limit, (value, value if hard == resource.RLIM_INFINITY else hard))


def confine(config: dict, scratch: str, keep_fd: int, timeout: float, baseline_vm: int | None):
    """Apply every layer the parent asked for; raise OSError if one of them fails.

    ``keep_fd`` is the only descriptor left open besides 0, 1, 2 (which point at /dev/null).
    """
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if keep_fd != 3:
        os.dup2(keep_fd, 3)
    os.closerange(4, 65536)

    if config.get("unshare_net"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")

    os.chdir(scratch)
    os.environ.clear()
    os.environ.update(
        {
            "HOME": scratch,
            "TMPDIR": scratch,
            "MPLCONFIGDIR": scratch,
            "MPLBACKEND": "Agg",
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )

    limits = config["limits"]
    _set(resource.RLIMIT_CORE, 0)
    _set(resource.RLIMIT_FSIZE, int(limits["file_mb"] * MB))
    _set(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    cpu = max(1, int(timeout + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if baseline_vm is not None:
        _set(resource.RLIMIT_AS, baseline_vm + int(limits["memory_mb"] * MB))
    rules = None
    if config.get("landlock", 0) > 0:
        read_write = [scratch, *config.get("read_write", [])]
        rules = landlock.ruleset(config["read_only"], read_write, abi=config["landlock"])
    if config.get("uid") is not None:
        # Counted per real uid: meaningful only once the child has a uid of its own.
        _set(resource.RLIMIT_NPROC, int(limits["processes"]))
        os.setgroups([])
        os.setgid(config["gid"])
        os.setuid(config["uid"])
        if os.getuid() != config["uid"] or os.geteuid() != config["uid"]:
            raise OSError("could not drop to the unprivileged uid")

    if rules is not None:
        landlock.enforce(rules)
