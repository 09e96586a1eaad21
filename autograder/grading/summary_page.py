"""Record: ``OUT/summary.html``, the instructor's view of a whole batch, in one file.

It opens with one row per student: id, name (as the LMS gave it), the points that count per
assignment (linked to the feedback page) and in total, lateness and penalty, and a status that
flags everyone who needs a follow-up: an error, a timeout or a crash, a refused file, a
superseded file, a missing submission, a notebook without any of the code asked for, several
notebooks, late work. Then, per assignment (the notebook that counts
for each student): a histogram of the scores, the pass rate of every test, and the mistakes the
grader diagnosed most often (the same sentences the learners read in their feedback: both come
from the reports' :mod:`.view`). The page is the Jinja2 template ``templates/summary.html.j2``,
which escapes everything it shows. Then the
isolation the submissions ran under, and where the submissions came from. Figures are drawn
with matplotlib and embedded as base64 PNG data URIs: the page loads nothing from anywhere.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from . import files, templates, view
from .late import describe
from .record import submitted

TROUBLE = ("error", "timeout", "crashed", "unreadable")

TOP_MISTAKES = 10


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram(scores: list[float], max_points: float, title: str) -> str:
    """A histogram of the total scores, as a data URI."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 3.0))
    ax = fig.add_subplot()
    # One bar per possible score: whole points, half points when a score has a half.
    width = 1.0 if all(float(s).is_integer() for s in scores) else 0.5
    if max_points / width > 40:
        width = max_points / 40
    edges = np.arange(-width / 2, max_points + width, width)
    ax.hist(scores, bins=edges, color="#5470c6", edgecolor="white")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(f"points (out of {max_points:g})")
    ax.set_ylabel("notebooks")
    ax.set_title(title, fontsize=10)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def pass_rates(tests: list[str], passed: list[float], partial: list[float], title: str) -> str:
    """Horizontal bars: the share of notebooks passing each test (and partly passing)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 0.45 * len(tests) + 1.2))
    ax = fig.add_subplot()
    rows = list(range(len(tests)))[::-1]
    ax.barh(rows, passed, color="#17663a", label="passed")
    ax.barh(rows, partial, left=passed, color="#e0b040", label="partial credit")
    ax.set_yticks(rows, tests, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submitted notebooks")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)
    return _png(fig)


def _assignment_section(name: str, reports: list) -> dict:
    """What the page shows for one assignment, from the reports' views."""
    assignment = reports[0].assignment
    handed_in = [r for r in reports if submitted(r)]
    section = {
        "name": name,
        "title": assignment.title or name,
        "reports": len(reports),
        "handed_in": len(handed_in),
        "max_points": assignment.max_points,
    }
    if not handed_in:
        return section
    views = [view.build(r) for r in handed_in]
    scores = [v.points for v in views]
    ordered = sorted(scores)
    half = len(ordered) // 2
    median = ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2
    tests, passed, partial = [], [], []
    mistakes: Counter = Counter()
    for i, test in enumerate(assignment.tests):
        rows = [v.rows[i] for v in views]
        statuses = Counter(row.status for row in rows)
        n = len(rows)
        passed.append(100 * statuses["passed"] / n)
        partial.append(100 * statuses["partial"] / n)
        others = ", ".join(
            f"{count} {status}"
            for status, count in statuses.most_common()
            if status not in ("passed", "partial")
        )
        tests.append(
            {
                "id": test.id,
                "points": test.points,
                "passed": passed[-1],
                "partial": statuses["partial"],
                "others": others,
                "mean": sum(row.points for row in rows) / n,
            }
        )
        for row in rows:
            for d in dict.fromkeys(row.diagnoses):
                mistakes[(test.id, d)] += 1
    ids = [t.id for t in assignment.tests]
    section.update(
        mean=sum(scores) / len(scores),
        median=median,
        full=sum(s == assignment.max_points for s in scores),
        histogram=histogram(scores, assignment.max_points, f"Scores: {name}"),
        pass_rates=pass_rates(ids, passed, partial, f"Pass rate: {name}"),
        tests=tests,
        mistakes=[
            {
                "test_id": test_id,
                "said": d.said,
                "hint": d.hint,
                "count": count,
                "share": 100 * count / len(handed_in),
            }
            for (test_id, d), count in mistakes.most_common(TOP_MISTAKES)
        ],
    )
    return section


