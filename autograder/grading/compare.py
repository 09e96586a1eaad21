"""Compare: one returned value against one expected value, in words a learner understands.

Pure functions on data. A value received from the sandbox is one of the plain forms of
:mod:`.child.wire` (``Returned`` arrays with the type the student used, Python scalars, strings,
containers, ``Opaque`` placeholders for anything else), so nothing here ever runs student code.
Checks go from the coarsest to the finest: present, type, dtype kind, shape, finite, values;
the first that fails is the one reported, since the finer ones mean little after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .child.wire import Opaque, Returned
from .spec import Array, ListOf, Scalar, Tolerance

NUMPY_ARRAY = "numpy.ndarray"


@dataclass(frozen=True)
class Finding:
    """The result of one comparison; ``message`` is empty when ``ok``."""

    ok: bool
    problem: str | None = None  # missing, type, dtype, shape, nonfinite, values, structure
    message: str = ""
    error: float = 0.0


class StructureError(Exception):
    """The returned value is not laid out as declared (not a tuple, wrong length...)."""


# --------------------------------------------------------------------------------------------
# Describing values


def describe(got) -> str:
    """A short noun phrase for a received value: "a torch.Tensor", "None", "a list of 3 items"."""
    if got is None:
        return "None"
    if isinstance(got, Returned):
        if got.type.startswith("numpy.") and got.type != NUMPY_ARRAY:
            return f"a NumPy scalar ({got.type.split('.', 1)[1]})"
        shape = f" of shape {tuple(got.array.shape)}" if got.array.ndim else ""
        return f"{_article(got.type)} {got.type}{shape}"
    if isinstance(got, Opaque):
        return f"{_article(got.type)} {got.type} object"
    if isinstance(got, (list, tuple)):
        return f"a {type(got).__name__} of {len(got)} item{'s' if len(got) != 1 else ''}"
    if isinstance(got, dict):
        return f"a dict with keys {', '.join(map(str, list(got)[:6]))}"
    return f"{_article(type(got).__name__)} {type(got).__name__}"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def shape_text(shape, axes=()) -> str:
    shape = tuple(int(s) for s in shape)
    if axes and len(axes) == len(shape):
        names = ", ".join(axes) + ("," if len(axes) == 1 else "")
        return f"({names}) = {shape}"
    return str(shape)


def index_text(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def number_text(x: float) -> str:
    return f"{x:.4g}"


def as_array(got) -> np.ndarray | None:
    """The numbers in a received value, whatever container they came in; None if not numbers."""
    if isinstance(got, Returned):
        return got.array
    if isinstance(got, bool | int | float):
        return np.asarray(got)
    if isinstance(got, (list, tuple)) and len(got) <= 100_000:
        items = [as_array(g) for g in got]
        if items and all(i is not None for i in items):
            try:
                return np.array(items)
            except ValueError:
                return None
    return None


# --------------------------------------------------------------------------------------------
# Comparing numbers


def largest_error(got: np.ndarray, expected: np.ndarray) -> tuple[float, tuple]:
    """The largest absolute difference and where it is (NaN counts as infinitely far)."""
    diff = np.abs(got.astype(np.complex128 if got.dtype.kind == "c" else np.float64) - expected)
    diff = np.where(np.isnan(diff), np.inf, diff)
    if diff.size == 0:
        return 0.0, ()
    flat = int(np.argmax(diff))
    return float(diff.flat[flat]), tuple(int(i) for i in np.unravel_index(flat, diff.shape))


def within(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> bool:
    """Same shape and ``max|got - expected| <= atol + rtol * max|expected|``."""
    if got.shape != expected.shape:
        return False
    if got.size == 0:
        return True
    err, _ = largest_error(got, expected)
    scale = float(np.max(np.abs(expected))) if np.all(np.isfinite(expected)) else np.inf
    return err <= tol.atol + tol.rtol * scale


def _ranges(indices) -> str:
    """[0, 1, 2, 5] -> "0..2, 5"."""
    parts, start, prev = [], None, None
    for i in list(indices) + [None]:
        if start is not None and (i is None or i != prev + 1):
            parts.append(f"{start}..{prev}" if prev > start else f"{start}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ", ".join(parts)


def where_wrong(bad: np.ndarray, axes) -> str:
    """Which steps along the time axis are wrong, when only some are ("wrong at t = 2..4")."""
    if not axes or len(axes) != bad.ndim or "T" not in axes or bad.ndim < 2:
        return ""
    axis = axes.index("T")
    other = tuple(a for a in range(bad.ndim) if a != axis)
    wrong = np.flatnonzero(bad.any(axis=other))
    if 0 < len(wrong) < bad.shape[axis]:
        right = np.setdiff1d(np.arange(bad.shape[axis]), wrong)
        return f"wrong at time steps t = {_ranges(wrong)}, right at t = {_ranges(right)}"
    return ""


def _axes_order(got_shape, expected_shape, axes) -> str:
    """When the shape is a permutation of the expected one, name the order it looks like."""
    if (
        not axes
        or len(axes) != len(expected_shape)
        or sorted(got_shape) != sorted(expected_shape)
        or len(set(expected_shape)) != len(expected_shape)
    ):
        return ""
    size_to_axis = dict(zip(expected_shape, axes, strict=True))
    order = ", ".join(size_to_axis[s] for s in got_shape)
    return f"; your axes look like ({order}): put them in the order ({', '.join(axes)})"


def compare_array(leaf: Array, got, expected, tol: Tolerance) -> Finding:
    """Check one array the student returned against the expected array."""
    expected = np.asarray(expected)
    want = f"a NumPy array of shape {shape_text(expected.shape, leaf.axes)}"
    if got is None:
        return Finding(False, "missing", f"is None, expected {want}: does the function return it?")
    arr = as_array(got)
    if arr is None:
        return Finding(False, "type", f"is {describe(got)}, expected {want}")
    if not (isinstance(got, Returned) and got.type == NUMPY_ARRAY):
        note = ""
        if arr.shape == expected.shape and arr.dtype.kind in "biuf":
            if within(arr.astype(np.float64), expected.astype(np.float64), tol):
                note = " (its values are right: only the type is wrong)"
        fix = " (convert it with .detach().numpy())" if "torch" in describe(got) else ""
        return Finding(False, "type", f"is {describe(got)}, expected {want}{fix}{note}")
    return _compare_numbers(leaf.kind, leaf.axes, arr, expected, tol, want)


def _compare_numbers(kind, axes, arr, expected, tol, want) -> Finding:
    if kind == "f" and arr.dtype.kind != "f":
        holds = {"b": "booleans", "i": "integers", "u": "integers", "c": "complex numbers"}
        return Finding(
            False,
            "dtype",
            f"holds {holds.get(arr.dtype.kind, arr.dtype.kind)} (dtype {arr.dtype}), expected "
            "floating-point numbers: was it created with an integer dtype, e.g. "
            "np.zeros(shape, dtype=int) or np.zeros_like of an integer array?",
        )
    if kind == "i" and arr.dtype.kind not in "iu":
        return Finding(False, "dtype", f"holds dtype {arr.dtype}, expected integers")
    if arr.shape != expected.shape:
        return Finding(
            False,
            "shape",
            f"has shape {shape_text(arr.shape)}, expected {shape_text(expected.shape, axes)}"
            + _axes_order(arr.shape, expected.shape, axes),
        )
    if arr.size == 0:
        return Finding(True)
    bad_values = ~np.isfinite(arr) & np.isfinite(expected)
    if bad_values.any():
        first = tuple(int(i) for i in np.argwhere(bad_values)[0])
        what = "NaN" if np.isnan(arr[first]) else "infinity"
        return Finding(
            False,
            "nonfinite",
            f"contains {what} ({int(bad_values.sum())} of {arr.size} entries, the first at "
            f"{index_text(first)}) where the expected values are finite: an overflow, e.g. "
            "exp of a large number, or a division by zero?",
            error=float("inf"),
        )
    err, where = largest_error(arr, expected)
    scale = float(np.max(np.abs(expected)))
    limit = tol.atol + tol.rtol * scale
    if err <= limit:
        return Finding(True, error=err)
    bad = np.abs(arr - expected) > limit
    parts = [
        f"has the right shape {shape_text(arr.shape, axes)} but wrong values: largest error "
        f"{number_text(err)} at {index_text(where)} (yours {number_text(arr[where])}, "
        f"expected {number_text(expected[where])}); {int(bad.sum())} of {arr.size} entries "
        "are off"
        if arr.ndim
        else f"is {number_text(arr[()])}, expected {number_text(expected[()])}"
    ]
    steps = where_wrong(bad, axes)
    if steps:
        parts.append(steps)
    return Finding(False, "values", "; ".join(parts), error=err)


def compare_scalar(leaf: Scalar, got, expected, tol: Tolerance) -> Finding:
    """Check one real number the student returned."""
    expected = np.asarray(float(expected))
    if got is None:
        return Finding(False, "missing", "is None, expected a number: does the function return it?")
    arr = as_array(got)
    if arr is None or arr.size != 1:
        return Finding(False, "type", f"is {describe(got)}, expected a single number")
    if isinstance(got, Returned) and not (got.type.startswith("numpy.")):
        fix = " (use .item() to get a Python float)" if "torch" in got.type else ""
        return Finding(False, "type", f"is {describe(got)}, expected a number{fix}")
    if arr.dtype.kind not in "biuf":
        return Finding(False, "dtype", f"holds dtype {arr.dtype}, expected a real number")
    return _compare_numbers("", (), arr.reshape(()).astype(np.float64), expected, tol, "")


# --------------------------------------------------------------------------------------------
# Structures: tuples and dicts of leaves


def expected_leaves(template, value) -> list[tuple]:
    """``[(leaf, expected)]`` for a reference output laid out as ``template``, in order.

    Tuples may nest; dicts map keys to leaves; a :class:`ListOf` expands into one array leaf
    per item of the reference's list, named ``clipped[0]``, ``clipped[1]``...
    """
    if isinstance(template, tuple):
        return [x for t, v in zip(template, value, strict=True) for x in expected_leaves(t, v)]
    if isinstance(template, dict):
        return [(leaf, value[key]) for key, leaf in template.items()]
    if isinstance(template, ListOf):
        return [
            (Array(f"{template.name}[{i}]", template.item_axes), v) for i, v in enumerate(value)
        ]
    return [(template, value)]


def _names(template) -> str:
    return ", ".join(t.name if hasattr(t, "name") else "(...)" for t in template)


def received_leaves(template, got, expected) -> list:
    """The student's values in the order of :func:`expected_leaves` (same template, same
    reference value, which gives the lengths of lists).

    Raises StructureError when a container itself is wrong (not a tuple, wrong length, not a
    dict, a list of the wrong length). A missing dict key gives None for that leaf.
    """
    if isinstance(template, tuple):
        if not isinstance(got, (tuple, list)):
            raise StructureError(
                f"returned {describe(got)}, expected a tuple of {len(template)} values "
                f"({_names(template)})"
            )
        if len(got) != len(template):
            raise StructureError(
                f"returned {len(got)} values, expected {len(template)}: ({_names(template)})"
            )
        return [
            x
            for t, g, e in zip(template, got, expected, strict=True)
            for x in received_leaves(t, g, e)
        ]
    if isinstance(template, dict):
        if not isinstance(got, dict):
            raise StructureError(
                f"returned {describe(got)} where a dict with keys {', '.join(template)} was "
                "expected"
            )
        return [got.get(key) for key in template]
    if isinstance(template, ListOf):
        if not isinstance(got, (list, tuple)):
            raise StructureError(
                f"{template.name} is {describe(got)}, expected a list of {len(expected)} arrays"
            )
        if len(got) != len(expected):
            raise StructureError(
                f"{template.name} has {len(got)} arrays, expected {len(expected)} "
                "(one per gradient given)"
            )
        return list(got)
    return [got]


def compare_leaf(leaf, got, expected, tol: Tolerance) -> Finding:
    if isinstance(leaf, Scalar):
        return compare_scalar(leaf, got, expected, tol)
    return compare_array(leaf, got, expected, tol)
