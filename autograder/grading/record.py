"""Record: write grades.csv, one feedback page per notebook, and the run's log.

``grades.csv`` has exactly the columns of :data:`COLUMNS`, one row per test per student and
assignment. ``grading.json`` says how the run was made: the isolation used on this machine, the
seed the inputs were drawn from, the limits, the timings, and how many notebooks were graded
afresh or reused from an earlier run. Every file is written atomically (:mod:`.files`).
"""

from __future__ import annotations

import csv
import io
import json
import platform
from dataclasses import asdict, dataclass
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

    @property
    def points(self) -> float:
        return sum(
            points(t.points, v) for t, v in zip(self.assignment.tests, self.verdicts, strict=True)
        )


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
        writer.writerow([csv_cell(values[c]) for c in COLUMNS])
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
        "notebooks": len({(r.student_id, r.assignment) for r in summary.rows}),
        "rows": len(summary.rows),
        "seconds": round(summary.seconds, 3),
        "median_run_seconds": round(summary.median_run_seconds, 4),
        "warnings": summary.warnings,
        "python": platform.python_version(),
        **(extra or {}),
    }
    files.write_atomic(path, json.dumps(log, indent=2) + "\n")
