"""`rnn-course check NOTEBOOK`, as a learner runs it: the same engine and hidden tests as the
instructor's grading, a table with the diagnosis and the hint, exit 0 only when all pass."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_grading_submissions as subs

from autograder.grading import assignments, engine, view
from autograder.grading.learner import explanation, render
from autograder.grading.record import Report
from autograder.grading.spec import Verdict

RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
ASSIGNMENT = "01_rnn_cell"
SEED = 11
NO_BIAS = '''
def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):
    """The bias forgotten."""
    return np.tanh(x @ W_xh + h_prev @ W_hh)
'''


def _check(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [RNN_COURSE, "check", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """Two learners, checked side by side: one right (in the folder the course gives them), one
    with the bias left out (renamed and moved: found by the functions it defines)."""
    root = tmp_path_factory.mktemp("check")
    right = subs.write(subs.solution(ASSIGNMENT), root / "exercises" / ASSIGNMENT / "mine.ipynb")
    wrong = subs.replace_definition(subs.solution(ASSIGNMENT), "rnn_cell_forward", NO_BIAS)
    wrong = subs.write(wrong, root / "Downloads" / "Copy of homework.ipynb")
    runs = {"right": _check(right, "--seed", SEED), "wrong": _check(wrong, "--seed", SEED)}
    results = {}
    for name, proc in runs.items():
        out, err = proc.communicate(timeout=300)
        results[name] = (proc.returncode, out, err)
    return results


def test_a_notebook_that_passes_everything_exits_with_zero(checked):
    code, out, err = checked["right"]
    assert code == 0, out + err
    assert "notebook: mine.ipynb (assignment found from the notebook" in out
    assert "8 of 8 points; 6 of 6 tests pass." in out
    assert "diagnosis" not in out


def test_a_failing_notebook_gets_a_table_with_the_diagnosis_and_the_hint(checked):
    code, out, err = checked["wrong"]
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0] == "Exercise 1: the RNN cell, step by step (01_rnn_cell)"
    header = next(i for i, line in enumerate(lines) if line.startswith("test "))
    assert re.match(r"test +points +result$", lines[header])
    assert max(map(len, lines)) <= 80  # COLUMNS=80: nothing runs past the terminal
    tests = [t.id for t in assignments.load(ASSIGNMENT).tests]  # hidden tests included
    rows = [line.split()[:3] for line in lines[header + 2 :] if line[:1].strip()]
    assert [r[0] for r in rows[: len(tests)]] == tests
    status = {r[0]: (r[1], r[2]) for r in rows[: len(tests)]}
    assert status["test_rnn_cell_forward_values"] == ("0/2", "failed")
    assert status["test_output_forward"] == ("1/1", "passed")
    text = " ".join(out.split())
    assert (
        "diagnosis: your output matches what rnn_cell_forward gives with the bias b_h left out "
        "hint: add b_h inside the tanh"
    ) in text
    assert "4 of 8 points; 4 of 6 tests pass." in out


def test_the_hidden_test_inputs_are_not_shown(checked):
    """The only numbers printed are what came out (the learner's value, the expected one, the
    error): never an input, hidden or not."""
    _, out, _ = checked["wrong"]
    text = " ".join(out.split())
    number = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"
    outputs = re.findall(rf"(?:largest error|yours|expected) ({number})", text, flags=re.I)
    assert len(outputs) == 6  # two failing tests, three numbers each
    rest = re.sub(rf"(?:largest error|yours|expected) {number}", "", text, flags=re.I)
    rest = re.sub(r"\[[\d, ]+\]|\([\d, ]+\)|[NTDHQ]=\d+", "", rest)  # indices, shapes, sizes
    assert not re.findall(r"\d\.\d", rest), rest


def test_the_assignment_is_found_from_folder_file_name_or_defined_names(tmp_path):
    solutions = assignments.SOLUTIONS_DIR
    source = subs.SOLUTIONS / "02_bptt" / "bptt.ipynb"
    by_folder = tmp_path / "05_gradient_clipping" / "anything.ipynb"
    by_file = tmp_path / "a" / "bptt.ipynb"
    by_names = tmp_path / "b" / "my work (1).ipynb"
    for path in (by_folder, by_file, by_names):
        path.parent.mkdir(parents=True)
        shutil.copy(source, path)
    assert engine.infer_assignment(by_folder, solutions) == "05_gradient_clipping"
    assert engine.infer_assignment(by_file, solutions) == "02_bptt"
    assert engine.infer_assignment(by_names, solutions) == "02_bptt"
    stranger = subs.write(
        subs.with_cell(subs.exercise("05_gradient_clipping"), "x = 1"), tmp_path / "c" / "x.ipynb"
    )
    text = stranger.read_text()
    for name in ("clip_grad", "hidden_grad_norms", "predict_"):  # every name 05 grades
        text = text.replace(name, f"my_{name}")
    stranger.write_text(text)
    with pytest.raises(engine.SetupError, match="pass --assignment NAME"):
        engine.infer_assignment(stranger, solutions)


@pytest.mark.parametrize(
    "args, words",
    [
        (["missing.ipynb"], "there is no notebook"),
        (["empty.ipynb"], "cannot tell which assignment empty.ipynb belongs to"),
        (["empty.ipynb", "--assignment", "99_nothing"], "unknown assignment '99_nothing'"),
    ],
)
def test_a_notebook_that_cannot_be_placed_stops_with_a_clear_message(tmp_path, args, words):
    (tmp_path / "empty.ipynb").write_text(
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}'
    )
    proc = _check(*[tmp_path / a if a.endswith(".ipynb") else a for a in args])
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert words in err and "Traceback" not in err


def test_the_message_is_split_into_what_happened_the_diagnosis_and_the_hint():
    said = "your output matches what f gives with W transposed: (H @ W.T)"
    hint = "W has shape (H, Q): the product is H @ W"
    detail = f"{said}: {hint}"
    # Split where the catalogue's hint begins, not at the first ": " (in the mistake's name).
    assert view.split_diagnosis(detail, [hint, "other"]) == view.Diagnosis(said, hint)
    assert view.split_diagnosis("it calls g: which fails", [hint]) == view.Diagnosis(
        "it calls g: which fails", ""
    )
    row = view.Row(
        "t", "", 0, 2, "failed", "wrong", "f has wrong values", (view.Diagnosis(said, hint),)
    )
    assert explanation(row, 80) == [
        "    f has wrong values",
        f"    diagnosis: {said}",
        f"    hint: {hint}",
    ]


def _report(verdicts, names):
    """A report of an assignment with one test per (id, function name), judged by ``verdicts``."""
    from autograder.grading.spec import Assignment, Test

    tests = tuple(
        Test(test_id, name, 1, lambda rng: [], lambda *a: None) for test_id, name in names
    )
    assignment = Assignment("01_x", "x.ipynb", tests, title="Exercise X")
    return Report("s", assignment, "x", list(verdicts), [], None, (0, 0))


def test_a_shared_error_is_shown_once_and_a_timed_out_function_is_not_run_again():
    raised = "f raised ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, "
    raised += "with gufunc signature (n?,k),(k,m?)->(n?,m?) (size 5 is different from 4)"
    verdicts = [
        Verdict(0, "error", raised + " (cell 3, line 2: `return x @ W`)"),
        Verdict(0, "error", raised + " (cell 3, line 2: `return x @ W`)"),
        Verdict(0, "timeout", "g did not finish within 20 s: is there an endless loop?"),
        Verdict(0, "timeout", "g did not finish within 20 s: is there an endless loop?"),
        Verdict(1, "passed", "all cases pass"),
    ]
    names = [("t1", "f"), ("t2", "f"), ("t3", "g"), ("t4", "g"), ("t5", "h")]
    out = render(_report(verdicts, names), "x.ipynb", "given", 80)
    flat = " ".join(out.split())
    assert "gufunc" not in flat
    assert flat.count("in `x @ W`, the columns of x (4) do not match the rows of W (5)") == 1
    assert "the same problem as t1 above" in out
    assert re.search(r"^t4 +0/1 +not run \(timed out above\)$", out, re.M)
    assert out.count("endless loop") == 1
    assert max(map(len, out.splitlines())) <= 80


def test_a_matmul_error_names_the_operands_and_their_axes():
    raised = "f raised ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, "
    raised += "with gufunc signature (n?,k),(k,m?)->(n?,m?) (size 5 is different from 4)"
    text = view.readable_error(raised + " (cell 3, line 2: `return np.tanh(x @ W_xh.T + b_h)`)")
    assert "the columns of x (4) do not match the rows of W_xh.T (5)" in text
    assert "W_xh is (D, Dh), without .T" in text
    assert "gufunc" not in view.readable_error(raised)
    # Several products on the line: the case's sizes tell which one NumPy refused.
    where = " (cell 5, line 16: `return np.tanh(x @ W_xh.T + h_prev @ W_hh + b_h)`)"
    text = view.readable_error(raised + where + " (case N=3, D=4, Dh=5)")
    assert "x (N, D) = (3, 4) @ W_xh.T (Dh, D) = (5, 4)" in text


def test_the_pages_escape_what_the_notebook_wrote():
    from autograder.grading import feedback

    evil = "<script>alert(1)</script>"
    verdicts = [Verdict(0, "error", f"f raised ValueError: {evil} (line 1: `x < y`)")]
    report = _report(verdicts, [("t1", "f")])
    report.student = evil
    page = feedback.render(report)
    assert evil not in page and "&lt;script&gt;" in page
    assert "<code>x &lt; y</code>" in page


def test_a_shape_or_an_index_is_never_cut_at_the_end_of_a_line():
    problem = "f: dX has the right shape (N, T, D) = (2, 5, 3) but wrong values at [1, 4, 0]"
    row = view.Row("t", "", 0, 1, "failed", "wrong", problem * 3)
    for width in range(40, 81):
        text = "\n".join(explanation(row, width))
        for group in ("(N, T, D)", "(2, 5, 3)", "[1, 4, 0]"):
            assert text.count(group) == 3, (width, text)
