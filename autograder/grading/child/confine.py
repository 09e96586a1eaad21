"""Confine a freshly forked child before it runs any student code.

The order matters: the namespaces, mounts and limits need the privileges that dropping the uid
takes away, and Landlock comes last so that it also covers the files opened before it.

With ``config["namespaces"]`` the child (already the first process of a PID namespace of its
own, see :mod:`.zygote`) also gets a mount namespace of its own, in which

* its scratch directory is a fresh tmpfs, limited in bytes and in files, that nobody else sees
  and that disappears with the namespace: nothing of it is ever removed by path;
* read-only folders it needs but could not traverse (a Python installed under ``/root``) are
  shown again, read-only, on a small tmpfs laid over the folder that blocks them, so the whole
  standard library imports while the rest of that folder stays out of sight;
* the folders of ``config["hidden"]`` (PyTorch's, for a NumPy-only exercise) are an empty
  read-only tmpfs.

Landlock's read grant is ``config["landlock_read_only"]``: the read-only paths with the hidden
folders cut out; the folders above them (``config["landlock_list_only"]``, site-packages) may
still be listed, so that Python's import system finds the other packages there.
"""

from __future__ import annotations

import ctypes
import os
import resource

from . import landlock

_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT = 1, 2, 4, 32
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 16384, 1 << 18
MB = 1 << 20


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount(libc, source, target, fstype, flags: int, data=None) -> None:
    args = [None if a is None else os.fsencode(a) for a in (source, target, fstype, data)]
    if libc.mount(args[0], args[1], args[2], ctypes.c_ulong(flags), args[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _blocked_folder(path: str) -> str | None:
    """The outermost folder above ``path`` that others may not traverse, if any."""
    parts = os.path.abspath(path).split("/")[1:-1]
    current = ""
    for part in parts:
        current += "/" + part
        if not os.stat(current).st_mode & 0o001:
            return current
    return None


def _expose(libc, read_only) -> None:
    """Show the read-only paths that sit below an untraversable folder (see the module doc)."""
    hidden: dict[str, list[str]] = {}
    for path in read_only:
        if os.path.exists(path):
            folder = _blocked_folder(path)
            if folder is not None:
                hidden.setdefault(folder, []).append(os.path.abspath(path))
    for folder in sorted(hidden, key=len):
        if any(folder.startswith(outer + "/") for outer in hidden if outer != folder):
            continue  # shown again inside the outer folder's tmpfs
        paths = sorted(
            p for f, ps in hidden.items() if f == folder or f.startswith(folder + "/") for p in ps
        )
        fds = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in paths}
        try:
            _mount(libc, "tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,mode=0755")
            for path in paths:
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                if os.path.isdir(f"/proc/self/fd/{fds[path]}"):
                    os.makedirs(path, mode=0o755, exist_ok=True)
                else:
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
                _mount(libc, f"/proc/self/fd/{fds[path]}", path, None, _MS_BIND | _MS_REC)
                _mount(libc, None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
            _mount(libc, None, folder, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
        finally:
            for fd in fds.values():
                os.close(fd)


def private_mounts(config: dict, scratch: str) -> None:
    """A mount namespace of this process's own: a tmpfs scratch, hidden Python shown again."""
    libc = _libc()
    if libc.unshare(_CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    if config.get("uid") is not None:
        _expose(libc, config["read_only"])
    for folder in config.get("hidden", []):
        if os.path.isdir(folder):
            _mount(libc, "tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=4k,mode=0555")
            _mount(libc, None, folder, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    limits = config["limits"]
    owner = "" if config.get("uid") is None else f",uid={config['uid']},gid={config['gid']}"
    options = f"size={int(limits['scratch_mb'])}m,nr_inodes={int(limits['scratch_files'])}"
    _mount(libc, "tmpfs", scratch, "tmpfs", _MS_NOSUID | _MS_NODEV, options + ",mode=0700" + owner)


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


def confine(config: dict, scratch: str, timeout: float, baseline_vm: int | None):
    """Apply every layer the parent asked for; raise OSError if one of them fails.

    Descriptors 3 (the results channel) and 4 (the zygote's handshake pipe, closed by the
    caller before any student code runs) are the only ones left open besides 0, 1, 2 (which
    point at /dev/null).
    """
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(5, 65536)

    if config.get("unshare_net"):
        if _libc().unshare(_CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
    if config.get("namespaces"):
        private_mounts(config, scratch)

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
        read_only = config.get("landlock_read_only", config["read_only"])
        listed = config.get("landlock_list_only", [])
        rules = landlock.ruleset(read_only, read_write, abi=config["landlock"], list_only=listed)
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
