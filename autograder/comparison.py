"""Compare: the one rule by which a result is compared with the expected one, and its words.

The exercise notebooks' visible tests (:mod:`autograder.notebook_checks`) and the grader
(:mod:`autograder.grading.compare`) both judge a value here, so a visible test that passes in
Jupyter passes in the grader on the same inputs, and both say the same thing when it does not.
NumPy only, and no import from the rest of the package: the grader's sandbox is handed this file
whole, beside ``notebook_checks``.

The rule, for a whole array: ``max|got - expected| <= atol + rtol * max|expected|``. Checks go
from the coarsest to the finest: present, type, dtype kind, shape, finite, values; the first
that fails is the one reported, since the finer ones mean little after it. A value is described
by the name of its type as the grader's wire gives it ("numpy.ndarray", "torch.Tensor", "list"),
so the notebook side and the grader side reach the same message from the same value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .i18n import _, ngettext

RTOL = 1e-5
ATOL = 1e-8
NUMPY_ARRAY = "numpy.ndarray"


@dataclass(frozen=True)
class Finding:
    """The result of one comparison; ``message`` is empty when ``ok``.

    ``message`` completes a sentence whose subject is the value's name ("h_next has shape ...").
    """

    ok: bool
    problem: str | None = None  # missing, type, dtype, shape, nonfinite, values
    message: str = ""
    error: float = 0.0


# --------------------------------------------------------------------------------------------
# Words for values


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def describe(type_name: str, shape: tuple | None = None, length: int | None = None) -> str:
    """A short noun phrase for a value of type ``type_name``: "a torch.Tensor of shape (2, 3)",
    "a NumPy scalar (float64)", "a list of 3 items", "None"."""
    if type_name == "None":
        return "None"
    if type_name in ("list", "tuple") and length is not None:
        return ngettext("a {type} of {length} item", "a {type} of {length} items", length).format(
            type=type_name, length=length
        )
    if type_name.startswith("numpy.") and type_name != NUMPY_ARRAY and shape == ():
        return _("a NumPy scalar ({dtype})").format(dtype=type_name.split(".", 1)[1])
    if shape:
        return _("{a} {type} of shape {shape}").format(
            a=article(type_name), type=type_name, shape=tuple(shape)
        )
    return _("{a} {type}").format(a=article(type_name), type=type_name)


def shape_text(shape, axes: Sequence[str] = ()) -> str:
    """(2, 5, 4), or with axis names (N, T, Dh) = (2, 5, 4)."""
    shape = tuple(int(s) for s in shape)
    if axes and len(axes) == len(shape):
        names = ", ".join(axes) + ("," if len(axes) == 1 else "")
        return f"({names}) = {shape}"
    return str(shape)


def index_text(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def number_text(x: float) -> str:
    return f"{x:.4g}"


def numbers_text(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` with as many digits as it takes to tell them apart (4 at least)."""
    for digits in range(4, 18):
        left, right = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if left != right:
            return left, right
    return f"{a!r}", f"{b!r}"


