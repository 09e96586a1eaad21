"""The grader's mutation test (bench/mutation.py): every realistic single mistake in a graded
function (of 01 to 07; the nn.Module classes of 04 through the child's generic module runner,
called in-process, on the grader's weights) fails, and the message says what is wrong; a difference of
rounding keeps its points; a mistake that spoils every step after the first earns nothing; a
right answer is never given a mistake's name."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import mutation  # noqa: E402

from autograder.grading import assignments, diagnose  # noqa: E402
from autograder.grading.child.wire import Returned  # noqa: E402
from autograder.grading.spec import Mistake, Tolerance  # noqa: E402

NAMES = list(mutation.GOAL)
NUMPY = "numpy.ndarray"


@pytest.fixture(scope="module", params=NAMES)
def swept(request):
    return request.param, mutation.sweep(request.param)


def test_every_mutant_fails_and_is_diagnosed(swept):
    name, results = swept
    real = [r for r in results if not r.mutant.rounding]
    survivors = [r.mutant.label for r in real if not r.killed]
    assert not survivors, survivors
    vague = [r.mutant.label for r in real if not r.diagnosed]
    assert len(vague) <= 0.05 * len(real), vague


def test_a_rounding_difference_keeps_every_point(swept):
    _, results = swept
    for r in results:
        if r.mutant.rounding:
            assert r.points == r.max_points, (r.mutant.label, r.messages)


def test_the_issue_s_mistakes_are_named_by_the_catalogues(swept):
    """The slips learners make most, each named (not only described) on its own mutant."""
    wanted = {
        "02_bptt": {
            "tanh' as (1 - h)",
            "db_h mean over the batch",
            "loop over range(T-1)",
            "h_prev taken as H[:, t]",
        },
        "05_gradient_clipping": {"tanh' left out", "tanh' at H[:, t-1]", "first step skipped"},
        "03_bidirectional": {"backward run as a plain second forward RNN", "dH not reversed"},
        "01_rnn_cell": {"loop over range(T-1)"},
        "04_sequence_types": {
            "classify from H[:, 0]",
            "batch_first missing",
            "output not fed back",
            "softmax on the logits",
            "state not carried",
            "decoder started from zeros",
        },
        "06_char_rnn": {
            "tanh' as (1 - h)",
            "state not carried in the forward loop",
            "loss averaged over classes",
            "h_prev taken as H[:, t]",
            "backward loop over range(T-1)",
        },
        "07_gated": {
            "sigmoid for g",
            "cell not carried",
            "hidden state not carried",
            "loop over range(T-1)",
            "dh_next not carried",
            "tanh' of g as (1 - g)",
            "h_prev taken as H[:, t]",
            "no reset gate",
            "state not carried",
        },
    }
    name, results = swept
    by_label = {(r.mutant.function, r.mutant.label): r for r in results}
    for (function, label), r in by_label.items():
        if label in wanted.get(name, ()):
            assert r.named, (function, label, r.messages)


def test_a_state_never_carried_earns_nothing_for_its_values(swept):
    """Points follow what is right: a forward loop that never carries its state is right only at
    the first step (and in the T = 1 cases), so every test of its function's values gives it
    nothing; only a shape test, which it does pass, keeps its points."""
    name, results = swept
    tests = {t.id: t for t in assignments.load(name).tests}
    never_carried = {
        "01_rnn_cell": {"state not carried (reads h0)"},
        "06_char_rnn": {"state not carried in the forward loop"},
        "07_gated": {"cell not carried", "hidden state not carried", "state not carried"},
    }.get(name, set())
    seen = set()
    for r in results:
        if r.mutant.label not in never_carried or r.mutant.function == "sample":
            continue
        seen.add(r.mutant.label)
        assert r.killed, (name, r.mutant.label)
        values = [t for t in r.earned if not getattr(tests[t].judge, "shape_only", False)]
        assert values and all(r.earned[t] == 0 for t in values), (name, r.mutant.label, r.earned)
    assert seen == never_carried


def test_the_solution_is_given_no_mistake_name():
    for name in NAMES:
        for test, verdict in mutation.grade(name, mutation.solution_code(name)):
            assert verdict.status == "passed" and not verdict.details, (name, test.id)


def test_a_mistake_that_leaves_entries_undefined_is_named_whatever_they_hold():
    """np.empty's leftovers: the NaN entries of a mistake's output match anything, and a
    learner whose leftovers happen to be right is not taken as contradicting it."""
    right = np.arange(6.0).reshape(1, 6)
    wrong = right.copy()
    wrong[0, -1] = np.nan
    mistake = Mistake("the last step never computed", "loop over range(T)", lambda: wrong)
    tol = Tolerance()
    for leftover in (0.0, 2.7e161, -3.0):
        got = right.copy()
        got[0, -1] = leftover
        assert diagnose.explains(Returned(NUMPY, got), wrong, right, tol)
    assert not diagnose.explains(Returned(NUMPY, right + 1), wrong, right, tol)
    from autograder.grading.spec import Array, Case

    case = Case(())
    template = Array("H", ("N", "T"))
    # A case the learner got right does not rule the mistake out (its leftover was right).
    found = diagnose.explain_case(
        [mistake], case, template, [Returned(NUMPY, right)], [right], ["H"], [], tol
    )
    assert found == {0: {}}
    # A mistake undefined everywhere says nothing, either way.
    blank = Mistake("x", "y", lambda: np.full((1, 6), np.nan))
    assert (
        diagnose.explain_case(
            [blank], case, template, [Returned(NUMPY, right + 1)], [right], ["H"], [0], tol
        )[0]
        == {}
    )


def test_an_assignment_without_mutants_is_refused_with_the_names_there_are(capsys):
    with pytest.raises(SystemExit) as refused:
        mutation.main(["00_concepts", "01_rnn_cell"])
    assert refused.value.code == 2
    said = capsys.readouterr().err
    assert "no mutants catalogued for 00_concepts" in said and "01_rnn_cell" in said
    assert "Traceback" not in said
