"""Record: the scores, in nbgrader's own gradebook, so that ``nbgrader export`` and formgrader
show what ``rnn-course grade`` found.

The gradebook must know the assignment first: its notebook and graded cells, with their points.
When it does not (or knows different cells), nbgrader's own ``generate_assignment`` records them
from the solution notebook, into a throw-away release folder, exactly as ``rnn-course release``
or ``nbgrader generate_assignment`` would. Then each student is created, each submitted notebook
becomes a submission, and each graded cell gets the points of the matching test (a test id *is*
the nbgrader grade id of its cell, which :mod:`.assignments` checks) as its ``auto_score``. A
student who submitted nothing is created without a submission, which nbgrader counts as zero.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import threading
import warnings
from pathlib import Path

from . import record
from .spec import Assignment


class GradebookError(Exception):
    """The gradebook could not be updated; the message says why."""


def _nbgrader_path() -> None:
    # nbgrader shells out to alembic, which lives next to this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + path


@functools.cache
def _alembic_head() -> str:
    """The schema version nbgrader stamps a new gradebook with, read in-process: nbgrader asks
    a fresh ``alembic heads`` process, which costs seconds for one line."""
    from . import nbgrader_api

    nbgrader_api.load()
    import nbgrader
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()


def _nbgrader() -> None:
    """Get nbgrader's API ready: alembic on PATH, the schema version read in-process (nbgrader
    starts ``alembic heads`` for every new gradebook, seconds for one line), and no SQLAlchemy 2
    warnings about its (working) relationship code. Idempotent."""
    from . import nbgrader_api

    nbgrader_api.load()  # whole, in one thread at a time
    import nbgrader.api
    from sqlalchemy.exc import SAWarning

    _nbgrader_path()
    warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.")
    try:
        head = _alembic_head()
    except Exception:  # noqa: BLE001 - keep nbgrader's own way
        return
    nbgrader.api.get_alembic_version = lambda: head


def course_config(course: Path):
    """The traitlets config of ``course/nbgrader_config.py`` (None when there is none)."""
    from traitlets.config.loader import PyFileConfigLoader

    if not (course / "nbgrader_config.py").is_file():
        return None
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    if "root" not in config.CourseDirectory:
        config.CourseDirectory.root = str(course)
    return config


def course_db_url(course: Path) -> str | None:
    """The gradebook the course's nbgrader_config.py names (nbgrader's default if it names
    none), or None when the folder has no nbgrader_config.py.

    Read from the config as nbgrader's ``CourseDirectory`` would (``db_url``, else
    ``gradebook.db`` in the absolute ``root``), without importing nbgrader: that import costs
    more than a second of CPU, and a grading run asks for the URL before any worker starts."""
    config = course_config(course)
    if config is None:
        return None
    settings = config.CourseDirectory
    if "db_url" in settings:
        return str(settings.db_url)
    return "sqlite:///" + os.path.abspath(os.path.join(str(settings.root), "gradebook.db"))


def as_db_url(value: str | Path) -> str:
    """A database URL from a URL or a path to an SQLite file."""
    text = str(value)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


def _grade_cells(gb, assignment: Assignment) -> dict[str, float] | None:
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.api import MissingEntry

    try:
        notebook = gb.find_notebook(Path(assignment.notebook).stem, assignment.name)
    except MissingEntry:
        return None
    return {cell.name: float(cell.max_score) for cell in notebook.grade_cells}


def graded_cells(assignment: Assignment) -> dict[str, float]:
    """``{grade id: points}`` of every cell the gradebook grades: the tests and the cells
    marked by hand."""
    cells = {t.id: float(t.points) for t in assignment.tests}
    cells.update({c.id: float(c.points) for c in assignment.hand_marked})
    return cells


def generate_assignment(config, name: str) -> str:
    """``nbgrader generate_assignment NAME --force`` in this process, with ``config`` (a course
    configuration); nbgrader's log. GradebookError when nbgrader fails."""
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    _nbgrader()
    coursedir = CourseDirectory(config=config)
    api = NbGraderAPI(coursedir=coursedir, config=config)
    result = api.generate_assignment(name, force=True, create=True)
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "").strip().splitlines()
        raise GradebookError(
            f"nbgrader generate_assignment {name} failed: "
            + ("\n".join(detail[-10:]) if detail else "no details")
        )
    return result.get("log") or ""


def ensure_assignment(db_url: str, assignment: Assignment, solutions: Path) -> bool:
    """Record the assignment in the gradebook unless it is there already; True if recorded."""
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.api import Gradebook

    declared = graded_cells(assignment)
    with Gradebook(db_url) as gb:
        if _grade_cells(gb, assignment) == declared:
            return False
    from traitlets.config import Config

    config = course_config(solutions.parent) or Config()
    with tempfile.TemporaryDirectory(prefix="rnn-course-gradebook-") as scratch:
        config.CourseDirectory.root = scratch
        config.CourseDirectory.source_directory = str(solutions.resolve())
        config.CourseDirectory.release_directory = str(Path(scratch) / "release")
        config.CourseDirectory.db_url = db_url
        generate_assignment(config, assignment.name)
    with Gradebook(db_url) as gb:
        if _grade_cells(gb, assignment) != declared:
            raise GradebookError(
                f"the gradebook's graded cells of {assignment.name} differ from checks.py"
            )
    return True


