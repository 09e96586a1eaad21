"""Select: which of a student's files are graded, and which one counts, across a whole term.

Every file handed in ends up in exactly one of three places, and the summary and grading.json
say which: *graded*, *superseded* (an earlier version of something graded) or *refused* (with
the reason). The rules:

* **The latest submission wins.** A batch (one LMS download, one submissions folder) holds a
  student's submission of an assignment; a later batch's submission of the same student and
  assignment replaces the one graded into OUT before, unless it is older (Canvas: a smaller
  submission id; Moodle and folders: an earlier timestamp). Within a batch, two versions of one
  file (the same name, or the same name with Canvas's ``-1``, ``-2`` suffix for a resubmitted
  file) are one notebook: the latest is graded, the others are superseded.
* **Several notebooks: the best counts.** Files with different names (``rnn_cell.ipynb`` and
  ``my homework.ipynb``) are each graded; the best score (after any late penalty) counts, and
  the others are listed on the student's page and in the summary.
* A submission's time is the LMS's (the zip's time for the file, recorded by :mod:`.lms`), else
  nbgrader's ``timestamp.txt`` in the assignment folder, else the notebook file's modification
  time.

Pure functions over small records; :mod:`.engine` turns the graded ones into submissions.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

_COPY_SUFFIX = re.compile(r"-\d+$")


@dataclass
class Candidate:
    """One file of a student for an assignment."""

    file: str  # the name it was handed in under
    path: Path | None  # where to read it (the intake, or OUT's saved copy)
    submitted_at: str | None = None  # ISO 8601 UTC, when known
    submission_id: int | None = None  # Canvas's id, when the file came from Canvas
    lms_late: bool = False
    source: str = ""
    blob: str = ""  # OUT's saved copy, for a candidate from an earlier batch
    key: str | None = None
    report: dict | None = None


@dataclass
class Group:
    """One student and assignment: what is graded, superseded, refused."""

    student: str
    assignment: str
    graded: list[Candidate] = field(default_factory=list)
    superseded: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    problem: str | None = None  # nothing to grade: why (missing, a link...)
    problem_status: str = "missing"


def version_name(file: str) -> str:
    """Files that are versions of one notebook share this: the name without ``.ipynb`` and
    without the ``-1`` Canvas adds to a resubmitted file of the same name."""
    stem = file[: -len(".ipynb")] if file.lower().endswith(".ipynb") else file
    return _COPY_SUFFIX.sub("", stem).strip().lower()


def newer(a: Candidate, b: Candidate) -> bool | None:
    """Whether ``a`` was handed in after ``b``; None when nothing tells."""
    if a.submission_id is not None and b.submission_id is not None:
        if a.submission_id != b.submission_id:
            return a.submission_id > b.submission_id
    if a.submitted_at and b.submitted_at and a.submitted_at != b.submitted_at:
        return a.submitted_at > b.submitted_at
    return None


def _when(c: Candidate) -> str:
    parts = []
    if c.submission_id is not None:
        parts.append(f"submission {c.submission_id}")
    if c.submitted_at:
        parts.append(c.submitted_at)
    return f" ({', '.join(parts)})" if parts else ""


def latest_versions(files: list[Candidate]) -> tuple[list[Candidate], list[dict]]:
    """Within one batch: the latest version of each notebook, and the superseded others."""
    by_name: dict[str, list[Candidate]] = {}
    for c in files:
        by_name.setdefault(version_name(c.file), []).append(c)
    kept, superseded = [], []
    for versions in by_name.values():
        best = versions[0]
        for c in versions[1:]:
            if newer(c, best) is True or (newer(c, best) is None and c.file > best.file):
                best = c
        kept.append(best)
        superseded += [
            superseded_by(c, best, "an earlier version of the same notebook")
            for c in versions
            if c is not best
        ]
    return sorted(kept, key=lambda c: c.file), superseded


def superseded_by(old: Candidate, new: Candidate, why: str) -> dict:
    return {
        "file": old.file,
        "submitted_at": old.submitted_at,
        "submission_id": old.submission_id,
        "source": old.source,
        "reason": f"superseded by {new.file}{_when(new)}: {why}",
    }


def merge(new: list[Candidate], old: list[Candidate]) -> tuple[list[Candidate], list[dict]]:
    """This batch's files against those graded into OUT before: (graded, superseded). The new
    batch wins unless every one of its files is older than the latest earlier one."""
    if not old:
        return new, []
    if not new:
        return old, []
    latest_old = max(old, key=lambda c: (c.submission_id or 0, c.submitted_at or ""))
    verdicts = [newer(c, latest_old) for c in new]
    if all(v is False for v in verdicts):
        return old, [
            superseded_by(c, latest_old, "graded before, and handed in later than this one")
            for c in new
        ]
    latest_new = max(new, key=lambda c: (c.submission_id or 0, c.submitted_at or ""))
    return new, [
        superseded_by(c, latest_new, "a later submission replaces the one graded before")
        for c in old
    ]


def file_time(folder: Path, path: Path) -> str | None:
    """When a file in a submissions folder was handed in: nbgrader's ``timestamp.txt`` in its
    folder, else its modification time (UTC, ISO 8601)."""
    stamp = folder / "timestamp.txt"
    try:
        if stamp.is_file() and not stamp.is_symlink():
            text = stamp.read_text(encoding="utf-8", errors="replace").strip()[:100]
            if text:
                from .late import iso, parse_time

                return iso(parse_time(text))
    except (OSError, ValueError, OverflowError):
        pass
    try:
        moment = datetime.fromtimestamp(os.lstat(path).st_mtime, UTC)
    except OSError:
        return None
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def best(reports: list, expected: str):
    """The report that counts among one student's graded notebooks for an assignment: the
    most points after any late penalty; on a tie, the expected notebook name, then the
    latest."""
    return max(
        reports,
        key=lambda r: (
            r.final,
            (r.file or "") == expected,
            r.submitted_at or "",
            r.file or "",
        ),
    )


def page_lines(report) -> list[str]:
    """What the student's feedback page says about when they handed in and about their other
    files (a :class:`.record.Report`); empty when there is nothing to say."""
    from .late import describe

    lines = []
    lateness = report.late or {}
    due = lateness.get("due")
    if report.submitted_at and due:
        hours = lateness.get("extension_hours")
        deadline = f"the due date ({due}"
        deadline += f", with your extension of {hours:g} h)" if hours else ")"
        if lateness.get("late"):
            line = (
                f"Handed in {report.submitted_at}, {describe(lateness['seconds_late'])} after "
                f"{deadline}"
            )
            penalty = lateness.get("penalty") or 0.0
            if penalty:
                line += (
                    f": late penalty {penalty:g} point(s), so {report.final:g} / "
                    f"{report.assignment.max_points:g} count."
                )
            else:
                line += ": no late penalty."
        else:
            line = f"Handed in {report.submitted_at}, before {deadline}."
        lines.append(line)
    elif lateness.get("marked_late_by_lms"):
        lines.append("Marked late by the course's LMS (no due date is set here, so no penalty).")
    for other in report.others:
        name = f"`{other['file']}`"
        if other["status"] == "graded" and other.get("reason") == "this one counts":
            lines.append(f"You handed in several notebooks: {name} counts (the best).")
        elif other["status"] == "graded":
            lines.append(f"You also handed in {name}: {other['reason']}.")
        elif other["status"] == "superseded":
            when = f" handed in {other['submitted_at']}" if other.get("submitted_at") else ""
            lines.append(f"{name}{when}: {other['reason']}.")
        else:
            lines.append(f"{name} was not graded: {other['reason']}.")
    return lines
