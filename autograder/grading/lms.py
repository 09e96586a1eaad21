"""Intake: turn a learning-management system's download (a zip) into the folder layout the
engine grades, ``SUBMITTED/<student_id>/<assignment>/<notebook>.ipynb``.

Who submitted what is read from each file's name, as nbgrader's ``zip_collect`` does it: with
:class:`nbgrader.plugins.zipcollect.FileNameCollectorPlugin` and a regular expression with named
groups ``student_id`` and ``file_id`` (and optionally ``first_name``, ``last_name``). Presets:

* ``canvas``: ``doejane_12345_6789012_rnn_cell.ipynb`` (name, user id, submission id, the
  learner's file name), ``doejane_LATE_12345_6789012_rnn_cell.ipynb`` when late. The student id
  is Canvas's numeric user id, which is unique where names are not.
* ``moodle``: ``Jane Doe_12345_assignsubmission_file_/rnn_cell.ipynb`` (one folder per
  student), or the same flattened into ``Jane Doe_12345_assignsubmission_file_rnn_cell.ipynb``.
  The student id is the participant id.

Any other LMS: ``--zip-regexp``. Every file of the zip that is not collected is reported with
the reason (no match, not a notebook, unsafe, too big...); nothing is dropped silently.

A student's name is kept as the LMS wrote it ("Jean-Luc de la Tour"; Canvas's "doejane"), never
split into first and last names, which no rule gets right for every name. When a student has two
versions of one notebook in the zip (the same name, or Canvas's ``rnn_cell-1.ipynb`` for a
resubmitted ``rnn_cell.ipynb``), the latest is collected (Canvas: the larger submission id;
otherwise the later time the zip gives the file) and the other is listed as superseded. Each
collected file keeps its time from the zip (read as UTC) as its modification time and in the
intake's log, from which late work is judged.

The zip is untrusted. Nothing is extracted under a name taken from the archive: each collected
file is streamed to ``<student_id>/<assignment>/<file name>``, built from validated parts; links,
absolute paths, ``..``, encrypted members, oversized files (counted while reading, not trusted
from the header) and archives over the total or member-count limits are refused.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

PRESETS = {
    "canvas": (
        r"^(?:.*/)?(?P<name>[^/_]+)(?:_(?P<late>LATE))?_(?P<student_id>\d+)_(?P<submission_id>\d+)"
        r"_(?P<file_id>[^/]+)$"
    ),
    "moodle": (
        r"^(?:.*/)?(?P<name>[^/_]+)_(?P<student_id>\d+)_assignsubmission_file_/?(?P<file_id>.+)$"
    ),
}
NOTEBOOK_EXTENSIONS = (".ipynb",)
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
_CHUNK = 1 << 20


class ZipError(Exception):
    """The zip (or the way it is to be read) is unusable; nothing was collected."""


@dataclass(frozen=True)
class Limits:
    max_members: int = 20_000
    max_file_mb: float = 100.0  # per file, more than the grader reads, so it can say why
    max_total_mb: float = 2_048.0


@dataclass
class Intake:
    zip: str
    format: str
    regexp: str
    collected: list[dict] = field(default_factory=list)
    unmatched: list[dict] = field(default_factory=list)
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # student id -> names
    superseded: list[dict] = field(default_factory=list)  # earlier versions, not collected

    def log(self) -> dict:
        """What goes into grading.json and summary.html."""
        late = sorted({c["student_id"] for c in self.collected if c.get("late")})
        shown = self.unmatched[:20]
        more = len(self.unmatched) - len(shown)
        warnings = [f"not collected from the zip: {u['file']} ({u['reason']})" for u in shown]
        if more:
            warnings.append(f"... and {more} more file(s) not collected (see grading.json)")
        return {
            "zip": self.zip,
            "format": self.format,
            "regexp": self.regexp,
            "collected": len(self.collected),
            "files": self.collected,
            "unmatched": self.unmatched,
            "superseded": self.superseded,
            "late": late,
            "warnings": warnings,
        }


def collector(regexp: str):
    """nbgrader's file-name collector for ``regexp`` (checked to have the required groups)."""
    from . import nbgrader_api

    nbgrader_api.load()
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

    try:
        groups = re.compile(regexp).groupindex
    except re.error as err:
        raise ZipError(f"the regular expression {regexp!r} is not valid: {err}") from None
    missing = [g for g in ("student_id", "file_id") if g not in groups]
    if missing:
        raise ZipError(
            f"the regular expression {regexp!r} must have the named groups "
            "(?P<student_id>...) and (?P<file_id>...); missing: " + ", ".join(missing)
        )
    quiet = logging.getLogger("rnn_course.zipcollect")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return FileNameCollectorPlugin(
        named_regexp=regexp, valid_ext=list(NOTEBOOK_EXTENSIONS), log=quiet
    )


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_IFMT(info.external_attr >> 16) == stat.S_IFLNK


