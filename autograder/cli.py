"""The ``rnn-course`` command: one entry point for learners and instructors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from autograder import __version__
from autograder.gradescope import add_gradescope_command
from autograder.grading.command import add_grade_command
from autograder.grading.learner import add_check_command
from autograder.publish import add_publish_command
from autograder.release import add_release_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-course",
        description="Tools of the RNN course. Learners: `rnn-course check NOTEBOOK`. "
        "Instructors: `rnn-course release`, then `rnn-course grade`. "
        "`rnn-course COMMAND --help` says more.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_check_command(subparsers)
    add_release_command(subparsers)
    add_grade_command(subparsers)
    add_gradescope_command(subparsers)
    add_publish_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args)
