"""Output files that survive a crash: atomic writes, and one run at a time per output folder.

Every file the grader writes goes through :func:`write_atomic`: the bytes go to a temporary file
in the same folder, are flushed to disk, and the temporary file is renamed over the target, so a
reader (or a run killed halfway) sees the old file or the new one, never half of one.

:class:`OutputLock` holds an ``fcntl`` lock on ``OUT/.lock`` for the length of a run. The kernel
drops the lock when the process ends, however it ends (even ``kill -9``), so a stale lock never
needs cleaning up; a second run on the same folder meanwhile refuses with :class:`Busy`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
from pathlib import Path

TEMP_SUFFIX = ".partial"
LOCK_NAME = ".lock"


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Deferred:
    """The files written durably inside :func:`deferred_sync`, fsynced when it ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.paths: dict[Path, None] = {}

    def take(self, path: Path) -> bool:
        """Whether ``path``'s fsync is left to the end of the enclosing block (noted if so)."""
        with self.lock:
            if self.depth:
                self.paths[path] = None
            return bool(self.depth)


_deferred = _Deferred()


@contextlib.contextmanager
def deferred_sync():
    """Within the block, :func:`write_atomic` still replaces each file atomically, but flushes
    it to disk at the end of the block, all together, rather than file by file.

    A grading run writes several files per notebook. Flushed one by one, each fsync waits for
    its own journal commit; at the end, the first commit carries them all and the others find
    nothing left to write. What a run killed in the meantime wrote is in the page cache and
    survives it; only a crash of the machine itself can lose it, and then a resumed run finds
    those results missing (or unreadable) and grades the notebooks again.
    """
    with _deferred.lock:
        _deferred.depth += 1
    try:
        yield
    finally:
        with _deferred.lock:
            _deferred.depth -= 1
            paths = list(_deferred.paths) if not _deferred.depth else []
            if not _deferred.depth:
                _deferred.paths.clear()
        folders = {}
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue  # replaced or removed since: its successor was noted too
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            folders[path.parent] = None
        for folder in folders:
            fsync_dir(folder)


def write_atomic(path: Path, data: bytes | str, *, durable: bool = True) -> Path:
    """Replace ``path`` with ``data`` in one step (temporary file, fsync, ``os.replace``);
    inside :func:`deferred_sync`, the fsync waits for the end of the block."""
    path = Path(path)
    if durable and _deferred.take(path):
        durable = False
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def remove_temporaries(root: Path) -> int:
    """Delete the temporary files a killed run left under ``root``; how many there were."""
    count = 0
    if not Path(root).is_dir():
        return 0
    for folder, _, names in os.walk(root):
        for name in names:
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                try:
                    os.unlink(os.path.join(folder, name))
                    count += 1
                except FileNotFoundError:
                    pass
    return count


class Busy(Exception):
    """Another process is writing to the same output folder."""


_held: dict[str, list] = {}  # lock path -> [fd, depth]: the lock is re-entrant in one process
_held_guard = threading.Lock()


class OutputLock:
    """``with OutputLock(out):`` -- exclusive use of ``out`` for this process, or :class:`Busy`.

    Re-entrant within a process (the ``grade`` command takes it before unpacking a zip, and the
    engine takes it again), exclusive between processes.
    """

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out / LOCK_NAME

    def __enter__(self) -> OutputLock:
        self.out.mkdir(parents=True, exist_ok=True)
        key = str(self.path.resolve())
        with _held_guard:
            if key in _held:
                _held[key][1] += 1
                return self
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                os.close(fd)
                who = f" (process {owner})" if owner else ""
                raise Busy(
                    f"another grading run{who} is writing to {self.out}; wait for it to finish, "
                    "or pass another --out"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _held[key] = [fd, 1]
        return self

    def __exit__(self, *exc) -> None:
        key = str(self.path.resolve())
        with _held_guard:
            entry = _held.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                os.close(entry[0])  # closing the descriptor releases the lock


def _read_owner(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return ""
