"""Stock nbgrader on the course's notebooks, with the repository's nbgrader_config.py.

* exercises/ is what `nbgrader generate_assignment` makes of solutions/ today (not stale);
* `nbgrader autograde` gives an instructor notebook full marks and an untouched student notebook
  zero, read back from nbgrader's gradebook.

Everything happens in a temporary course directory whose nbgrader_config.py loads the
repository's and only moves the course root, the release folder and the gradebook.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parent.parent

_spec = importlib.util.spec_from_file_location(
    "build_notebooks", ROOT / "solutions" / "build_notebooks.py"
)
build_notebooks = sys.modules.setdefault("build_notebooks", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(build_notebooks)

ASSIGNMENTS = {a.name: a for a in build_notebooks.assignments()}
# Autograding runs every notebook twice; two assignments keep this file under a minute: the
# multiple-choice one (answers only in hidden tests) and one with numeric hidden tests.
# Stock nbgrader grades every exercise: the solution gets full marks, the untouched release 0.
AUTOGRADED = list(ASSIGNMENTS)
# Fields nbgrader or Jupyter may change without changing the notebook.
VOLATILE_CELL_FIELDS = {"execution_count", "outputs", "id"}


def make_course(root: Path) -> Path:
    """A course directory using the repository's configuration and solutions/ as its source."""
    root.mkdir(parents=True, exist_ok=True)
    config = (
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(ROOT / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.source_directory = {str(ROOT / 'solutions')!r}\n"
        "c.CourseDirectory.release_directory = 'release'\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n"
    )
    (root / "nbgrader_config.py").write_text(config, encoding="utf-8")
    return root


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=build_notebooks.nbgrader_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def comparable(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    cells = [{k: v for k, v in cell.items() if k not in VOLATILE_CELL_FIELDS} for cell in nb.cells]
    return {"metadata": nb.metadata, "cells": cells}


class Course:
    """A temporary course; each assignment is generated (and recorded in its gradebook) once."""

    def __init__(self, root: Path):
        self.root = make_course(root)
        self.generated: set[str] = set()

    def generate(self, name: str) -> Path:
        if name not in self.generated:
            nbgrader(self.root, "generate_assignment", name, "--force")
            self.generated.add(name)
        return self.root / "release" / name


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    return Course(tmp_path_factory.mktemp("course"))


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_exercises_are_what_nbgrader_generates_from_the_solutions(name, course):
    released = course.generate(name)
    committed = ROOT / "exercises" / name
    assert sorted(p.name for p in released.iterdir()) == sorted(p.name for p in committed.iterdir())
    for notebook in released.glob("*.ipynb"):
        assert comparable(notebook) == comparable(committed / notebook.name), (
            f"exercises/{name} is stale: run `python solutions/build_notebooks.py --release`"
        )


@pytest.mark.parametrize("name", AUTOGRADED)
def test_autograde_gives_full_marks_to_the_solution_and_zero_to_the_untouched_exercise(
    name, course
):
    notebook = ASSIGNMENTS[name].notebook.name
    course.generate(name)  # also records the assignment in the gradebook
    submissions = {
        "solution": ROOT / "solutions" / name / notebook,
        "untouched": ROOT / "exercises" / name / notebook,
    }
    for student, source in submissions.items():
        folder = course.root / "submitted" / student / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / notebook)
    nbgrader(course.root, "autograde", name, "--force")

    graded = [
        cell
        for cell in nbformat.read(submissions["solution"], as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    ]
    points = sum(cell.metadata["nbgrader"]["points"] for cell in graded)
    # A written answer (a graded markdown cell) waits for formgrader: autograde scores the rest.
    by_hand = sum(c.metadata["nbgrader"]["points"] for c in graded if c.cell_type == "markdown")
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        solution = gradebook.find_submission(name, "solution")
        untouched = gradebook.find_submission(name, "untouched")
        scores = (solution.score, untouched.score, solution.max_score)
    print(f"{name}: solution {scores[0]}/{scores[2]}, untouched exercise {scores[1]}/{scores[2]}")
    assert scores == (points - by_hand, 0, points)


def test_autograde_leaves_a_written_answer_to_the_instructor(course):
    """Exercise 3's written explanation (a graded markdown cell) is marked by hand: autograde
    scores every test cell, leaves the written answer for formgrader, and gives the untouched
    exercise's "YOUR ANSWER HERE" zero without asking anyone."""
    name, written = "03_bidirectional", "explain_last_input"
    notebook = ASSIGNMENTS[name].notebook
    course.generate(name)
    sources = {"writer": notebook, "blank": ROOT / "exercises" / name / notebook.name}
    for student, source in sources.items():
        folder = course.root / "submitted" / student / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / notebook.name)
    nbgrader(course.root, "autograde", name, "--force")

    cells = [c.metadata.get("nbgrader", {}) for c in nbformat.read(notebook, as_version=4).cells]
    tests = sum(m["points"] for m in cells if m.get("grade") and not m.get("solution"))
    by_hand = {m["grade_id"]: m["points"] for m in cells if m.get("grade") and m.get("solution")}
    assert by_hand == {written: 2}
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        writer = gradebook.find_submission(name, "writer")
        blank = gradebook.find_submission(name, "blank")
        answer = gradebook.find_grade(written, notebook.stem, name, "writer")
        unanswered = gradebook.find_grade(written, notebook.stem, name, "blank")
        assert writer.max_score == tests + 2
        assert writer.score == tests and writer.needs_manual_grade
        assert answer.needs_manual_grade and answer.auto_score is None
        assert blank.score == 0 and not unanswered.needs_manual_grade
        assert unanswered.auto_score == 0
