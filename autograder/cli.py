"""The ``rnn-course`` command: one entry point for learners and instructors.

Every subcommand acts on a course folder (:mod:`autograder.course`): ``--course DIR``, else the
nearest folder with an ``nbgrader_config.py`` from the working directory upwards. ``check``
also looks upwards from the notebook it checks.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from autograder import __version__, course, publish
from autograder.gradescope import add_gradescope_command
from autograder.grading.command import add_feedback_command, add_grade_command
from autograder.grading.learner import add_check_command
from autograder.publish import add_publish_command
from autograder.release import add_release_command

COURSE_NOTE = (
    "Every command acts on a course folder, the one holding nbgrader_config.py: --course DIR, "
    "else the nearest such folder from the working directory upwards (as nbgrader finds it)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-course",
        description="Tools of the RNN course. Learners: `rnn-course check NOTEBOOK`. "
        "Instructors: `rnn-course release`, then `rnn-course grade`, then "
        "`rnn-course feedback`. " + COURSE_NOTE + " `rnn-course COMMAND --help` says more.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_check_command(subparsers)
    add_release_command(subparsers)
    add_grade_command(subparsers)
    add_feedback_command(subparsers)
    add_gradescope_command(subparsers)
    add_publish_command(subparsers)
    for sub in subparsers.choices.values():
        if not any("--course" in a.option_strings for a in sub._actions):
            course.add_course_option(sub)
    return parser


def find_course(args) -> course.Course:
    """The course the command acts on; ``check`` also looks upwards from its notebook."""
    notebook = getattr(args, "notebook", None)
    try:
        return course.find(args.course)
    except course.CourseError as err:
        if args.course is not None or notebook is None:
            raise
        first = err
    try:
        return course.find(start=notebook.resolve().parent)
    except course.CourseError:
        raise first from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        args.course_folder = find_course(args)
    except course.CourseError as err:
        print(f"rnn-course {args.command}: {err}", file=sys.stderr)
        return 2
    if getattr(args, "solutions", None) is None:
        args.solutions = args.course_folder.source
    if args.command == "publish" and not _is_checkout(args.course_folder):
        print(
            f"rnn-course publish: the learner repository is written from the course repository "
            f"the package runs from ({publish.REPO}), with its solutions/: run it in that "
            f"folder or pass --course {publish.REPO}",
            file=sys.stderr,
        )
        return 2
    return args.handler(args)


def run() -> None:
    """The ``rnn-course`` command: :func:`main`, then the process ends without the interpreter's
    last garbage collection over every object a grading run created (more than half a second
    after the work is done; the operating system frees the memory anyway)."""
    code = main()
    gc.freeze()
    sys.exit(code)


def _is_checkout(found: course.Course) -> bool:
    """Whether ``found`` is the repository this package runs from (what publish copies)."""
    return found.root.resolve() == publish.REPO.resolve()
