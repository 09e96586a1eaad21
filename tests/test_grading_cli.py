"""The `rnn-course grade` command, as an instructor runs it."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_grading_submissions as subs

from autograder.grading import assignments

RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")

WRONG_CLIP = '''
def clip_grad_norm(grads, max_norm):
    """Every entry clamped: clipping by value, where the global norm was asked for."""
    total = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    return [np.clip(g, -max_norm, max_norm) for g in grads], total
'''


def _grade(*args, timeout=600):
    # The course's own gradebook is not the tests' to write: tests/test_workflow_grade.py covers it.
    argv = [RNN_COURSE, "grade", *map(str, args), "--no-gradebook"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One real run of the command: a correct and a wrong 05, an untouched 01, a stray folder."""
    root = tmp_path_factory.mktemp("cli")
    submitted = root / "submitted"
    a, notebook = "05_gradient_clipping", subs.ASSIGNMENTS["05_gradient_clipping"]
    subs.write(subs.solution(a), submitted / "ada" / a / notebook)
    wrong = subs.replace_definition(subs.solution(a), "clip_grad_norm", WRONG_CLIP)
    wrong = subs.with_cell(wrong, "print('<script>alert(1)</script>')")
    subs.write(wrong, submitted / "bob" / a / notebook)
    subs.write(subs.exercise("01_rnn_cell"), submitted / "bob" / "01_rnn_cell" / "rnn_cell.ipynb")
    (submitted / "bob" / "99_homework").mkdir()
    out = root / "out"
    result = _grade(submitted, "--out", out, "--workers", 2, "--timeout", 20)
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {"result": result, "out": out, "rows": rows, "submitted": submitted}


def test_a_graded_batch_exits_with_zero_whatever_the_scores(graded):
    assert graded["result"].returncode == 0, graded["result"].stderr
    assert "isolation: level" in graded["result"].stderr


def test_every_student_gets_a_row_per_test_of_every_assignment_found(graded):
    rows = graded["rows"]
    assert list(rows[0]) == [
        "student_id",
        "assignment",
        "notebook",
        "test_id",
        "points",
        "max_points",
        "status",
        "message",
        "file",
        "counted",
        "submitted_at",
        "late_penalty",
    ]
    pairs = {(r["student_id"], r["assignment"]) for r in rows}
    assert pairs == {
        (s, a) for s in ("ada", "bob") for a in ("01_rnn_cell", "05_gradient_clipping")
    }
    ada = [
        r for r in rows if r["student_id"] == "ada" and r["assignment"] == "05_gradient_clipping"
    ]
    assert len(ada) == len(assignments.load("05_gradient_clipping").tests)
    assert all(r["status"] == "passed" for r in ada)
    missing = [r for r in rows if r["student_id"] == "ada" and r["assignment"] == "01_rnn_cell"]
    assert missing and all(r["status"] == "missing" for r in missing)


def test_a_stray_folder_is_skipped_with_a_warning(graded):
    assert "skipped '99_homework'" in graded["result"].stderr


def test_the_message_names_the_mistake_and_how_to_fix_it(graded):
    row = next(
        r
        for r in graded["rows"]
        if r["student_id"] == "bob" and r["test_id"] == "test_clip_grad_norm"
    )
    # The norm it returns is right (half the parts), the clipped arrays are not.
    assert row["status"] == "partial" and float(row["points"]) == 1.5
    assert "clipping by value" in row["message"]
    assert "global-norm clipping scales all the arrays by one factor" in row["message"]


def test_feedback_pages_are_written_and_escaped(graded):
    page = graded["out"] / "feedback" / "bob" / "05_gradient_clipping" / "gradient_clipping.html"
    html = page.read_text(encoding="utf-8")
    assert "clipping by value" in html and "What to change" in html
    assert "<script>" not in html
    assert (graded["out"] / "feedback" / "ada" / "01_rnn_cell" / "rnn_cell.html").exists()


def test_the_run_log_records_the_isolation_used(graded):
    log = json.loads((graded["out"] / "grading.json").read_text())
    assert log["isolation"]["level"] in ("bubblewrap", "landlock", "rlimits")
    assert log["isolation"]["layers"] and log["notebooks"] == 4


def test_only_the_assignments_asked_for_are_graded(graded, tmp_path):
    out = tmp_path / "out"
    result = _grade(graded["submitted"], "--out", out, "--assignment", "01_rnn_cell")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(out / "grades.csv", newline="", encoding="utf-8")))
    assert {r["assignment"] for r in rows} == {"01_rnn_cell"}


@pytest.mark.parametrize(
    "args, words",
    [
        (["no-such-folder", "--out", "OUT"], "does not exist"),
        (["SUBMITTED", "--out", "OUT", "--assignment", "99_nothing"], "unknown assignment"),
        (["SUBMITTED", "--out", "OUT", "--workers", "0"], "--workers"),
    ],
)
def test_the_instructors_mistakes_stop_with_a_clear_message(tmp_path, args, words):
    (tmp_path / "SUBMITTED").mkdir()
    args = [str(tmp_path / a) if a in ("no-such-folder", "SUBMITTED", "OUT") else a for a in args]
    result = _grade(*args, timeout=120)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_a_declaration_that_disagrees_with_its_notebook_stops_the_run(tmp_path):
    solutions = tmp_path / "solutions"
    shutil.copytree(subs.SOLUTIONS / "01_rnn_cell", solutions / "01_rnn_cell")
    notebook = solutions / "01_rnn_cell" / "rnn_cell.ipynb"
    # The points come from the notebook; a graded cell that checks.py does not test cannot.
    text = notebook.read_text()
    assert text.count('"grade_id": "test_output_forward"') == 1
    notebook.write_text(
        text.replace('"grade_id": "test_output_forward"', '"grade_id": "test_other"')
    )
    (tmp_path / "sub" / "s" / "01_rnn_cell").mkdir(parents=True)
    result = _grade(tmp_path / "sub", "--out", tmp_path / "out", "--solutions", solutions)
    assert result.returncode == 2 and "disagrees with rnn_cell.ipynb" in result.stderr


def test_one_notebook_can_be_checked_with_the_same_engine(tmp_path):
    """The entry point a future `rnn-course check NOTEBOOK` will call."""
    from autograder.grading import engine, sandbox

    path = subs.write(subs.solution("05_gradient_clipping"), tmp_path / "gradient_clipping.ipynb")
    options = engine.Options(workers=1, limits=sandbox.Limits(timeout=20))
    report = engine.check(path, options=options)
    assert report.assignment.name == "05_gradient_clipping"
    assert len(report.verdicts) == len(report.assignment.tests)
    assert all(v.status == "passed" for v in report.verdicts)
    with pytest.raises(engine.SetupError, match="which assignment"):
        engine.check(tmp_path / "notes.ipynb", options=options)
