"""What the sandbox may import from the course package.

The exercise notebooks import the course package: ``autograder.notebook_checks`` for their
visible tests, ``autograder.reference.char_data`` for the text of Exercise 6, and, where an
exercise hands the learner a finished piece (Exercise 2 is given ``rnn_forward``, Exercise 3
``rnn_forward`` and ``rnn_backward``), its handout ``autograder.handouts.<topic>``. The sandbox
cannot see the package, so each job carries stand-ins of exactly these: the check helpers and the
comparison they share with the grader, the input validation the references use, the handout of
the assignment with the names it declares (``Assignment.givens``) pruned from the reference as
:mod:`autograder.handouts` prunes them, and char_data where it is given. The reference modules are
not among them: a submission that imports one, or a name its handout does not give, gets an
ImportError, exactly as if the package were not installed, and the grader says that the name is
not given (:func:`autograder.grading.judges.error_text`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from autograder import handouts

PACKAGE = Path(__file__).resolve().parents[1]
_NUMPY_RNN = "autograder.reference.numpy_rnn"  # what handouts are pruned from
_CHAR_DATA = "autograder.reference.char_data"  # given whole, with its texts
_WHOLE = {
    "autograder.notebook_checks": PACKAGE / "notebook_checks.py",
    "autograder.comparison": PACKAGE / "comparison.py",  # notebook_checks compares with it
    "autograder.i18n": PACKAGE / "i18n.py",  # comparison's messages (English in the sandbox)
    "autograder.reference._checks": PACKAGE / "reference" / "_checks.py",
}


def _file(module: str) -> Path:
    return PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")


@cache
def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def course_modules(givens: Mapping[str, Sequence[str]], assignment: str = "") -> dict[str, str]:
    """``{module name: source}`` of the stand-in course package for one assignment.

    ``givens`` is the assignment's ``Assignment.givens``; names of the NumPy reference go into
    the handout of ``assignment`` (``autograder.handouts.<topic>``), char_data goes whole.
    """
    frozen = tuple(sorted((k, tuple(v)) for k, v in givens.items()))
    return dict(_modules(frozen, assignment))


@cache
def _modules(frozen: tuple, assignment: str) -> tuple:
    givens = dict(frozen)
    unknown = set(givens) - {_NUMPY_RNN, _CHAR_DATA}
    if unknown:
        raise ValueError(f"only names of {_NUMPY_RNN} can be given, not of {sorted(unknown)}")
    modules = {"autograder": "", "autograder.reference": ""}
    for name, path in _WHOLE.items():
        modules[name] = _source(path)
    keep = tuple(givens.get(_NUMPY_RNN, ()))
    if keep:
        if not assignment:
            raise ValueError("an assignment that gives reference functions needs its name")
        handout = handouts.module_name(assignment)
        header = f"Stand-in for {handout} inside the grader's sandbox: only {', '.join(keep)}."
        modules[handouts.__name__] = ""
        modules[handout] = handouts.source(keep, header)
    if _CHAR_DATA in givens:
        modules[_CHAR_DATA] = _char_data()
    return tuple(modules.items())


def _char_data() -> str:
    """char_data as it is, except that its texts travel with it: the sandbox has no data folder."""
    from autograder.reference import char_data

    texts = {name: char_data.load_text(name) for name in char_data.CORPORA}
    return (
        _source(_file(_CHAR_DATA))
        + "\n\n# Inside the grader's sandbox the texts come with the module.\n"
        + f"_TEXTS = {texts!r}\n\n\n"
        + "def load_text(name: str = 'shakespeare') -> str:\n"
        + "    if name not in _TEXTS:\n"
        + "        raise ValueError(f'name must be one of {sorted(_TEXTS)}, got {name!r}')\n"
        + "    return _TEXTS[name]\n"
    )
