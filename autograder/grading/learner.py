"""The ``rnn-course check`` subcommand: a learner grades their own notebook, with the same
engine, tests and sandbox as the instructor's batch, and reads the verdicts as a table.

The hidden tests run too, on inputs drawn afresh; what they were is never printed (only what
went wrong, the diagnosis and what to change, as in the feedback pages).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from pathlib import Path

from .feedback import _STATUS_WORDS

EXIT_CODES = """exit status:
  0  every test passes
  1  some test does not pass (the table says which, and what to change)
  2  the notebook or the assignment cannot be found
  3  the sandbox cannot be set up safely on this machine
"""


def _wrap(text: str) -> str:
    return textwrap.fill(text, 78)


def add_check_command(subparsers) -> None:
    p = subparsers.add_parser(
        "check",
        help="grade one notebook and print what each test found (for learners)",
        description=_wrap(
            "Grade one exercise notebook with the course's grader: the visible and "
            "the hidden tests, in the same sandbox as the instructor's grading. Prints one row per "
            "test with the points, what went wrong, the mistake it looks like and what to change. "
            "The assignment is found from the notebook's folder (exercises/01_rnn_cell/), its file "
            "name (rnn_cell.ipynb) or the functions it defines; --assignment overrides."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="the .ipynb file to check")
    p.add_argument(
        "--assignment", metavar="NAME", help="the assignment it answers, e.g. 01_rnn_cell"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="time limit for the notebook's code, and again for each test (default: 20)",
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
    p.add_argument("--seed", type=int, default=None, help="draw the same inputs as a past check")
    p.add_argument("--solutions", type=Path, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_check)


def _fail(message: str, code: int) -> int:
    print(f"rnn-course check: {message}", file=sys.stderr)
    return code


def run_check(args) -> int:
    from . import engine, sandbox
    from .assignments import SOLUTIONS_DIR

    if not args.notebook.is_file():
        return _fail(f"there is no notebook {args.notebook}", 2)
    if args.timeout <= 0 or args.memory < 64:
        return _fail("--timeout must be > 0 and --memory >= 64", 2)
    options = engine.Options(
        workers=1,
        limits=sandbox.Limits(timeout=args.timeout, memory_mb=args.memory),
        isolation=args.isolation,
        solutions=args.solutions or SOLUTIONS_DIR,
        seed=args.seed,
    )
    try:
        how = "given with --assignment"
        assignment = args.assignment
        if assignment is None:
            assignment = engine.infer_assignment(args.notebook.resolve(), options.solutions)
            how = "found from the notebook; --assignment overrides"
        report = engine.check(args.notebook, assignment, options)
    except engine.SetupError as err:
        return _fail(str(err), 2)
    except engine.GraderError as err:
        return _fail(f"cannot grade safely: {err}", 3)
    print(render(report, args.notebook.name, how, _width()))
    return 0 if all(v.status == "passed" for v in report.verdicts) else 1


def _width() -> int:
    return max(80, min(140, shutil.get_terminal_size((100, 24)).columns))


def split_diagnosis(detail: str) -> tuple[str, str]:
    """("your output matches what f gives with X", "what to change") from a diagnosis line;
    the hint is empty when the line does not have that form."""
    head, marker, rest = detail.partition(" gives with ")
    says, sep, hint = rest.partition(": ")
    if not marker or not sep:
        return detail, ""
    return f"{head}{marker}{says}", hint


def explanation(verdict) -> list[str]:
    """The lines of the "what happened" column: the problem, each diagnosis and its hint."""
    if verdict.status == "passed":
        return []
    message = verdict.message
    lines = []
    diagnoses = [d for d in dict.fromkeys(verdict.details) if d]
    for detail in diagnoses:  # the message ends with the first diagnosis: say it once
        if message.endswith("; " + detail):
            message = message[: -len(detail) - 2]
    lines.append(message)
    for detail in diagnoses:
        said, hint = split_diagnosis(detail)
        lines.append(f"diagnosis: {said}")
        if hint:
            lines.append(f"hint: {hint}")
    return lines


def render(report, shown_name: str, how: str, width: int = 100) -> str:
    """The table a learner reads: one row per test, then the score and notes."""
    from .record import points

    assignment = report.assignment
    header = ("test", "points", "result", "what happened")
    rows = []
    for test, verdict in zip(assignment.tests, report.verdicts, strict=True):
        got = points(test.points, verdict)
        rows.append(
            (
                test.id,
                f"{got:g}/{test.points:g}",
                _STATUS_WORDS.get(verdict.status, verdict.status),
                explanation(verdict),
            )
        )
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(3)]
    indent = sum(widths) + 3 * 2
    text_width = max(30, width - indent)
    out = [
        f"{assignment.title or assignment.name} ({assignment.name})",
        f"notebook: {shown_name} (assignment {how})",
        "",
        "  ".join(h.ljust(w) for h, w in zip(header[:3], widths, strict=True)) + "  " + header[3],
        "  ".join("-" * w for w in widths) + "  " + "-" * min(text_width, 40),
    ]
    for test_id, pts, word, lines in rows:
        wrapped = []
        for line in lines or [""]:
            wrapped += textwrap.wrap(line, text_width, subsequent_indent="  ") or [""]
        first = f"{test_id.ljust(widths[0])}  {pts.rjust(widths[1])}  {word.ljust(widths[2])}"
        out.append((first + "  " + wrapped[0]).rstrip())
        out += [" " * indent + more for more in wrapped[1:]]
    total = report.points
    passing = sum(v.status == "passed" for v in report.verdicts)
    out.append("")
    out.append(
        f"{total:g} of {assignment.max_points:g} points; {passing} of {len(rows)} tests pass."
    )
    notes = list(report.notes)
    if report.result is not None:
        for error in report.result.program_errors:
            where = error.get("where") or {}
            line = f", line {where['line']}" if where.get("line") else ""
            notes.append(
                f"{error.get('origin', 'a cell')}{line} raised {error.get('type')}: "
                f"{error.get('message', '')}"
            )
    if notes:
        out.append("")
        out.append("Notes on running your notebook:")
        for note in notes:
            out += textwrap.wrap(note, width - 2, initial_indent="- ", subsequent_indent="  ")
    if passing < len(rows):
        out.append("")
        out.append("Change what the hints say, save the notebook and check it again.")
    return "\n".join(out)
