"""The end of a term's assignment: cells marked by hand, and the feedback handed back.

A course folder of its own holds Exercise 1 with one more graded cell, a markdown answer marked
by hand ("explain why tanh saturates", 2 points). `rnn-course release` records it, `rnn-course
grade` leaves it to formgrader (and goes on), formgrader finds the graded notebooks, the points
given there are added by `nbgrader export` and survive a regrade. `rnn-course feedback` lays the
pages out for `nbgrader release_feedback`, and writes the zips Canvas and Moodle take back.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RNN_COURSE = str(BIN / "rnn-course")
ASSIGNMENT, NOTEBOOK = "01_rnn_cell", "rnn_cell.ipynb"
EXPLAIN = "explain_tanh"


def run(*args, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def with_hand_marked_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        "Explain in two sentences why tanh saturates.\n\n"
        "For large |a| the derivative 1 - tanh(a)^2 is close to 0, so little gradient flows."
    )
    cell.id = "explain-tanh"
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": EXPLAIN,
        "locked": False,
        "points": 2,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }
    nb.cells.insert(2, cell)
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course folder with the changed Exercise 1 released, and two students graded: one
    handing in the answers, one the untouched notebook."""
    course = tmp_path_factory.mktemp("term")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(ROOT / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}\n"
        "c.CourseDirectory.course_id = 'rnn'\n"
        f"c.Exchange.root = {str(course / 'exchange')!r}\n",
        encoding="utf-8",
    )
    source = course / "solutions" / ASSIGNMENT
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, source, ignore=shutil.ignore_patterns("__*"))
    solution = with_hand_marked_cell(nbformat.read(source / NOTEBOOK, as_version=4))
    nbformat.write(solution, source / NOTEBOOK)
    released = run(RNN_COURSE, "release", ASSIGNMENT, cwd=course)
    assert released.returncode == 0, released.stderr
    exercise = course / "exercises" / ASSIGNMENT / NOTEBOOK
    for student, nb in {"ada": solution, "bob": nbformat.read(exercise, as_version=4)}.items():
        (course / "submitted" / student / ASSIGNMENT).mkdir(parents=True)
        nbformat.write(nb, course / "submitted" / student / ASSIGNMENT / NOTEBOOK)
    graded = run(RNN_COURSE, "grade", "submitted", "--out", "graded", "--seed", "3", cwd=course)
    assert graded.returncode == 0, graded.stderr
    return course


