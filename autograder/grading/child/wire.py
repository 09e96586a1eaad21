"""Messages between the grader and its sandbox: a JSON header plus ``.npy`` blobs, never pickle.

A frame is ``MAGIC | header length (uint32) | blobs length (uint64) | header | blobs``, the
header a JSON object whose ``"blobs"`` entry lists the byte length of each blob. Values travel
as JSON trees in which arrays are replaced by ``{"$a": index, "t": type name}`` and the blobs hold
the arrays in NumPy's ``.npy`` format, read back with ``allow_pickle=False`` and only after the
header's shape and dtype have been checked against the blob's actual size.

The same code runs on both sides, so both directions are written here:

* the parent sends inputs: arrays, scalars, strings, lists, tuples, dicts, and two tokens that
  the child turns into objects (:class:`Rng`, a seeded NumPy generator, and :class:`Fn`, one of
  the fixed test functions of :mod:`.probes`);
* the child sends outputs: whatever the student's code returned, as data only. Arrays come back
  as :class:`Returned` (with the type the student used, e.g. ``torch.Tensor``), and anything that
  is not data (a custom object, a function) as :class:`Opaque`, which carries only a type name.
  Nothing of the student's objects survives the trip, so no ``__eq__`` or ``__array__`` of theirs
  ever runs in the parent.

The protocol
------------
parent -> zygote (stdin): one ``config`` frame, then ``job`` frames, one at a time.

zygote -> parent (stdout): ``ready`` once, then for each job the child's frames, each wrapped as
``{"type": "child", "inner": <child frame>}`` with its blobs, and one ``done`` frame that ends
the job: ``{"type": "done", "status": S, "detail": text, "signal"|"code": ...}`` where S is
``exited`` (the child ended), ``timeout`` (the job's deadline passed), ``violation`` (the child
broke the protocol below: the job's results are void), ``unconfined`` (the sandbox could not be
set up, reported by the zygote's own handshake pipe, never by a frame) or ``grader_error``.

child -> zygote (the child's fd 3), checked by :class:`Expect` in the zygote and again in the
parent, in exactly this order::

    program                    {"type": "program", "errors": [error, ...]}
    for each test i in order:
        case (0, 1, ... n_i-1)  {"type": "case", "test": i, "case": k, "seconds": s,
                                 then "result" [+ "args_after"] | "error" | "missing": true}
        test_end                {"type": "test_end", "test": i, "status": one of TEST_STATUSES,
                                 "detail": text}

``internal`` (``{"type": "internal", "message": text}``) may come at any point and ends the
stream. Anything else -- an unknown type, a frame out of order or repeated, a malformed header,
a frame over its size limit, more bytes than the test's or the submission's budget, a frame
after the end, or the channel closed while the child still runs -- is a violation: the zygote
kills the submission, reports ``violation``, and the parent discards that worker. Nothing in a
child frame moves a deadline: the zygote and the parent time each job from its start.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import sys
import time

# The learner's code runs in this process and may replace builtins; the grader's side keeps
# its own references, taken before any of that code runs.
from builtins import (  # noqa: UP029 - see the comment above
    EOFError,
    Exception,
    OSError,
    RecursionError,
    SyntaxError,
    TypeError,
    ValueError,
    all,
    bool,
    bytearray,
    bytes,
    dict,
    float,
    getattr,
    int,
    isinstance,
    issubclass,
    len,
    list,
    max,
    memoryview,
    min,
    object,
    repr,
    sorted,
    str,
    sum,
    tuple,
    type,
)
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

MAGIC = b"RNNg"
_PREFIX = struct.Struct(">4sIQ")
MAX_HEADER = 8 << 20
MAX_DEPTH = 12
MAX_ITEMS = 100_000
MAX_STRING = 10_000
# Data only: booleans, integers, floats and complex numbers. Never objects, strings or raw bytes.
DATA_KINDS = "biufc"


class FrameError(Exception):
    """A frame was malformed, too large, or cut short."""


class FrameTimeout(Exception):
    """No complete frame arrived before the deadline."""


class Rng(NamedTuple):
    """Parent -> child: becomes ``np.random.default_rng(seed)`` in the child."""

    seed: int


class Fn(NamedTuple):
    """Parent -> child: becomes ``probes.FUNCTIONS[name](*params)``, a function of one array."""

    name: str
    params: tuple


# Not tuples (a NamedTuple would pass for a student's tuple in the parent's checks).
@dataclass(frozen=True, eq=False)
class Returned:
    """Child -> parent: an array-like value and the type the student's code returned it as."""

    type: str
    array: np.ndarray


