"""Record: write grades.csv, one feedback page per notebook, the Canvas import file, and the
run's log.

``grades.csv`` has exactly the columns of :data:`COLUMNS`, one row per test of every notebook
graded. A student who handed in several notebooks for one assignment has rows for each; the
one that counts (the best) has ``counted`` = ``yes``, so the points of the counted rows, less
each notebook's ``late_penalty`` (the same on all its rows), add up to the student's score.
``canvas_grades.csv`` has one row per student and one column per assignment, in the shape
Canvas's gradebook import reads. ``grading.json`` says how the run was made: the isolation used on this machine, the
seed the inputs were drawn from, the limits, the timings, and how many notebooks were graded
afresh or reused from an earlier run. Every file is written atomically (:mod:`.files`).
"""

from __future__ import annotations

import csv
import io
import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import feedback, files
from .run import RunResult
from .spec import Assignment, Verdict

COLUMNS = (
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
)


@dataclass(frozen=True)
class Row:
    student_id: str
    assignment: str
    notebook: str
    test_id: str
    points: float
    max_points: float
    status: str
    message: str
    file: str = ""
    counted: str = "yes"
    submitted_at: str = ""
    late_penalty: float = 0.0


@dataclass
class Report:
    """Everything known about one graded notebook."""

    student: str
    assignment: Assignment
    notebook: str  # file name without .ipynb
    verdicts: list[Verdict]
    notes: list[str]
    result: RunResult | None
    seed: tuple[int, int]
    graded_at: str | None = None  # "YYYY-MM-DD HH:MM UTC"; None: now
    file: str | None = None  # the file's name as handed in; None: the assignment's notebook
    name: str | None = None  # the student's name, when the LMS gave one
    submitted_at: str | None = None  # when it was handed in (ISO 8601, UTC), when known
    late: dict | None = None  # late.Lateness.log() when a due date applies
    counted: bool = True  # False: another notebook of the student's counts (a better one)
    # The student's other files for this assignment: {"file", "status": "graded" (with
    # "points"), "superseded" or "refused", "reason"}; listed on the page and in the summary.
    others: list[dict] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(
            points(t.points, v) for t, v in zip(self.assignment.tests, self.verdicts, strict=True)
        )

    @property
    def penalty(self) -> float:
        return float((self.late or {}).get("penalty") or 0.0)

    @property
    def final(self) -> float:
        """The points that count: the tests' points less the late penalty."""
        return round(max(0.0, self.points - self.penalty), 3)


def submitted(report: Report) -> bool:
    """Whether the student handed in a notebook (a missing one was never run)."""
    return not (report.result is None and all(v.status == "missing" for v in report.verdicts))


def points(max_points: float, verdict: Verdict) -> float:
    return round(max_points * min(max(verdict.fraction, 0.0), 1.0), 3)


def rows(report: Report) -> list[Row]:
    return [
        Row(
            report.student,
            report.assignment.name,
            report.notebook,
            test.id,
            points(test.points, verdict),
            float(test.points),
            verdict.status,
            " ".join(verdict.message.split()),
            report.file or f"{report.notebook}.ipynb",
            "yes" if report.counted else "no",
            report.submitted_at or "",
            report.penalty,
        )
        for test, verdict in zip(report.assignment.tests, report.verdicts, strict=True)
    ]


def _number(x: float) -> str:
    return f"{x:g}"


# A spreadsheet runs a cell that starts with one of these as a formula (a student id such as
# "=cmd|' -C calc'!A0" would): such cells get a leading apostrophe, which the spreadsheet shows
# as text and does not run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """``value`` as text that no spreadsheet reads as a formula."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(path: Path, all_rows: list[Row]) -> None:
    f = io.StringIO(newline="")
    writer = csv.writer(f)
    writer.writerow(COLUMNS)
    for row in all_rows:
        values = asdict(row)
        values["points"] = _number(row.points)
        values["max_points"] = _number(row.max_points)
        values["late_penalty"] = _number(row.late_penalty)
        writer.writerow([csv_cell(values[c]) for c in COLUMNS])
    files.write_atomic(path, f.getvalue())


CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def write_canvas(path: Path, reports: list[Report], assignments: dict[str, float]) -> None:
    """Canvas's gradebook-import shape: the identity columns of Canvas's own export (Student,
    ID, SIS User ID, SIS Login ID, Section), then one column per assignment holding the points
    that count (after any late penalty), and under the header the "Points Possible" row that
    Canvas's export has. ``ID`` is the student id the files were collected under (Canvas's
    user id for a Canvas download); the SIS columns are left empty. ``assignments`` maps each
    assignment to its maximum points. A student with nothing for an assignment gets 0."""
    by_student: dict[str, dict[str, Report]] = {}
    names: dict[str, str] = {}
    for report in reports:
        if report.counted:
            by_student.setdefault(report.student, {})[report.assignment.name] = report
        if report.name:
            names[report.student] = report.name
    f = io.StringIO(newline="")
    writer = csv.writer(f)
    writer.writerow([*CANVAS_COLUMNS, *assignments])
    writer.writerow(
        ["    Points Possible", "", "", "", ""] + [_number(m) for m in assignments.values()]
    )
    for student in sorted(by_student):
        got = by_student[student]
        scores = [
            _number(got[a].final) if a in got and submitted(got[a]) else "0" for a in assignments
        ]
        writer.writerow(
            [csv_cell(names.get(student, student)), csv_cell(student), "", "", "", *scores]
        )
    files.write_atomic(path, f.getvalue())


def feedback_path(root: Path, report: Report) -> Path:
    return root / report.student / report.assignment.name / f"{report.notebook}.html"


def write_feedback(root: Path, report: Report) -> Path:
    return files.write_atomic(feedback_path(root, report), feedback.render(report))


def write_log(path: Path, summary, entropy: int, limits, extra: dict | None = None) -> None:
    log = {
        "isolation": {
            "level": summary.isolation.level,
            "layers": list(summary.isolation.layers),
            "landlock_abi": summary.isolation.landlock_abi,
            "separate_uid": summary.isolation.uid,
        },
        "seed": str(entropy),
        "limits": asdict(limits),
        "notebooks": len(summary.reports)
        or len({(r.student_id, r.assignment) for r in summary.rows}),
        "rows": len(summary.rows),
        "seconds": round(summary.seconds, 3),
        "median_run_seconds": round(summary.median_run_seconds, 4),
        "warnings": summary.warnings,
        "python": platform.python_version(),
        **(extra or {}),
    }
    files.write_atomic(path, json.dumps(log, indent=2) + "\n")
