"""Messages between the grader and its sandbox: a JSON header plus ``.npy`` blobs, never pickle.

A frame is ``MAGIC | header length (uint32) | blobs length (uint64) | header | blobs``, the
header a JSON object whose ``"blobs"`` entry lists the byte length of each blob. Values travel
as JSON trees in which arrays are replaced by ``{"$a": index, "t": type name}`` and the blobs hold
the arrays in NumPy's ``.npy`` format, read back with ``allow_pickle=False``.

The same code runs on both sides, so both directions are written here:

* the parent sends inputs: arrays, scalars, strings, lists, tuples, dicts, and two tokens that
  the child turns into objects (:class:`Rng`, a seeded NumPy generator, and :class:`Fn`, one of
  the fixed test functions of :mod:`.probes`);
* the child sends outputs: whatever the student's code returned, as data only. Arrays come back
  as :class:`Returned` (with the type the student used, e.g. ``torch.Tensor``), and anything that
  is not data (a custom object, a function) as :class:`Opaque`, which carries only a type name.
  Nothing of the student's objects survives the trip, so no ``__eq__`` or ``__array__`` of theirs
  ever runs in the parent.
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


class ChildStream:
    """Frames from a child process, ending when the child has exited and its frames are read.

    End of file alone is not enough: a process the child left behind may hold the other end of
    the pipe open, so the child's exit is polled as well.
    """

    POLL = 0.2

    def __init__(self, fd: int, pid: int, max_bytes: int):
        self.reader = FrameReader(fd, max_bytes)
        self.pid = pid
        self.wait_status: int | None = None

    def _reap(self) -> bool:
        if self.wait_status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                return False
            self.wait_status = status
        return True

    def next(self, deadline: float):
        """The next frame, or None once the child is gone; FrameTimeout after ``deadline``."""
        while True:
            exited = self._reap()
            now = time.monotonic()
            if now >= deadline:
                raise FrameTimeout
            wait = min(deadline, now + self.POLL) if not exited else now + self.POLL
            try:
                return self.reader.read(wait)
            except FrameTimeout:
                if exited:
                    return None
                continue

    def finish(self) -> int:
        """Wait for the child (after killing it, if need be) and return its wait status."""
        if self.wait_status is None:
            _, self.wait_status = os.waitpid(self.pid, 0)
        return self.wait_status


# --------------------------------------------------------------------------------------------
# Values


def array_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


def array_from_bytes(blob: bytes) -> np.ndarray:
    try:
        arr = np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError, SyntaxError) as err:
        raise FrameError(f"an array could not be read ({err})") from None
    if arr.dtype.kind not in DATA_KINDS or arr.dtype.fields is not None:
        raise FrameError(f"an array of dtype {arr.dtype} is not data")
    return arr


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
    if torch is not None and issubclass(cls, torch.Tensor):
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
