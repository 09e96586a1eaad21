"""What the sandbox may import from the course package.

The exercise notebooks import the course package: ``autograder.notebook_checks`` for their
visible tests, and ``autograder.reference`` in the locked setup cells that hand the learner a
finished piece (Exercise 2 is given ``rnn_forward``, Exercise 3 ``rnn_forward`` and
``rnn_backward``). The sandbox cannot see the package, so each job carries stand-ins: the
check helpers and the comparison they share with the grader, the input validation of the references, and each reference module *pruned to the
names the assignment gives* (``Assignment.givens``) and what they need. A submission that
imports anything else of the references, such as the function it is asked to write, gets an
ImportError, exactly as if the package were not installed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from .program import prune_module

PACKAGE = Path(__file__).resolve().parents[1]
_PRUNED = ("autograder.reference.numpy_rnn", "autograder.reference.torch_rnn")
_CHAR_DATA = "autograder.reference.char_data"  # given whole, with its texts
_WHOLE = {
    "autograder.notebook_checks": PACKAGE / "notebook_checks.py",
    "autograder.comparison": PACKAGE / "comparison.py",  # notebook_checks compares with it
    "autograder.reference._checks": PACKAGE / "reference" / "_checks.py",
}


def _file(module: str) -> Path:
    return PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")


@cache
def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def course_modules(givens: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """``{module name: source}`` of the stand-in course package for one assignment."""
    return dict(_modules(tuple(sorted((k, tuple(v)) for k, v in givens.items()))))


@cache
def _modules(frozen: tuple) -> tuple:
    givens = dict(frozen)
    unknown = set(givens) - {*_PRUNED, _CHAR_DATA}
    if unknown:
        raise ValueError(f"only names of {_PRUNED} can be given, not of {sorted(unknown)}")
    modules = {"autograder": "", "autograder.reference": ""}
    for name, path in _WHOLE.items():
        modules[name] = _source(path)
    for name in _PRUNED:
        keep = tuple(givens.get(name, ()))
        given = f"only {', '.join(keep)}, given by the exercise" if keep else "nothing is given"
        header = f"Stand-in for {name} inside the grader's sandbox: {given}."
        modules[name] = prune_module(_source(_file(name)), keep, header) if keep else repr(header)
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
