"""The checks that the exercise notebooks' visible and hidden tests call.

A failing check raises :class:`CheckFailure` (an AssertionError, so that stock nbgrader counts
the test cell as failed) whose message is written for the learner: what was expected and what
was given, the largest error and where it is, which part of the result looks wrong, and a hint.
A passing check returns None and prints nothing: the test cell prints one line when all of its
checks passed.

The notebooks import these names, so they are part of the course's interface: keep the
signatures stable. Nothing here grades: the grading engine compares outputs itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "CheckFailure",
    "check_array",
    "check_arrays",
    "check_scalar",
    "check_choice",
    "check_unchanged",
    "check_at_least",
    "check_at_most",
    "rnn_inputs",
]


class CheckFailure(AssertionError):
    """A check failed; the message says what was expected, what was given and what to try."""


def _fail(lines: Sequence[str], hint: str | None) -> None:
    text = "\n".join(line for line in lines if line)
    if hint:
        text += f"\nHint: {hint}"
    raise CheckFailure(text)


def _shape_text(shape: tuple[int, ...], axes: Sequence[str] | None) -> str:
    if axes is not None and len(axes) == len(shape):
        names = ", ".join(axes) + ("," if len(axes) == 1 else "")
        return f"({names}) = {tuple(shape)}"
    return str(tuple(shape))


def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return type(value).__name__


def _as_array(name: str, got, expected: np.ndarray, axes, hint) -> np.ndarray:
    """Turn ``got`` into an ndarray, or fail with a message about what was returned instead."""
    want = f"a NumPy array of shape {_shape_text(expected.shape, axes)}"
    if got is None:
        _fail([f"{name} is None, expected {want}.", "Did the function reach a `return`?"], hint)
    if isinstance(got, (tuple, list)) and expected.ndim > 0:
        lines = [f"{name} is {_describe(got)}, expected {want}."]
        if got and all(hasattr(g, "shape") for g in got):
            shapes = ", ".join(str(tuple(np.shape(g))) for g in got)
            lines.append(f"The items have shapes {shapes}. Return only the array asked for.")
        _fail(lines, hint)
    if hasattr(got, "detach") and hasattr(got, "numpy"):  # a torch.Tensor
        got = got.detach().cpu().numpy()
    try:
        arr = np.asarray(got)
    except (TypeError, ValueError) as err:
        _fail([f"{name} cannot be read as an array ({err}); expected {want}."], hint)
    if arr.dtype.kind not in "biuf":
        _fail([f"{name} holds values of dtype {arr.dtype}, expected real numbers."], hint)
    return arr


def _index_text(index: tuple[int, ...], axes: Sequence[str] | None) -> str:
    if axes is not None and len(axes) == len(index):
        inner = ", ".join(f"{a.lower()}={i}" for a, i in zip(axes, index, strict=True))
        return f"{tuple(int(i) for i in index)} ({inner})"
    return str(tuple(int(i) for i in index))


def _ranges(indices: Sequence[int]) -> str:
    """[0, 1, 2, 5] -> '0..2, 5'."""
    parts, start, prev = [], None, None
    for i in indices:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            parts.append(f"{start}..{prev}" if prev > start else f"{start}")
            start = prev = i
    if start is not None:
        parts.append(f"{start}..{prev}" if prev > start else f"{start}")
    return ", ".join(parts)


def _where_wrong(bad: np.ndarray, axes: Sequence[str] | None) -> list[str]:
    """Say along which axes the mismatches are confined (e.g. only at some time steps)."""
    if axes is None or len(axes) != bad.ndim or bad.ndim < 2:
        return []
    lines = []
    for axis, label in enumerate(axes):
        other = tuple(a for a in range(bad.ndim) if a != axis)
        wrong = np.flatnonzero(bad.any(axis=other))
        if 0 < len(wrong) < bad.shape[axis]:
            right = np.setdiff1d(np.arange(bad.shape[axis]), wrong)
            lines.append(
                f"Along {label}: wrong at {label.lower()} = {_ranges(list(wrong))}, "
                f"right at {label.lower()} = {_ranges(list(right))}."
            )
    return lines


def _patterns(got: np.ndarray, expected: np.ndarray, atol: float, rtol: float) -> list[str]:
    """Name simple relations between ``got`` and ``expected`` that point at a typical slip."""

    def close(a, b):
        return a.shape == b.shape and np.allclose(a, b, atol=atol, rtol=rtol)

    found = []
    expected_zero = np.allclose(expected, 0, atol=atol)
    if np.allclose(got, 0, atol=atol) and not expected_zero:
        found.append("Your result is all zeros: was something never accumulated or assigned?")
    elif not expected_zero and close(got, -expected):
        found.append("Your result is the expected one with the sign flipped.")
    elif not expected_zero:
        factor = float(np.vdot(got, expected)) / float(np.vdot(expected, expected))
        if abs(factor - 1) > 1e-3 and abs(factor) > 1e-3 and close(got, factor * expected):
            found.append(
                f"Your result is the expected one times {factor:.4g}: "
                "a missing or extra factor (a sum instead of a mean, a batch size, a scale)?"
            )
    offset = got - expected
    if (
        got.ndim >= 2
        and np.ptp(offset, axis=tuple(range(got.ndim - 1))).max()
        <= atol + rtol * np.abs(expected).max()
        and np.abs(offset).max() > atol + rtol * np.abs(expected).max()
    ):
        found.append(
            "The error is the same for every row: an offset along the last axis, "
            "such as a bias added twice, left out, or of the wrong sign?"
        )
    return found


def check_array(
    name: str,
    got,
    expected,
    *,
    atol: float = 1e-7,
    rtol: float = 1e-5,
    axes: Sequence[str] | None = None,
    hint: str | None = None,
    suspects: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Check that ``got`` is an array of ``expected``'s shape whose values match it.

    Args:
        name: what the learner's result is called in the message, e.g. "rnn_cell_forward(...)".
        got: the learner's result.
        expected: the correct array.
        atol, rtol: tolerances of ``|got - expected| <= atol + rtol * |expected|``, per entry.
        axes: names of the axes, e.g. ("N", "T", "Dh"): shapes and indices are then printed with
            these names, and the message says along which axes the wrong entries lie.
        hint: a sentence appended to any failure message.
        suspects: typical wrong results, by description, e.g. {"the pre-activation without
            tanh": pre}; if ``got`` matches one of them, the message names it.

    Raises:
        CheckFailure: with a message for the learner.
    """
    expected = np.asarray(expected)
    arr = _as_array(name, got, expected, axes, hint)
    if arr.shape != expected.shape:
        lines = [
            f"{name} has shape {tuple(arr.shape)}, expected {_shape_text(expected.shape, axes)}."
        ]
        if arr.ndim == expected.ndim == 2 and arr.shape == expected.shape[::-1]:
            lines.append("It looks transposed: check the order of the matrix product.")
        elif sorted(arr.shape) == sorted(expected.shape):
            lines.append(
                "It has the right sizes in another order: are two axes swapped "
                "(a transpose, or the batch and time axes mixed up)?"
            )
        elif arr.size == expected.size:
            lines.append("It has the right number of entries: a reshape or an axis order slip?")
        elif arr.ndim == expected.ndim - 1:
            lines.append("It has one axis too few: was a sum or an index taken over an axis?")
        _fail(lines, hint)
    arr = arr.astype(np.float64)
    exp = expected.astype(np.float64)
    nonfinite = ~np.isfinite(arr)
    if nonfinite.any():
        first = tuple(np.argwhere(nonfinite)[0])
        _fail(
            [
                f"{name} holds {int(nonfinite.sum())} NaN or infinite value(s); "
                f"the first is at index {_index_text(first, axes)}."
            ],
            hint,
        )
    err = np.abs(arr - exp)
    bad = err > atol + rtol * np.abs(exp)
    if not bad.any():
        return
    worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    lines = [
        f"{name} has the right shape {_shape_text(exp.shape, axes)} but wrong values: "
        f"{int(bad.sum())} of {bad.size} entries differ.",
        f"Largest error {err[worst]:.3g} at index {_index_text(worst, axes)}: "
        f"got {arr[worst]:.6g}, expected {exp[worst]:.6g}.",
    ]
    lines += _where_wrong(bad, axes)
    for description, value in (suspects or {}).items():
        value = np.asarray(value, dtype=np.float64)
        if value.shape == arr.shape and np.allclose(arr, value, atol=atol, rtol=rtol):
            lines.append(f"Your result equals {description}.")
            break
    else:
        lines += _patterns(arr, exp, atol, rtol)
    _fail(lines, hint)


