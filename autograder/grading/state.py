"""Resume and accumulate: every graded notebook's result, saved the moment it is judged, in
``OUT/.state/``.

A run that is interrupted (Ctrl-C, ``kill -9``, a power cut) loses nothing already graded: the
next run on the same output folder reads these files back and grades only what is new or
changed. The folder is also OUT's memory across batches: a second download (late work) graded
into the same OUT adds to what is there, because every student and assignment graded before
keeps its entry here, with a copy of each notebook graded (``notebooks/<sha256>.ipynb``), so it
can be graded again when the assignment changes. A saved result is reused only when its *key*
still matches, and the key covers everything the result depends on:

* the bytes of the submitted notebook and its file name;
* the assignment's declaration and solution (every file of ``solutions/<NN_topic>/``);
* the grader itself (its version and a hash of the package's source);
* the settings that can change a verdict (time and memory limits, an explicit ``--seed``).

One entry per student and assignment (a file named by a hash of the two, written atomically):
the notebooks that count now, each with its result once judged, and the files superseded by a
later submission.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .. import __version__
from . import files, record
from .run import RunResult
from .spec import Assignment, Verdict

FORMAT = 2
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _hash_files(paths: list[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _source_files(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.suffix != ".pyc"
    ]


@functools.cache
def grader_version() -> str:
    """``<version>+<hash of the package's Python source>``: any change to the grader counts."""
    sources = [p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts]
    return f"{__version__}+{_hash_files(sources, PACKAGE_DIR)[:12]}"


def assignment_version(folder: Path) -> str:
    """A hash of everything in ``solutions/<NN_topic>/`` (checks.py, the solution notebook)."""
    return _hash_files(_source_files(folder), folder)[:16]


def submission_key(
    notebook: bytes, assignment: str, assignment_version: str, settings: dict
) -> str:
    digest = hashlib.sha256()
    digest.update(hashlib.sha256(notebook).digest())
    digest.update(
        json.dumps(
            {
                "assignment": assignment,
                "assignment_version": assignment_version,
                "grader": grader_version(),
                "settings": settings,
            },
            sort_keys=True,
        ).encode()
    )
    return digest.hexdigest()


def _report_data(report: record.Report) -> dict:
    verdicts = [
        {
            "test_id": test.id,
            "fraction": verdict.fraction,
            "status": verdict.status,
            "message": verdict.message,
            "details": list(verdict.details),
        }
        for test, verdict in zip(report.assignment.tests, report.verdicts, strict=True)
    ]
    result = report.result
    return {
        "notebook": report.notebook,
        "graded_at": report.graded_at or now(),
        "seed": [str(report.seed[0]), report.seed[1]],
        "verdicts": verdicts,
        "notes": list(report.notes),
        "run": None
        if result is None
        else {
            "status": result.status,
            "program_errors": result.program_errors,
            "seconds": round(result.seconds, 4),
        },
    }


def _report_from(data: dict, student: str, assignment: Assignment) -> record.Report:
    saved = data["verdicts"]
    if [v["test_id"] for v in saved] != [t.id for t in assignment.tests]:
        raise ValueError("the assignment's tests changed")
    verdicts = [
        Verdict(float(v["fraction"]), v["status"], v["message"], tuple(v["details"])) for v in saved
    ]
    run = data.get("run")
    result = None
    if run is not None:
        result = RunResult(
            status=run["status"],
            program_finished=True,
            program_errors=list(run["program_errors"]),
            seconds=float(run["seconds"]),
        )
    return record.Report(
        student,
        assignment,
        data["notebook"],
        verdicts,
        list(data["notes"]),
        result,
        (int(data["seed"][0]), int(data["seed"][1])),
        graded_at=data["graded_at"],
    )


@dataclass
class Saved:
    """One notebook of an entry: where its copy is, when it was handed in, its result."""

    file: str  # the name it was handed in under
    blob: str  # sha256 of its bytes: the copy is notebooks/<blob>.ipynb
    submitted_at: str | None = None  # ISO 8601, UTC
    meta: dict | None = None  # {"submission_id": the LMS's id, "lms_late": marked late}
    source: str = ""  # the intake it came from (a zip, a folder)
    key: str | None = None
    report: dict | None = None  # _report_data of its result, None until judged


@dataclass
class Entry:
    """What OUT holds for one student and assignment."""

    student: str
    assignment: str
    notebooks: list[Saved]
    superseded: list[dict]  # {"file", "submitted_at", "source", "reason"}
    refused: list[dict]  # {"file", "reason"}: handed in, not graded
    name: str | None = None  # the student's name, as the LMS gave it


@dataclass(frozen=True)
class Store:
    """The ``.state`` folder of one output folder."""

    folder: Path

    def path(self, student: str, assignment: str) -> Path:
        name = hashlib.sha256(f"{student}\0{assignment}".encode()).hexdigest()[:32]
        return self.folder / f"{name}.json"

    def blob_path(self, blob: str) -> Path:
        return self.folder / "notebooks" / f"{blob}.ipynb"

    def keep_notebook(self, content: bytes) -> str:
        """Save a copy of a graded notebook (once per content); its blob id."""
        blob = hashlib.sha256(content).hexdigest()
        path = self.blob_path(blob)
        if not path.is_file():
            files.write_atomic(path, content)
        return blob

    def save_entry(self, entry: Entry) -> None:
        data = {
            "format": FORMAT,
            "student": entry.student,
            "assignment": entry.assignment,
            "name": entry.name,
            "notebooks": [vars(n) for n in entry.notebooks],
            "superseded": entry.superseded,
            "refused": entry.refused,
        }
        files.write_atomic(self.path(entry.student, entry.assignment), json.dumps(data))

    def entry(self, student: str, assignment: str) -> Entry | None:
        return self._read(self.path(student, assignment))

    def entries(self) -> list[Entry]:
        """Every entry of the folder (unreadable or older-format files are left out)."""
        if not self.folder.is_dir():
            return []
        found = [self._read(p) for p in sorted(self.folder.glob("*.json"))]
        return sorted((e for e in found if e is not None), key=lambda e: (e.student, e.assignment))

    def _read(self, path: Path) -> Entry | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                return None
            entry = Entry(
                str(data["student"]),
                str(data["assignment"]),
                [Saved(**n) for n in data["notebooks"]],
                list(data.get("superseded", [])),
                list(data.get("refused", [])),
                data.get("name"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if path != self.path(entry.student, entry.assignment):
            return None
        return entry

    def save(self, report: record.Report, key: str, saved: Saved | None = None) -> None:
        """Save one notebook's result into its student's entry (created if need be)."""
        entry = self.entry(report.student, report.assignment.name) or Entry(
            report.student, report.assignment.name, [], [], []
        )
        file = report.file or f"{report.notebook}.ipynb"
        saved = saved or Saved(file, "")
        saved.key, saved.report = key, _report_data(report)
        entry.notebooks = [n for n in entry.notebooks if n.file != file] + [saved]
        self.save_entry(entry)

    def load(self, student: str, assignment: Assignment, key: str) -> record.Report | None:
        """The saved report whose key matches, else None (never raises on a bad file)."""
        entry = self.entry(student, assignment.name)
        if entry is None:
            return None
        for saved in entry.notebooks:
            if saved.key == key and saved.report is not None:
                try:
                    report = _report_from(saved.report, student, assignment)
                except (ValueError, KeyError, TypeError, IndexError):
                    return None
                report.file = saved.file
                return report
        return None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