@dataclass(frozen=True)
class Opaque:
    """Child -> parent: a value that is not data; only the name of its type comes back."""

    type: str


# --------------------------------------------------------------------------------------------
# Frames


def pack(header: dict, blobs=()) -> bytes:
    blobs = [bytes(b) for b in blobs]
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode()
    return _PREFIX.pack(MAGIC, len(head), sum(len(b) for b in blobs)) + head + b"".join(blobs)


def write_frame(fd: int, header: dict, blobs=()) -> None:
    data = memoryview(pack(header, blobs))
    while data:
        written = os.write(fd, data)
        data = data[written:]


class FrameReader:
    """Reads whole frames from a file descriptor, with a size limit and an optional deadline."""

    def __init__(self, fd: int, max_bytes: int):
        self.fd = fd
        self.max_bytes = max_bytes
        self.last_size = 0
        self._buffer = bytearray()

    def _fill(self, n: int, deadline: float | None) -> bool:
        """Buffer at least ``n`` bytes; False on end of file."""
        while len(self._buffer) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FrameTimeout
                ready, _, _ = select.select([self.fd], [], [], left)
                if not ready:
                    raise FrameTimeout
            chunk = os.read(self.fd, max(65536, n - len(self._buffer)))
            if not chunk:
                return False
            self._buffer += chunk
        return True

    def read(self, deadline: float | None = None):
        """The next ``(header, blobs)``, or None at a clean end of file."""
        if not self._fill(_PREFIX.size, deadline):
            if self._buffer:
                raise FrameError("the stream ended in the middle of a frame")
            return None
        magic, head_len, blobs_len = _PREFIX.unpack(bytes(self._buffer[: _PREFIX.size]))
        if magic != MAGIC:
            raise FrameError("not a frame (bad magic bytes)")
        if head_len > MAX_HEADER or head_len + blobs_len > self.max_bytes:
            raise FrameError(f"a frame of {head_len + blobs_len} bytes is over the limit")
        total = _PREFIX.size + head_len + blobs_len
        if not self._fill(total, deadline):
            raise FrameError("the stream ended in the middle of a frame")
        frame = bytes(self._buffer[:total])
        del self._buffer[:total]
        self.last_size = total
        try:
            header = json.loads(frame[_PREFIX.size : _PREFIX.size + head_len])
        except (ValueError, RecursionError) as err:
            raise FrameError(f"the frame header is not JSON ({err})") from None
        sizes = header.get("blobs") if isinstance(header, dict) else None
        if (
            not isinstance(sizes, list)
            or not all(type(s) is int and s >= 0 for s in sizes)
            or sum(sizes) != blobs_len
        ):
            raise FrameError("the frame header does not describe its blobs")
        blobs, at = [], _PREFIX.size + head_len
        for size in sizes:
            blobs.append(frame[at : at + size])
            at += size
        return header, blobs


# "after_timeout": not run, because a function it calls timed out in an earlier test.
TEST_STATUSES = frozenset(
    {"ok", "timeout", "cpu", "killed", "signal", "exit", "garbled", "after_timeout"}
)
SMALL_FRAME = 1 << 20  # program, test_end and internal frames carry text only
_CASE_KEYS = frozenset(
    {"type", "test", "case", "seconds", "result", "args_after", "error", "missing", "blobs"}
)