def check_arrays(
    name: str,
    got,
    expected: Mapping[str, np.ndarray],
    *,
    atol: float = 1e-7,
    rtol: float = 1e-5,
    axes: Mapping[str, Sequence[str]] | None = None,
    hints: Mapping[str, str] | None = None,
    suspects: Mapping[str, Sequence[np.ndarray]] | None = None,
) -> None:
    """Check a tuple of arrays, such as the gradients a backward function returns.

    Every part is checked; the message lists the parts that are right and the wrong ones, and
    details the first wrong part.

    Args:
        name: e.g. "rnn_cell_backward(...)".
        got: the learner's tuple (or list).
        expected: the correct arrays in order, by name, e.g. {"dx": dx, "dh_prev": dh_prev}.
        atol, rtol: as in :func:`check_array`.
        axes: optional axis names per part, e.g. {"dx": ("N", "D")}.
        hints: optional hint per part, shown when that part is wrong.
        suspects: typical wrong results, by description, each a tuple in the order of
            ``expected``; if ``got`` matches one of them, the message names it.
    """
    names = list(expected)
    if got is None:
        _fail([f"{name} returned None, expected a tuple ({', '.join(names)})."], None)
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        _fail(
            [
                f"{name} returned {_describe(got)}, expected a tuple of {len(names)} arrays "
                f"({', '.join(names)}), in that order."
            ],
            None,
        )
    failures: dict[str, str] = {}
    for part, value in zip(names, got, strict=True):
        try:
            check_array(
                f"{part}",
                value,
                expected[part],
                atol=atol,
                rtol=rtol,
                axes=(axes or {}).get(part),
                hint=(hints or {}).get(part),
            )
        except CheckFailure as failure:
            failures[part] = str(failure)
    if not failures:
        return
    right = [p for p in names if p not in failures]
    first = next(iter(failures))
    lines = [
        f"{name}: wrong {', '.join(failures)}"
        + (f"; right {', '.join(right)}." if right else " (every part is wrong).")
    ]
    for description, values in (suspects or {}).items():
        if all(
            np.shape(g) == np.shape(v)
            and np.allclose(np.asarray(g, float), v, atol=atol, rtol=rtol)
            for g, v in zip(got, values, strict=True)
        ):
            lines.append(f"Your result equals {description}.")
            break
    lines += [f"First wrong part, {first}:", failures[first]]
    _fail(lines, None)


