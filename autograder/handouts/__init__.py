"""What an exercise hands to the learner from the reference library, and nothing it grades.

Exercises build on each other: Exercise 2 runs back through the states of Exercise 1's
``rnn_forward``, Exercise 3 runs Exercises 1 and 2 in both directions, Exercise 6 trains with
Exercise 5's clipping. Such an exercise imports its given pieces from its own module here, named
after its folder (``exercises/02_bptt`` → ``autograder.handouts.bptt``), which holds exactly
the names its ``solutions/<NN>/checks.py`` declares as given (``Assignment.givens``). One
handout is shared: ``autograder.handouts.gradcheck`` gives back Exercise 2's numerical gradient,
with ``gradient_check`` and its table, to the exercises that check their own gradients (6 and
7). No graded function uses it, so the grader's sandbox never needs it.

A handout is the reference code of those names and of what they need, and nothing more: the
same pruned source (:func:`source`) that the grader's sandbox serves under the same module name
(:mod:`autograder.grading.givens`), compiled here as a module of its own. It never imports the
reference modules, so no function the exercise grades is an attribute away from what it gives.
"""

from __future__ import annotations

import linecache
import re
import types
from collections.abc import Sequence
from pathlib import Path

_NUMPY_RNN = Path(__file__).resolve().parents[1] / "reference" / "numpy_rnn.py"


def module_name(assignment: str) -> str:
    """The handout of an assignment: ``"02_bptt"`` → ``"autograder.handouts.bptt"``."""
    return f"{__name__}.{assignment.split('_', 1)[-1]}"


def source(names: Sequence[str], header: str) -> str:
    """``autograder.reference.numpy_rnn`` reduced to ``names`` and what they need."""
    from autograder.grading.program import prune_module

    pruned = prune_module(_NUMPY_RNN.read_text(encoding="utf-8"), names, header)
    missing = [n for n in names if not re.search(rf"^(def|class) {n}\b", pruned, flags=re.M)]
    if missing:
        raise ValueError(f"autograder.reference.numpy_rnn does not define {missing}")
    # The reference imports its helpers relatively; a handout lives in another package.
    return re.sub(
        r"^from \.(\w+) import", r"from autograder.reference.\1 import", pruned, flags=re.M
    )


def hand_out(module: types.ModuleType, names: Sequence[str]) -> None:
    """Give ``module`` (a handout, while it is imported) the reference's ``names``.

    The pruned code runs in a namespace of its own, so that the module shows only ``names``; it
    is registered with :mod:`linecache` so that ``rnn_forward??`` shows its source.
    """
    text = source(names, (module.__doc__ or "").strip())
    filename = f"<handout {module.__name__}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    namespace = {"__name__": module.__name__, "__builtins__": __builtins__}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - the course's own code
    for name in names:
        setattr(module, name, namespace[name])
    module.__all__ = list(names)
