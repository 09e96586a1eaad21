"""What the grader checks in 00_concepts: multiple-choice answers.

Everything comes from the solution notebook, concepts.ipynb, so that the questions, their
answers and their points live in one place: each graded cell (nbgrader grade id, points) tests
one variable answer_qN; the right letter is the one the solution cell assigns to it between
### BEGIN SOLUTION and ### END SOLUTION, and the allowed letters are the bold options
(**A.**, **B.**, ...) of the question above it. The feedback says whether an answer is right,
never which letter is.
"""

from __future__ import annotations

import ast
import json
import re

from autograder.grading import judges
from autograder.grading.assignments import AssignmentError
from autograder.grading.spec import Assignment, Case, Test

NOTEBOOK = "concepts.ipynb"
_ANSWER = re.compile(r"answer_q\d+")
_OPTION = re.compile(r"\*\*([A-Z])\.\*\*")


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _solution_answers(code: str) -> dict[str, str]:
    """answer_qN = "X" assignments inside the ### BEGIN/END SOLUTION region of a cell."""
    match = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", code, re.S)
    if not match:
        return {}
    answers = {}
    for node in ast.parse(match.group(1)).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and _ANSWER.fullmatch(node.targets[0].id)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            answers[node.targets[0].id] = node.value.value.strip().upper()
    return answers


def questions(notebook) -> list[tuple[str, str, float, str, str]]:
    """``[(grade id, variable, points, right letter, allowed letters)]`` of the notebook."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    answers: dict[str, str] = {}
    choices: dict[str, str] = {}
    options = "ABCD"
    out = []
    for cell in cells:
        code = _source(cell)
        if cell.get("cell_type") == "markdown":
            found = "".join(_OPTION.findall(code))
            options = found or options
            continue
        for name, letter in _solution_answers(code).items():
            answers[name], choices[name] = letter, options
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            names = list(dict.fromkeys(_ANSWER.findall(code)))
            if len(names) != 1 or names[0] not in answers:
                raise AssignmentError(
                    f"{notebook.name}: graded cell {meta.get('grade_id')!r} must test exactly "
                    f"one answer_qN whose solution cell comes before it, found {names}"
                )
            name = names[0]
            out.append(
                (meta["grade_id"], name, float(meta.get("points", 0)), answers[name], choices[name])
            )
    return out


def build(folder):
    notebook = folder / NOTEBOOK
    if not notebook.exists():
        raise AssignmentError(f"00_concepts needs its solution notebook {notebook} for the answers")
    tests = tuple(
        Test(
            grade_id,
            name,
            points,
            lambda rng: [Case(())],
            judges.answer(letter, allowed),
            kind="value",
            about=f"{name} is the right answer",
        )
        for grade_id, name, points, letter, allowed in questions(notebook)
    )
    if not tests:
        raise AssignmentError(f"{notebook} has no graded answer cells")
    return Assignment("00_concepts", NOTEBOOK, tests, title="Exercise 0: concept checks")
