"""Every command acts on the course folder in hand, found as nbgrader finds it, never on the
checkout the package was installed from; and release keeps the points in one place.

The package is built into a wheel and installed into a fresh virtual environment (its
dependencies hard-linked from this one's site-packages, the course package from the wheel
alone), which then releases and grades a copy of the course in a temporary folder.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ASSIGNMENT, NOTEBOOK = "01_rnn_cell", "rnn_cell.ipynb"
SAMPLES = ROOT / "book" / "instructor" / "sample_submitted"
PACKAGE_PARTS = ("pyproject.toml", "README.md", "autograder", "book/figures", "book/experiments")


def run(*args, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {"PATH": f"{Path(str(args[0])).parent}:/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def copy_course(target: Path, assignments=(ASSIGNMENT,)) -> Path:
    """A course folder of its own: the repository's nbgrader_config.py (its gradebook and
    folders are relative to itself), the notebook sources, the build script and the instructor
    folders of ``assignments``, and the sample submissions."""
    target.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", target)
    solutions = target / "solutions"
    (solutions / "_src").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "build_notebooks.py", solutions)
    for name in assignments:
        shutil.copy(ROOT / "solutions" / "_src" / f"{name}.py", solutions / "_src")
        shutil.copytree(
            ROOT / "solutions" / name, solutions / name, ignore=shutil.ignore_patterns("__*")
        )
    shutil.copytree(SAMPLES, target / "submitted")
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``rnn-course`` of a wheel built from this repository, in a fresh virtual
    environment that cannot import the checkout."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for part in PACKAGE_PARTS:
        if (ROOT / part).is_dir():
            shutil.copytree(
                ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            (source / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / part, source / part)
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", root / "dist", source],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("rnn_course-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    # The dependencies, as hard links (no copying): everything but this package's editable
    # install, so that the course package can only come from the wheel.
    ours = sysconfig.get_paths()["purelib"]
    theirs = venv / Path(ours).relative_to(sys.prefix)

    def leave_out(folder, names):
        return [n for n in names if folder == ours and n.startswith(("__editable__", "rnn_course"))]

    shutil.copytree(ours, theirs, copy_function=os.link, ignore=leave_out, dirs_exist_ok=True)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [*pip, "--python", python, "install", "-q", "--no-deps", wheel],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    where = subprocess.run(
        [python, "-c", "import autograder; print(autograder.__file__)"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where).is_relative_to(theirs), where
    return venv / "bin" / "rnn-course"


def totals(path: Path) -> dict[str, float]:
    scores: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            scores[row["student_id"]] = scores.get(row["student_id"], 0) + float(row["points"])
    return scores


SNOOP = """
def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):
    import importlib.util
    spec = importlib.util.spec_from_file_location("ref", {path!r})
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    return ref.rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h)[0]
"""


def test_a_wheel_installed_elsewhere_releases_and_grades_a_copied_course(installed, tmp_path):
    course = copy_course(tmp_path / "course")
    # A submission that reads the references from where the wheel installed them.
    reference = installed.parent.parent.glob("lib/python*/site-packages/autograder/reference")
    (numpy_rnn,) = [p / "numpy_rnn.py" for p in reference]
    snoop = nbformat.read(SAMPLES / "untouched" / ASSIGNMENT / NOTEBOOK, as_version=4)
    snoop.cells.append(nbformat.v4.new_code_cell(SNOOP.format(path=str(numpy_rnn))))
    (course / "submitted" / "snoop" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(snoop, course / "submitted" / "snoop" / ASSIGNMENT / NOTEBOOK)

    # Run from a folder inside the course: the course is found upwards.
    inside = course / "solutions" / ASSIGNMENT
    unknown = run(installed, "release", "nosuch", cwd=inside)
    assert unknown.returncode == 2
    assert unknown.stderr.rstrip().endswith(f"has {ASSIGNMENT}"), unknown.stderr
    released = run(installed, "release", "--build", ASSIGNMENT, cwd=inside)
    assert released.returncode == 0, released.stderr
    assert (course / "exercises" / ASSIGNMENT / NOTEBOOK).is_file()

    graded = run(installed, "grade", "submitted", "--out", "graded", "--seed", "5", cwd=course)
    assert graded.returncode == 0, graded.stderr
    assert "level 'rlimits'" not in graded.stderr  # the references hidden, not the sandbox off
    scores = totals(course / "graded" / "grades.csv")
    assert scores["correct"] == 8.0 and scores["untouched"] == 0.0
    assert 0 < scores["mistake_carry"] < 8 and 0 < scores["mistake_transpose"] < 8
    assert scores["snoop"] == 0.0
    with Gradebook(f"sqlite:///{course / '.nbgrader' / 'gradebook.db'}") as gb:
        recorded = {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}
    assert recorded == scores

    # A Gradescope bundle needs the package's sources: a clone of the course repository has them.
    refused = run(installed, "gradescope", ASSIGNMENT, "--out", "bundle.zip", cwd=course)
    assert refused.returncode == 2 and "requirements.txt" in refused.stderr
    for part in (*PACKAGE_PARTS, "requirements.txt"):
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, course / part, ignore=shutil.ignore_patterns("__*"))
        else:
            (course / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / part, course / part)
    bundled = run(installed, "gradescope", ASSIGNMENT, "--out", "bundle.zip", cwd=course)
    assert bundled.returncode == 0, bundled.stderr
    with zipfile.ZipFile(course / "bundle.zip") as bundle:
        checks = bundle.read(f"solutions/{ASSIGNMENT}/checks.py")
        assert "course/autograder/grading/engine.py" in bundle.namelist()
    assert checks == (course / "solutions" / ASSIGNMENT / "checks.py").read_bytes()


def test_outside_a_course_folder_every_command_says_how_to_name_one(tmp_path):
    for command in (["release"], ["grade", ".", "--out", "out"], ["feedback", "out"]):
        result = run(BIN / "rnn-course", *command, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert "no course folder" in result.stderr and "--course DIR" in result.stderr
        assert "Traceback" not in result.stderr
    result = run(BIN / "rnn-course", "release", "--course", tmp_path, cwd=ROOT)
    assert result.returncode == 2 and "no nbgrader_config.py" in result.stderr


def test_course_option_names_the_course_from_anywhere(tmp_path):
    course = copy_course(tmp_path / "course", ("05_gradient_clipping",))
    result = run(BIN / "rnn-course", "release", "nosuch", "--course", course, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.rstrip().endswith("has 05_gradient_clipping"), result.stderr


def test_release_refuses_a_notebook_older_than_its_source_until_it_is_rebuilt(tmp_path):
    course = copy_course(tmp_path / "course")
    built = run(BIN / "rnn-course", "release", "--build", ASSIGNMENT, cwd=course)
    assert built.returncode == 0, built.stderr
    source = course / "solutions" / "_src" / f"{ASSIGNMENT}.py"
    text = source.read_text(encoding="utf-8")
    assert text.count("# %% [markdown]") > 1
    source.write_text(text.replace("# %% [markdown]", "# %% [markdown]\n# A new line.", 1))
    shutil.rmtree(course / "exercises")
    stale = run(BIN / "rnn-course", "release", ASSIGNMENT, cwd=course)
    assert stale.returncode == 2, stale.stderr
    assert "out of date with its source" in stale.stderr
    assert f"solutions/{ASSIGNMENT}/{NOTEBOOK}" in stale.stderr and "--build" in stale.stderr
    assert not (course / "exercises").exists()
    rebuilt = run(BIN / "rnn-course", "release", "--build", ASSIGNMENT, cwd=course)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt solutions/{ASSIGNMENT}/{NOTEBOOK}" in rebuilt.stdout
    assert "A new line." in (course / "exercises" / ASSIGNMENT / NOTEBOOK).read_text()


OTHER_POINTS = """

