"""The ``rnn-course release`` subcommand: regenerate the student notebooks (exercises/) from the
instructor notebooks (solutions/) with nbgrader's ``generate_assignment`` (its converter, run
in this process through nbgrader's Python API), which also records each assignment in the
course's gradebook.

The course is the folder of an ``nbgrader_config.py`` (:mod:`autograder.course`); nbgrader reads
its source and release folders and its gradebook from there, as ``nbgrader generate_assignment
NAME --force`` run in that folder would.

Points are declared once, in the notebook sources (``solutions/_src/NN_topic.py``, a test cell's
``points=``). The instructor notebook's nbgrader metadata and the line that states each task's
points are written from them by ``solutions/build_notebooks.py``, and the grader's ``checks.py``
takes them from the notebook. Before nbgrader runs, release refuses an instructor notebook that
is out of date with its source (``--build`` rebuilds it first) and a ``checks.py`` that
disagrees with its notebook, so what learners are told and what the grader gives cannot part.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import textwrap
from pathlib import Path


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
        epilog="exit status: 0 released; 1 nbgrader failed; 2 unknown assignment, no course, "
        "an instructor notebook out of date with its source, or a checks.py that disagrees "
        "with its notebook",
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
        help="the course folder, the one with nbgrader_config.py (default: the nearest such "
        "folder from the working directory upwards, as nbgrader finds it)",
    )
    p.add_argument(
        "--build",
        action="store_true",
        help="first rebuild the instructor notebooks from their sources in solutions/_src "
        "(solutions/build_notebooks.py); without it, a notebook older than its source stops "
        "the release",
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


def _build_script(source: Path):
    """The course's ``build_notebooks.py`` as a module (None when the course has none)."""
    script = source / "build_notebooks.py"
    if not script.is_file():
        return None
    name = f"_rnn_course_build_notebooks_{abs(hash(str(script.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up in sys.modules.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - any failure of the course's script is reported
        sys.modules.pop(name, None)
        raise ReleaseError(
            f"cannot check the instructor notebooks against their sources: {script} failed to "
            f"load ({type(err).__name__}: {err})"
        ) from err
    return module


def stale_sources(source: Path, names: list[str] | None = None, rebuild: bool = False):
    """Instructor notebooks that differ from what their notebook source (solutions/_src)
    builds, if the course builds them with solutions/build_notebooks.py; with ``rebuild``,
    they are rebuilt (and listed). ReleaseError when the check cannot be made."""
    module = _build_script(source)
    if module is None:
        return []
    built = {a.name for a in module.assignments()}
    chosen = [n for n in names if n in built] if names else None
    if names and not chosen:
        return []
    try:
        paths = module.build(check=not rebuild, names=chosen)
    except Exception as err:  # noqa: BLE001 - a broken source is the instructor's to fix
        raise ReleaseError(
            f"cannot build the instructor notebooks from their sources in {source / '_src'}: "
            f"{type(err).__name__}: {err}"
        ) from err
    return [Path(p) for p in paths]


def check_points(source: Path, names: list[str]) -> list[str]:
    """Each assignment's checks.py loaded against its notebook (same graded cells, same
    points); the problems found. An assignment without checks.py is not checked here."""
    from autograder.grading import assignments as declarations

    problems = []
    for name in names:
        if not (source / name / "checks.py").is_file():
            continue
        try:
            declarations.load(name, source)
        except declarations.AssignmentError as err:
            problems.append(str(err))
    return problems


def release(names: list[str], course: Path, quiet: bool = False, build: bool = False) -> list[Path]:
    """Run ``nbgrader generate_assignment NAME --force`` for each name (default: every
    assignment); the released folders. With ``build``, the instructor notebooks are rebuilt from
    their sources first; otherwise one out of date stops the release (:class:`ReleaseError`)."""
    source, target = course_folders(course)
    known = known_assignments(source)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ReleaseError(
            f"unknown assignment {', '.join(map(repr, unknown))}: {source} has "
            f"{', '.join(known) or 'no assignment folders'}"
        )
    chosen = names or known
    stale = stale_sources(source, chosen, rebuild=build)
    root = source.parent
    if stale and not build:
        listed = ", ".join(str(p.relative_to(root)) for p in stale)
        raise ReleaseError(
            f"out of date with its source in {source.name}/_src: {listed}. Rebuild first: "
            "`rnn-course release --build` (or `python solutions/build_notebooks.py`), then "
            "commit the instructor notebooks with their sources"
        )
    if not quiet:
        for path in stale:
            print(f"rebuilt {path.relative_to(root)} from its source")
    problems = check_points(source, chosen)
    if problems:
        raise ReleaseError(
            "nothing released: the grader's checks disagree with the instructor notebooks: "
            + "; ".join(problems)
        )
    from autograder.grading.gradebook import GradebookError, course_config, generate_assignment

    released = []
    for name in chosen:
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
    try:
        release(
            list(dict.fromkeys(args.assignments)),
            args.course_folder.root,
            args.quiet,
            args.build,
        )
    except ReleaseError as err:
        print(f"rnn-course release: {err}", file=sys.stderr)
        return err.code
    return 0
