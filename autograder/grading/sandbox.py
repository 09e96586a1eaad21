"""Isolate: find the strongest confinement this machine offers, and start workers inside it.

Layers, strongest set first, each used when the platform has it:

1. **bubblewrap** (``bwrap``): the worker runs in new mount, PID, network, IPC and UTS
   namespaces, with a file-system view made only of the system libraries, the Python
   installation and the grader's child code (read-only) and a private ``/tmp``. The course
   repository, ``solutions/``, the references, the reference data and the output folder do not
   exist in there. When the grader runs as root, bubblewrap runs without a user namespace and
   keeps the few capabilities the worker needs to hand each child its worker uid and its own
   namespaces (layer 4); otherwise it uses an unprivileged user namespace.
2. **Landlock** (kernel ABI >= 1), applied by every child to itself: read-only access to that
   same list of paths, read-write to its scratch directory only; no TCP (ABI >= 4); no signals
   or abstract sockets outside its own domain (ABI >= 6).
3. **A separate uid** (root only): each worker's children run as a uid of their own, leased
   for the run under a lock (:class:`UidLease`), so concurrent runs never share one; with a
   process-count limit.
4. **Namespaces per submission** (root, or bubblewrap): each submission's first process is the
   first process of a PID namespace of its own, so killing it kills every process the
   submission started; its scratch directory is a tmpfs limited in bytes and files, in a mount
   namespace of its own, that vanishes with it (see :mod:`.child.zygote`, :mod:`.child.confine`).
   Without bubblewrap, the zygote itself runs in a PID namespace (``unshare --pid --fork
   --kill-child``), so nothing outlives the worker either.
5. **rlimits**, always: CPU seconds, address space, file size, open files, no core dumps; plus
   a wall-clock deadline enforced from outside the child, a scrubbed environment and a scratch
   working directory.

A NumPy-only exercise (``Assignment.numpy_only``) is graded by workers that never import
PyTorch and cannot: PyTorch's installation folders (:func:`torch_paths`) are an empty read-only
tmpfs in bubblewrap's mount view and in each child's mount namespace, Landlock grants no read
below them (:func:`without`), and the child refuses ``import torch`` with a plain message
(the one layer left at level ``rlimits``).

Without bubblewrap, a root grader still gives each child a network namespace of its own
(``unshare(CLONE_NEWNET)``). :func:`probe` says what was found; :class:`Isolation` records what
is used, for the run's log.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import importlib.metadata
import os
import pwd
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .child import landlock

CHILD_DIR = Path(__file__).resolve().parent / "child"
MOUNT_ROOT = "/opt/rnn-grader"  # where the child code appears inside bubblewrap
SANDBOX_SCRATCH = "/tmp/grading"
LEVELS = ("bubblewrap", "landlock", "rlimits")

_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
)
_SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


class SandboxError(RuntimeError):
    """The requested isolation is not available here."""


@dataclass(frozen=True)
class Limits:
    """Per-submission limits. ``timeout`` applies to the notebook's code and again to each test.

    ``max_output_mb`` bounds what one test sends back, ``max_total_output_mb`` what the whole
    submission does (so the grader's memory stays bounded); ``scratch_mb`` and
    ``scratch_files`` bound the private scratch directory (where namespaces are available).
    """

    timeout: float = 20.0
    memory_mb: int = 1024
    file_mb: int = 64
    open_files: int = 256
    processes: int = 64
    max_output_mb: int = 32
    max_total_output_mb: int = 96
    scratch_mb: int = 256
    scratch_files: int = 10_000


@dataclass(frozen=True)
class Isolation:
    """What confines each submission on this machine."""

    level: str
    bubblewrap: str | None = None  # path of bwrap when used
    user_namespace: bool = False
    landlock_abi: int = 0
    uid: int | None = None
    gid: int | None = None
    unshare_net: bool = False
    namespaces: bool = False  # a PID and a mount namespace per submission
    layers: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        return f"level {self.level!r}: " + "; ".join(self.layers)


def _python_paths() -> list[str]:
    """Directories the Python interpreter and its packages live in (read-only in the sandbox)."""
    paths = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        sysconfig.get_paths()["stdlib"],
        sysconfig.get_paths()["platstdlib"],
        *site.getsitepackages(),
    }
    real = {os.path.realpath(p) for p in paths if p and os.path.exists(p)}
    # Keep the outermost directories only.
    kept = []
    for p in sorted(real, key=len):
        if not any(p == k or p.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(p)
    return kept


def read_only_paths() -> list[str]:
    """Everything a child may read: system libraries, Python, its packages, a few /etc files."""
    paths = [p for p in _SYSTEM_DIRS if os.path.exists(p)]
    paths += [p for p in _python_paths() if p not in paths]
    paths += [p for p in _ETC_FILES if os.path.exists(p)]
    paths += [p for p in ("/dev/zero", "/dev/urandom", "/dev/random") if os.path.exists(p)]
    return paths


# What the grader compares with: never readable by a submission. A checkout keeps them out of
# Python's folders; a package installed from a wheel has them in site-packages, where they are
# hidden the way PyTorch's folders are for a NumPy-only exercise.
PACKAGE_SECRETS = tuple(
    Path(__file__).resolve().parents[1] / name for name in ("reference", "data")
)


@functools.cache
def installed_secrets() -> tuple[str, ...]:
    """The package's references and data when they lie in a folder the sandbox shows (the
    package was installed into site-packages); empty for a checkout."""
    shown = [p.rstrip("/") + "/" for p in _python_paths()]
    real = (os.path.realpath(p) for p in PACKAGE_SECRETS)
    return tuple(p for p in real if os.path.isdir(p) and any(p.startswith(s) for s in shown))


@functools.cache
def torch_paths() -> tuple[str, ...]:
    """The folders PyTorch is installed in (its packages and its metadata), found without
    importing it; empty when it is not installed."""
    try:
        dist = importlib.metadata.distribution("torch")
    except importlib.metadata.PackageNotFoundError:
        return ()
    names = (dist.read_text("top_level.txt") or "torch").split()
    found = {os.path.realpath(str(dist.locate_file(name))) for name in names}
    found.add(os.path.realpath(str(dist._path)))  # the .dist-info folder
    return tuple(sorted(p for p in found if os.path.isdir(p)))


def without(paths, hidden) -> list[str]:
    """``paths`` with the folders ``hidden`` cut out: a path above a hidden folder is replaced
    by its entries (recursively), so that a grant on every entry of the result reaches nothing
    below a hidden folder (Landlock can only grant, never deny below a grant)."""
    hidden = [h.rstrip("/") for h in hidden]
    out = []
    for path in paths:
        real = os.path.realpath(path)
        if any(real == h or real.startswith(h + "/") for h in hidden):
            continue
        if not any(h.startswith(real.rstrip("/") + "/") for h in hidden):
            out.append(path)
            continue
        try:
            entries = sorted(os.scandir(real), key=lambda e: e.name)
        except OSError:
            continue
        out += without([e.path for e in entries], hidden)
    return out


@functools.lru_cache(maxsize=8)
def _without(paths: tuple, hidden: tuple) -> list[str]:
    """:func:`without`, computed once per run for all its workers (it lists folders)."""
    return without(paths, hidden)


def _forbidden(paths, protected) -> list[str]:
    """The paths of ``paths`` through which a protected folder (or part of it) would be seen."""
    bad = []
    for p in paths:
        for q in protected:
            if p == q or q.startswith(p.rstrip("/") + "/"):
                bad.append(p)
    return bad


def bwrap_argv(isolation: Isolation, torch: bool = True) -> list[str]:
    """The bubblewrap command line that starts a zygote (without ``torch``: PyTorch's folders
    are empty)."""
    argv = [isolation.bubblewrap, "--die-with-parent", "--new-session"]
    argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    argv += ["--unshare-cgroup-try"]
    if isolation.user_namespace:
        argv += ["--unshare-user"]
    else:
        # Root without a user namespace: keep what the zygote needs to give children their own
        # uid and clean up after them; bubblewrap drops every other capability.
        # SYS_ADMIN: the zygote makes a PID and a mount namespace per submission; the child
        # gives it up with the rest when it takes its unprivileged uid.
        for cap in ("SETUID", "SETGID", "CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SYS_ADMIN"):
            argv += ["--cap-add", f"CAP_{cap}"]
    # bubblewrap creates missing parent folders as 0700, which a child that runs as a worker uid
    # could not traverse: create them 0755 first.
    binds = [
        p for p in _python_paths() if not any(p == s or p.startswith(s + "/") for s in _SYSTEM_DIRS)
    ]
    etc = [p for p in _ETC_FILES if os.path.exists(p)]
    targets = binds + etc + [MOUNT_ROOT + "/child"]
    parents = sorted({str(a) for p in targets for a in Path(p).parents} - {"/"}, key=len)
    # The private /tmp comes first: the binds below may lie under the host's /tmp (a checkout
    # and its .venv in a temporary folder) and must stay visible on top of it.
    argv += ["--size", str(512 << 20), "--tmpfs", "/tmp"]
    for parent in parents:
        argv += ["--perms", "0755", "--dir", parent]
    for p in _SYSTEM_DIRS:
        if os.path.islink(p):
            argv += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            argv += ["--ro-bind", p, p]
    for p in binds:
        argv += ["--ro-bind", p, p]
    for p in etc:
        argv += ["--ro-bind", p, p]
    argv += ["--ro-bind", str(CHILD_DIR), f"{MOUNT_ROOT}/child"]
    if not torch:
        for p in torch_paths():
            argv += ["--tmpfs", p, "--remount-ro", p]
    for p in installed_secrets():
        argv += ["--tmpfs", p, "--remount-ro", p]
    argv += ["--dev", "/dev", "--proc", "/proc"]
    argv += ["--chdir", "/tmp", "--clearenv"]
    for name, value in _worker_env().items():
        argv += ["--setenv", name, value]
    return argv


def _worker_env() -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _bootstrap(root: str) -> list[str]:
    code = f"import sys; sys.path.insert(0, {root!r}); from child.zygote import main; main()"
    return [sys.executable, "-I", "-c", code]


def zygote_command(
    isolation: Isolation, torch: bool = True
) -> tuple[list[str], dict[str, str] | None]:
    """argv and environment of a zygote under ``isolation`` (``torch``: may it use PyTorch)."""
    if isolation.bubblewrap:
        return bwrap_argv(isolation, torch) + ["--"] + _bootstrap(MOUNT_ROOT), None
    if isolation.namespaces:
        # The zygote is the first process of a PID namespace: whatever becomes of it, every
        # process below it dies with it.
        unshare = shutil.which("unshare") or "unshare"
        prefix = [unshare, "--pid", "--fork", "--kill-child", "--"]
        return prefix + _bootstrap(str(CHILD_DIR.parent)), _worker_env()
    return _bootstrap(str(CHILD_DIR.parent)), _worker_env()


def zygote_config(
    isolation: Isolation,
    limits: Limits,
    scratch_root: str,
    uid: int | None = None,
    torch: bool = True,
) -> dict:
    """The first frame a zygote reads: how to confine each child (``uid``: this worker's;
    without ``torch``, PyTorch is neither imported nor readable)."""
    if isolation.uid is None:
        uid = None
    elif uid is None:
        uid = isolation.uid
    read_only = read_only_paths()
    if isolation.bubblewrap:
        read_only.append(f"{MOUNT_ROOT}/child")
    else:
        read_only.append(str(CHILD_DIR))
    hidden = list(installed_secrets()) + ([] if torch else list(torch_paths()))
    return {
        "type": "config",
        "scratch_root": scratch_root,
        "read_only": read_only,
        # What Landlock grants: the read-only paths with PyTorch's folders cut out, and listing
        # (no reading) of the folders they were cut from.
        "landlock_read_only": list(_without(tuple(read_only), tuple(hidden)))
        if hidden
        else read_only,
        "landlock_list_only": sorted({os.path.dirname(h) for h in hidden}),
        "torch": torch,
        "hidden": hidden,
        "read_write": [p for p in ("/dev/null",) if os.path.exists(p)],
        "landlock": isolation.landlock_abi,
        "uid": uid,
        "gid": uid,
        "unshare_net": isolation.unshare_net,
        "namespaces": isolation.namespaces,
        # kill(-1) from a child reaches only its own submission's processes in a PID namespace
        # of its own, when Landlock scopes signals, or when a PID namespace and a uid are the
        # worker's alone.
        "reap_all": isolation.namespaces
        or isolation.landlock_abi >= 6
        or (isolation.bubblewrap is not None and uid is not None),
        "max_frame": limits.max_output_mb << 20,
        "max_test": limits.max_output_mb << 20,
        "max_total": limits.max_total_output_mb << 20,
        "limits": {
            "memory_mb": limits.memory_mb,
            "file_mb": limits.file_mb,
            "open_files": limits.open_files,
            "processes": limits.processes,
            "scratch_mb": limits.scratch_mb,
            "scratch_files": limits.scratch_files,
        },
    }


FIRST_WORKER_UID = 61000  # Debian reserves 60000-64999 for on-demand allocation
LAST_WORKER_UID = 64999
UID_LOCKS = "/run/rnn-course-uids"


class UidLease:
    """Worker uids leased to one run: an ``flock`` per uid in :data:`UID_LOCKS`, held until
    :meth:`release` (or the process's end, however it ends). Concurrent runs on one machine
    never share a uid, so they never share its process limit or its files."""

    def __init__(self, count: int, folder: str = UID_LOCKS, start: int = FIRST_WORKER_UID):
        self.uids: list[int] = []
        self._fds: list[int] = []
        os.makedirs(folder, mode=0o700, exist_ok=True)
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        taken = {entry.pw_uid for entry in pwd.getpwall()}
        try:
            for uid in range(start, LAST_WORKER_UID + 1):
                if len(self.uids) == count:
                    break
                if uid in taken:
                    continue
                fd = os.open(
                    f"{uid}.lock",
                    os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                    dir_fd=folder_fd,
                )
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as err:
                    os.close(fd)
                    if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                        continue
                    raise
                self.uids.append(uid)
                self._fds.append(fd)
        except BaseException:
            self.release()
            raise
        finally:
            os.close(folder_fd)
        if len(self.uids) < count:
            self.release()
            raise SandboxError(
                f"no free worker uid left between {start} and {LAST_WORKER_UID}: too many "
                "grading runs at once on this machine"
            )

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds, self.uids = [], []


def worker_uids(count: int, start: int = FIRST_WORKER_UID) -> list[int]:
    """``count`` uids that no account uses (not leased: see :class:`UidLease`)."""
    taken = {entry.pw_uid for entry in pwd.getpwall()}
    uids, uid = [], start
    while len(uids) < count:
        if uid not in taken:
            uids.append(uid)
        uid += 1
    return uids


def _bwrap_works(bwrap: str, user_namespace: bool) -> bool:
    trial = Isolation("bubblewrap", bubblewrap=bwrap, user_namespace=user_namespace)
    argv = bwrap_argv(trial) + ["--", sys.executable, "-I", "-c", "pass"]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _unshare_net_works() -> bool:
    code = "import ctypes, sys; sys.exit(ctypes.CDLL(None).unshare(0x40000000) != 0)"
    try:
        result = subprocess.run([sys.executable, "-I", "-c", code], timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _namespaces_work() -> bool:
    """Whether this process may make PID and mount namespaces (and mount a tmpfs in them)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    argv = [unshare, "--pid", "--fork", "--kill-child", "--mount", "--"]
    argv += ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", "/tmp"]
    try:
        result = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def probe(level: str = "auto") -> Isolation:
    """The strongest isolation available here, or exactly ``level`` (then fail if unavailable).

    ``level`` is "auto" or one of :data:`LEVELS`; a lower level than the best is only useful to
    test the fallbacks.
    """
    if level not in ("auto", *LEVELS):
        raise SandboxError(f"unknown isolation level {level!r}; choose from auto, {LEVELS}")
    root = os.geteuid() == 0
    abi = landlock.abi_version()
    uid = gid = FIRST_WORKER_UID if root else None
    layers = []
    bwrap = shutil.which("bwrap")
    user_namespace = not root
    use_bwrap = level in ("auto", "bubblewrap") and bwrap is not None
    if use_bwrap and not _bwrap_works(bwrap, user_namespace):
        if root and _bwrap_works(bwrap, True):
            user_namespace, uid, gid = True, None, None
        else:
            use_bwrap = False
    if level == "bubblewrap" and not use_bwrap:
        raise SandboxError("bubblewrap was asked for but `bwrap` is missing or does not work here")
    if use_bwrap:
        layers.append(
            "bubblewrap: private mount view (system, Python and grader code read-only, private "
            "/tmp; no course files, no solutions, no references, no output folder), private "
            "PID, network, IPC and UTS namespaces" + (", user namespace" if user_namespace else "")
        )
    use_landlock = level in ("auto", "bubblewrap", "landlock") and abi > 0
    if level == "landlock" and not use_landlock:
        raise SandboxError("Landlock was asked for but the kernel does not offer it")
    if use_landlock:
        extras = []
        if abi >= 4:
            extras.append("no TCP")
        if abi >= 6:
            extras.append("no signals or abstract sockets outside the submission")
        layers.append(
            f"Landlock ABI {abi}: read-only system and Python paths, read-write scratch only"
            + (f", {', '.join(extras)}" if extras else "")
        )
    else:
        abi = 0
    unshare_net = False
    if not use_bwrap and root and level != "rlimits" and _unshare_net_works():
        unshare_net = True
        layers.append("network namespace per submission (unshare)")
    # bubblewrap as root keeps CAP_SYS_ADMIN for the zygote; in a user namespace it has it too.
    namespaces = (use_bwrap or root) and level != "rlimits" and _namespaces_work()
    if namespaces:
        layers.append(
            "a PID namespace per submission (every process it starts is killed with it) and a "
            "mount namespace with a private tmpfs scratch limited in bytes and files"
        )
    if uid is not None:
        layers.append(
            "an unprivileged uid of its own per worker, leased for the run, with a "
            "process-count limit"
        )
    layers.append(
        "rlimits: CPU time, address space, file size, open files, no core dumps; wall-clock "
        "limits, scrubbed environment, scratch working directory"
    )
    chosen = "bubblewrap" if use_bwrap else "landlock" if use_landlock else "rlimits"
    return Isolation(
        level=chosen,
        bubblewrap=bwrap if use_bwrap else None,
        user_namespace=user_namespace if use_bwrap else False,
        landlock_abi=abi,
        uid=uid,
        gid=gid,
        unshare_net=unshare_net,
        namespaces=namespaces,
        layers=tuple(layers),
    )


def scratch_root(isolation: Isolation) -> tuple[str, str | None]:
    """Where children's scratch directories go, and a host folder to remove afterwards."""
    if isolation.bubblewrap:
        return SANDBOX_SCRATCH, None
    host = tempfile.mkdtemp(prefix="rnn-grading-")
    if isolation.uid is not None:
        os.chmod(host, 0o711)
    return host, host


def check_view(isolation: Isolation, protected) -> None:
    """Refuse to start if the sandbox would show a protected folder (solutions, output...)."""
    if not isolation.bubblewrap and not isolation.landlock_abi:
        return
    visible = without(read_only_paths() + [str(CHILD_DIR)], installed_secrets())
    bad = _forbidden(visible, [os.path.realpath(p) for p in protected])
    if bad:
        raise SandboxError(
            "the sandbox would expose protected folders through "
            + ", ".join(sorted(set(bad)))
            + "; install the grader's Python outside the course and output folders"
        )
