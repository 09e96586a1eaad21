"""Load the declaration of an assignment from ``solutions/<NN_topic>/checks.py``.

Each ``checks.py`` defines ``build(folder) -> Assignment``; ``folder`` is its own directory, so
that a declaration can read its solution notebook (the multiple-choice answers of
``00_concepts`` live there). The declaration must agree with the solution notebook: the same
graded cells (nbgrader grade ids) with the same points. A disagreement is the instructor's to
fix, so it stops the run with a message that lists it. A test may leave its points out
(``None``): it takes those of its cell, so that points are written once, in the notebook source.
Graded cells marked by hand (graded markdown or free-answer cells, tasks) need no test: they are
read from the notebook into ``Assignment.hand_marked``.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

from .spec import Assignment, HandMarked

SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"


class AssignmentError(Exception):
    """The instructor's side is wrong: unknown assignment, broken or inconsistent checks.py."""


def known(solutions: Path = SOLUTIONS_DIR) -> list[str]:
    """Names of the assignments that declare their checks."""
    if not solutions.is_dir():
        return []
    return sorted(p.parent.name for p in solutions.glob("*/checks.py"))


def graded_cells(notebook: Path) -> dict[str, float]:
    """``{grade id: points}`` of the autograded (test) cells of an nbgrader source notebook."""
    return {cell.id: cell.points for cell in read_graded(notebook) if cell.kind == "test"}


def read_graded(notebook: Path) -> list[HandMarked]:
    """Every graded cell of an nbgrader source notebook, with its kind: "test" (a test cell,
    graded automatically), "answer" (a graded answer cell: markdown or code marked by hand) or
    "task" (a task cell, marked by hand), as nbgrader tells them apart."""
    content = json.loads(notebook.read_text(encoding="utf-8"))
    cells = []
    for cell in content.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("task"):
            kind = "task"
        elif meta.get("grade") and (meta.get("solution") or cell.get("cell_type") != "code"):
            kind = "answer"
        elif meta.get("grade"):
            kind = "test"
        else:
            continue
        cells.append(HandMarked(meta["grade_id"], float(meta.get("points", 0)), kind))
    return cells


def check_against_solution(assignment: Assignment, folder: Path) -> Assignment:
    """``assignment`` with the points of the notebook's graded cells (a test declared with
    ``points=None`` takes its cell's) and the cells marked by hand; AssignmentError when
    checks.py and the notebook disagree on the automatically graded cells or their points."""
    notebook = folder / assignment.notebook
    if not notebook.exists():
        return assignment
    try:
        graded = read_graded(notebook)
    except (OSError, ValueError, KeyError, AttributeError) as err:
        raise AssignmentError(f"cannot read the graded cells of {notebook}: {err}") from None
    cells = {c.id: c.points for c in graded if c.kind == "test"}
    manual = tuple(c for c in graded if c.kind != "test")
    declared = {t.id: t.points for t in assignment.tests}
    problems = []
    for grade_id in sorted(set(cells) - set(declared)):
        problems.append(f"graded cell {grade_id!r} of the notebook has no test in checks.py")
    for grade_id in sorted(set(declared) - set(cells)):
        if grade_id in {c.id for c in manual}:
            problems.append(
                f"{grade_id!r} is a cell marked by hand in the notebook, not a test cell: "
                "remove its test from checks.py"
            )
        else:
            problems.append(f"test {grade_id!r} of checks.py has no graded cell in the notebook")
    for grade_id in sorted(set(cells) & set(declared)):
        if declared[grade_id] is not None and cells[grade_id] != float(declared[grade_id]):
            problems.append(
                f"{grade_id!r} is worth {cells[grade_id]:g} points in the notebook but "
                f"{float(declared[grade_id]):g} in checks.py (leave the points out of checks.py: "
                "the notebook's come from solutions/_src)"
            )
    if problems:
        raise AssignmentError(
            f"{folder.name}/checks.py disagrees with {notebook.name}: " + "; ".join(problems)
        )
    tests = tuple(replace(t, points=cells[t.id]) for t in assignment.tests)
    return replace(assignment, tests=tests, hand_marked=manual)


def load(name: str, solutions: Path = SOLUTIONS_DIR) -> Assignment:
    """The assignment declared in ``solutions/<name>/checks.py``."""
    folder = solutions / name
    path = folder / "checks.py"
    if not path.is_file():
        names = ", ".join(known(solutions)) or "none"
        raise AssignmentError(
            f"unknown assignment {name!r}: there is no {path} (assignments with checks: {names})"
        )
    module_name = "rnn_course_checks_" + "".join(c if c.isalnum() else "_" for c in name)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        assignment = module.build(folder)
    except AssignmentError:
        raise
    except Exception as err:  # noqa: BLE001 - any error in an instructor's file stops the run
        raise AssignmentError(f"{path} failed to load: {type(err).__name__}: {err}") from err
    if not isinstance(assignment, Assignment) or assignment.name != name:
        raise AssignmentError(f"{path}: build() must return the Assignment named {name!r}")
    ids = [t.id for t in assignment.tests]
    if len(set(ids)) != len(ids):
        raise AssignmentError(f"{path}: test ids must be unique, got {ids}")
    assignment = check_against_solution(assignment, folder)
    if any(t.points is None for t in assignment.tests):
        raise AssignmentError(
            f"{path}: a test without points needs the solution notebook {assignment.notebook}, "
            "whose graded cells give them"
        )
    return assignment
