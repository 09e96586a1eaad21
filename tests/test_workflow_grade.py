"""An instructor's grading run from a Canvas download: `rnn-course grade --zip`, the scores in
nbgrader's gradebook (read back with `nbgrader export`), and OUT/summary.html."""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import test_grading_submissions as subs
from nbgrader.api import Gradebook

RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
ASSIGNMENT, NOTEBOOK = "01_rnn_cell", "rnn_cell.ipynb"
NO_BIAS = '''
def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):
    """The bias forgotten."""
    return np.tanh(x @ W_xh + h_prev @ W_hh)
'''


def _bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


def _run(*args, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    right = _bytes(subs.solution(ASSIGNMENT))
    no_bias = _bytes(
        subs.replace_definition(subs.solution(ASSIGNMENT), "rnn_cell_forward", NO_BIAS)
    )
    members = {
        "doejane_1001_900001_rnn_cell.ipynb": right,
        "smithbob_1002_900002_rnn_cell.ipynb": no_bias,
        "leeann_1003_900003_rnn_cell-1.ipynb": no_bias,
        "kimmo_1004_900004_rnn_cell.ipynb": _bytes(subs.exercise(ASSIGNMENT)),
        "parkjo_LATE_1005_900005_rnn_cell.ipynb": right,
        "parkjo_1005_900006_answers.txt": b"42",
        "rnn_cell.ipynb": right,
    }
    archive = root / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    out, db = root / "out", root / "gradebook.db"
    result = _run(
        RNN_COURSE,
        "grade",
        "--zip",
        str(archive),
        "--assignment",
        ASSIGNMENT,
        "--out",
        str(out),
        "--gradebook",
        str(db),
        "--seed",
        "7",
    )
    rows = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    return {"root": root, "out": out, "db": db, "result": result, "rows": rows, "zip": archive}


def _totals(rows) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in rows:
        totals[row["student_id"]] = totals.get(row["student_id"], 0.0) + float(row["points"])
    return totals


def nbgrader_export(root: Path, db: Path) -> list[dict]:
    """`nbgrader export` run as an instructor would, in a course folder using ``db``."""
    course = root / "course"
    course.mkdir(exist_ok=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(db)!r}\n"
    )
    target = course / "export.csv"
    result = _run(sys.executable, "-m", "nbgrader", "export", "--to", str(target), cwd=course)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return list(csv.DictReader(open(target, encoding="utf-8")))


def test_a_canvas_download_is_graded_with_every_other_file_reported(graded):
    result = graded["result"]
    assert result.returncode == 0, result.stderr
    assert {r["student_id"] for r in graded["rows"]} == {"1001", "1002", "1003", "1004", "1005"}
    assert "not collected from the zip: parkjo_1005_900006_answers.txt" in result.stderr
    assert "not collected from the zip: rnn_cell.ipynb (the file name does not" in result.stderr
    log = json.loads((graded["out"] / "grading.json").read_text())
    assert log["workers"] == os.cpu_count()  # the default: one worker per CPU
    assert log["isolation"]["level"] in ("bubblewrap", "landlock", "rlimits")
    intake = log["intake"]
    assert intake["format"] == "canvas" and intake["collected"] == 5
    assert intake["late"] == ["1005"]
    assert {u["file"] for u in intake["unmatched"]} == {
        "parkjo_1005_900006_answers.txt",
        "rnn_cell.ipynb",
    }
    totals = _totals(graded["rows"])
    assert totals["1001"] == totals["1005"] == 8 and totals["1004"] == 0
    assert totals["1002"] == totals["1003"] < 8


def test_the_scores_are_in_nbgraders_gradebook_and_export(graded):
    exported = nbgrader_export(graded["root"], graded["db"])
    scores = {r["student_id"]: float(r["score"]) for r in exported if r["assignment"] == ASSIGNMENT}
    assert scores == _totals(graded["rows"])
    assert {float(r["max_score"]) for r in exported} == {8.0}
    with Gradebook(f"sqlite:///{graded['db']}") as gb:
        for row in graded["rows"]:
            grade = gb.find_grade(row["test_id"], "rnn_cell", ASSIGNMENT, row["student_id"])
            assert grade.auto_score == float(row["points"]) and grade.score == grade.auto_score
            assert grade.max_score == float(row["max_points"])