class Expect:
    """The order and sizes a child's frames must keep (see "The protocol" above).

    ``cases`` is the number of cases of each test; ``max_test`` bounds the bytes of one test's
    case frames and ``max_total`` those of the whole submission. :meth:`limit` is the largest
    frame that may come next (give it to the reader before it reads the frame's body), and
    :meth:`check` raises :class:`FrameError` at the first frame that breaks the protocol.
    """

    def __init__(self, cases, max_test: int, max_total: int):
        self.cases = [int(n) for n in cases]
        self.max_test = int(max_test)
        self.max_total = int(max_total)
        self.test = -1  # -1: the program frame comes next
        self.case = 0
        self.spent_test = 0
        self.spent_total = 0
        self.finished = False

    def limit(self) -> int:
        if self.finished:
            return SMALL_FRAME  # read, then refused by check()
        room = min(self.max_test - self.spent_test, self.max_total - self.spent_total)
        return max(room, SMALL_FRAME)

    def check(self, header, blob_sizes, size: int) -> str:
        """The frame's type, once it is known to be the one expected here."""
        if self.finished:
            raise FrameError("a frame came after the end of the results")
        if type(header) is not dict:
            raise FrameError("a frame header is not an object")
        kind = header.get("type")
        if kind != "case" and (blob_sizes or size > SMALL_FRAME):
            raise FrameError(f"a {kind!r} frame of {size} bytes is too large")
        if kind == "internal":
            if type(header.get("message")) is not str:
                raise FrameError("an internal frame without a message")
            self.finished = True
        elif kind == "program":
            if self.test != -1:
                raise FrameError("a second program frame")
            errors = header.get("errors")
            if type(errors) is not list or len(errors) > 10_000:
                raise FrameError("a program frame without a list of errors")
            self._next_test(0)
        elif kind == "case":
            self._check_case(header, blob_sizes, size)
        elif kind == "test_end":
            if self.test < 0 or header.get("test") != self.test or type(header["test"]) is not int:
                raise FrameError(f"a test_end frame for test {header.get('test')!r} out of order")
            if header.get("status") not in TEST_STATUSES or type(header.get("detail")) is not str:
                raise FrameError("a test_end frame with a bad status or detail")
            self._next_test(self.test + 1)
        else:
            raise FrameError(f"unexpected frame type {str(kind)[:40]!r}")
        return kind

    def _next_test(self, index: int) -> None:
        self.test, self.case, self.spent_test = index, 0, 0
        if index >= len(self.cases):
            self.finished = True

    def _check_case(self, header: dict, blob_sizes, size: int) -> None:
        test, case = header.get("test"), header.get("case")
        if self.test < 0 or type(test) is not int or test != self.test:
            raise FrameError(f"a case frame for test {test!r} out of order")
        if type(case) is not int or case != self.case or case >= self.cases[test]:
            raise FrameError(f"a case frame for case {case!r} of test {test} out of order")
        if not set(header) <= _CASE_KEYS:
            raise FrameError("a case frame with unknown fields")
        seconds = header.get("seconds", 0)
        if type(seconds) not in (int, float) or not 0 <= seconds < 1e6:
            raise FrameError("a case frame with an impossible duration")
        outcomes = [key in header for key in ("result", "error", "missing")]
        if sum(outcomes) != 1 or ("args_after" in header and "result" not in header):
            raise FrameError("a case frame must hold one of result, error or missing")
        if blob_sizes and "result" not in header:
            raise FrameError("a case frame carries arrays but no result")
        self.spent_test += size
        self.spent_total += size
        if self.spent_test > self.max_test or self.spent_total > self.max_total:
            raise FrameError(
                f"the results are over the limit ({self.spent_test} bytes for this test, "
                f"{self.spent_total} in all)"
            )
        self.case += 1


