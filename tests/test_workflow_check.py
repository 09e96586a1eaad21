"""`rnn-course check NOTEBOOK`, as a learner runs it: the same engine and hidden tests as the
instructor's grading, a table with the diagnosis and the hint, exit 0 only when all pass."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import test_grading_submissions as subs

from autograder.grading import assignments, engine
from autograder.grading.learner import explanation, split_diagnosis
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
    assert "8 of 8 points; 5 of 5 tests pass." in out
    assert "diagnosis" not in out


def test_a_failing_notebook_gets_a_table_with_the_diagnosis_and_the_hint(checked):
    code, out, err = checked["wrong"]
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0] == "Exercise 1: the RNN cell, step by step (01_rnn_cell)"
    header = next(i for i, line in enumerate(lines) if line.startswith("test "))
    assert re.match(r"test +points +result +what happened$", lines[header])
    tests = [t.id for t in assignments.load(ASSIGNMENT).tests]  # hidden tests included
    rows = [line.split()[:3] for line in lines[header + 2 :] if line[:1].strip()]
    assert [r[0] for r in rows[: len(tests)]] == tests
    status = {r[0]: (r[1], r[2]) for r in rows[: len(tests)]}
    assert status["test_rnn_cell_forward_values"] == ("0/2", "wrong")
    assert status["test_output_forward"] == ("2/2", "passed")
    text = " ".join(out.split())
    assert (
        "diagnosis: your output matches what rnn_cell_forward gives with the bias b_h left out "
        "hint: add b_h inside the tanh"
    ) in text
    assert "4 of 8 points; 3 of 5 tests pass." in out


def test_the_hidden_test_inputs_are_not_shown(checked):
    """The only numbers printed are what came out (the learner's value, the expected one, the
    error): never an input, hidden or not."""
    _, out, _ = checked["wrong"]
    text = " ".join(out.split())
    number = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"
    outputs = re.findall(rf"(?:largest error|yours|expected) ({number})", text)
    assert len(outputs) == 6  # two failing tests, three numbers each
    rest = re.sub(rf"(?:largest error|yours|expected) {number}", "", text)
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
    stranger.write_text(stranger.read_text().replace("def clip_grad", "def my_clip_grad"))
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
    said = "your output matches what f gives with W transposed"
    detail = f"{said}: W has shape (H, Q): the product is H @ W"
    verdict = Verdict(0.0, "failed", f"f has wrong values; {detail}", (detail,))
    assert split_diagnosis(detail) == (said, "W has shape (H, Q): the product is H @ W")
    assert explanation(verdict) == [
        "f has wrong values",
        f"diagnosis: {said}",
        "hint: W has shape (H, Q): the product is H @ W",
    ]
    assert explanation(Verdict(1.0, "passed", "all cases pass")) == []
    assert split_diagnosis("it calls g, which fails") == ("it calls g, which fails", "")
