"""Late work by nbgrader's own rules: the due date in the gradebook, extensions per student, the
submission time from nbgrader's timestamp.txt or the file, and a penalty from a
LateSubmissionPlugin configured in the course's nbgrader_config.py; the penalty in grades.csv,
on the feedback page, in the summary and in `nbgrader export`."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import test_grading_submissions as subs

from autograder.grading import late

BIN = Path(sys.executable).parent
ASSIGNMENT = "01_rnn_cell"
DUE = "2026-03-01 12:00:00 UTC"
CONFIG = """\
import math

from nbgrader.plugins import LateSubmissionPlugin

c = get_config()  # noqa: F821


class OnePointPerDay(LateSubmissionPlugin):
    \"\"\"One point off for each day started after the due date.\"\"\"

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return math.ceil(total_seconds_late / 86400)


c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = {db!r}
c.AssignLatePenalties.plugin_class = OnePointPerDay
"""


def _env() -> dict:
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}


def _run(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=600, cwd=cwd, env=_env()
    )


def _at(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def late_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("late")
    course = root / "course"
    shutil.copytree(
        subs.SOLUTIONS / ASSIGNMENT,
        course / "solutions" / ASSIGNMENT,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    db = f"sqlite:///{course / 'gradebook.db'}"
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(course), db=db))
    (course / "extensions.csv").write_text("student_id,assignment,hours\ns03,01_rnn_cell,48\n")
    due = _run(
        str(BIN / "nbgrader"),
        "db",
        "assignment",
        "add",
        ASSIGNMENT,
        f"--duedate={DUE}",
        cwd=course,
    )
    assert due.returncode == 0, due.stderr[-2000:]
    # On the roster, never hands anything in: listed as missing, with the roster's name.
    roster = [str(BIN / "nbgrader"), "db", "student", "add", "s05"]
    added = _run(*roster, "--first-name=Ada", "--last-name=Lovelace", cwd=course)
    assert added.returncode == 0, added.stderr[-2000:]
    submitted = root / "submitted"
    right = subs.solution(ASSIGNMENT)
    when = {
        "s01": ("2026-03-01 11:00", True),  # on time (nbgrader's timestamp.txt)
        "s02": ("2026-03-03 00:00", True),  # 36 h late: two days started, 2 points
        "s03": ("2026-03-03 00:00", True),  # as late, with a 48 h extension: on time
        "s04": ("2026-03-01 13:00", False),  # an hour late by the file's own time
    }
    for student, (moment, stamped) in when.items():
        path = subs.write(right, submitted / student / ASSIGNMENT / "rnn_cell.ipynb")
        if stamped:
            (path.parent / "timestamp.txt").write_text(f"{moment}:00.000000 UTC\n")
            os.utime(path, (_at("2026-01-01 00:00"),) * 2)  # the stamp, not the file, counts
        else:
            os.utime(path, (_at(moment),) * 2)
    out = root / "out"
    result = _run(
        str(BIN / "rnn-course"),
        "grade",
        str(submitted),
        "--out",
        str(out),
        "--course",
        str(course),
        "--seed",
        "3",
        "--workers",
        "2",
        cwd=root,
    )
    export = course / "export.csv"
    exported = _run(str(BIN / "nbgrader"), "export", "--to", str(export), cwd=course)
    return {
        "root": root,
        "course": course,
        "out": out,
        "result": result,
        "exported": exported,
        "export": export,
    }


EXPECTED = {"s01": 0.0, "s02": 2.0, "s03": 0.0, "s04": 1.0}


def test_the_penalty_follows_the_due_date_the_extension_and_the_plugin(late_run):
    assert late_run["result"].returncode == 0, late_run["result"].stderr
    rows = list(csv.DictReader(open(late_run["out"] / "grades.csv", encoding="utf-8")))
    penalties = {r["student_id"]: float(r["late_penalty"]) for r in rows}
    assert penalties == {**EXPECTED, "s05": 0.0}
    assert {r["status"] for r in rows if r["student_id"] == "s05"} == {"missing"}
    stamps = {r["student_id"]: r["submitted_at"] for r in rows}
    assert stamps["s02"] == "2026-03-03 00:00:00 UTC"
    assert stamps["s04"] == "2026-03-01 13:00:00 UTC"  # from the file's time
    log = json.loads((late_run["out"] / "grading.json").read_text())
    assert log["due"] == {ASSIGNMENT: DUE}


def test_nbgrader_export_has_the_timestamps_and_the_penalties(late_run):
    assert late_run["exported"].returncode == 0, late_run["exported"].stderr[-2000:]
    rows = list(csv.DictReader(open(late_run["export"], encoding="utf-8")))
    by_student = {r["student_id"]: r for r in rows}
    assert set(by_student) == {*EXPECTED, "s05"}
    assert float(by_student["s05"]["score"]) == 0 and by_student["s05"]["timestamp"] == ""
    for student, penalty in EXPECTED.items():
        row = by_student[student]
        assert float(row["late_submission_penalty"]) == penalty
        assert float(row["raw_score"]) == 8.0
        assert float(row["score"]) == 8.0 - penalty
        assert row["timestamp"].startswith("2026-03-0")
        assert row["duedate"].startswith("2026-03-01 12:00:00")
    # The extension of extensions.csv is in the gradebook, where nbgrader's own late rules read it.
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{late_run['course'] / 'gradebook.db'}") as gb:
        assert gb.find_submission(ASSIGNMENT, "s03").extension == timedelta(hours=48)
        assert gb.find_submission(ASSIGNMENT, "s03").total_seconds_late == 0
        assert gb.find_submission(ASSIGNMENT, "s02").total_seconds_late == 36 * 3600


def test_the_page_the_summary_and_the_canvas_export_show_the_penalty(late_run):
    out = late_run["out"]
    summary = (out / "summary.html").read_text(encoding="utf-8")
    table = summary.split('<table class="students">', 1)[1].split("</table>", 1)[0]
    row = next(r for r in table.split("<tr") if "<code>s02</code>" in r)
    assert "1 day 12 h, −2" in row and "late" in row
    absent = next(r for r in table.split("<tr") if "<code>s05</code>" in r)
    assert "<td>Ada Lovelace</td>" in absent and ">missing<" in absent and "follow" in absent
    canvas = {r["ID"]: r for r in csv.DictReader(open(out / "canvas_grades.csv"))}
    assert float(canvas["s02"][ASSIGNMENT]) == 6.0 and float(canvas["s03"][ASSIGNMENT]) == 8.0
    assert canvas["s05"]["Student"] == "Ada Lovelace" and float(canvas["s05"][ASSIGNMENT]) == 0
    page = (out / "feedback/s02/01_rnn_cell/rnn_cell.html").read_text(encoding="utf-8")
    assert "late penalty" in page.lower() and "2026-03-03 00:00:00 UTC" in page
    # The score the page opens with is the one that counts, as in grades.csv.
    score = page.split('<p class="score">', 1)[1].split("</p>", 1)[0]
    assert score.startswith("6 / 8 points") and "late penalty of 2" in score, score
    on_time = (out / "feedback/s03/01_rnn_cell/rnn_cell.html").read_text(encoding="utf-8")
    assert '<p class="score">8 / 8 points</p>' in on_time


def test_a_policy_without_due_date_or_with_nbgraders_stock_methods():
    policy = late.Policy(due={ASSIGNMENT: late.parse_time(DUE)})
    seconds, _, _ = policy.lateness("s", ASSIGNMENT, "2026-03-01 12:30:00 UTC")
    assert seconds == 1800
    assert policy.penalty("s", 8.0, seconds) == 0.0  # nbgrader's default method: none
    from traitlets.config import Config

    config = Config()
    config.LateSubmissionPlugin.penalty_method = "zero"
    zero = late.Policy(due=policy.due, plugin=late._plugin(config))
    assert zero.penalty("s", 8.0, seconds) == 8.0
    assert zero.judge("s", "other", "2026-03-09 00:00:00 UTC", 8.0) is None
    marked = zero.judge("s", "other", None, 8.0, lms_late=True)
    assert marked["late"] and marked["penalty"] == 0.0