def db(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


def export(course: Path) -> dict[str, dict]:
    result = run(sys.executable, "-m", "nbgrader", "export", "--to", "scores.csv", cwd=course)
    assert result.returncode == 0, result.stderr[-2000:]
    with open(course / "scores.csv", newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def test_a_graded_markdown_cell_waits_for_hand_marking_and_the_run_goes_on(course):
    with Gradebook(db(course)) as gb:
        assert gb.find_assignment(ASSIGNMENT).max_score == 10.0  # 8 automatic + 2 by hand
        for student in ("ada", "bob"):
            grade = gb.find_grade(EXPLAIN, "rnn_cell", ASSIGNMENT, student)
            assert grade.needs_manual_grade and grade.auto_score is None
            test = gb.find_grade("test_rnn_forward_values", "rnn_cell", ASSIGNMENT, student)
            assert not test.needs_manual_grade
        assert gb.find_submission(ASSIGNMENT, "ada").score == 8.0
    rows = list(csv.DictReader(open(course / "graded" / "grades.csv", encoding="utf-8")))
    assert EXPLAIN not in {r["test_id"] for r in rows}
    page = (course / "graded" / "feedback" / "ada" / ASSIGNMENT / "rnn_cell.html").read_text()
    assert "marked by hand" in page and EXPLAIN in page


def test_formgrader_finds_the_graded_notebooks_to_mark(course):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    for student in ("ada", "bob"):
        assert (course / "autograded" / student / ASSIGNMENT / NOTEBOOK).is_file()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    assert api.get_assignment(ASSIGNMENT)["num_submissions"] == 2
    submissions = {s["student"]: s for s in api.get_submissions(ASSIGNMENT)}
    assert {s: (v["autograded"], v["needs_manual_grade"]) for s, v in submissions.items()} == {
        "ada": (True, True),
        "bob": (True, True),
    }


def test_the_export_adds_the_points_given_by_hand_and_a_regrade_keeps_them(course):
    with Gradebook(db(course)) as gb:
        grade = gb.find_grade(EXPLAIN, "rnn_cell", ASSIGNMENT, "ada")
        grade.manual_score = 1.5  # what formgrader stores
        gb.db.commit()
    assert float(export(course)["ada"]["score"]) == 9.5
    again = run(RNN_COURSE, "grade", "submitted", "--out", "graded", "--regrade", "all", cwd=course)
    assert again.returncode == 0, again.stderr
    scores = export(course)
    assert float(scores["ada"]["score"]) == 9.5 and float(scores["ada"]["max_score"]) == 10.0
    assert float(scores["bob"]["score"]) == 0.0


def test_nbgrader_release_feedback_releases_the_pages(course):
    result = run(RNN_COURSE, "feedback", "graded", cwd=course)
    assert result.returncode == 0, result.stderr
    assert "2 page(s)" in result.stdout and "nbgrader release_feedback" in result.stdout
    for student in ("ada", "bob"):
        folder = course / "feedback" / student / ASSIGNMENT
        assert sorted(p.name for p in folder.iterdir()) == [
            "rnn_cell.html",
            "submission_secret.txt",
            "timestamp.txt",
        ]
    (course / "exchange").mkdir()
    released = run(sys.executable, "-m", "nbgrader", "release_feedback", ASSIGNMENT, cwd=course)
    assert released.returncode == 0, released.stderr[-2000:]
    outbound = course / "exchange" / "rnn" / "feedback"
    # nbgrader names each page by the hash a learner's fetch_feedback computes from the secret.
    from nbgrader.utils import notebook_hash

    expected = set()
    for student in ("ada", "bob"):
        secret = (course / "feedback" / student / ASSIGNMENT / "submission_secret.txt").read_text()
        expected.add(f"{notebook_hash(secret=secret, notebook_id='rnn_cell')}.html")
    assert {p.name for p in outbound.iterdir()} == expected


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("lms", "members", "expected"),
    [
        (
            "canvas",
            ["doejane_1001_900001_rnn_cell.ipynb", "smithbob_LATE_1002_900002_rnn_cell.ipynb"],
            {
                "1001": "doejane_1001_900001_rnn_cell_feedback.html",
                "1002": "smithbob_1002_900002_rnn_cell_feedback.html",
            },
        ),
        (
            "moodle",
            [
                "Jean-Luc de la Tour_12345_assignsubmission_file_/rnn_cell.ipynb",
                "Ann Lee_12346_assignsubmission_file_/rnn_cell.ipynb",
            ],
            {
                "12345": "Jean-Luc de la Tour_12345_assignsubmission_file_/rnn_cell_feedback.html",
                "12346": "Ann Lee_12346_assignsubmission_file_/rnn_cell_feedback.html",
            },
        ),
    ],
)
def test_one_zip_returns_every_page_named_as_the_platform_names_submissions(
    course, tmp_path, lms, members, expected
):
    notebook = (course / "submitted" / "ada" / ASSIGNMENT / NOTEBOOK).read_bytes()
    archive = tmp_path / f"{lms}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for member in members:
            z.writestr(member, notebook)
    out = tmp_path / "out"
    graded = run(
        RNN_COURSE,
        "grade",
        "--zip",
        archive,
        "--assignment",
        ASSIGNMENT,
        "--out",
        out,
        "--no-gradebook",
        cwd=course,
    )
    assert graded.returncode == 0, graded.stderr
    result = run(RNN_COURSE, "feedback", out, "--no-nbgrader", cwd=course)
    assert result.returncode == 0, result.stderr
    upload = out / f"feedback_{lms}.zip"
    with zipfile.ZipFile(upload) as z:
        names = set(z.namelist())
        assert names == set(expected.values())
        for student, name in expected.items():
            page = out / "feedback" / student / ASSIGNMENT / "rnn_cell.html"
            assert z.read(name) == page.read_bytes()
    if lms == "moodle":
        page = (out / "feedback" / "12345" / ASSIGNMENT / "rnn_cell.html").read_text()
        assert "Jean-Luc de la Tour (12345)" in page
    # A later batch from a folder into the same OUT: the platform's learners keep their names.
    later = run(RNN_COURSE, "grade", "submitted", "--out", out, "--no-gradebook", cwd=course)
    assert later.returncode == 0, later.stderr
    upload.unlink()
    again = run(RNN_COURSE, "feedback", out, "--no-nbgrader", cwd=course)
    assert again.returncode == 0, again.stderr
    assert "2 page(s) not in the zip" in again.stderr  # ada's and bob's, from the folder
    with zipfile.ZipFile(upload) as z:
        assert set(z.namelist()) == set(expected.values())


def test_feedback_needs_a_graded_output_folder(course, tmp_path):
    result = run(RNN_COURSE, "feedback", tmp_path, cwd=course)
    assert result.returncode == 2 and "no feedback pages" in result.stderr