_declared = build


def build(folder):
    import dataclasses

    assignment = _declared(folder)
    first = dataclasses.replace(assignment.tests[0], points=5)
    return dataclasses.replace(assignment, tests=(first, *assignment.tests[1:]))
"""


def test_release_refuses_checks_that_give_other_points_than_the_notebook(tmp_path):
    course = copy_course(tmp_path / "course")
    with open(course / "solutions" / ASSIGNMENT / "checks.py", "a", encoding="utf-8") as f:
        f.write(OTHER_POINTS)
    result = run(BIN / "rnn-course", "release", "--build", ASSIGNMENT, cwd=course)
    assert result.returncode == 2
    assert "disagree" in result.stderr and "but 5 in checks.py" in result.stderr
    assert not (course / "exercises").exists()


def test_a_test_without_points_takes_its_cells_points():
    import dataclasses

    from autograder.grading import assignments

    declared = assignments.load(ASSIGNMENT)
    unstated = dataclasses.replace(
        declared, tests=tuple(dataclasses.replace(t, points=None) for t in declared.tests)
    )
    folder = ROOT / "solutions" / ASSIGNMENT
    loaded = assignments.check_against_solution(unstated, folder)
    assert {t.id: t.points for t in loaded.tests} == assignments.graded_cells(folder / NOTEBOOK)
    assert loaded.max_points == declared.max_points == 8


def test_check_finds_the_course_from_the_notebook_when_the_working_directory_has_none(tmp_path):
    course = copy_course(tmp_path / "course")
    notebook = course / "submitted" / "correct" / ASSIGNMENT / NOTEBOOK
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = run(BIN / "rnn-course", "check", notebook, "--seed", "2", cwd=elsewhere)
    assert found.returncode == 0, found.stdout + found.stderr
    assert "8 of 8 points" in found.stdout
    lost = elsewhere / NOTEBOOK
    shutil.copy(notebook, lost)
    refused = run(BIN / "rnn-course", "check", lost, cwd=elsewhere)
    assert refused.returncode == 2 and "no course folder" in refused.stderr


@pytest.mark.parametrize(
    "config",
    [
        "",  # nbgrader's default: gradebook.db in the course root
        "c.CourseDirectory.root = 'sub/..'\n",  # a relative root, made absolute
        "c.CourseDirectory.db_url = 'sqlite:////srv/grades/term.db'\n",
    ],
)
def test_the_gradebook_url_is_the_one_nbgrader_reads(tmp_path, monkeypatch, config):
    from nbgrader.coursedir import CourseDirectory

    from autograder.grading import gradebook

    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n" + config, encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)  # nbgrader makes a relative root absolute from here
    expected = CourseDirectory(config=gradebook.course_config(tmp_path)).db_url
    assert gradebook.course_db_url(tmp_path) == expected


def test_the_roster_read_without_nbgrader_is_nbgraders(tmp_path):
    from autograder.grading import gradebook

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    gradebook._nbgrader()  # alembic on PATH, as the grader has it
    with Gradebook(url) as gb:
        gb.add_student("1001", first_name="Ada", last_name="Lovelace")
        gb.add_student("1002")
    assert gradebook._sqlite_roster(tmp_path / "gradebook.db") == {
        "1001": "Ada Lovelace",
        "1002": "",
    }
    assert gradebook.roster(url) == {"1001": "Ada Lovelace", "1002": ""}
    (tmp_path / "empty.db").write_bytes(b"")  # no student table: nbgrader's own way decides
    assert gradebook._sqlite_roster(tmp_path / "empty.db") is None


def test_submissions_made_ahead_of_grading_are_removed_when_nothing_was_handed_in(tmp_path):
    """The gradebook's students and submissions are created while the notebooks run; one that
    turns out to have no notebook to grade leaves no submission behind (nbgrader counts the
    student's assignment as not submitted, as before)."""
    from types import SimpleNamespace

    from autograder.grading import assignments, gradebook
    from autograder.grading.spec import Verdict

    assignment = assignments.load(ASSIGNMENT, ROOT / "solutions")
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    recorder = gradebook.Recorder(
        url,
        [assignment],
        ROOT / "solutions",
        expected=[("1001", ASSIGNMENT), ("1002", ASSIGNMENT)],
        names={"1001": {"first_name": "Ada", "last_name": "Lovelace"}},
    )
    missing = [Verdict(0.0, "missing", "no submission") for _ in assignment.tests]
    reports = [
        SimpleNamespace(student=s, assignment=assignment, result=None, verdicts=missing)
        for s in ("1001", "1002")
    ]
    assert recorder.record(reports)["submissions"] == 0
    with Gradebook(url) as gb:
        assert {s.id: s.first_name for s in gb.students} == {"1001": "Ada", "1002": None}
        assert gb.assignment_submissions(ASSIGNMENT) == []
