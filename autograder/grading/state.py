"""Resume: each graded notebook's result, saved the moment it is judged, in ``OUT/.state/``.

A run that is interrupted (Ctrl-C, ``kill -9``, a power cut) loses nothing already graded: the
next run on the same output folder reads these files back and grades only what is new or
changed. A saved result is reused only when its *key* still matches, and the key covers
everything the result depends on:

* the bytes of the submitted notebook;
* the assignment's declaration and solution (every file of ``solutions/<NN_topic>/``);
* the grader itself (its version and a hash of the package's source);
* the settings that can change a verdict (time and memory limits, an explicit ``--seed``).

One file per student and assignment, named by a hash of the two, written atomically; a changed
submission simply overwrites its file.
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

FORMAT = 1
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


@dataclass(frozen=True)
class Store:
    """The ``.state`` folder of one output folder."""

    folder: Path

    def path(self, student: str, assignment: str) -> Path:
        name = hashlib.sha256(f"{student}\0{assignment}".encode()).hexdigest()[:32]
        return self.folder / f"{name}.json"

    def save(self, report: record.Report, key: str) -> None:
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
        data = {
            "format": FORMAT,
            "key": key,
            "student": report.student,
            "assignment": report.assignment.name,
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
        files.write_atomic(self.path(report.student, report.assignment.name), json.dumps(data))

    def load(self, student: str, assignment: Assignment, key: str) -> record.Report | None:
        """The saved report when its key matches, else None (never raises on a bad file)."""
        try:
            data = json.loads(self.path(student, assignment.name).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or data.get("key") != key:
                return None
            if data["student"] != student or data["assignment"] != assignment.name:
                return None
            saved = data["verdicts"]
            if [v["test_id"] for v in saved] != [t.id for t in assignment.tests]:
                return None
            verdicts = [
                Verdict(float(v["fraction"]), v["status"], v["message"], tuple(v["details"]))
                for v in saved
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
            seed = (int(data["seed"][0]), int(data["seed"][1]))
            return record.Report(
                student,
                assignment,
                data["notebook"],
                verdicts,
                list(data["notes"]),
                result,
                seed,
                graded_at=data["graded_at"],
            )
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
