"""Hand back: the graded notebooks and feedback pages in nbgrader's folders, and one zip per
learning platform that returns every page in a single upload.

* ``autograded/<student>/<assignment>/<notebook>.ipynb`` (and the submission under
  ``submitted/``, where formgrader counts it): written by :func:`write_autograded` as each
  notebook is graded, so that formgrader opens the submissions, with their cells marked by hand.
* ``feedback/<student>/<assignment>/<notebook>.html`` with ``timestamp.txt`` and
  ``submission_secret.txt``: the layout ``nbgrader generate_feedback`` writes and
  ``nbgrader release_feedback`` reads (it hashes the secret to name the page a learner fetches).
  A submission collected by nbgrader's exchange keeps its own timestamp and secret; any other
  gets the time it was graded and a fresh secret.
* ``feedback_canvas.zip``: each page named as Canvas names a submission in its download
  (``name_userid_submissionid_file``), which Canvas's "Re-upload submissions" attaches to the
  learner's submission as a comment.
* ``feedback_moodle.zip``: each page in the learner's folder of Moodle's download
  (``Full Name_participantid_assignsubmission_file_/``), which Moodle's "Upload multiple feedback
  files in a zip" gives to that participant.

The learning platform's names and ids come from the file names of the zip the batch was
collected from (``grading.json``).
"""

from __future__ import annotations

import json
import re
import secrets
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from . import files, lms

AUTOGRADED = "autograded"
SUBMITTED = "submitted"
FEEDBACK = "feedback"
TIMESTAMP = "timestamp.txt"
SECRET = "submission_secret.txt"


class HandbackError(Exception):
    """Nothing was handed back; the message says why."""


def _now() -> str:
    # nbgrader's own timestamp format (nbgrader.utils.get_utc_timestamp / parse_utc read it)
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


@dataclass(frozen=True)
class Folders:
    """The nbgrader folders of one course (``CourseDirectory``'s settings)."""

    root: Path
    submitted: str = "submitted"
    autograded: str = "autograded"
    feedback: str = "feedback"

    @classmethod
    def of(cls, config, root: Path) -> Folders:
        settings = config.CourseDirectory if config is not None else {}
        return cls(
            Path(settings.get("root", str(root))),
            *(settings.get(f"{k}_directory", k) for k in (SUBMITTED, AUTOGRADED, FEEDBACK)),
        )

    def path(self, which: str, student: str, assignment: str) -> Path:
        return self.root / getattr(self, which) / student / assignment


def write_autograded(folders: Folders, report, source: Path | None) -> Path | None:
    """Put the graded notebook where formgrader opens it (``autograded/``), and the submission
    where it counts submissions (``submitted/``, unless it was graded from there). Only a
    notebook nbformat can read is written (formgrader could not show any other); the path
    written, or None."""
    import nbformat

    if source is None or not source.is_file() or source.is_symlink():
        return None
    try:
        data = source.read_bytes()
        nbformat.reads(data.decode("utf-8-sig"), as_version=4)
    except (OSError, ValueError, UnicodeDecodeError, nbformat.ValidationError):
        return None
    name = f"{report.notebook}.ipynb"
    submitted = folders.path("submitted", report.student, report.assignment.name)
    if source.resolve().parent != submitted.resolve():
        files.write_atomic(submitted / name, data)
    # formgrader opens a submission only when its timestamp.txt says what the gradebook says.
    stamp = getattr(report, "submitted_at", None)
    if stamp and not (submitted / TIMESTAMP).is_file():
        files.write_atomic(submitted / TIMESTAMP, _nbgrader_time(stamp))
    target = folders.path("autograded", report.student, report.assignment.name) / name
    files.write_atomic(target, data)
    if (submitted / TIMESTAMP).is_file():
        files.write_atomic(target.parent / TIMESTAMP, (submitted / TIMESTAMP).read_bytes())
    return target


