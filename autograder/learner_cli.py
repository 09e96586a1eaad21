"""The ``rnn-course`` command of the learner repository (``rnn-course publish`` installs this
module there as ``autograder/cli.py``).

The learner repository ships no hidden tests and no reference implementations, so its
``check`` runs the notebook's visible tests only, and says where the full grading happens.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from autograder import __version__, i18n
from autograder.i18n import N_, _

# The visible tests' statuses (autograder.visible), shown through the catalogue.
STATUSES = (N_("passed"), N_("failed"), N_("not written"), N_("needs the reference"), N_("not run"))

FULL_GRADING = N_(
    "This checks the visible tests only, on your machine. The points, the hidden tests and "
    "the tests that compare with the course's reference implementations come from full "
    "grading: your instructor's `rnn-course grade`, or Gradescope when your course grades "
    "there (upload the notebook)."
)

EXIT_CODES = """exit status:
  0  every visible test that can run here passes
  1  some visible test does not pass (or did not run)
  2  the notebook cannot be found
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-course",
        description="Tools of the RNN course for learners: `rnn-course check NOTEBOOK`.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = subparsers.add_parser(
        "check",
        help="run a notebook's visible tests",
        description=textwrap.fill(FULL_GRADING, 78),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="the .ipynb file to check")
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="time limit for the whole notebook (default: 600)",
    )
    p.add_argument(
        "--lang",
        choices=i18n.LANGUAGES,
        default="en",
        help="language of the messages: en (default) or zh (Chinese)",
    )
    p.set_defaults(handler=run_check)
    return parser


def render(outcomes, shown_name: str, width: int = 100) -> str:
    header = (_("test"), _("points"), _("result"))
    cells = [(o.test_id, f"{o.points:g}", _(o.status)) for o in outcomes]
    size = i18n.width
    widths = [max(size(header[i]), *(size(c[i]) for c in cells)) for i in range(2)]

    def line(a: str, b: str, c: str) -> str:
        return f"{a}{' ' * (widths[0] - size(a))}  {' ' * (widths[1] - size(b))}{b}  {c}".rstrip()

    out = [_("notebook: {name} (visible tests)").format(name=shown_name), "", line(*header)]
    out.append(line("-" * widths[0], "-" * widths[1], "-" * size(header[2])))
    for outcome, cell in zip(outcomes, cells, strict=True):
        out.append(line(*cell))
        if outcome.status == "needs the reference":
            text = _("compares with {what}, which full grading has").format(what=outcome.message)
            out += _lines(text, width) if i18n.is_wide(text) else [f"    {text}"]
        elif outcome.message and outcome.status != "passed":
            first = outcome.message.splitlines()
            for text in first[:12]:
                out += _lines(text, width)
    passing = sum(o.status == "passed" for o in outcomes)
    waiting = sum(o.status == "needs the reference" for o in outcomes)
    out += [""] + _lines(
        _("{passing} of {tests} visible tests pass here.").format(
            passing=passing, tests=len(outcomes)
        ),
        width,
        "",
    )
    if waiting:
        out += _lines(
            _(
                "{waiting} test(s) compare with a reference implementation that this repository "
                "does not ship: full grading runs them."
            ).format(waiting=waiting),
            width,
            "",
        )
    out += [""] + _lines(_(FULL_GRADING), width, "")
    return "\n".join(out)


def _lines(text: str, width: int, indent: str = "    ") -> list[str]:
    """``text`` wrapped to ``width`` terminal columns (CJK characters count two)."""
    if i18n.is_wide(text):
        return i18n.wrap(text, width, indent, indent + "  " if indent else "") or [indent]
    follow = indent + "  " if indent else ""
    lines = textwrap.wrap(
        text, width, initial_indent=indent, subsequent_indent=follow, break_on_hyphens=False
    )
    return lines or [indent]


def run_check(args) -> int:
    lang = getattr(args, "lang", "en")
    # The notebook's kernel builds the visible tests' messages: it reads the language here.
    os.environ["RNN_COURSE_LANG"] = lang
    with i18n.use(lang):
        return _run_check(args)


def _run_check(args) -> int:
    from autograder import visible

    if not args.notebook.is_file():
        print(f"rnn-course check: there is no notebook {args.notebook}", file=sys.stderr)
        return 2
    outcomes = visible.run(args.notebook, args.timeout)
    print(render(outcomes, args.notebook.name))
    ok = all(o.status in ("passed", "needs the reference") for o in outcomes)
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args)
