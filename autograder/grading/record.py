"""Record: write grades.csv, one feedback page per notebook, and the run's log.

``grades.csv`` has exactly the columns of :data:`COLUMNS`, one row per test per student and
assignment. ``grading.json`` says how the run was made: the isolation used on this machine, the
seed the inputs were drawn from, the limits and the timings.
"""

from __future__ import annotations

import csv
import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

from . import feedback
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

    @property
    def points(self) -> float:
        return sum(
            points(t.points, v) for t, v in zip(self.assignment.tests, self.verdicts, strict=True)
        )


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


def write_csv(path: Path, all_rows: list[Row]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for row in all_rows:
            values = asdict(row)
            values["points"] = _number(row.points)
            values["max_points"] = _number(row.max_points)
            writer.writerow([values[c] for c in COLUMNS])


def write_feedback(root: Path, report: Report) -> Path:
    folder = root / report.student / report.assignment.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.notebook}.html"
    path.write_text(feedback.render(report), encoding="utf-8")
    return path


def write_log(path: Path, summary, entropy: int, limits) -> None:
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
    }
    path.write_text(json.dumps(log, indent=2) + "\n", encoding="utf-8")