def _member_name(info: zipfile.ZipInfo, links: bool = False) -> str | None:
    """The member's path, normalised; None when it is unsafe (absolute, '..', a link unless
    ``links``)."""
    name = info.filename.replace("\\", "/")
    if "\0" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    # Unix zips keep the file type in the high bits: only plain files (or no type at all, as
    # zips from elsewhere have) are extracted; links, devices, pipes are not.
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind not in (0, stat.S_IFREG) and not (links and kind == stat.S_IFLNK):
        return None
    return "/".join(parts)


def _assignment_for(file_name: str, candidates: dict[str, str]) -> str | None:
    """The one assignment whose notebook name appears in ``file_name`` (case-insensitive)."""
    if len(candidates) == 1:
        return next(iter(candidates))
    lowered = file_name.lower()
    found = [name for name, stem in candidates.items() if stem.lower() in lowered]
    if len(found) > 1:  # "char_rnn" holds "rnn": keep the longest notebook name only
        longest = max(len(candidates[n]) for n in found)
        found = [n for n in found if len(candidates[n]) == longest]
    return found[0] if len(found) == 1 else None


def detect_format(names: list[str]) -> str:
    """The preset whose pattern matches most of the notebooks in the zip."""
    notebooks = [n for n in names if n.lower().endswith(NOTEBOOK_EXTENSIONS)]
    scores = {
        preset: sum(bool(re.match(regexp, n)) for n in notebooks)
        for preset, regexp in PRESETS.items()
    }
    best = max(scores.values(), default=0)
    winners = [p for p, s in scores.items() if s == best]
    if best == 0 or len(winners) > 1:
        raise ZipError(
            "cannot tell which LMS the zip comes from (no file name follows the Canvas or "
            "Moodle pattern): pass --lms canvas, --lms moodle or --zip-regexp"
        )
    return winners[0]