def check_scalar(
    name: str, got, expected: float, *, atol: float = 1e-7, rtol: float = 1e-5, hint=None
) -> None:
    """Check a single number (a loss, a norm)."""
    if got is None or isinstance(got, (tuple, list, dict)):
        _fail([f"{name} is {_describe(got)}, expected a single number ({expected:.6g})."], hint)
    try:
        value = float(np.asarray(got).item() if hasattr(got, "item") else got)
    except (TypeError, ValueError):
        _fail([f"{name} is {_describe(got)}, expected a single number ({expected:.6g})."], hint)
    if not np.isfinite(value) or abs(value - expected) > atol + rtol * abs(expected):
        lines = [f"{name} is {value:.8g}, expected {expected:.8g}."]
        if expected and np.isfinite(value) and value:
            lines.append(f"The ratio got/expected is {value / expected:.4g}.")
        _fail(lines, hint)


def check_choice(name: str, got, choices: str = "ABCD") -> None:
    """Check that a multiple-choice answer is one of the allowed capital letters."""
    allowed = ", ".join(repr(c) for c in choices)
    if not isinstance(got, str) or got not in choices:
        _fail(
            [
                f"{name} must be one of {allowed} (a capital letter in quotes), got {got!r}.",
            ],
            None,
        )


def check_unchanged(name: str, before, after) -> None:
    """Check that an input array was not modified in place (``before`` is a copy)."""
    before, after = np.asarray(before), np.asarray(after)
    if before.shape != after.shape or not np.array_equal(before, after, equal_nan=True):
        _fail(
            [f"Your function modified its input {name} in place."],
            "compute new arrays (e.g. g * coef) instead of updating the inputs (g *= coef).",
        )


def check_at_least(name: str, got: float, target: float, *, hint: str | None = None) -> None:
    """Check a score that must reach a target (an accuracy)."""
    if not np.isfinite(got) or got < target:
        _fail([f"{name} is {got:.4g}, the target is at least {target:.4g}."], hint)


def check_at_most(name: str, got: float, target: float, *, hint: str | None = None) -> None:
    """Check a score that must stay below a target (a loss, a perplexity, an error)."""
    if not np.isfinite(got) or got > target:
        _fail([f"{name} is {got:.4g}, the target is at most {target:.4g}."], hint)


def rnn_inputs(
    seed: int,
    N: int,
    T: int,
    D: int,
    Dh: int | None = None,
    *,
    scale: float = 0.5,
    H: int | None = None,
) -> tuple:
    """Random inputs and weights of a vanilla RNN, for tests.

    Args:
        seed: seed of the random generator.
        N, T, D, Dh: batch size, sequence length, input size, hidden size (``H=`` is accepted
            for ``Dh`` by older notebooks).
        scale: standard deviation of the weights; the inputs and h0 have standard deviation 1.

    Returns:
        X (N, T, D), h0 (N, Dh), W_xh (D, Dh), W_hh (Dh, Dh), b_h (Dh,), all float64.
    """
    if (Dh is None) == (H is None):
        raise TypeError("rnn_inputs needs the hidden size once, as Dh (or H in older notebooks)")
    Dh = Dh if Dh is not None else H
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((N, T, D)),
        rng.standard_normal((N, Dh)),
        scale * rng.standard_normal((D, Dh)),
        scale * rng.standard_normal((Dh, Dh)) / np.sqrt(Dh),
        scale * rng.standard_normal(Dh),
    )
