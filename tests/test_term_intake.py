"""A term's worth of downloads graded into one OUT: a second zip adds to the first, a scoped
--regrade, the latest submission wins, several notebooks each graded with the best counting,
every file accounted for, the per-student table of summary.html and the Canvas import file."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import test_grading_submissions as subs
from nbgrader.api import Gradebook

from autograder.grading import assignments, engine, record, state, term
from autograder.grading.spec import Verdict

RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
ASSIGNMENT = "01_rnn_cell"
NO_BIAS = '''
def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):
    """The bias forgotten."""
    return np.tanh(x @ W_xh + h_prev @ W_hh)
'''


def _bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


RIGHT = _bytes(subs.solution(ASSIGNMENT))
WRONG = _bytes(subs.replace_definition(subs.solution(ASSIGNMENT), "rnn_cell_forward", NO_BIAS))
UNTOUCHED = _bytes(subs.exercise(ASSIGNMENT))


def canvas_zip(path: Path, members: dict[str, tuple[bytes, tuple]]) -> Path:
    """A Canvas download; each member with the time the zip gives it."""
    with zipfile.ZipFile(path, "w") as z:
        for name, (data, when) in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return path


def _grade(archive: Path, out: Path, db: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [RNN_COURSE, "grade", "--zip", str(archive), "--assignment", ASSIGNMENT]
    command += ["--out", str(out), "--gradebook", str(db), "--seed", "11", "--workers", "2"]
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    result = subprocess.run(
        [*command, *extra], capture_output=True, text=True, timeout=600, env=env
    )
    # Every run of the term grades into OUT: say why when one did not.
    assert (out / "grades.csv").is_file(), f"exit {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def _rows(out: Path) -> list[dict]:
    return list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))


def _log(out: Path) -> dict:
    return json.loads((out / "grading.json").read_text())


def _scores(rows: list[dict]) -> dict[str, float]:
    """The points that count per student: the counted rows, less their late penalty."""
    totals: dict[str, float] = {}
    penalties: dict[str, float] = {}
    for row in rows:
        if row["counted"] == "yes":
            totals[row["student_id"]] = totals.get(row["student_id"], 0) + float(row["points"])
            penalties[row["student_id"]] = float(row["late_penalty"])
    return {s: totals[s] - penalties[s] for s in totals}


DAY1, DAY2, DAY3 = (2026, 3, 1, 10, 0, 0), (2026, 3, 2, 10, 0, 0), (2026, 3, 3, 10, 0, 0)


@pytest.fixture(scope="module")
def term_run(tmp_path_factory):
    """Two downloads in a row into one OUT, then the second again with --regrade 1001."""
    root = tmp_path_factory.mktemp("term")
    first = canvas_zip(
        root / "first.zip",
        {
            "doejane_1001_500_rnn_cell.ipynb": (RIGHT, DAY1),
            "smithbob_1002_501_rnn_cell.ipynb": (WRONG, DAY1),
            # Two versions of one notebook: the larger submission id wins, whatever the order.
            "leeann_1003_503_rnn_cell-1.ipynb": (RIGHT, DAY1),
            "leeann_1003_502_rnn_cell.ipynb": (WRONG, DAY1),
            # Two notebooks: both graded, the best counts.
            "kimmo_1004_504_my homework.ipynb": (RIGHT, DAY1),
            "kimmo_1004_505_rnn_cell.ipynb": (UNTOUCHED, DAY1),
            "kimmo_1004_506_notes.pdf": (b"%PDF", DAY1),
        },
    )
    second = canvas_zip(
        root / "second.zip",
        {
            "smithbob_1002_601_rnn_cell.ipynb": (RIGHT, DAY3),  # a resubmission
            "parkjo_LATE_1005_602_rnn_cell.ipynb": (WRONG, DAY2),  # late work
        },
    )
    out, db = root / "out", root / "gradebook.db"
    runs = {"first": _grade(first, out, db)}
    runs["after_first"] = {
        "rows": _rows(out),
        "pages": sorted(str(p.relative_to(out)) for p in (out / "feedback").rglob("*.html")),
    }
    runs["second"] = _grade(second, out, db)
    runs["after_second"] = {"rows": _rows(out), "log": _log(out)}
    runs["regrade"] = _grade(second, out, db, "--regrade", "1001", "--quiet")
    return {"root": root, "out": out, "db": db, **runs}


def test_a_second_zip_adds_to_the_first_instead_of_replacing_it(term_run):
    for run in ("first", "second"):
        assert term_run[run].returncode == 0, term_run[run].stderr
    before = _scores(term_run["after_first"]["rows"])
    after = _scores(term_run["after_second"]["rows"])
    assert set(before) == {"1001", "1002", "1003", "1004"}
    assert set(after) == {"1001", "1002", "1003", "1004", "1005"}
    assert after["1001"] == before["1001"] == 8
    assert before["1002"] < 8 and after["1002"] == 8  # the resubmission replaced the first
    log = term_run["after_second"]["log"]
    assert (log["graded"], log["unchanged"]) == (2, 4)  # 1002's and 1005's notebooks
    out = term_run["out"]
    pages = sorted(str(p.relative_to(out)) for p in (out / "feedback").rglob("*.html"))
    assert set(term_run["after_first"]["pages"]) <= set(pages)
    assert len(pages) == 5
    with Gradebook(f"sqlite:///{term_run['db']}") as gb:
        scores = {s.student.id: s.score for s in gb.find_assignment(ASSIGNMENT).submissions}
    assert scores == after
    summary = (out / "summary.html").read_text(encoding="utf-8")
    for student in after:
        assert f"<code>{student}</code>" in summary


def test_the_latest_submission_wins_and_the_earlier_one_is_listed_as_superseded(term_run):
    files = term_run["after_second"]["log"]["files"]
    fate = {(f["student_id"], f["file"]): f for f in files}
    assert fate[("1003", "rnn_cell-1.ipynb")]["status"] == "graded"
    superseded = fate[("1003", "leeann_1003_502_rnn_cell.ipynb")]
    assert superseded["status"] == "superseded"
    assert "rnn_cell-1.ipynb" in superseded["reason"]
    # Across downloads: 1002's first notebook was replaced by the one of the second zip.
    mine = [f for f in files if f["student_id"] == "1002"]
    assert sorted(f["status"] for f in mine) == ["graded", "superseded"]
    old = next(f for f in mine if f["status"] == "superseded")
    assert old["submitted_at"] == "2026-03-01 10:00:00 UTC" and "first.zip" in old["source"]
    page = (term_run["out"] / "feedback/1002/01_rnn_cell/rnn_cell.html").read_text()
    assert "8 / 8" in page


def test_several_notebooks_are_each_graded_and_the_best_counts(term_run):
    rows = [r for r in term_run["after_second"]["rows"] if r["student_id"] == "1004"]
    by_file: dict[str, list[dict]] = {}
    for row in rows:
        by_file.setdefault(row["file"], []).append(row)
    assert set(by_file) == {"my homework.ipynb", "rnn_cell.ipynb"}
    assert {r["counted"] for r in by_file["my homework.ipynb"]} == {"yes"}
    assert {r["counted"] for r in by_file["rnn_cell.ipynb"]} == {"no"}
    assert sum(float(r["points"]) for r in by_file["rnn_cell.ipynb"]) == 0
    summary = (term_run["out"] / "summary.html").read_text(encoding="utf-8")
    assert "<code>rnn_cell.ipynb</code>, graded: graded too: 0 points" in summary


def test_every_file_of_the_intake_is_graded_superseded_or_refused(term_run):
    log = term_run["after_second"]["log"]
    files = log["files"]
    statuses = {f["status"] for f in files}
    assert statuses <= {"graded", "superseded", "refused", "missing", "unreadable"}
    zips = {"first.zip": 7, "second.zip": 2}
    accounted = {f["file"] for f in files}
    # Every notebook of both zips is in grading.json under its own name or the one collected.
    collected = {"leeann_1003_503_rnn_cell-1.ipynb": "rnn_cell-1.ipynb"}
    with zipfile.ZipFile(term_run["root"] / "first.zip") as z1:
        names = z1.namelist()
    with zipfile.ZipFile(term_run["root"] / "second.zip") as z2:
        names += z2.namelist()
    assert len(names) == sum(zips.values())
    for name in names:
        short = collected.get(name, re.sub(r"^[^_]+_(LATE_)?\d+_\d+_", "", name))
        assert name in accounted or short in accounted, name
    refused = [f for f in files if f["status"] == "refused"]
    assert [(f["student_id"], f["file"]) for f in refused] == [("1004", "kimmo_1004_506_notes.pdf")]
    assert refused[0]["reason"] == "not a notebook (.ipynb)"


def test_regrade_scoped_to_one_student_grades_only_that_student(term_run):
    run = term_run["regrade"]
    assert run.returncode == 0 and run.stderr == "", run.stderr
    log = _log(term_run["out"])
    assert (log["graded"], log["unchanged"]) == (1, 5)  # 1001 of six notebooks
    assert _scores(_rows(term_run["out"])) == _scores(term_run["after_second"]["rows"])


def test_the_summary_opens_with_a_per_student_table_that_flags_follow_ups(term_run):
    page = (term_run["out"] / "summary.html").read_text(encoding="utf-8")
    table = page.split('<table class="students">', 1)[1].split("</table>", 1)[0]
    assert page.index('<table class="students">') < page.index("<h2>Exercise")
    rows = {re.search(r"<code>(\d+)</code>", r).group(1): r for r in table.split("<tr")[2:]}
    assert set(rows) == {"1001", "1002", "1003", "1004", "1005"}
    assert 'class="follow"' not in rows["1001"] and ">ok<" in rows["1001"]
    assert "<td>doejane</td>" in rows["1001"]  # the name Canvas gave
    assert "superseded" in rows["1002"] and "superseded" in rows["1003"]
    assert "refused file" in rows["1004"] and "several notebooks" in rows["1004"]
    assert "late" in rows["1005"] and "marked late by the LMS" in rows["1005"]
    assert 'href="feedback/1001/01_rnn_cell/rnn_cell.html"' in rows["1001"]
    assert all('class="follow"' in rows[s] for s in ("1002", "1003", "1004", "1005"))


def test_the_canvas_export_has_one_row_per_student_and_a_column_per_assignment(term_run):
    with open(term_run["out"] / "canvas_grades.csv", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    header = lines[0]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert header[5:] == [ASSIGNMENT]
    assert lines[1][0].strip() == "Points Possible" and lines[1][5] == "8"
    by_id = {line[1]: line for line in lines[2:]}
    scores = _scores(_rows(term_run["out"]))
    assert {k: float(v[5]) for k, v in by_id.items()} == scores
    assert by_id["1001"][0] == "doejane"


def test_an_interrupted_or_repeated_batch_supersedes_nothing(tmp_path):
    """The same files seen again are the same submission, not a later one."""
    a = term.Candidate("rnn_cell.ipynb", None, "2026-03-01 10:00:00 UTC", 5)
    b = term.Candidate("rnn_cell-1.ipynb", None, "2026-03-01 09:00:00 UTC", 7)
    kept, superseded = term.latest_versions([a, b])
    assert kept == [b] and superseded[0]["file"] == "rnn_cell.ipynb"  # the id decides
    c = term.Candidate("rnn_cell.ipynb", None, "2026-03-02 10:00:00 UTC")
    d = term.Candidate("rnn_cell.ipynb", None, "2026-03-01 10:00:00 UTC")
    assert term.merge([d], [c])[0] == [c]  # an older download does not replace a newer one
    assert term.merge([c], [d])[0] == [c]


def test_a_change_to_the_assignment_regrades_its_submissions(tmp_path):
    """A saved result is reused only while the assignment's checks and solution are the same:
    the assignment's version is part of the resume key."""
    solutions = tmp_path / "solutions"
    shutil.copytree(
        subs.SOLUTIONS / ASSIGNMENT,
        solutions / ASSIGNMENT,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    assignment = assignments.load(ASSIGNMENT, solutions)
    notebook = subs.write(subs.solution(ASSIGNMENT), tmp_path / "s" / ASSIGNMENT / "rnn_cell.ipynb")
    store = state.Store(tmp_path / ".state")
    options = engine.Options(solutions=solutions)

    def reuse() -> dict:
        submissions = [engine.Submission("s", assignment, notebook)]
        found = engine._reuse(submissions, store, options)
        return submissions[0].key, found

    key, found = reuse()
    assert found == {}
    verdicts = [Verdict(1.0, "passed", "all cases pass") for _ in assignment.tests]
    store.save(record.Report("s", assignment, "rnn_cell", verdicts, [], None, (1, 0)), key)
    assert reuse()[1][0].verdicts == verdicts
    checks = solutions / ASSIGNMENT / "checks.py"
    checks.write_text(checks.read_text() + "\n# a stricter tolerance, say\n")
    new_key, found = reuse()
    assert found == {} and new_key != key
    # The same for a change to the solution notebook alone.
    checks.write_text(checks.read_text().removesuffix("\n# a stricter tolerance, say\n"))
    assert reuse()[1][0].verdicts == verdicts
    solution = solutions / ASSIGNMENT / "rnn_cell.ipynb"
    solution.write_bytes(solution.read_bytes().replace(b'"cells"', b'"cells" ', 1))
    assert reuse()[1] == {}


def test_a_learner_of_an_earlier_download_is_regraded_from_outs_copy(tmp_path):
    """The notebook of a learner absent from today's download is graded again from the copy OUT
    kept when the assignment changes, and reused while it does not."""
    solutions = tmp_path / "solutions"
    shutil.copytree(
        subs.SOLUTIONS / ASSIGNMENT,
        solutions / ASSIGNMENT,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    assignment = assignments.load(ASSIGNMENT, solutions)
    options = engine.Options(solutions=solutions, resumable=True)
    store = state.Store(tmp_path / "out" / ".state")
    first = tmp_path / "first"
    subs.write(subs.solution(ASSIGNMENT), first / "early" / ASSIGNMENT / "rnn_cell.ipynb")
    later = tmp_path / "later"
    subs.write(subs.solution(ASSIGNMENT), later / "late" / ASSIGNMENT / "rnn_cell.ipynb")

    def plan(submitted: Path, students: list[str]):
        groups, by_name = engine._plan(submitted, students, [assignment], store, None, options, [])
        submissions = engine._submissions(groups, by_name, {})
        known = engine._reuse(submissions, store, options)
        engine._save_entries(store, groups, submissions, known, {})
        return submissions, known

    submissions, known = plan(first, ["early"])
    assert [s.student for s in submissions] == ["early"] and known == {}
    verdicts = [Verdict(1.0, "passed", "all cases pass") for _ in assignment.tests]
    report = record.Report("early", assignment, "rnn_cell", verdicts, [], None, (1, 0))
    store.save(report, submissions[0].key, engine._saved(submissions[0]))
    submissions, known = plan(later, ["late"])
    early = next(i for i, s in enumerate(submissions) if s.student == "early")
    assert submissions[early].path == store.blob_path(submissions[early].candidate.blob)
    assert early in known  # unchanged: reused, not graded again
    checks = solutions / ASSIGNMENT / "checks.py"
    checks.write_text(checks.read_text() + "\n# changed\n")
    submissions, known = plan(later, ["late"])
    early = next(i for i, s in enumerate(submissions) if s.student == "early")
    assert submissions[early].path.is_file() and early not in known  # graded again


def test_a_file_in_a_submission_folder_that_is_no_notebook_is_refused_with_the_reason(tmp_path):
    folder = tmp_path / "submitted" / "ada" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "answers.pdf").write_bytes(b"%PDF")
    (folder / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC\n")  # nbgrader's own
    (folder / ".DS_Store").write_bytes(b"")
    found, refused, problem = engine._find_notebooks(folder, "rnn_cell.ipynb")
    assert found == [] and problem == "no rnn_cell.ipynb in the submission"
    assert refused == [{"file": "answers.pdf", "reason": "not a notebook (.ipynb)"}]
    subs.write(subs.solution(ASSIGNMENT), folder / "my work.ipynb")
    found, refused, problem = engine._find_notebooks(folder, "rnn_cell.ipynb")
    assert [p.name for p in found] == ["my work.ipynb"] and problem is None
    assert [r["file"] for r in refused] == ["answers.pdf"]
