"""Diagnose: name the typical mistake a wrong output matches.

Each :class:`~.spec.Mistake` is a wrong version of the function, computed in the parent on the
same inputs as the student's code. A failing part of the student's output is explained by a
mistake when it equals (within tolerance) that part of the mistake's output while the mistake's
part differs from the reference's: a mistake that gives the right answer on some input says
nothing about that input. Pure functions; the judge calls them case by case and then
:func:`summarise` picks what to tell the learner.
"""

from __future__ import annotations

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
        out = mistake.compute(*case.args, **case.extra)
        return [np.asarray(value) for _, value in expected_leaves(template, out)]
    except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, FloatingPointError):
        return None


def explains(got, wrong: np.ndarray, right: np.ndarray, tol: Tolerance) -> bool:
    """Whether the received value ``got`` is the mistake's ``wrong`` and not the ``right`` one."""
    arr = as_array(got)
    if arr is None or arr.shape != wrong.shape or arr.dtype.kind not in "biuf":
        return False
    if wrong.dtype.kind not in "biuf" or not np.all(np.isfinite(wrong)):
        return False
    distinct = wrong.shape != right.shape or not within(wrong.astype(float), right, tol)
    return distinct and within(arr.astype(float), wrong.astype(float), tol)


def explain_case(
    mistakes: Sequence[Mistake],
    case: Case,
    template,
    received: Sequence,
    expected: Sequence[np.ndarray],
    failing: Sequence[int],
    tol: Tolerance,
) -> dict[int, list[int]]:
    """For each mistake (by index), the failing leaves (by index) it explains in this case."""
    found: dict[int, list[int]] = {}
    for m, mistake in enumerate(mistakes):
        leaves = mistake_leaves(mistake, case, template)
        if leaves is None or len(leaves) != len(expected):
            continue
        hits = [
            i for i in failing if explains(received[i], leaves[i], np.asarray(expected[i]), tol)
        ]
        if hits:
            found[m] = hits
    return found


def summarise(
    mistakes: Sequence[Mistake], per_case: Sequence[dict[int, list[int]]], names: Sequence[str]
) -> list[Diagnosis]:
    """The mistakes worth telling, best first.

    A mistake counts for each failing case it explains; each part is attributed to the mistake
    that explains it in the most cases (ties: the order of the catalogue, which lists the most
    telling mistakes first). Mistakes left with no part are dropped.
    """
    score: dict[int, int] = {}
    parts_of: dict[int, set[int]] = {}
    for found in per_case:
        for m, leaves in found.items():
            score[m] = score.get(m, 0) + 1
            parts_of.setdefault(m, set()).update(leaves)
    owner: dict[int, int] = {}
    for m in sorted(score, key=lambda m: (-score[m], m)):
        for leaf in parts_of[m]:
            owner.setdefault(leaf, m)
    out = []
    for m in sorted(score, key=lambda m: (-score[m], m)):
        leaves = sorted(leaf for leaf, o in owner.items() if o == m)
        if leaves:
            out.append(Diagnosis(mistakes[m], tuple(names[i] for i in leaves), score[m]))
    return out