def _zip_time(info: zipfile.ZipInfo) -> datetime | None:
    try:
        return datetime(*info.date_time, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _submission_id(groups: dict) -> int | None:
    text = groups.get("submission_id") or ""
    return int(text) if text.isdigit() else None


def _version(file_name: str) -> str:
    from .term import version_name

    return version_name(file_name)


def collect(
    archive: Path,
    dest: Path,
    assignments: dict[str, str],
    lms: str = "auto",
    regexp: str | None = None,
    limits: Limits = Limits(),
) -> Intake:
    """Collect the notebooks of ``archive`` into ``dest`` (replaced as a whole).

    ``assignments`` maps the assignment names files may go to onto their notebook names
    (``{"01_rnn_cell": "rnn_cell"}``); with one, every notebook goes to it, otherwise a file
    goes to the assignment whose notebook name its own contains.
    """
    archive = Path(archive)
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as err:
        raise ZipError(f"cannot read {archive} as a zip file: {err}") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_members:
            raise ZipError(
                f"{archive.name} holds {len(infos)} files, more than the "
                f"{limits.max_members} a class download should"
            )
        names = {id(i): _member_name(i) for i in infos}
        if regexp:
            fmt = "custom"
        else:
            fmt = detect_format([n for n in names.values() if n]) if lms == "auto" else lms
            if fmt not in PRESETS:
                raise ZipError(f"unknown LMS {lms!r}: choose one of {', '.join(PRESETS)}")
            regexp = PRESETS[fmt]
        plugin = collector(regexp)
        intake = Intake(str(archive), fmt, regexp)
        staging = dest.with_name(f".{dest.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        placed, links = [], []
        for info in infos:
            if _is_link(info):
                links.append(info)
                continue
            try:
                student, assignment, groups = _place(
                    names[id(info)], info, plugin, fmt, assignments
                )
            except _Refused as why:
                intake.unmatched.append(
                    {"file": info.filename, "reason": str(why), **_whose(names[id(info)], plugin)}
                )
                continue
            placed.append((info, student, assignment, groups))
        total = 0
        for info, student, assignment, groups in _latest(placed, intake):
            target = staging / student / assignment / groups["file_id"]
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                total += _extract(zf, info, target, limits, total)
            except _Refused as why:
                intake.unmatched.append({"file": info.filename, "reason": str(why)})
                continue
            moment = _zip_time(info)
            if moment is not None:
                os.utime(target, (moment.timestamp(), moment.timestamp()))
            intake.collected.append(
                {
                    "file": info.filename,
                    "student_id": student,
                    "assignment": assignment,
                    "file_name": groups["file_id"],
                    "submitted_at": _stamp(moment),
                    "submission_id": _submission_id(groups),
                    "late": bool(groups.get("late")),
                }
            )
            if groups.get("first_name") or groups.get("last_name"):
                intake.names[student] = {
                    k: groups[k] for k in ("first_name", "last_name") if groups.get(k)
                }
            elif groups.get("name"):
                intake.names[student] = {"last_name": groups["name"].strip()}
        for info in links:
            if _link_placeholder(info, plugin, fmt, assignments, staging):
                intake.unmatched.append(
                    {
                        "file": info.filename,
                        "reason": "a symbolic link, not a file: not extracted (graded 0)",
                    }
                )
            else:
                reason = "unsafe entry (an absolute path, '..' or a link): not extracted"
                intake.unmatched.append({"file": info.filename, "reason": reason})
    _replace_dir(staging, dest)
    return intake


class _Refused(Exception):
    """This file is not collected; the message says why."""


def _whose(name: str | None, plugin) -> dict:
    """``{"student_id": ...}`` for a file not collected whose name still says whose it is."""
    match = re.match(plugin.named_regexp, name or "")
    student = (match.groupdict().get("student_id") or "").strip() if match else ""
    return {"student_id": student} if SAFE_ID.match(student) else {}


def _latest(placed: list, intake: Intake) -> list:
    """Of each student's versions of one notebook, the latest (the larger submission id, else
    the later time in the zip, else the later entry); the others go to ``intake.superseded``."""
    by_version: dict[tuple[str, str, str], list] = {}
    for item in placed:
        _, student, assignment, groups = item
        by_version.setdefault((student, assignment, _version(groups["file_id"])), []).append(item)
    kept = []
    for versions in by_version.values():

        def order(item):
            info, _, _, groups = item
            return (_submission_id(groups) or -1, info.date_time, placed.index(item))

        ranked = sorted(versions, key=order)
        winner = ranked[-1]
        kept.append(winner)
        for info, student, assignment, groups in ranked[:-1]:
            intake.superseded.append(
                {
                    "file": info.filename,
                    "student_id": student,
                    "assignment": assignment,
                    "file_name": groups["file_id"],
                    "submitted_at": _stamp(_zip_time(info)),
                    "submission_id": _submission_id(groups),
                    "source": intake.zip,
                    "reason": f"superseded by {winner[0].filename}: a later version of the "
                    "same notebook",
                }
            )
    return sorted(kept, key=placed.index)


LINK_TARGET = "(a symbolic link in the zip, not followed)"


def _link_placeholder(info, plugin, fmt: str, assignments: dict[str, str], staging: Path) -> bool:
    """For a link in the zip that names a student's notebook, put a dangling link (to a name
    that is no file) in its place, so that the engine gives that student a row with 0 and the
    reason. What the link pointed to is never read. False when it names no submission."""
    name = _member_name(info, links=True)
    try:
        student, assignment, groups = _place(name, info, plugin, fmt, assignments)
    except _Refused:
        return False
    target = staging / student / assignment / groups["file_id"]
    if target.exists() or target.is_symlink():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(LINK_TARGET, target)
    return True


def _place(name: str | None, info, plugin, fmt: str, assignments: dict[str, str]):
    """(student id, assignment, the collector's groups) for one member, or :class:`_Refused`."""
    if name is None:
        raise _Refused("unsafe entry (an absolute path, '..' or a link): not extracted")
    base = PurePosixPath(name).name
    if name.startswith("__MACOSX/") or base.startswith("._"):
        raise _Refused("macOS metadata, not a submission")
    if not base.lower().endswith(NOTEBOOK_EXTENSIONS):
        raise _Refused("not a notebook (.ipynb)")
    groups = plugin.collect(name)
    if not groups:
        raise _Refused(f"the file name does not follow the {fmt} pattern")
    student = (groups.get("student_id") or "").strip()
    if not SAFE_ID.match(student):
        raise _Refused(f"the student id {student!r} cannot be used as a folder name")
    file_name = PurePosixPath((groups.get("file_id") or "").replace("\\", "/")).name
    if not file_name or file_name.startswith("."):
        raise _Refused("no usable file name after the student id")
    assignment = _assignment_for(file_name, assignments)
    if assignment is None:
        raise _Refused("cannot tell which assignment it belongs to: pass --assignment")
    if info.flag_bits & 0x1:
        raise _Refused("encrypted")
    return student, assignment, {**groups, "file_id": file_name}


def _extract(zf: zipfile.ZipFile, info, target: Path, limits: Limits, total: int) -> int:
    """Stream one member to ``target``; the bytes written, or :class:`_Refused`."""
    per_file = int(limits.max_file_mb * (1 << 20))
    budget = int(limits.max_total_mb * (1 << 20)) - total
    written = 0
    reason = None
    try:
        with zf.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > per_file:
                    reason = f"larger than the {limits.max_file_mb:g} MB limit per file"
                elif written > budget:
                    reason = f"the zip expands to more than {limits.max_total_mb:g} MB"
                if reason:
                    break
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as err:
        reason = f"cannot be extracted ({err})"
    if reason:
        target.unlink(missing_ok=True)
        raise _Refused(reason)
    return written


def _replace_dir(new: Path, dest: Path) -> None:
    """Put ``new`` where ``dest`` is, in two renames (never a half-written ``dest``)."""
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(new, dest)
    shutil.rmtree(old, ignore_errors=True)