class ChildStream:
    """Frames from a child process, ending when the child has exited and its frames are read.

    End of file alone is not enough: a process the child left behind may hold the other end of
    the pipe open, so the child's exit is polled as well. End of file while the child still runs
    (it closed or replaced its end of the channel) is a :class:`FrameError` once ``GRACE``
    seconds have passed without the child exiting.
    """

    POLL = 0.2
    GRACE = 2.0

    def __init__(self, fd: int, pid: int, max_bytes: int):
        self.reader = FrameReader(fd, max_bytes)
        self.pid = pid
        self.wait_status: int | None = None
        self._eof_at: float | None = None
        self._pidfd: int | None = None

    def _reap(self) -> bool:
        if self.wait_status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                return False
            self.wait_status = status
        return True

    def _wait_exit(self, seconds: float) -> None:
        """Sleep until the child exits or ``seconds`` pass (at once on exit, with a pidfd)."""
        seconds = max(0.0, seconds)
        if self._pidfd is None:
            try:
                self._pidfd = os.pidfd_open(self.pid)
            except (AttributeError, OSError):
                self._pidfd = -1
        if self._pidfd >= 0:
            select.select([self._pidfd], [], [], seconds)
        else:
            time.sleep(min(0.02, seconds))

    def close(self) -> None:
        if self._pidfd is not None and self._pidfd >= 0:
            os.close(self._pidfd)
        self._pidfd = None

    def next(self, deadline: float):
        """The next frame, or None once the child is gone; FrameTimeout after ``deadline``."""
        while True:
            exited = self._reap()
            now = time.monotonic()
            if now >= deadline:
                raise FrameTimeout
            if self._eof_at is not None:
                if exited:
                    return None
                if now - self._eof_at > self.GRACE:
                    raise FrameError("the process closed its results channel and kept running")
                self._wait_exit(min(deadline, self._eof_at + self.GRACE + 0.01) - now)
                continue
            wait = min(deadline, now + self.POLL)
            try:
                frame = self.reader.read(wait)
            except FrameTimeout:
                if exited:
                    return None
                continue
            if frame is None:
                self._eof_at = time.monotonic()
                continue
            return frame

    def finish(self) -> int:
        """Wait for the child (after killing it, if need be) and return its wait status."""
        if self.wait_status is None:
            _, self.wait_status = os.waitpid(self.pid, 0)
        self.close()
        return self.wait_status


# --------------------------------------------------------------------------------------------
# Values


def array_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def array_from_bytes(blob: bytes) -> np.ndarray:
    """The array in ``blob``, refused unless its header describes exactly the bytes that follow.

    NumPy's own reader allocates the array the header announces before reading its data, so a
    ten-byte blob claiming 2**40 entries would ask for terabytes: the header is read and checked
    here, and the data is copied out of the blob itself.
    """
    stream = io.BytesIO(blob)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, TypeError, SyntaxError, OverflowError) as err:
        raise FrameError(f"an array could not be read ({err})") from None
    if dtype.kind not in DATA_KINDS or dtype.fields is not None or dtype.hasobject:
        raise FrameError(f"an array of dtype {dtype} is not data")
    if not all(type(n) is int and 0 <= n < 2**63 for n in shape) or len(shape) > 32:
        raise FrameError("an array has an impossible shape")
    count = math.prod(shape)
    offset = stream.tell()
    if count * dtype.itemsize != len(blob) - offset:
        raise FrameError(
            f"an array's header announces {count} values of {dtype.itemsize} bytes but "
            f"{len(blob) - offset} bytes follow"
        )
    flat = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
    return np.array(flat.reshape(shape, order="F" if fortran else "C"), copy=True)


def _type_name(obj) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", "?")
    return name if module == "builtins" else f"{module}.{name}"


def _as_data_array(obj) -> np.ndarray | None:
    """A plain ndarray copy of an ndarray, NumPy scalar or torch tensor; None for anything else.

    Subclasses are copied into a base ndarray (``subok=False``), so none of their methods
    travel on; object, string and structured dtypes are refused.
    """
    cls = type(obj)
    torch = sys.modules.get("torch")
    # Where PyTorch is hidden, "torch" may be an empty namespace package: no Tensor in it.
    tensor = getattr(torch, "Tensor", None) if torch is not None else None
    if isinstance(tensor, type) and issubclass(cls, tensor):
        t = obj.detach().cpu()
        if t.is_complex():
            t = t.resolve_conj()
        if t.dtype == torch.bfloat16 or t.dtype == torch.float16:
            t = t.float()
        arr = np.array(t.numpy(), copy=True)
    elif issubclass(cls, (np.ndarray, np.generic)):
        arr = np.array(obj, copy=True, subok=False)
    else:
        return None
    if arr.dtype.kind not in DATA_KINDS or arr.dtype.fields is not None:
        return None
    return arr


class _Budget:
    def __init__(self):
        self.items = 0

    def spend(self):
        self.items += 1
        if self.items > MAX_ITEMS:
            raise ValueError(f"more than {MAX_ITEMS} values")


