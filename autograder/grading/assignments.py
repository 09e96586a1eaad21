"""Load the declaration of an assignment from ``solutions/<NN_topic>/checks.py``.

Each ``checks.py`` defines ``build(folder) -> Assignment``; ``folder`` is its own directory, so
that a declaration can read its solution notebook (the multiple-choice answers of
``00_concepts`` live there). The declaration must agree with the solution notebook: the same
graded cells (nbgrader grade ids) with the same points. A disagreement is the instructor's to
fix, so it stops the run with a message that lists it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .spec import Assignment

SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"


class AssignmentError(Exception):
    """The instructor's side is wrong: unknown assignment, broken or inconsistent checks.py."""


def known(solutions: Path = SOLUTIONS_DIR) -> list[str]:
    """Names of the assignments that declare their checks."""
    if not solutions.is_dir():
        return []
    return sorted(p.parent.name for p in solutions.glob("*/checks.py"))


def graded_cells(notebook: Path) -> dict[str, float]:
    """``{grade id: points}`` of the graded (test) cells of an nbgrader source notebook."""
    content = json.loads(notebook.read_text(encoding="utf-8"))
    cells = {}
    for cell in content.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            cells[meta["grade_id"]] = float(meta.get("points", 0))
    return cells


def check_against_solution(assignment: Assignment, folder: Path) -> None:
    notebook = folder / assignment.notebook
    if not notebook.exists():
        return
    try:
        cells = graded_cells(notebook)
    except (OSError, ValueError, KeyError, AttributeError) as err:
        raise AssignmentError(f"cannot read the graded cells of {notebook}: {err}") from None
    declared = {t.id: float(t.points) for t in assignment.tests}
    problems = []
    for grade_id in sorted(set(cells) - set(declared)):
        problems.append(f"graded cell {grade_id!r} of the notebook has no test in checks.py")
    for grade_id in sorted(set(declared) - set(cells)):
        problems.append(f"test {grade_id!r} of checks.py has no graded cell in the notebook")
    for grade_id in sorted(set(cells) & set(declared)):
        if cells[grade_id] != declared[grade_id]:
            problems.append(
                f"{grade_id!r} is worth {cells[grade_id]:g} points in the notebook but "
                f"{declared[grade_id]:g} in checks.py"
            )
    if problems:
        raise AssignmentError(
            f"{folder.name}/checks.py disagrees with {notebook.name}: " + "; ".join(problems)
        )


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
    check_against_solution(assignment, folder)
    return assignment
