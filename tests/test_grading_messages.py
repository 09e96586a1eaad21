"""Messages an instructor and a learner read: what they say matches what happened."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import test_grading_submissions as subs

from autograder.grading import engine, program, view
from autograder.grading.notebook import Cell
from autograder.grading.spec import Verdict

RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
BROKEN = """import numpy as np


def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):
    a = x @ W_xh + h_prev @ W_hh + b_h
    return np.tanh(a
"""


def test_a_syntax_error_is_reported_with_its_line_not_as_a_missing_function():
    cells = [Cell(1, "markdown", "# Exercise"), Cell(2, "code", BROKEN)]
    found = program.find_program(cells, ["rnn_cell_forward", "rnn_forward"])
    assert set(found.broken) == {"rnn_cell_forward"}
    said = found.broken["rnn_cell_forward"]
    assert "cell 2" in said and "syntax error on line 6" in said
    tests = [
        type("T", (), {"name": "rnn_cell_forward"})(),
        type("T", (), {"name": "rnn_forward"})(),
    ]
    missing = [Verdict(0.0, "missing", "keep the function name"), Verdict(0.0, "missing", "x")]
    verdicts = engine.blame_syntax(tests, missing, found.broken)
    assert verdicts[0].message == said and verdicts[0].status == "missing"
    assert verdicts[1] == missing[1]


def test_the_checked_notebook_says_which_line_does_not_parse(tmp_path):
    nb = subs.replace_definition(subs.solution("01_rnn_cell"), "rnn_cell_forward", BROKEN)
    path = tmp_path / "rnn_cell.ipynb"
    nbformat.write(nb, path)
    result = subprocess.run(
        [RNN_COURSE, "check", str(path), "--assignment", "01_rnn_cell", "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 1, result.stderr
    printed = " ".join(result.stdout.split())  # the table wraps to the terminal's width
    assert "syntax error on line 6" in printed and "keep the function name" not in printed


def test_the_page_says_failed_where_the_csv_says_failed():
    assert view.STATUS_WORDS["failed"] == "failed"


def test_the_summary_counts_the_notebooks_the_progress_bar_counted():
    from io import StringIO

    from autograder.grading import record, sandbox

    rows = [
        record.Row(f"s{i}", "01_rnn_cell", "rnn_cell", "t", 0.0, 1.0, status, "")
        for i, status in enumerate(["passed"] * 8 + ["missing"] * 4)
    ]
    summary = engine.Summary(
        rows=rows,
        isolation=sandbox.Isolation("rlimits"),
        seconds=1.0,
        run_seconds=[0.1] * 8,
        warnings=[],
        graded=12,
    )
    printed = StringIO()
    engine.print_summary(summary, printed)
    first = printed.getvalue().splitlines()[0]
    assert first.startswith(
        "graded 12 notebook(s) (8 run, 4 with nothing to run: missing or unreadable)"
    )