def test_grading_again_updates_the_gradebook_without_duplicates(graded):
    result = _run(
        RNN_COURSE,
        "grade",
        "--zip",
        str(graded["zip"]),
        "--assignment",
        ASSIGNMENT,
        "--out",
        str(graded["out"]),
        "--gradebook",
        str(graded["db"]),
        "--seed",
        "7",
        "--quiet",
    )
    assert result.returncode == 0 and result.stderr == ""
    log = json.loads((graded["out"] / "grading.json").read_text())
    assert (log["graded"], log["unchanged"]) == (0, 5)  # the same download: nothing new
    with Gradebook(f"sqlite:///{graded['db']}") as gb:
        assert len(gb.students) == 5
        submissions = gb.assignment_submissions(ASSIGNMENT)
        assert {s.student_id: s.score for s in submissions} == _totals(graded["rows"])


def test_the_summary_page_is_self_contained(graded):
    page = (graded["out"] / "summary.html").read_text(encoding="utf-8")
    images = re.findall(r"<img [^>]*src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 2  # the score histogram and the pass rates
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert not re.search(r"<(script|link|iframe)|url\(|src=['\"](?!data:)", page)
    # Its only links lead to the students' feedback pages beside it, in OUT/feedback/.
    links = re.findall(r"href=['\"]([^'\"]*)", page)
    assert links and all(re.fullmatch(r"feedback/\d+/01_rnn_cell/rnn_cell\.html", h) for h in links)
    assert all((graded["out"] / h).is_file() for h in links)
    assert "http" not in page


def test_the_summary_page_shows_pass_rates_mistakes_and_isolation(graded):
    page = (graded["out"] / "summary.html").read_text(encoding="utf-8")
    rows = graded["rows"]
    for test_id in {r["test_id"] for r in rows}:
        mine = [r for r in rows if r["test_id"] == test_id]
        rate = 100 * sum(r["status"] == "passed" for r in mine) / len(mine)
        assert re.search(
            rf"<code>{test_id}</code></td><td class='n'>\d+</td>"
            rf"<td class='n'>{rate:.0f}%</td>",
            page,
        ), test_id
    mistakes = page.split("Most frequent diagnosed mistakes", 1)[1]
    assert re.search(
        r"<code>test_rnn_cell_forward_values</code></td><td>your output matches what "
        r"rnn_cell_forward gives with the bias b_h left out: add b_h inside the tanh</td>"
        r"<td class='n'>2</td>",
        mistakes,
    )
    level = json.loads((graded["out"] / "grading.json").read_text())["isolation"]["level"]
    assert f"isolation level <strong>{level}</strong>" in page
    assert "parkjo_1005_900006_answers.txt" in page  # what the zip held that was not graded


def test_exercise_3s_written_explanation_is_left_to_formgrader(tmp_path):
    """Exercise 3 asks for a written explanation (explain_last_input, 2 points, marked by hand):
    the grader scores every test, records the written cell in the gradebook as waiting for
    formgrader, and the learner's page says it is marked by hand."""
    name, notebook, written = "03_bidirectional", "bidirectional.ipynb", "explain_last_input"
    folder = tmp_path / "submitted" / "ada" / name
    folder.mkdir(parents=True)
    folder.joinpath(notebook).write_bytes(_bytes(subs.solution(name)))
    out, db = tmp_path / "out", tmp_path / "gradebook.db"
    result = _run(
        RNN_COURSE,
        "grade",
        str(tmp_path / "submitted"),
        "--assignment",
        name,
        "--out",
        str(out),
        "--gradebook",
        str(db),
        "--seed",
        "7",
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    assert written not in {r["test_id"] for r in rows}  # not the grader's to score
    automatic = sum(float(r["max_points"]) for r in rows)
    assert sum(float(r["points"]) for r in rows) == automatic
    with Gradebook(f"sqlite:///{db}") as gb:
        assert gb.find_assignment(name).max_score == automatic + 2
        grade = gb.find_grade(written, "bidirectional", name, "ada")
        assert grade.needs_manual_grade and grade.auto_score is None and grade.max_score == 2
        assert gb.find_submission(name, "ada").score == automatic
    page = (out / "feedback" / "ada" / name / "bidirectional.html").read_text(encoding="utf-8")
    assert "marked by hand" in page and written in page