def ranges(indices) -> str:
    """[0, 1, 2, 5] -> "0..2, 5"."""
    parts, start, prev = [], None, None
    for i in [int(i) for i in indices] + [None]:
        if start is not None and (i is None or i != prev + 1):
            parts.append(f"{start}..{prev}" if prev > start else f"{start}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# The rule


def tolerance(expected: np.ndarray, atol: float, rtol: float) -> float:
    """The largest difference allowed: ``atol + rtol * max|expected|``."""
    if expected.size == 0:
        return atol
    if not np.all(np.isfinite(expected)):
        return np.inf if rtol > 0 else atol
    return atol + rtol * float(np.max(np.abs(expected)))


def largest_error(got: np.ndarray, expected: np.ndarray) -> tuple[float, tuple]:
    """The largest absolute difference and where it is (NaN counts as infinitely far)."""
    kind = np.complex128 if got.dtype.kind == "c" else np.float64
    diff = np.abs(got.astype(kind) - expected)
    diff = np.where(np.isnan(diff), np.inf, diff)
    if diff.size == 0:
        return 0.0, ()
    flat = int(np.argmax(diff))
    return float(diff.flat[flat]), tuple(int(i) for i in np.unravel_index(flat, diff.shape))


def within(got: np.ndarray, expected: np.ndarray, atol: float = ATOL, rtol: float = RTOL) -> bool:
    """Same shape and ``max|got - expected| <= atol + rtol * max|expected|``."""
    if got.shape != expected.shape:
        return False
    if got.size == 0:
        return True
    err, _ = largest_error(got, expected)
    return err <= tolerance(expected, atol, rtol)


# --------------------------------------------------------------------------------------------
# What a wrong result looks like


def where_wrong(bad: np.ndarray, axes: Sequence[str]) -> list[str]:
    """Which time steps are wrong, when only some are ("Along T: wrong at array index 0..3
    (t = 1..4), right at array index 4 (t = 5)."): the step where a loop goes wrong is the clue
    worth giving. Both numberings are given: the array's index from 0, and the step t = 1..T
    of the course's maths (X[:, t-1] holds X_t)."""
    if not axes or len(axes) != bad.ndim:
        return []
    found = []
    for axis, label in enumerate(axes):
        if label != "T":
            continue
        other = tuple(a for a in range(bad.ndim) if a != axis)
        wrong = np.flatnonzero(bad.any(axis=other) if other else bad)
        if 0 < len(wrong) < bad.shape[axis]:
            right = np.setdiff1d(np.arange(bad.shape[axis]), wrong)
            found.append(
                _(
                    "Along {axis}: wrong at array index {wrong} ({t} = {wrong_steps}), "
                    "right at array index {right} ({t} = {right_steps})."
                ).format(
                    axis=label,
                    t=label.lower(),
                    wrong=ranges(wrong),
                    wrong_steps=ranges(wrong + 1),
                    right=ranges(right),
                    right_steps=ranges(right + 1),
                )
            )
    return found


def patterns(got: np.ndarray, expected: np.ndarray, limit: float) -> list[str]:
    """Simple relations between a wrong result and the right one, said without guessing why."""

    def close(a, b):
        return a.shape == b.shape and largest_error(a, b)[0] <= limit

    found = []
    zero = np.zeros_like(expected)
    expected_zero = close(expected, zero)
    if expected_zero:
        return found
    if close(got, zero):
        found.append(_("Your result is all zeros: was something never accumulated or assigned?"))
        return found
    if close(got, -expected):
        found.append(_("Your result is the expected one with the sign flipped."))
        return found
    norm = float(np.vdot(expected, expected))
    factor = float(np.vdot(got, expected)) / norm if norm > 0 else 1.0
    if abs(factor - 1) > 1e-3 and abs(factor) > 1e-3 and close(got, factor * expected):
        found.append(
            _(
                "Your result is the expected one times {factor}: a factor is missing or extra "
                "(a mean instead of a sum, a batch or length size, a scale)."
            ).format(factor=f"{factor:.4g}")
        )
        return found
    if got.ndim >= 2:
        offset = got - expected
        rows = tuple(range(got.ndim - 1))
        if np.ptp(offset, axis=rows).max() <= limit:
            found.append(
                _(
                    "The error is the same in every row: an offset along the last axis, such as "
                    "a bias added twice, left out, or of the wrong sign."
                )
            )
    return found


def _scalar_factor(got: float, expected: float) -> list[str]:
    """A number that is the right one times or divided by a whole number (a count: N, T, V)."""
    if not expected or not got or not np.isfinite(got):
        return []
    ratio = got / expected
    if not ratio or not np.isfinite(ratio):
        return []
    for value, words in (
        (
            ratio,
            _(
                "Your result is the expected one times {factor}: a factor is missing or extra "
                "(a mean instead of a sum, a batch or length size, a scale)."
            ),
        ),
        (
            1 / ratio,
            _(
                "Your result is the expected one divided by {factor}: a factor is missing or "
                "extra (a mean instead of a sum, a batch or length size, a scale)."
            ),
        ),
    ):
        whole = round(value)
        if whole >= 2 and abs(value - whole) <= 1e-6 * whole:
            return [words.format(factor=whole)]
    return []


def _shape_advice(got_shape, expected_shape, axes) -> str:
    got_shape, expected_shape = tuple(got_shape), tuple(expected_shape)
    if len(got_shape) == len(expected_shape) == 2 and got_shape == expected_shape[::-1]:
        return " " + _("It looks transposed: check the order of the matrix product.")
    if (
        axes
        and len(axes) == len(expected_shape)
        and sorted(got_shape) == sorted(expected_shape)
        and len(set(expected_shape)) == len(expected_shape)
    ):
        size_to_axis = dict(zip(expected_shape, axes, strict=True))
        order = ", ".join(size_to_axis[s] for s in got_shape)
        return " " + _("Your axes look like ({order}): put them in the order ({axes}).").format(
            order=order, axes=", ".join(axes)
        )
    if sorted(got_shape) == sorted(expected_shape):
        return " " + _(
            "It has the right sizes in another order: are two axes swapped (a transpose, or "
            "the batch and time axes mixed up)?"
        )
    if int(np.prod(got_shape)) == int(np.prod(expected_shape)):
        return " " + _("It has the right number of entries: a reshape or an axis order slip?")
    if len(got_shape) == len(expected_shape) - 1:
        return " " + _("It has one axis too few: was a sum or an index taken over an axis?")
    if len(got_shape) == len(expected_shape):
        differ = [
            i for i, (g, e) in enumerate(zip(got_shape, expected_shape, strict=True)) if g != e
        ]
        if len(differ) == 1:
            i = differ[0]
            axis = axes[i] if axes and len(axes) == len(expected_shape) else i
            return " " + _(
                "Only the size along axis {axis} differs: {got} instead of {want}."
            ).format(axis=axis, got=got_shape[i], want=expected_shape[i])
    return ""


# --------------------------------------------------------------------------------------------
# Comparing


def compare_numbers(
    arr: np.ndarray,
    expected: np.ndarray,
    *,
    atol: float = ATOL,
    rtol: float = RTOL,
    axes: Sequence[str] = (),
    kind: str = "f",
) -> Finding:
    """Compare an array of numbers with the expected array: dtype kind, shape, finite, values.

    ``kind`` "f" wants floating-point numbers, "i" integers, "" any real numbers.
    """
    expected = np.asarray(expected)
    axes = tuple(axes or ())
    if kind == "f" and arr.dtype.kind != "f":
        holds = {
            "b": _("booleans"),
            "i": _("integers"),
            "u": _("integers"),
            "c": _("complex numbers"),
        }
        return Finding(
            False,
            "dtype",
            _(
                "holds {kind} (dtype {dtype}), expected floating-point numbers: was it created "
                "with an integer dtype, e.g. np.zeros(shape, dtype=int) or np.zeros_like of an "
                "integer array?"
            ).format(kind=holds.get(arr.dtype.kind, arr.dtype.kind), dtype=arr.dtype),
        )
    if kind == "i" and arr.dtype.kind not in "iu":
        return Finding(
            False, "dtype", _("holds dtype {dtype}, expected integers").format(dtype=arr.dtype)
        )
    if arr.dtype.kind not in "biuf":
        return Finding(
            False, "dtype", _("holds dtype {dtype}, expected real numbers").format(dtype=arr.dtype)
        )
    if arr.shape != expected.shape:
        return Finding(
            False,
            "shape",
            _("has shape {shape}, expected {expected}.").format(
                shape=shape_text(arr.shape), expected=shape_text(expected.shape, axes)
            )
            + _shape_advice(arr.shape, expected.shape, axes),
        )
    if arr.size == 0:
        return Finding(True)
    bad_values = ~np.isfinite(arr) & np.isfinite(expected)
    if bad_values.any():
        first = tuple(int(i) for i in np.argwhere(bad_values)[0])
        what = "NaN" if np.isnan(arr[first]) else _("infinity")
        return Finding(
            False,
            "nonfinite",
            _(
                "contains {what} ({bad} of {size} entries, the first at {index}) where the "
                "expected values are finite: an overflow, e.g. exp of a large number, or a "
                "division by zero?"
            ).format(what=what, bad=int(bad_values.sum()), size=arr.size, index=index_text(first)),
            error=float("inf"),
        )
    err, where = largest_error(arr, expected)
    limit = tolerance(expected, atol, rtol)
    if err <= limit:
        return Finding(True, error=err)
    got_f, exp_f = arr.astype(np.float64), expected.astype(np.float64)
    yours, wanted = numbers_text(float(got_f[where]), float(exp_f[where]))
    relative = err / max(float(np.max(np.abs(exp_f))), np.finfo(float).tiny)
    size = f"{number_text(err)}" + (
        _(" (relative {relative})").format(relative=f"{relative:.1g}") if relative < 1e-3 else ""
    )
    if arr.ndim:
        bad = np.abs(got_f - exp_f) > limit
        text = _(
            "has the right shape {shape} but wrong values: {bad} of {size} entries are off. "
            "Largest error {error} at {index}: yours {yours}, expected {expected}."
        ).format(
            shape=shape_text(arr.shape, axes),
            bad=int(bad.sum()),
            size=arr.size,
            error=size,
            index=index_text(where),
            yours=yours,
            expected=wanted,
        )
        extra = where_wrong(bad, axes) + patterns(got_f, exp_f, limit)
    else:
        text = _("is {yours}, expected {expected} (error {error}).").format(
            yours=yours, expected=wanted, error=size
        )
        extra = _scalar_factor(float(got_f), float(exp_f))
    return Finding(False, "values", " ".join([text, *extra]), error=err)


def compare_array(
    type_name: str,
    described: str,
    arr: np.ndarray | None,
    expected,
    *,
    atol: float = ATOL,
    rtol: float = RTOL,
    axes: Sequence[str] = (),
    kind: str = "f",
    accept: Sequence[str] = (NUMPY_ARRAY,),
) -> Finding:
    """Check a returned value against the expected array.

    ``type_name`` is the value's type as the wire names it ("None" for None), ``described``
    the noun phrase for it, ``arr`` its numbers (None when it holds none); ``accept`` lists the
    types that count as an array.
    """
    expected = np.asarray(expected)
    axes = tuple(axes or ())
    want = _("a NumPy array of shape {shape}").format(shape=shape_text(expected.shape, axes))
    if type_name == "None":
        return Finding(
            False,
            "missing",
            _("is None, expected {want}: does the function return it?").format(want=want),
        )
    if arr is None:
        return Finding(
            False, "type", _("is {got}, expected {want}").format(got=described, want=want)
        )
    if type_name not in accept:
        note = ""
        if arr.shape == expected.shape and arr.dtype.kind in "biuf":
            if within(arr.astype(np.float64), expected.astype(np.float64), atol, rtol):
                note = _(" (its values are right: only the type is wrong)")
        fix = _(" (convert it with .detach().numpy())") if type_name.startswith("torch") else ""
        return Finding(
            False,
            "type",
            _("is {got}, expected {want}").format(got=described, want=want) + fix + note,
        )
    return compare_numbers(arr, expected, atol=atol, rtol=rtol, axes=axes, kind=kind)


def compare_scalar(
    type_name: str,
    described: str,
    arr: np.ndarray | None,
    expected: float,
    *,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> Finding:
    """Check a returned value against one expected real number."""
    expected_arr = np.asarray(float(expected))
    if type_name == "None":
        return Finding(
            False, "missing", _("is None, expected a number: does the function return it?")
        )
    if arr is None or arr.size != 1:
        return Finding(False, "type", _("is {got}, expected a single number").format(got=described))
    if type_name.startswith("torch"):
        return Finding(
            False,
            "type",
            _("is {got}, expected a number (use .item() to get a Python float)").format(
                got=described
            ),
        )
    if arr.dtype.kind not in "biuf":
        return Finding(
            False, "dtype", _("holds dtype {dtype}, expected a real number").format(dtype=arr.dtype)
        )
    return compare_numbers(
        arr.reshape(()).astype(np.float64), expected_arr, atol=atol, rtol=rtol, kind=""
    )


# --------------------------------------------------------------------------------------------
# Values in this process (the notebook side); the grader reads the same from its wire


def type_name(obj) -> str:
    """The name the grader's wire gives the type of ``obj`` ("numpy.ndarray", "float")."""
    if obj is None:
        return "None"
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", "?")
    return name if module == "builtins" else f"{module}.{name}"


def _numbers(obj) -> np.ndarray | None:
    if type(obj).__module__.startswith("torch") and hasattr(obj, "detach"):
        return np.array(obj.detach().cpu().numpy(), copy=True)
    if isinstance(obj, (np.ndarray, np.generic)):
        arr = np.array(obj, copy=True, subok=False)
        return arr if arr.dtype.kind in "biufc" else None
    if isinstance(obj, bool | int | float):
        return np.asarray(obj)
    if isinstance(obj, (list, tuple)) and len(obj) <= 100_000:
        items = [_numbers(o) for o in obj]
        if items and all(i is not None for i in items):
            try:
                return np.array(items)
            except ValueError:
                return None
    return None


def received(obj) -> tuple[str, str, np.ndarray | None]:
    """``(type name, description, numbers or None)`` of a value in this process."""
    name = type_name(obj)
    arr = _numbers(obj)
    if isinstance(obj, (list, tuple)):
        return name, describe(name, length=len(obj)), arr
    if isinstance(obj, dict):
        keys = ", ".join(map(str, list(obj)[:6]))
        return name, _("a dict with keys {keys}").format(keys=keys), arr
    if isinstance(obj, (np.ndarray, np.generic)) or name.startswith("torch"):
        return name, describe(name, tuple(arr.shape) if arr is not None else None), arr
    if obj is None or isinstance(obj, bool | int | float | str):
        return name, describe(name), arr
    return name, _("{a} {type} object").format(a=article(name), type=name), arr