class Recorder:
    """Records a batch's scores in one gradebook. The slow part starts at once in a thread,
    while the notebooks are being graded: importing nbgrader, recording the assignments, and
    creating the students and the submissions of the notebooks that will be graded
    (``expected``: (student, assignment) pairs), which nbgrader commits one by one. Once
    graded, :meth:`record` only sets the scores, in one commit; a submission created ahead
    for a notebook that turned out to have nothing to grade is removed again."""

    def __init__(
        self,
        db_url: str,
        assignments: list[Assignment],
        solutions: Path,
        expected: list[tuple[str, str]] = (),
        names: dict | None = None,
    ):
        self.db_url = db_url
        self.assignments = list(assignments)
        self.solutions = solutions
        self.expected = list(dict.fromkeys(expected))
        self.names = names or {}
        self.added: list[str] = []
        self._created: set[tuple[str, str]] = set()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._prepare, daemon=True)
        self._thread.start()

    def _create_submissions(self) -> None:
        from . import nbgrader_api

        nbgrader_api.load()
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.db_url) as gb:
            known = {s.id for s in gb.students}
            for student, name in self.expected:
                if student not in known:
                    gb.add_student(student, **self.names.get(student, {}))
                    known.add(student)
                try:
                    gb.find_submission(name, student)
                except MissingEntry:
                    gb.add_submission(name, student)
                    self._created.add((student, name))

    def _prepare(self) -> None:
        try:
            if self.db_url.startswith("sqlite:///"):
                path = Path(self.db_url.removeprefix("sqlite:///"))
                path.parent.mkdir(parents=True, exist_ok=True)
            _nbgrader()
            for assignment in self.assignments:
                if ensure_assignment(self.db_url, assignment, self.solutions):
                    self.added.append(assignment.name)
            if self.expected:
                self._create_submissions()
        except BaseException as err:  # noqa: BLE001 - handed to record()
            self._error = err

    def join(self) -> None:
        """Wait until the gradebook is prepared (what went wrong is raised by :meth:`record`)."""
        self._thread.join()

    def record(self, reports: list[record.Report], names: dict | None = None) -> dict:
        """Write every report's scores; what was written. ``names`` gives new students their
        names (``{id: {"first_name": ..., "last_name": ...}}``)."""
        self._thread.join()
        try:
            if self._error is not None:
                raise self._error
            count = _record(self.db_url, reports, {**self.names, **(names or {})}, self._created)
        except GradebookError:
            raise
        except Exception as err:  # noqa: BLE001 - SQLAlchemy, nbgrader: whatever it is, say it
            raise GradebookError(f"{type(err).__name__}: {err}") from err
        return {"url": self.db_url, "submissions": count, "assignments_added": self.added}


def record_reports(
    db_url: str, reports: list[record.Report], solutions: Path, names: dict | None = None
) -> dict:
    """Write every report's scores into the gradebook; a summary of what was written."""
    assignments = {r.assignment.name: r.assignment for r in reports}
    return Recorder(db_url, list(assignments.values()), solutions).record(reports, names)


def roster(db_url: str) -> dict[str, str]:
    """The students nbgrader's gradebook knows (``nbgrader db student add/import``): id -> name
    ("" when it has none). Empty when the gradebook does not exist yet."""
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        if not path.is_file():
            return {}
        found = _sqlite_roster(path)
        if found is not None:
            return found
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.api import Gradebook

    _nbgrader()
    with Gradebook(db_url) as gb:
        return {s.id: " ".join(n for n in (s.first_name, s.last_name) if n) for s in gb.students}


def _sqlite_roster(path: Path) -> dict[str, str] | None:
    """:func:`roster` read straight from an SQLite gradebook, read-only and without nbgrader
    (the run needs the roster before its workers start, and importing nbgrader costs more than
    a second of CPU); None when the file has no student table this can read."""
    import sqlite3

    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = connection.execute("SELECT id, first_name, last_name FROM student").fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return None
    return {str(sid): " ".join(n for n in (first, last) if n) for sid, first, last in rows}


def _late(submission, report: record.Report) -> None:
    """The submission's time and extension, where nbgrader's own late handling reads them."""
    from datetime import timedelta

    from .late import parse_time

    moment = parse_time(report.submitted_at)
    if moment is not None:
        submission.timestamp = moment.replace(tzinfo=None)
    hours = (report.late or {}).get("extension_hours")
    if hours:
        submission.extension = timedelta(hours=hours)


def _record(
    db_url: str, reports: list[record.Report], names: dict, created: set = frozenset()
) -> int:
    """Set every report's scores; ``created``: the submissions made ahead of the grading, of
    which those whose notebook had nothing to grade are removed."""
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.api import Gradebook, MissingEntry

    count = 0
    with Gradebook(db_url) as gb:
        known = {s.id for s in gb.students}
        for report in reports:
            if report.student not in known:
                gb.add_student(report.student, **names.get(report.student, {}))
                known.add(report.student)
            if not record.submitted(report):
                if (report.student, report.assignment.name) in created:
                    gb.remove_submission(report.assignment.name, report.student)
                continue
            name = report.assignment.name
            try:
                submission = gb.find_submission(name, report.student)
            except MissingEntry:
                submission = gb.add_submission(name, report.student)
            _late(submission, report)
            notebook = gb.find_submission_notebook(report.notebook, name, report.student)
            # nbgrader's export subtracts this from the score, as after its own autograde.
            notebook.late_submission_penalty = report.penalty or None
            grades = {grade.name: grade for grade in notebook.grades}
            for row in record.rows(report):
                grade = grades[row.test_id]
                grade.auto_score = row.points
                grade.needs_manual_grade = False
            # A cell marked by hand keeps the points given in formgrader; until then it waits.
            for cell in report.assignment.hand_marked:
                grade = grades[cell.id]
                grade.auto_score = None
                if grade.manual_score is None:
                    grade.needs_manual_grade = True
            count += 1
        gb.db.commit()
    return count
