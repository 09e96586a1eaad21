"""Judge: late work, by nbgrader's own rules.

nbgrader keeps an assignment's due date in its gradebook (``nbgrader db assignment add NAME
--duedate "2026-03-01 23:59:00 UTC"``) and a student's extension on their submission
(``SubmittedAssignment.extension``); a submission is late by ``timestamp - (duedate +
extension)`` seconds, and the penalty is what the configured
:class:`nbgrader.plugins.LateSubmissionPlugin` returns, kept between 0 and the notebook's score
(``AssignLatePenalties``). This module does the same, with the same plugin configured the same
way, in the course's ``nbgrader_config.py``::

    c.AssignLatePenalties.plugin_class = MyPenalty     # a LateSubmissionPlugin subclass
    c.LateSubmissionPlugin.penalty_method = "zero"      # nbgrader's stock choice: none, zero

Extensions come from the gradebook and from ``extensions.csv`` in the course folder (columns
``student_id,assignment,hours``), which :mod:`.gradebook` then writes into the gradebook
(``Gradebook.grant_extension``), so that nbgrader's own view agrees. Pure apart from
:func:`load`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

EXTENSIONS_FILE = "extensions.csv"


class LateError(Exception):
    """The late policy cannot be read (a bad extensions.csv, a plugin that fails)."""


def parse_time(text: str | None) -> datetime | None:
    """A timestamp as nbgrader reads one (any time zone, naive means UTC), in UTC."""
    if not text:
        return None
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.utils import parse_utc

    return parse_utc(text).replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Policy:
    due: dict[str, datetime] = field(default_factory=dict)  # assignment -> due date (UTC)
    extensions: dict[tuple[str, str], timedelta] = field(default_factory=dict)
    plugin: object | None = None  # a LateSubmissionPlugin; None: nbgrader's default ("none")
    source: str = ""  # where the due dates were read

    def lateness(self, student: str, assignment: str, submitted_at: str | None):
        """(seconds late, the due date that applied, the extension) for one submission."""
        due = self.due.get(assignment)
        extension = self.extensions.get((student, assignment))
        moment = parse_time(submitted_at)
        if due is None or moment is None:
            return 0.0, due, extension
        applies = due + (extension or timedelta(0))
        return max(0.0, (moment - applies).total_seconds()), due, extension

    def penalty(self, student: str, score: float, seconds_late: float) -> float:
        """nbgrader's AssignLatePenalties: the plugin's penalty, kept within [0, score]."""
        if seconds_late <= 0:
            return 0.0
        plugin = self.plugin or _plugin(None)
        penalty = plugin.late_submission_penalty(student, score, seconds_late)
        if penalty is None:
            return 0.0
        return round(min(max(float(penalty), 0.0), score), 3)

    def judge(
        self,
        student: str,
        assignment: str,
        submitted_at: str | None,
        score: float,
        lms_late: bool = False,
    ) -> dict | None:
        """What the page, the CSV and the gradebook say about lateness; None when nothing does
        (no due date and the LMS did not mark it late)."""
        seconds, due, extension = self.lateness(student, assignment, submitted_at)
        if due is None and not lms_late:
            return None
        return {
            "due": iso(due),
            "extension_hours": None if extension is None else extension.total_seconds() / 3600,
            "submitted_at": submitted_at,
            "seconds_late": seconds,
            "late": seconds > 0 or (due is None and lms_late),
            "marked_late_by_lms": lms_late,
            "penalty": self.penalty(student, score, seconds),
        }


def describe(seconds: float) -> str:
    """'1 day 3 h 5 min' for a lateness."""
    minutes = int(round(seconds / 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes or not parts else []
    return " ".join(parts)


def _plugin(config):
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.preprocessors import AssignLatePenalties

    assign = AssignLatePenalties(config=config) if config is not None else AssignLatePenalties()
    assign.init_plugin()
    return assign.plugin_inst


def read_extensions(path: Path) -> dict[tuple[str, str], timedelta]:
    """``extensions.csv``: ``student_id,assignment,hours`` per line, with that header."""
    if not path.is_file():
        return {}
    found = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"student_id", "assignment", "hours"} - set(reader.fieldnames or ())
        if missing:
            raise LateError(f"{path} needs the columns student_id,assignment,hours")
        for line, row in enumerate(reader, start=2):
            try:
                hours = float(row["hours"])
            except (TypeError, ValueError):
                raise LateError(f"{path}, line {line}: hours must be a number") from None
            found[(row["student_id"].strip(), row["assignment"].strip())] = timedelta(hours=hours)
    return found


def load(db_url: str | None, course: Path, assignments: list[str]) -> Policy:
    """The course's policy: due dates and extensions from the gradebook at ``db_url`` (when
    there is one), extensions from ``course/extensions.csv``, the penalty plugin from
    ``course/nbgrader_config.py``."""
    from .gradebook import course_config

    try:
        config = course_config(course)
        policy = Policy(plugin=_plugin(config))
    except Exception as err:  # noqa: BLE001 - the instructor's plugin: say what failed
        raise LateError(f"the late-submission plugin could not be set up: {err}") from err
    if db_url:
        _from_gradebook(policy, db_url, assignments)
    policy.extensions.update(read_extensions(course / EXTENSIONS_FILE))
    return policy


def _from_gradebook(policy: Policy, db_url: str, assignments: list[str]) -> None:
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///")).is_file():
        return
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.api import Gradebook, MissingEntry

    from .gradebook import _nbgrader

    _nbgrader()
    with Gradebook(db_url) as gb:
        for name in assignments:
            try:
                found = gb.find_assignment(name)
            except MissingEntry:
                continue
            if found.duedate is not None:
                policy.due[name] = found.duedate.replace(tzinfo=UTC)
            for submission in found.submissions:
                if submission.extension is not None:
                    policy.extensions[(submission.student.id, name)] = submission.extension
    policy.source = db_url
