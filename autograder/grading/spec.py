"""How an assignment declares what it checks: the types used by ``solutions/<NN>/checks.py``.

An :class:`Assignment` is a list of :class:`Test` (one graded row each, with the nbgrader grade
id of the matching test cell of the solution notebook). A test names what the child must call,
builds its :class:`Case` inputs from a fresh random generator, and hands the outputs to a judge,
a pure function of the cases and outcomes (see :mod:`.judges`).

The expected layout of a function's return value is declared with :class:`Array`,
:class:`Scalar` and :class:`ListOf` leaves inside tuples and dicts, e.g. ``(Array("dx", ("N",
"D")), Array("dh_prev", ("N", "H")), ...)``, so that every leaf is compared and diagnosed on its
own and reported under its own name. A :class:`Mistake` is a typical wrong version of the
function, computed in the parent on the same inputs, that the feedback can name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """``|got - expected| <= atol + rtol * max|expected|``, judged over a whole array."""

    rtol: float = 1e-5
    atol: float = 1e-8


@dataclass(frozen=True)
class Array:
    """An array leaf; ``axes`` names its axes for messages ("N", "T", "H")."""

    name: str
    axes: tuple[str, ...] = ()
    kind: str = "f"  # "f": floating point; "i": integers


@dataclass(frozen=True)
class Scalar:
    """A real number: a Python float or int, a NumPy scalar or a 0-d array."""

    name: str


@dataclass(frozen=True)
class ListOf:
    """A list (or tuple) of leaves, as long as the reference's, e.g. clipped gradients."""

    name: str
    item_axes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One call: ``args`` go to the child; ``extra`` stays in the parent (references, mistakes).

    ``label`` describes the case to the learner ("N=1, T=1").
    """

    args: tuple
    extra: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class Mistake:
    """A typical wrong version: ``compute(*case.args)`` returns what it would output.

    ``says`` completes "it matches the output with ..." ("the bias b_h left out"); ``hint``
    says what to change ("add b_h inside the tanh"). A mistake that does not apply to a case
    (for example a transposed weight when the matrix is not square) raises ValueError.
    """

    says: str
    hint: str
    compute: Callable[..., Any]


@dataclass(frozen=True)
class Verdict:
    """The judgement of one test: one row of grades.csv and a section of the feedback."""

    fraction: float  # of max_points earned, in [0, 1]
    status: str  # passed, partial, failed, error, missing, timeout, crashed
    message: str  # one line for grades.csv
    details: tuple[str, ...] = ()  # longer explanations for the feedback page


class Judge(Protocol):
    def __call__(self, test: Test, cases: Sequence[Case], outcomes: Sequence) -> Verdict: ...


@dataclass(frozen=True)
class Test:
    """One graded test (one row per student): what to call, on which inputs, how to judge.

    kind "call" calls the function ``name``; "value" reads the variable ``name``; "module"
    builds the ``nn.Module`` class ``name`` (see :mod:`.module_checks`).
    """

    id: str
    name: str
    points: float | None  # None: the points of the graded cell ``id`` of the solution notebook
    cases: Callable[[np.random.Generator], list[Case]]
    judge: Judge
    kind: str = "call"
    keep_args: bool = False
    about: str = ""  # what the test checks, in one phrase, for the feedback page

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class HandMarked:
    """A graded cell nbgrader's formgrader marks by hand: a graded markdown or free-answer cell
    (``kind`` "answer") or a task (``kind`` "task"). The grader records it as needing manual
    grading; ``nbgrader export`` adds the points given in formgrader to the automatic ones."""

    id: str  # the nbgrader grade id
    points: float
    kind: str = "answer"


@dataclass(frozen=True)
class Assignment:
    """Everything the grader needs to grade one assignment."""

    name: str  # folder name, "01_rnn_cell"
    notebook: str  # file name, "rnn_cell.ipynb"
    tests: tuple[Test, ...]
    title: str = ""
    # Reference functions the exercise hands to the learner in its setup cells, by module:
    # {"autograder.reference.numpy_rnn": ("rnn_forward",)} (see autograder.grading.givens).
    givens: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Graded cells marked by hand, read from the solution notebook by the loader
    # (autograder.grading.assignments), never declared in checks.py.
    hand_marked: tuple[HandMarked, ...] = ()
    # A NumPy-only exercise: its sandbox offers no PyTorch (an answer cannot call torch.nn.RNN),
    # and neither the workers nor the grader import it.
    numpy_only: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.name for t in self.tests))

    @property
    def max_points(self) -> float:
        return float(sum(t.points for t in self.tests))