def dump(value, blobs: list, _depth: int = 0, _budget: _Budget | None = None):
    """The JSON tree of ``value``; arrays are appended to ``blobs`` as ``.npy`` bytes."""
    budget = _budget or _Budget()
    budget.spend()
    if _depth > MAX_DEPTH:
        return {"$o": "a structure nested too deeply"}
    cls = type(value)
    if value is None or cls is bool or cls is str and len(value) <= MAX_STRING:
        return value
    if cls is str:
        return value[:MAX_STRING]
    if cls is int:
        return value if -(2**63) <= value < 2**63 else {"$o": "int (too large)"}
    if cls is float:
        return value if math.isfinite(value) else {"$f": repr(value)}
    if cls is Rng:
        return {"$rng": int(value.seed)}
    if cls is Fn:
        return {"$fn": str(value.name), "p": dump(tuple(value.params), blobs, _depth + 1, budget)}
    arr = _as_data_array(value)
    if arr is not None:
        blobs.append(array_bytes(arr))
        return {"$a": len(blobs) - 1, "t": _type_name(value)}
    if cls in (list, tuple):
        items = [dump(v, blobs, _depth + 1, budget) for v in value]
        return items if cls is list else {"$t": items}
    if cls is dict:
        pairs = []
        for k, v in value.items():
            key = k if type(k) in (str, int) else {"$o": _type_name(k)}
            pairs.append([key, dump(v, blobs, _depth + 1, budget)])
        return {"$d": pairs}
    return {"$o": _type_name(value)}


def load(node, blobs: list, *, tagged: bool, functions=None, _depth: int = 0):
    """The value of a tree made by :func:`dump`.

    ``tagged`` (the parent reading outputs): arrays become :class:`Returned` and unknown objects
    :class:`Opaque`. Otherwise (the child reading inputs): arrays become writable ndarrays,
    ``Rng`` a generator and ``Fn`` the function built by ``functions[name](*params)``.
    """
    if _depth > MAX_DEPTH + 1:
        raise FrameError("a value is nested too deeply")
    if node is None or type(node) in (bool, int, float, str):
        return node
    if type(node) is list:
        return [load(v, blobs, tagged=tagged, functions=functions, _depth=_depth + 1) for v in node]
    if type(node) is not dict or len(node) == 0:
        raise FrameError(f"unexpected value node {type(node).__name__}")
    if "$a" in node:
        index = node["$a"]
        if type(index) is not int or not 0 <= index < len(blobs):
            raise FrameError("an array refers to a blob that does not exist")
        arr = array_from_bytes(blobs[index])
        if tagged:
            return Returned(str(node.get("t", "numpy.ndarray"))[:200], arr)
        return np.array(arr, copy=True)
    if "$t" in node:
        if type(node["$t"]) is not list:
            raise FrameError("a tuple node must hold a list")
        return tuple(load(node["$t"], blobs, tagged=tagged, functions=functions, _depth=_depth))
    if "$d" in node:
        pairs = node["$d"]
        if type(pairs) is not list or not all(type(p) is list and len(p) == 2 for p in pairs):
            raise FrameError("a dict node must hold [key, value] pairs")
        out = {}
        for key, value in pairs:
            if type(key) not in (str, int):
                key = Opaque(str(key.get("$o", "?")) if type(key) is dict else "?")
            out[key] = load(value, blobs, tagged=tagged, functions=functions, _depth=_depth + 1)
        return out
    if "$f" in node:
        text = node["$f"]
        if text not in ("nan", "inf", "-inf"):
            raise FrameError(f"bad special float {text!r}")
        return float(text)
    if "$o" in node:
        return Opaque(str(node["$o"])[:200])
    if "$rng" in node and not tagged:
        return np.random.default_rng(int(node["$rng"]))
    if "$fn" in node and not tagged and functions is not None:
        params = load(node["p"], blobs, tagged=False, functions=functions, _depth=_depth + 1)
        return functions[node["$fn"]](*params)
    raise FrameError(f"unknown value node with keys {sorted(node)[:5]}")


def encode(value) -> tuple[object, list[bytes]]:
    """``value`` as a JSON tree and its blobs."""
    blobs: list[bytes] = []
    return dump(value, blobs), blobs
