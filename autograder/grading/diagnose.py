"""Diagnose: name the typical mistake a wrong output matches.

Each :class:`~.spec.Mistake` is a wrong version of the function, computed in the parent on the
same inputs as the student's code. A failing part of the student's output is explained by a
mistake when it equals (within tolerance) that part of the mistake's output while the mistake's
part differs from the reference's: a mistake that gives the right answer on some input says
nothing about that input. A mistake may leave entries undefined (NaN), for what a slip leaves
unpredictable, such as the leftovers of ``np.empty`` in a step a loop never reaches: those entries
are not compared, and a part that is undefined throughout says nothing. Pure functions; the judge calls them case by case and then
:func:`summarise` picks what to tell the learner.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .compare import as_array, expected_leaves, within
from .spec import Case, Mistake, Tolerance


@dataclass(frozen=True)
class Diagnosis:
    mistake: Mistake
    parts: tuple[str, ...]  # the parts of the output it explains
    cases: int  # in how many failing cases it explained something


def mistake_leaves(mistake: Mistake, case: Case, template) -> list | None:
    """The mistake's output on ``case`` as leaves, or None if it does not apply to this case."""
    try:
        out = mistake.compute(*case.args)
        return [np.asarray(value) for _, value in expected_leaves(template, out)]
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, FloatingPointError):
        return None


def explains(got, wrong: np.ndarray, right: np.ndarray, tol: Tolerance) -> bool:
    """Whether the received value ``got`` is the mistake's ``wrong`` and not the ``right`` one.

    NaN entries of ``wrong`` stand for "anything": ``got`` is compared on the others only.
    """
    arr = as_array(got)
    if arr is None or arr.shape != wrong.shape or arr.dtype.kind not in "biuf":
        return False
    if wrong.dtype.kind not in "biuf" or np.isinf(wrong).any():
        return False
    defined = ~np.isnan(wrong) if wrong.dtype.kind == "f" else np.ones(wrong.shape, bool)
    if not defined.any():
        return False
    # An undefined entry counts as different from the right one (_distinct sees NaN as far).
    distinct = _distinct(wrong, np.asarray(right), tol)
    return distinct and within(arr[defined].astype(float), wrong[defined].astype(float), tol)


def _defined_only(wrong: np.ndarray, right) -> np.ndarray:
    """``wrong`` with its undefined (NaN) entries replaced by the right values."""
    right = np.asarray(right)
    if wrong.dtype.kind != "f" or wrong.shape != right.shape or not np.isnan(wrong).any():
        return wrong
    return np.where(np.isnan(wrong), right, wrong)


def _undefined(wrong: np.ndarray) -> bool:
    """A mistake's part that is NaN throughout says nothing about that part."""
    return wrong.dtype.kind == "f" and wrong.size > 0 and bool(np.isnan(wrong).all())


def slot(name: str) -> str:
    """The part a leaf belongs to: the items of a list ("clipped[2]") are one part; the
    entries of a dict ("grads['W_xh']") are parts of their own."""
    return re.sub(r"\[\d+\]$", "", name)


def explain_case(
    mistakes: Sequence[Mistake],
    case: Case,
    template,
    received: Sequence,
    expected: Sequence[np.ndarray],
    names: Sequence[str],
    failing: Sequence[int],
    tol: Tolerance,
) -> dict[int, dict[str, bool]]:
    """For each mistake that applies to this case, what it says about each part.

    True: the mistake explains that failing part. False: the mistake is contradicted, because
    had it been the learner's mistake, the part would have come out differently: another wrong
    value, or a wrong value where the learner's is right. A part made of several leaves (a
    list) is explained when all its failing leaves are.
    """
    found: dict[int, dict[str, bool]] = {}
    for m, mistake in enumerate(mistakes):
        leaves = mistake_leaves(mistake, case, template)
        if leaves is None or len(leaves) != len(expected):
            continue
        verdicts: dict[str, bool] = {}
        for i, (wrong, right) in enumerate(zip(leaves, expected, strict=True)):
            part = slot(names[i])
            if _undefined(wrong):
                continue
            if i in failing:
                hit = explains(received[i], wrong, np.asarray(right), tol)
                verdicts[part] = verdicts.get(part, True) and hit
            elif _distinct(_defined_only(wrong, right), np.asarray(right), tol):
                # Undefined entries may happen to be right: only the defined ones contradict.
                verdicts[part] = False
        found[m] = verdicts
    return found


def _distinct(wrong: np.ndarray, right: np.ndarray, tol: Tolerance) -> bool:
    if wrong.shape != right.shape or wrong.dtype.kind not in "biuf":
        return True
    return not within(wrong.astype(float), right.astype(float), tol)


def summarise(
    mistakes: Sequence[Mistake], per_case: Sequence[dict[int, dict[str, bool]]]
) -> list[Diagnosis]:
    """The mistakes worth telling, best first.

    A mistake explains a part of the output when it accounts for that part in every failing
    case it applies to (and in one at least): a single contradiction rules it out for that part,
    since naming the wrong mistake is worse than naming none. Each part goes to the mistake
    that explains it in the most cases (ties: catalogue order, most telling first); mistakes
    left with no part are dropped.
    """
    explained: dict[tuple[int, str], int] = {}
    contradicted: set[tuple[int, str]] = set()
    order: dict[str, int] = {}
    for found in per_case:
        for m, verdicts in found.items():
            for part, ok in verdicts.items():
                order.setdefault(part, len(order))
                if ok:
                    explained[(m, part)] = explained.get((m, part), 0) + 1
                else:
                    contradicted.add((m, part))
    good = {key: n for key, n in explained.items() if key not in contradicted}
    owner: dict[str, int] = {}
    for (m, part), _ in sorted(good.items(), key=lambda item: (-item[1], item[0][0])):
        owner.setdefault(part, m)
    cases: dict[int, int] = {}
    for (m, part), n in good.items():
        if owner.get(part) == m:
            cases[m] = max(cases.get(m, 0), n)
    out = []
    for m in sorted(cases, key=lambda m: (-cases[m], m)):
        parts = sorted((p for p, o in owner.items() if o == m), key=order.__getitem__)
        out.append(Diagnosis(mistakes[m], tuple(parts), cases[m]))
    return out
