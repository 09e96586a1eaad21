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
        out = mistake.compute(*case.args)
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
) -> dict[int, dict[int, bool]]:
    """For each mistake that applies to this case, for each failing leaf: does it explain it?

    False means the mistake is contradicted: had it been the learner's mistake, that leaf would
    have come out differently (in particular, right, when the mistake makes no difference here).
    """
    found: dict[int, dict[int, bool]] = {}
    for m, mistake in enumerate(mistakes):
        leaves = mistake_leaves(mistake, case, template)
        if leaves is None or len(leaves) != len(expected):
            continue
        found[m] = {
            i: explains(received[i], leaves[i], np.asarray(expected[i]), tol) for i in failing
        }
    return found


def summarise(
    mistakes: Sequence[Mistake],
    per_case: Sequence[dict[int, dict[int, bool]]],
    names: Sequence[str],
) -> list[Diagnosis]:
    """The mistakes worth telling, best first.

    A mistake explains a part of the output when it accounts for that part in every failing
    case it applies to (and in one at least): a single contradiction rules it out for that part,
    since naming the wrong mistake is worse than naming none. Each part goes to the mistake
    that explains it in the most cases (ties: catalogue order, most telling first); mistakes
    left with no part are dropped.
    """
    explained: dict[tuple[int, int], int] = {}
    contradicted: set[tuple[int, int]] = set()
    for found in per_case:
        for m, verdicts in found.items():
            for leaf, ok in verdicts.items():
                if ok:
                    explained[(m, leaf)] = explained.get((m, leaf), 0) + 1
                else:
                    contradicted.add((m, leaf))
    good = {key: n for key, n in explained.items() if key not in contradicted}
    owner: dict[int, int] = {}
    for (m, leaf), _ in sorted(good.items(), key=lambda item: (-item[1], item[0][0])):
        owner.setdefault(leaf, m)
    cases: dict[int, int] = {}
    for (m, leaf), n in good.items():
        if owner.get(leaf) == m:
            cases[m] = max(cases.get(m, 0), n)
    out = []
    for m in sorted(cases, key=lambda m: (-cases[m], m)):
        leaves = sorted(leaf for leaf, o in owner.items() if o == m)
        out.append(Diagnosis(mistakes[m], tuple(names[i] for i in leaves), cases[m]))
    return out
