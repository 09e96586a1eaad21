"""Judge: multiple-choice questions, read from the solution notebook that asks them.

A question is three cells of the instructor notebook, so that the question, its answer, its
points and the explanation of every option live in one place:

* a markdown cell listing the options in bold, ``**A.**``, ``**B.**``, ... (the last such cell
  before the answer cell);
* an answer cell assigning one capital letter to the question's variable (``answer_q3``,
  ``predict_gru``...) between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
* a graded cell naming that variable, whose hidden tests hold ``WHY = {"A": "...", ...}``: one
  explanation per option.

The feedback says whether the answer is right, never which letter is, and explains the option
the learner chose, right or wrong, so that a wrong answer teaches as much as a right one. The
explanations are written in English and shown in the learner's language (``i18n._``): each one is
a message of the catalogue, ``autograder/locale/<lang>/LC_MESSAGES/rnn_course.po``.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .. import i18n
from . import judges
from .assignments import AssignmentError
from .spec import Case, Test

_OPTION = re.compile(r"\*\*([A-Z])\.\*\*")
_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


@dataclass(frozen=True)
class Question:
    grade_id: str
    variable: str
    points: float
    letter: str  # the right one
    choices: str  # the allowed letters, "ABCD"
    why: dict  # letter -> explanation of that option


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _answers(code: str, variable: re.Pattern) -> dict[str, str]:
    """``name = "X"`` assignments inside the solution region of a cell."""
    match = _SOLUTION.search(code)
    if not match:
        return {}
    try:
        tree = ast.parse(match.group(1))
    except SyntaxError:  # the solution region of a function body: no top-level answer there
        return {}
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and variable.fullmatch(node.targets[0].id)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found[node.targets[0].id] = node.value.value.strip().upper()
    return found


def _why(code: str) -> dict[str, str]:
    """The ``WHY = {...}`` literal of a graded cell's hidden tests ({} when there is none)."""
    match = _HIDDEN.search(code)
    if not match:
        return {}
    for node in ast.parse(match.group(1)).body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["WHY"]
            and isinstance(node.value, ast.Dict)
        ):
            return {str(k): str(v) for k, v in ast.literal_eval(node.value).items()}
    return {}


def questions(notebook: Path, variable: str) -> list[Question]:
    """The multiple-choice questions of ``notebook`` whose variables match ``variable``."""
    pattern = re.compile(variable)
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    answers: dict[str, str] = {}
    choices: dict[str, str] = {}
    options = "ABCD"
    out = []
    for cell in cells:
        code = _source(cell)
        if cell.get("cell_type") == "markdown":
            options = "".join(_OPTION.findall(code)) or options
            continue
        for name, letter in _answers(code, pattern).items():
            answers[name], choices[name] = letter, options
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        names = [n for n in dict.fromkeys(re.findall(r"\b\w+\b", code)) if pattern.fullmatch(n)]
        if not names:
            continue
        if len(names) != 1 or names[0] not in answers:
            raise AssignmentError(
                f"{notebook.name}: graded cell {meta.get('grade_id')!r} must test exactly one "
                f"multiple-choice answer whose solution cell comes before it, found {names}"
            )
        name = names[0]
        why = _why(code)
        if why and set(why) != set(choices[name]):
            raise AssignmentError(
                f"{notebook.name}: {meta.get('grade_id')!r} explains the options "
                f"{sorted(why)}, the question has {list(choices[name])}"
            )
        out.append(
            Question(
                meta["grade_id"],
                name,
                float(meta.get("points", 0)),
                answers[name],
                choices[name],
                why,
            )
        )
    return out


def explained(letter: str, choices: str, why: dict[str, str]):
    """:func:`judges.answer`, with the explanation of the option chosen added to its message."""
    plain = judges.answer(letter, choices)

    def judge(test, cases, run):
        verdict = plain(test, cases, run)
        outcome = run.cases[0] if getattr(run, "cases", None) else None
        got = getattr(outcome, "result", None)
        if not isinstance(got, str):
            return verdict
        chosen = got.strip().strip("()'\". ").upper()
        if chosen not in why:
            return verdict
        # The explanation is declared in the notebook, in English, and looked up in the
        # learner's language here, like a mistake's words (tests/test_messages_zh.py collects
        # every option's explanation from ``judge.why``).
        message = i18n._("{message}. {letter}: {why}").format(
            message=verdict.message, letter=chosen, why=i18n._(why[chosen])
        )
        return replace(verdict, message=message)

    judge.why = dict(why)
    return judge


def tests(notebook: Path, variable: str) -> tuple[Test, ...]:
    """One graded value test per question of ``notebook``."""
    return tuple(
        Test(
            q.grade_id,
            q.variable,
            q.points,
            lambda rng: [Case(())],
            explained(q.letter, q.choices, q.why),
            kind="value",
            about=f"{q.variable} is the right answer",
        )
        for q in questions(notebook, variable)
    )
