"""Exercise 07_gated: its solution agrees with both references, and every mistake of its
catalogue is named when a submission makes it, and never when the submission is right.

The judges are pure functions, so everything runs in this process: the outputs a submission
would send back are computed here (by the solution notebook's own functions, or by the
catalogue's wrong versions) and handed to the judge as the sandbox would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_exercises import assert_close, solution
from test_grading_submissions import as_received

from autograder.grading import assignments, judges
from autograder.grading import module_checks as mc
from autograder.grading.child import wire
from autograder.grading.run import CaseOutcome, TestRun
from autograder.reference import numpy_rnn as nr
from autograder.reference import torch_rnn as tr

NAME = "07_gated"
ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = assignments.load(NAME)
TESTS = {t.id: t for t in ASSIGNMENT.tests if isinstance(t.judge, judges.references)}
MODULE_TESTS = {t.id: t for t in ASSIGNMENT.tests if isinstance(t.judge, mc.values)}
CATALOGUE = [
    pytest.param(test_id, index, id=f"{test_id}-{m.says[:50]}")
    for test_id, test in TESTS.items()
    if not test.judge.shape_only
    for index, m in enumerate(test.judge.mistakes)
]
MODULE_CATALOGUE = [
    pytest.param(test_id, index, id=f"{test_id}-{m.says[:50]}")
    for test_id, test in MODULE_TESTS.items()
    for index, m in enumerate(test.judge.mistakes)
]


def judge(test, outputs_of, seed):
    """The verdict on a submission whose function returns ``outputs_of(*args)``."""
    cases = test.cases(np.random.default_rng(seed))
    outcomes = [
        CaseOutcome(result=as_received(outputs_of(*c.args)), args_after=as_received(c.args))
        for c in cases
    ]
    return test.judge(test, cases, TestRun(outcomes, "ok"))


def the_solution(test):
    return solution(NAME)[test.name]


@pytest.mark.parametrize("test_id, index", CATALOGUE)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_mistake_is_named_with_its_hint_when_made(test_id, index, seed):
    test = TESTS[test_id]
    mistake = test.judge.mistakes[index]
    verdict = judge(test, mistake.compute, seed)
    assert verdict.status != "passed"
    text = " ".join(verdict.details)
    assert mistake.says in text, (mistake.says, verdict.details)
    assert mistake.hint in text
    # The diagnosis is specific: no other mistake of the catalogue is named beside it.
    others = [m.says for m in test.judge.mistakes if m is not mistake and m.says in text]
    assert not others, others


@pytest.mark.parametrize("test_id", list(TESTS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_solution_passes_and_no_mistake_is_named(test_id, seed):
    test = TESTS[test_id]
    verdict = judge(test, the_solution(test), seed)
    assert verdict.status == "passed" and verdict.fraction == 1.0, verdict.message
    text = verdict.message + " ".join(verdict.details)
    assert not [m.says for m in test.judge.mistakes if m.says in text]


def module_verdict(test, reports, cases):
    """The verdict on module reports, as the parent receives them from the sandbox."""
    outcomes = []
    for report in reports:
        blobs: list = []
        outcomes.append(CaseOutcome(result=wire.load(wire.dump(report, blobs), blobs, tagged=True)))
    return test.judge(test, cases, TestRun(outcomes, "ok"))


def test_the_assignment_grades_the_pytorch_task():
    assert [t.name for t in MODULE_TESTS.values()] == ["CharLSTM"]


@pytest.mark.parametrize("test_id", list(MODULE_TESTS))
def test_the_exercise_names_every_parameter_the_grader_loads(test_id):
    test = MODULE_TESTS[test_id]
    text = (ROOT / "exercises" / NAME / ASSIGNMENT.notebook).read_text(encoding="utf-8")
    case = test.cases(np.random.default_rng(0))[0]
    for name in mc.layout(test.judge.spec, case.args[0]):
        assert f"`{name}`" in text, name


@pytest.mark.parametrize("test_id", list(MODULE_TESTS))
@pytest.mark.parametrize("seed", [0, 1])
def test_the_solutions_module_passes_and_no_mistake_is_named(test_id, seed):
    test = MODULE_TESTS[test_id]
    cases = test.cases(np.random.default_rng(seed))
    learner = solution(NAME)[test.name]
    reports = [mc.reference_report(test.judge.spec, case, learner) for case in cases]
    verdict = module_verdict(test, reports, cases)
    assert verdict.status == "passed" and verdict.fraction == 1.0, verdict.details
    text = verdict.message + " ".join(verdict.details)
    assert not [m.says for m in test.judge.mistakes if m.says in text]


@pytest.mark.parametrize("test_id, index", MODULE_CATALOGUE)
def test_each_wrong_module_is_named_with_its_hint(test_id, index):
    test = MODULE_TESTS[test_id]
    mistake = test.judge.mistakes[index]
    cases = test.cases(np.random.default_rng(index))
    verdict = module_verdict(test, [mistake.compute(case) for case in cases], cases)
    assert verdict.fraction < 1.0
    assert any(mistake.says in d and mistake.hint in d for d in verdict.details), verdict.details
    others = [m.says for m in test.judge.mistakes if m is not mistake]
    assert not [o for o in others if any(o in d for d in verdict.details)], verdict.details


def test_the_catalogue_covers_the_slips_the_course_names():
    says = " ".join(m.says for t in TESTS.values() for m in t.judge.mistakes)
    for slip in [
        "order i, f, o, g",  # gate order
        "no forget gate",
        "C_{t-1} used where H_{t-1} belongs",  # c_t where h_t belongs
        "cell states returned as the hidden states",
        "tanh of the cell state forgotten",
        "reset gate applied before the matmul",
        "z and 1 - z swapped",
    ]:
        assert slip in says, slip


SETTINGS = settings(max_examples=20, deadline=None)
sizes = st.integers(1, 4)


def lstm_problem(seed, N, T, D, Dh):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((N, T, D)),
        0.5 * rng.standard_normal((N, Dh)),
        rng.standard_normal((N, Dh)),
        rng.standard_normal((D, 4 * Dh)) / np.sqrt(D),
        rng.standard_normal((Dh, 4 * Dh)) / np.sqrt(Dh),
        rng.standard_normal(4 * Dh),
    )


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), N=sizes, T=sizes, D=sizes, Dh=sizes)
def test_lstm_solutions_agree_with_both_references(seed, N, T, D, Dh):
    ns = solution(NAME)
    args = lstm_problem(seed, N, T, D, Dh)
    H, C = ns["lstm_forward"](*args)
    dH = np.random.default_rng(seed + 1).standard_normal((N, T, Dh))
    for ref in (nr, tr):
        H_ref, cache = ref.lstm_forward(*args)
        assert_close((H, C), (H_ref, cache.C))
        assert_close(
            ns["lstm_backward"](dH, *args[:3], H, C, *args[3:]), ref.lstm_backward(dH, cache)
        )


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), N=sizes, T=sizes, D=sizes, Dh=sizes)
def test_gru_solution_agrees_with_both_references(seed, N, T, D, Dh):
    rng = np.random.default_rng(seed)
    args = (
        rng.standard_normal((N, T, D)),
        rng.standard_normal((N, Dh)),
        rng.standard_normal((D, 3 * Dh)),
        rng.standard_normal((Dh, 3 * Dh)),
        rng.standard_normal(3 * Dh),
        rng.standard_normal(3 * Dh),
    )
    got = solution(NAME)["gru_forward"](*args)
    for ref in (nr, tr):
        assert_close(got, ref.gru_forward(*args)[0])
