"""Landlock (Linux >= 5.13) through raw system calls: an allow-list of paths for this process.

After :func:`enforce`, the process (and everything it forks) can read only below the
read-only paths, write only below the read-write ones, cannot bind or connect TCP sockets
(ABI >= 4), and cannot signal or reach abstract UNIX sockets of processes outside its own
Landlock domain (ABI >= 6): a submission cannot kill or talk to the grader's processes even
when it runs under the same uid. The restriction cannot be undone. Folders given as
``list_only`` may be listed, with everything below them, but no file below them is readable
unless another rule allows it.
"""

from __future__ import annotations

import ctypes
import os
import struct

# The same numbers on every architecture (the unified system call table).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
_READ = EXECUTE | READ_FILE | READ_DIR


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    try:
        libc = _libc()
    except OSError:
        return 0
    version = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def ruleset(read_only, read_write, *, abi: int, list_only=()) -> int:
    """A Landlock ruleset allowing exactly these paths; returns its file descriptor.

    Built while the process may still open every path (before it drops its uid); paths that do
    not exist are skipped. Raises OSError if the kernel refuses, so that a caller that asked for
    Landlock never runs unconfined by accident.
    """
    libc = _libc()
    handled_fs = _fs_rights(abi)
    if abi >= 6:
        attr = struct.pack(
            "=QQQ",
            handled_fs,
            NET_BIND_TCP | NET_CONNECT_TCP,
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL,
        )
    elif abi >= 4:
        attr = struct.pack("=QQ", handled_fs, NET_BIND_TCP | NET_CONNECT_TCP)
    else:
        attr = struct.pack("=Q", handled_fs)
    buf = ctypes.create_string_buffer(attr, len(attr))
    fd = libc.syscall(_SYS_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)), 0)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        for paths, rights in ((read_only, _READ), (read_write, handled_fs), (list_only, READ_DIR)):
            for path in paths:
                _allow(libc, fd, path, rights & handled_fs)
    except BaseException:
        os.close(fd)
        raise
    return fd


def enforce(ruleset_fd: int) -> None:
    """Restrict this process (and its future children) to the ruleset, for good."""
    libc = _libc()
    try:
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")
        if libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset_fd), 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(ruleset_fd)


def _allow(libc, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        attr = struct.pack("=Qi", rights, fd)
        buf = ctypes.create_string_buffer(attr, len(attr))
        if libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), _RULE_PATH_BENEATH, buf, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
    finally:
        os.close(fd)
