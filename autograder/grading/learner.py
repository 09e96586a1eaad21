"""The ``rnn-course check`` subcommand: a learner grades their own notebook, with the same
engine, tests and sandbox as the instructor's batch, and reads the verdicts as a table.

The hidden tests run too, on inputs drawn afresh; what they were is never printed (only what
went wrong, the diagnosis and what to change, as in the feedback pages).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import textwrap
from pathlib import Path

from .. import i18n
from ..i18n import _
from . import view

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
    add_lang_option(p)
    p.add_argument("--solutions", type=Path, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_check)


def add_lang_option(p) -> None:
    p.add_argument(
        "--lang",
        choices=i18n.LANGUAGES,
        default="en",
        help="language of the messages for the learner: en (default) or zh (Chinese)",
    )


def _fail(message: str, code: int) -> int:
    print(f"rnn-course check: {message}", file=sys.stderr)
    return code


def run_check(args) -> int:
    with i18n.use(getattr(args, "lang", None)):
        return _run_check(args)


def _run_check(args) -> int:
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
        how = _("given with --assignment")
        assignment = args.assignment
        if assignment is None:
            assignment = engine.infer_assignment(args.notebook.resolve(), options.solutions)
            how = _("found from the notebook; --assignment overrides")
        report = engine.check(args.notebook, assignment, options)
    except engine.SetupError as err:
        return _fail(str(err), 2)
    except engine.GraderError as err:
        return _fail(f"cannot grade safely: {err}", 3)
    print(render(report, args.notebook.name, how, _width()))
    return 0 if all(v.status == "passed" for v in report.verdicts) else 1


def _width() -> int:
    return max(60, min(140, shutil.get_terminal_size((100, 24)).columns))


_GROUP = re.compile(r"[(\[][^()\[\]]{1,28}[)\]]")
_GLUE = "\x00"


def _wrapped(text: str, width: int, indent: str) -> list[str]:
    """``text`` wrapped to ``width`` columns, never inside a short (shape) or [index]; wide
    (CJK) characters count two columns and a line may break between any two of them."""
    glued = _GROUP.sub(lambda m: m.group(0).replace(" ", _GLUE), text)
    if i18n.is_wide(glued):
        return i18n.wrap(glued, width, indent, indent + "  ") or [indent]
    lines = textwrap.wrap(
        glued, width, initial_indent=indent, subsequent_indent=indent + "  ", break_on_hyphens=False
    )
    return [line.replace(_GLUE, " ") for line in lines] or [indent]


def explanation(row: view.Row, width: int = 100) -> list[str]:
    """The lines beneath a failing row: the problem, then each diagnosis and its hint, at the
    full width of the terminal (as pytest and check50 print a failure beneath its name)."""
    if row.passed:
        return []
    lines = _wrapped(row.problem, width, "    ")
    for d in row.diagnoses:
        lines += _wrapped(_("diagnosis: {said}").format(said=d.said), width, "    ")
        if d.hint:
            lines += _wrapped(_("hint: {hint}").format(hint=d.hint), width, "    ")
    return lines


def render(report, shown_name: str, how: str, width: int = 100) -> str:
    """What a learner reads: one row per test (id, points, result), each failing row followed
    by what went wrong, then the score and notes."""
    shown = view.build(report)
    header = (_("test"), _("points"), _("result"))
    cells = [(r.test_id, f"{r.points:g}/{r.max_points:g}", r.word) for r in shown.rows]
    size = i18n.width
    widths = [max(size(header[i]), *(size(c[i]) for c in cells)) for i in range(2)]

    def line(test_id: str, pts: str, word: str) -> str:
        left = test_id + " " * (widths[0] - size(test_id))
        right = " " * (widths[1] - size(pts)) + pts
        return f"{left}  {right}  {word}".rstrip()

    out = _wrapped(f"{shown.title} ({shown.assignment})", width, "")
    out += _wrapped(
        _("notebook: {name} (assignment {how})").format(name=shown_name, how=how), width, ""
    )
    out += ["", line(*header), line("-" * widths[0], "-" * widths[1], "-" * size(header[2]))]
    for row, cell in zip(shown.rows, cells, strict=True):
        out.append(line(*cell))
        out += explanation(row, width)
    out.append("")
    out += _wrapped(
        _("{points} of {max_points} points; {passing} of {tests} tests pass.").format(
            points=f"{shown.points:g}",
            max_points=f"{shown.max_points:g}",
            passing=shown.passing,
            tests=len(shown.rows),
        ),
        width,
        "",
    )
    if shown.notes:
        out.append("")
        out.append(_("Notes on running your notebook:"))
        for note in shown.notes:
            if i18n.is_wide(note):
                out += i18n.wrap(note, width, "- ", "  ")
            else:
                out += textwrap.wrap(note, width, initial_indent="- ", subsequent_indent="  ")
    if shown.passing < len(shown.rows):
        out.append("")
        out += _wrapped(
            _("Change what the hints say, save the notebook and check it again."), width, ""
        )
    return "\n".join(out)
