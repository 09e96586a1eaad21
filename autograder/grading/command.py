"""The ``rnn-course grade`` subcommand (registered by :mod:`autograder.cli`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_grade_command(subparsers) -> None:
    p = subparsers.add_parser(
        "grade",
        help="grade a folder of submitted notebooks",
        description="Grade submitted notebooks laid out as SUBMITTED/<student_id>/<assignment>/"
        "<notebook>.ipynb. Each notebook's code runs in a sandbox; its results are compared with "
        "the NumPy and PyTorch references. Writes OUT/grades.csv, OUT/feedback/<student_id>/"
        "<assignment>/<notebook>.html and OUT/grading.json. Exits with 0 once the batch is "
        "graded, whatever the scores; non-zero only when the grading itself cannot be done.",
    )
    p.add_argument("submitted", type=Path, metavar="SUBMITTED", help="folder of submissions")
    p.add_argument("--out", type=Path, required=True, metavar="OUT", help="output folder")
    p.add_argument(
        "--assignment",
        action="append",
        metavar="NAME",
        help="grade only this assignment (repeatable); default: every assignment found",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help=f"notebooks graded in parallel (default: the number of CPUs, {os.cpu_count()})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="wall-clock and CPU limit for the notebook's code, and again for each test "
        "(default: 20)",
    )
    p.add_argument(
        "--memory", type=int, default=1024, metavar="MB", help="memory limit (default: 1024)"
    )
    p.add_argument(
        "--isolation",
        choices=("auto", "bubblewrap", "landlock", "rlimits"),
        default="auto",
        help="sandbox to use (default: the strongest this machine offers)",
    )
    p.add_argument("--solutions", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=None, help="draw the same inputs as a past run")
    p.set_defaults(handler=run_grade)


def run_grade(args) -> int:
    from . import engine, sandbox
    from .assignments import SOLUTIONS_DIR

    if args.workers is not None and args.workers < 1:
        print("rnn-course grade: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.timeout <= 0 or args.memory < 64:
        print("rnn-course grade: --timeout must be > 0 and --memory >= 64", file=sys.stderr)
        return 2
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=0, unit="notebook", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

    options = engine.Options(
        workers=args.workers,
        limits=sandbox.Limits(timeout=args.timeout, memory_mb=args.memory),
        isolation=args.isolation,
        solutions=args.solutions or SOLUTIONS_DIR,
        seed=args.seed,
        progress=progress,
    )
    try:
        summary = engine.grade(args.submitted, args.out, args.assignment, options)
    except engine.SetupError as err:
        print(f"rnn-course grade: {err}", file=sys.stderr)
        return 2
    except engine.GraderError as err:
        print(f"rnn-course grade: cannot grade safely: {err}", file=sys.stderr)
        return 3
    engine.print_summary(summary)
    return 0