def _nbgrader_time(stamp: str) -> str:
    """A time as nbgrader writes it in timestamp.txt (UTC), read as nbgrader reads one."""
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.utils import parse_utc

    return parse_utc(stamp).replace(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


@dataclass(frozen=True)
class Page:
    """One feedback page of the output folder."""

    student: str
    assignment: str
    notebook: str  # without .html
    path: Path


def pages(out: Path) -> list[Page]:
    """The feedback pages ``rnn-course grade`` wrote under OUT/feedback/."""
    root = Path(out) / FEEDBACK
    found = []
    for path in sorted(root.glob("*/*/*.html")):
        if path.is_symlink() or not path.is_file():
            continue
        student, assignment = path.parent.parent.name, path.parent.name
        found.append(Page(student, assignment, path.stem, path))
    return found


def write_nbgrader_feedback(folders: Folders, found: list[Page]) -> list[Path]:
    """Copy each page into the course's ``feedback/`` as ``nbgrader generate_feedback`` lays
    it out, with the submission's timestamp and secret; the pages written."""
    written = []
    for page in found:
        folder = folders.path("feedback", page.student, page.assignment)
        submitted = folders.path("submitted", page.student, page.assignment)
        files.write_atomic(folder / f"{page.notebook}.html", page.path.read_bytes())
        for name, make in ((TIMESTAMP, _now), (SECRET, lambda: secrets.token_hex(16))):
            if (submitted / name).is_file():
                files.write_atomic(folder / name, (submitted / name).read_bytes())
            elif not (folder / name).is_file():
                files.write_atomic(folder / name, make())
        written.append(folder / f"{page.notebook}.html")
    return written


@dataclass(frozen=True)
class Identity:
    """Who a page goes to on the learning platform, as its download named them."""

    name: str
    student_id: str
    submission_id: str | None = None


def identities(out: Path) -> tuple[str | None, dict[tuple[str, str], Identity]]:
    """(the platform, {(student id, assignment): identity}) of the learners who came through
    a Canvas or Moodle download: read from the file names of the downloads in grading.json, and
    from what OUT keeps of earlier batches (OUT/.state: each student's LMS name and submission
    id), so that a later batch from a folder loses none; (None, {}) when none came that way."""
    try:
        log = json.loads((Path(out) / "grading.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log = {}
    intakes = log.get("intakes") or [log.get("intake")]
    platform, found = None, {}
    for intake in intakes:
        if not isinstance(intake, dict) or intake.get("format") not in lms.PRESETS:
            continue
        platform = intake["format"]
        pattern = re.compile(lms.PRESETS[platform])
        for entry in intake.get("files", []):
            match = pattern.match(str(entry.get("file", "")).replace("\\", "/"))
            if not match:
                continue
            key = (entry.get("student_id"), entry.get("assignment"))
            found[key] = Identity(
                match["name"], match["student_id"], match.groupdict().get("submission_id")
            )
    kept = _kept_identities(Path(out) / ".state")
    if platform is None and kept:
        platform = "canvas" if any(i.submission_id for i in kept.values()) else "moodle"
    for key, identity in kept.items():
        if platform == "canvas" and not identity.submission_id:
            continue
        found.setdefault(key, identity)
    return platform, found


def _kept_identities(folder: Path) -> dict[tuple[str, str], Identity]:
    """The LMS identities OUT/.state keeps: a student's name as the LMS gave it, with the
    submission id of their latest notebook (Canvas); nothing for students graded from a
    folder. Files that cannot be read are passed over (they are the grader's cache)."""
    found = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            name, student = saved.get("name"), str(saved["student"])
            ids = [
                str(n["meta"]["submission_id"])
                for n in saved.get("notebooks", [])
                if isinstance(n.get("meta"), dict) and n["meta"].get("submission_id")
            ]
            latest = max(ids, key=int) if ids else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if name and lms.SAFE_ID.match(student):
            found[(student, str(saved.get("assignment")))] = Identity(str(name), student, latest)
    return found


def _safe(text: str) -> str:
    """A file-name part: no path separators or control characters."""
    return re.sub(r"[\x00-\x1f/\\]", "_", text).strip() or "_"


def lms_name(platform: str, who: Identity, page: Page) -> str:
    """The page's path in the upload zip for ``platform``."""
    leaf = f"{page.notebook}_feedback.html"
    if platform == "canvas":
        return _safe(f"{who.name}_{who.student_id}_{who.submission_id}_{leaf}")
    return f"{_safe(who.name)}_{who.student_id}_assignsubmission_file_/{_safe(leaf)}"


def write_lms_zip(out: Path, found: list[Page], platform: str, who: dict) -> tuple[Path, list]:
    """OUT/feedback_<platform>.zip with every page that has an identity; (the zip, the pages
    left out because the download did not name their learner)."""
    target = Path(out) / f"feedback_{platform}.zip"
    left_out = []
    temporary = target.with_name(f".{target.name}{files.TEMP_SUFFIX}")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        seen = set()
        for page in found:
            identity = who.get((page.student, page.assignment))
            if identity is None:
                left_out.append(page)
                continue
            name = lms_name(platform, identity, page)
            if name in seen:  # two assignments in one download: keep them apart
                name = str(PurePosixPath(name).with_stem(f"{page.assignment}_{page.notebook}"))
            seen.add(name)
            archive.write(page.path, name)
    temporary.replace(target)
    return target, left_out


def hand_back(out: Path, folders: Folders | None, platform: str = "auto") -> dict:
    """Everything :mod:`handback` writes for the output folder of a graded batch; a summary."""
    found = pages(out)
    if not found:
        raise HandbackError(f"no feedback pages under {Path(out) / FEEDBACK}: grade first")
    summary: dict = {"pages": len(found)}
    if folders is not None:
        summary["nbgrader"] = [str(p) for p in write_nbgrader_feedback(folders, found)]
    detected, who = identities(out)
    wanted = detected if platform == "auto" else platform
    if platform != "auto" and detected not in (None, platform):
        raise HandbackError(f"the batch came from a {detected} download, not {platform}")
    if wanted is not None and platform != "none":
        if not who:
            raise HandbackError(
                f"no {wanted} names or ids in {Path(out) / 'grading.json'}: the batch was not "
                "collected from that platform's download (--zip)"
            )
        target, left_out = write_lms_zip(out, found, wanted, who)
        summary["lms"] = {
            "platform": wanted,
            "zip": str(target),
            "pages": len(found) - len(left_out),
            "left_out": [f"{p.student}/{p.assignment}/{p.notebook}.html" for p in left_out],
        }
    return summary
