"""The ``rnn-course release`` subcommand: regenerate the student notebooks (exercises/) from the
instructor notebooks (solutions/) with nbgrader's ``generate_assignment`` (its converter, run
in this process through nbgrader's Python API), which also records each assignment in the
course's gradebook.

The course is the folder of an ``nbgrader_config.py`` (the repository by default); nbgrader
reads its source and release folders and its gradebook from there, as ``nbgrader
generate_assignment NAME --force`` run in that folder would.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import textwrap
from pathlib import Path

COURSE_DIR = Path(__file__).resolve().parents[1]


class ReleaseError(Exception):
    """Nothing (more) was released; the message says why, ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def _wrap(text: str) -> str:
    return textwrap.fill(text, 78)


def add_release_command(subparsers) -> None:
    p = subparsers.add_parser(
        "release",
        help="regenerate exercises/ from solutions/ with nbgrader generate_assignment",
        description=_wrap(
            "Regenerate the student notebooks of the given assignments (default: all) "
            "from the instructor notebooks with `nbgrader generate_assignment --force`: solutions "
            "and hidden tests removed, cells locked, checksums and graded cells recorded in the "
            "course's gradebook. The folders come from the course's nbgrader_config.py "
            "(source_directory=solutions, release_directory=exercises)."
        ),
        epilog="exit status: 0 released; 1 nbgrader failed; 2 unknown assignment or no course",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "assignments",
        nargs="*",
        metavar="ASSIGNMENT",
        help="assignment folder names, e.g. 01_rnn_cell (default: every assignment)",
    )
    p.add_argument(
        "--course",
        type=Path,
        default=None,
        metavar="DIR",
        help="the course folder, where nbgrader_config.py is (default: this repository)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(handler=run_release)


def course_folders(course: Path) -> tuple[Path, Path]:
    """(source folder, release folder) as the course's nbgrader configuration sets them."""
    from autograder.grading.gradebook import course_config

    config = course_config(course)
    if config is None:
        raise ReleaseError(f"{course} is not a course folder: it has no nbgrader_config.py")
    settings = config.CourseDirectory
    root = Path(settings.get("root", str(course)))
    source = root / settings.get("source_directory", "source")
    release = root / settings.get("release_directory", "release")
    return source, release


def known_assignments(source: Path) -> list[str]:
    """Assignment folders of the source folder: those holding a notebook."""
    if not source.is_dir():
        return []
    return sorted(
        p.name
        for p in source.iterdir()
        if p.is_dir() and not p.name.startswith((".", "_")) and any(p.glob("*.ipynb"))
    )


def stale_sources(source: Path) -> list[str]:
    """Instructor notebooks older than their notebook source (solutions/_src), if the course
    builds them with solutions/build_notebooks.py."""
    script = source / "build_notebooks.py"
    if not script.is_file():
        return []
    spec = importlib.util.spec_from_file_location("_rnn_course_build_notebooks", script)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        return [str(p.relative_to(source.parent)) for p in module.build(check=True)]
    except Exception:  # noqa: BLE001 - a warning only; nbgrader will say what is wrong
        return []


def release(names: list[str], course: Path, quiet: bool = False) -> list[Path]:
    """Run ``nbgrader generate_assignment NAME --force`` for each name; the released folders."""
    source, target = course_folders(course)
    known = known_assignments(source)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ReleaseError(
            f"unknown assignment {', '.join(map(repr, unknown))}: {source} has "
            f"{', '.join(known) or 'no assignment folders'}"
        )
    for path in stale_sources(source):
        print(
            f"warning: {path} is older than its source in _src/: run "
            "`python solutions/build_notebooks.py` first to release the current version",
            file=sys.stderr,
        )
    from autograder.grading.gradebook import GradebookError, course_config, generate_assignment

    released = []
    for name in names or known:
        try:
            generate_assignment(course_config(course), name)
        except GradebookError as err:
            raise ReleaseError(str(err), code=1) from None
        released.append(target / name)
        if not quiet:
            notebooks = ", ".join(p.name for p in sorted((target / name).glob("*.ipynb")))
            print(f"released {name}: {target / name} ({notebooks})")
    return released


def run_release(args) -> int:
    course = (args.course or COURSE_DIR).resolve()
    try:
        release(list(dict.fromkeys(args.assignments)), course, args.quiet)
    except ReleaseError as err:
        print(f"rnn-course release: {err}", file=sys.stderr)
        return err.code
    return 0
