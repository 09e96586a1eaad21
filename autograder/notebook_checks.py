"""The checks that the exercise notebooks' visible and hidden tests call.

A failing check raises :class:`CheckFailure` (an AssertionError, so that stock nbgrader counts
the test cell as failed) whose message is written for the learner: what was expected and what
was given, the largest error and where it is, which part of the result looks wrong, and a hint.
A passing check returns None and prints nothing: the test cell prints one line when all of its
checks passed.

The notebooks import these names, so they are part of the course's interface: keep the
signatures stable. Values are compared by the grader's own rule and in its words
(:mod:`autograder.comparison`), so a visible test that passes here passes in the grader on the
same inputs. The one difference: a PyTorch tensor counts as an array here, since the PyTorch
exercises return tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from autograder import comparison

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
    "expected_values",
]

# The visible tests' answers, computed once by the references (solutions/expected_values.py) and
# stored as arrays: a released notebook compares with these outputs, never with the code.
EXPECTED_DIR = Path(__file__).resolve().parent / "data" / "expected"


class CheckFailure(AssertionError):
    """A check failed; the message says what was expected, what was given and what to try."""


def _fail(lines: Sequence[str], hint: str | None) -> None:
    text = "\n".join(line for line in lines if line)
    if hint:
        text += f"\nHint: {hint}"
    raise CheckFailure(text)


def _finding_text(name: str, finding: comparison.Finding) -> str:
    text = f"{name} {finding.message}"
    return text if text.endswith((".", "?", ")")) else text + "."


def _check(name: str, got, expected, atol, rtol, axes, kind, suspects, hint) -> None:
    type_name, described, arr = comparison.received(got)
    if type_name.startswith("torch"):
        # PyTorch exercises return tensors; the grader judges them as such (module checks).
        type_name = comparison.NUMPY_ARRAY
    finding = comparison.compare_array(
        type_name, described, arr, expected, atol=atol, rtol=rtol, axes=axes or (), kind=kind
    )
    if finding.ok:
        return
    lines = [_finding_text(name, finding)]
    if finding.problem == "type" and isinstance(got, (tuple, list)):
        if got and all(hasattr(g, "shape") for g in got):
            shapes = ", ".join(str(tuple(np.shape(g))) for g in got)
            lines.append(f"The items have shapes {shapes}. Return only the array asked for.")
    if finding.problem == "missing":
        lines.append("Did the function reach a `return`?")
    if finding.problem == "values":
        for description, value in (suspects or {}).items():
            value = np.asarray(value, dtype=np.float64)
            if value.shape == arr.shape and comparison.within(
                arr.astype(np.float64), value, atol, rtol
            ):
                lines.append(f"Your result equals {description}.")
                break
    _fail(lines, hint)


def _kind(expected: np.ndarray) -> str:
    """The grader declares the kind of every array: integers where the answer is integers."""
    return "i" if expected.dtype.kind in "iu" else "f"


def check_array(
    name: str,
    got,
    expected,
    *,
    atol: float = comparison.ATOL,
    rtol: float = comparison.RTOL,
    axes: Sequence[str] | None = None,
    hint: str | None = None,
    suspects: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Check that ``got`` is an array of ``expected``'s shape whose values match it.

    The rule and the message are the grader's (:mod:`autograder.comparison`): a NumPy array
    (or, in the PyTorch exercises, a tensor) of the expected dtype kind and shape, with
    ``max|got - expected| <= atol + rtol * max|expected|``.

    Args:
        name: what the learner's result is called in the message, e.g. "rnn_cell_forward(...)".
        got: the learner's result.
        expected: the correct array.
        atol, rtol: the tolerances of the rule above (``atol=np.inf`` checks only the type,
            dtype and shape).
        axes: names of the axes, e.g. ("N", "T", "Dh"): shapes and indices are then printed with
            these names, and the message says along which axes the wrong entries lie.
        hint: a sentence appended to any failure message.
        suspects: typical wrong results, by description, e.g. {"the pre-activation without
            tanh": pre}; if ``got`` matches one of them, the message names it.

    Raises:
        CheckFailure: with a message for the learner.
    """
    expected = np.asarray(expected)
    _check(name, got, expected, atol, rtol, axes, _kind(expected), suspects, hint)


def check_arrays(
    name: str,
    got,
    expected: Mapping[str, np.ndarray],
    *,
    atol: float = comparison.ATOL,
    rtol: float = comparison.RTOL,
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
                f"{name} returned {comparison.received(got)[1]}, expected a tuple of "
                f"{len(names)} arrays ({', '.join(names)}), in that order."
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
            and comparison.within(np.asarray(g, float), np.asarray(v, float), atol, rtol)
            for g, v in zip(got, values, strict=True)
        ):
            lines.append(f"Your result equals {description}.")
            break
    lines += [f"First wrong part, {first}:", failures[first]]
    _fail(lines, None)


def check_scalar(
    name: str,
    got,
    expected: float,
    *,
    atol: float = comparison.ATOL,
    rtol: float = comparison.RTOL,
    hint=None,
) -> None:
    """Check a single number (a loss, a norm), by the grader's rule and in its words."""
    type_name, described, arr = comparison.received(got)
    finding = comparison.compare_scalar(type_name, described, arr, expected, atol=atol, rtol=rtol)
    if not finding.ok:
        _fail([_finding_text(name, finding)], hint)


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


def check_unchanged(name: str, before, after, *, restores: bool = False) -> None:
    """Check that an input array was not modified in place (``before`` is a copy).

    ``restores=True`` is for a function whose task is to change its input in place and put
    every entry back (a finite-difference gradient): the message then says which entries were
    not restored exactly, instead of advising against changing the input at all.
    """
    before, after = np.asarray(before), np.asarray(after)
    if before.shape != after.shape or not np.array_equal(before, after, equal_nan=True):
        if restores and before.shape == after.shape:
            _fail_not_restored(name, before, after)
        _fail(
            [f"Your function modified its input {name} in place."],
            "compute new arrays (e.g. g * coef) instead of updating the inputs (g *= coef).",
        )


def _fail_not_restored(name: str, before: np.ndarray, after: np.ndarray) -> None:
    differ = ~((before == after) | (np.isnan(before) & np.isnan(after)))
    gap = float(np.max(np.abs(after - before)[differ]))
    scale = float(np.max(np.abs(before[differ])))
    lines = [
        f"Your function did not put every entry of {name} back exactly as it was: "
        f"{int(differ.sum())} of {before.size} entries differ after the call "
        f"(the largest by {gap:.2g}).",
    ]
    if gap <= 1e-12 * max(scale, 1.0):
        # Off by a rounding error: the entry was restored by arithmetic (+h, -2h, +h).
        hint = (
            f"keep the old value (old = {name}[i]) and assign it back ({name}[i] = old) after "
            "the two calls to f: adding and subtracting h does not always give the same float back."
        )
    else:
        hint = (
            f"after the two calls to f, assign the entry's old value back ({name}[i] = old, "
            f"with old = {name}[i] kept before you changed it)."
        )
    _fail(lines, hint)


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


def expected_values(assignment: str) -> dict[str, np.ndarray]:
    """The stored answers of an exercise's visible tests, by name (``"02_bptt"``)."""
    with np.load(EXPECTED_DIR / f"{assignment}.npz", allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}