def _flags(report, group) -> list[str]:
    """What needs the instructor's attention in one student's assignment."""
    flags = []
    if report is None or not submitted(report):
        flags.append("missing")
    else:
        troubles = sorted({v.status for v in report.verdicts if v.status in TROUBLE})
        flags += troubles
        if all(v.status == "missing" for v in report.verdicts):
            flags.append("no code found")  # handed in, but none of the names asked for
        if (report.late or {}).get("late"):
            flags.append("late")
    if group is not None and group.refused:
        flags.append("refused file")
    if group is not None and group.superseded:
        flags.append("superseded")
    if report is not None and any(o["status"] == "graded" for o in report.others):
        flags.append("several notebooks")
    return flags


def students_table(summary) -> list[dict]:
    """One row per student (see the module's docstring), in student id order."""
    counted = {(r.student, r.assignment.name): r for r in summary.reports if r.counted}
    groups = {(g.student, g.assignment): g for g in getattr(summary, "groups", [])}
    assignments = list(dict.fromkeys(r.assignment.name for r in summary.reports))
    maxima = {r.assignment.name: r.assignment.max_points for r in summary.reports}
    students = sorted({r.student for r in summary.reports})
    table = []
    for student in students:
        cells, flags, late, name, total = [], [], [], None, 0.0
        for name_ in assignments:
            report = counted.get((student, name_))
            group = groups.get((student, name_))
            mine = _flags(report, group)
            flags += [f"{f} ({name_})" if len(assignments) > 1 else f for f in mine]
            cell = {"assignment": name_, "max": maxima[name_], "points": None, "link": None}
            if report is not None:
                name = name or report.name
                if submitted(report):
                    cell["points"] = report.final
                    total += report.final
                    page = f"feedback/{student}/{name_}/{report.notebook}.html"
                    cell["link"] = quote(page)
                lateness = report.late or {}
                if lateness.get("late"):
                    text = (
                        describe(lateness["seconds_late"])
                        if lateness.get("seconds_late")
                        else "marked late by the LMS"
                    )
                    if lateness.get("penalty"):
                        text += f", −{lateness['penalty']:g}"
                    late.append(f"{text} ({name_})" if len(assignments) > 1 else text)
            cells.append(cell)
        table.append(
            {
                "student": student,
                "name": name or "",
                "cells": cells,
                "total": total,
                "max": sum(maxima.values()),
                "late": late,
                "flags": flags,
                "follow_up": bool(flags),
            }
        )
    return table


def render(summary, intake: dict | None = None) -> str:
    by_assignment: dict[str, list] = {}
    for report in summary.reports:
        if report.counted:
            by_assignment.setdefault(report.assignment.name, []).append(report)
    table = students_table(summary)
    files_count = Counter(
        kind
        for g in getattr(summary, "groups", [])
        for kind, items in (
            ("graded", g.graded),
            ("superseded", g.superseded),
            ("refused", g.refused),
        )
        for _ in items
    )
    return templates.render(
        "summary.html.j2",
        notebooks=len(summary.reports),
        students=len({r.student for r in summary.reports}),
        table=table,
        assignments=list(by_assignment),
        follow_up=sum(row["follow_up"] for row in table),
        files_count=files_count,
        due=getattr(summary, "due", {}),
        others=[
            {"student": r.student, "assignment": r.assignment.name, **o}
            for r in summary.reports
            if r.counted
            for o in r.others
        ],
        graded=summary.graded,
        unchanged=summary.unchanged,
        stamp=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=[_assignment_section(name, rs) for name, rs in by_assignment.items()],
        isolation=summary.isolation,
        intake=intake or None,
        warnings=list(summary.warnings),
    )


def write(path: Path, summary, intake: dict | None = None) -> Path:
    return files.write_atomic(path, render(summary, intake))
