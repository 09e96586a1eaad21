"""The declarations beside the solutions (solutions/<NN_topic>/checks.py).

They must agree with their solution notebooks, their references must agree with each other on
the inputs they draw, and every mistake of every catalogue must be recognised by name when a
submission makes it. Everything runs in this process: the judges are pure functions.
"""

from __future__ import annotations

import numpy as np
import pytest
import test_grading_submissions as subs
from test_grading_submissions import SOLUTIONS, as_received

from autograder.grading import assignments, judges
from autograder.grading import module_checks as mc
from autograder.grading.child import wire
from autograder.grading.compare import expected_leaves, within
from autograder.grading.run import CaseOutcome, TestRun

# Every assignment that declares its checks (07_gated too, which the sandboxed suites leave out).
ASSIGNMENTS = assignments.known()
LOADED = {name: assignments.load(name) for name in ASSIGNMENTS}


def _reference_tests():
    for name, assignment in LOADED.items():
        for test in assignment.tests:
            if isinstance(test.judge, judges.references):
                yield pytest.param(name, test, id=f"{name}-{test.id}")


def _mistakes():
    for assignment in LOADED.values():
        for test in assignment.tests:
            if isinstance(test.judge, judges.references):
                for index, mistake in enumerate(test.judge.mistakes):
                    yield pytest.param(test, index, id=f"{test.id}-{mistake.says[:40]}")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_declaration_matches_the_graded_cells_of_the_solution(name):
    cells = assignments.graded_cells(SOLUTIONS / name / LOADED[name].notebook)
    declared = {t.id: float(t.points) for t in LOADED[name].tests}
    assert declared == cells


def test_a_declaration_that_disagrees_with_its_notebook_is_refused(tmp_path):
    import shutil

    folder = tmp_path / "05_gradient_clipping"
    shutil.copytree(SOLUTIONS / "05_gradient_clipping", folder)
    # checks.py takes its points from the notebook; one that states other points is refused.
    with open(folder / "checks.py", "a", encoding="utf-8") as f:
        f.write(
            "\n\n_declared = build\n\n\n"
            "def build(folder):\n"
            "    import dataclasses\n\n"
            "    assignment = _declared(folder)\n"
            "    first = dataclasses.replace(assignment.tests[0], points=4)\n"
            "    return dataclasses.replace(assignment, tests=(first, *assignment.tests[1:]))\n"
        )
    with pytest.raises(assignments.AssignmentError, match="worth 2 points in the notebook but 4"):
        assignments.load("05_gradient_clipping", tmp_path)
    with pytest.raises(assignments.AssignmentError, match="unknown assignment"):
        assignments.load("99_nothing", tmp_path)


@pytest.mark.parametrize("name, test", list(_reference_tests()))
def test_references_agree_with_each_other(name, test):
    judge = test.judge
    for case in test.cases(np.random.default_rng(0)):
        values = [
            [np.asarray(v) for _, v in expected_leaves(judge.output, ref(*case.args, **case.extra))]
            for ref in judge.refs.values()
        ]
        for other in values[1:]:
            for a, b in zip(values[0], other, strict=True):
                assert a.shape == b.shape and within(a.astype(float), b.astype(float), judge.tol)


@pytest.mark.parametrize("test, index", list(_mistakes()))
def test_every_catalogued_mistake_is_recognised_by_name(test, index):
    judge = test.judge
    mistake = judge.mistakes[index]
    cases = test.cases(np.random.default_rng(1))
    outputs = []
    for case in cases:
        args_after = as_received(case.args)
        try:
            result = as_received(mistake.compute(*case.args))
            outputs.append(CaseOutcome(result=result, args_after=args_after))
        except ValueError:  # the slip cannot apply to this case (a matrix that is not square)
            outputs.append(CaseOutcome(error={"type": "ValueError", "message": "", "where": None}))
    verdict = test.judge(test, cases, TestRun(outputs, "ok"))
    assert verdict.status != "passed"
    named = [d for d in verdict.details if mistake.says in d]
    if not named:
        # Another mistake of the catalogue was named: it must give the same output.
        twins = [
            m
            for m in judge.mistakes
            if any(m.says in d for d in verdict.details[:1])
            and all(_same(m, mistake, case, judge.output) for case in cases)
        ]
        assert twins, (mistake.says, verdict.details)
    assert mistake.hint in " ".join(verdict.details) or not named


def _same(a, b, case, template) -> bool:
    try:
        left = [np.asarray(v) for _, v in expected_leaves(template, a.compute(*case.args))]
        right = [np.asarray(v) for _, v in expected_leaves(template, b.compute(*case.args))]
    except ValueError:
        return True
    return all(x.shape == y.shape and np.allclose(x, y) for x, y in zip(left, right, strict=True))


@pytest.mark.parametrize("test, index", list(_mistakes()))
def test_every_mistake_shows_in_some_case(test, index):
    """Each mistake must change the output in at least one of the cases a test draws (some
    show only where they apply: a transposed weight needs a square matrix, an ignored
    temperature a temperature other than 1)."""
    judge = test.judge
    shows = False
    for case in test.cases(np.random.default_rng(2)):
        right = next(iter(judge.refs.values()))(*case.args, **case.extra)
        try:
            wrong = judge.mistakes[index].compute(*case.args)
        except ValueError:
            continue
        pairs = zip(
            expected_leaves(judge.output, right),
            expected_leaves(judge.output, wrong),
            strict=True,
        )
        shows = shows or any(
            np.shape(r) != np.shape(w) or not np.allclose(r, w) for (_, r), (_, w) in pairs
        )
    assert shows, judge.mistakes[index].says


def test_concept_answers_come_from_the_solution_notebook():
    tests = LOADED["00_concepts"].tests
    assert [t.name for t in tests] == [f"answer_q{i}" for i in range(1, len(tests) + 1)]
    assert all(t.kind == "value" for t in tests)


# --------------------------------------------------------------------------------------------
# nn.Module exercises: the parent's reference report, and the wrong modules of the catalogues


def _through_wire(value):
    """A report as the parent receives it from the sandbox (tensors become Returned)."""
    blobs: list = []
    return wire.load(wire.dump(value, blobs), blobs, tagged=True)


def _module_tests():
    for assignment in LOADED.values():
        for test in assignment.tests:
            if isinstance(test.judge, mc.values):
                yield pytest.param(test, id=test.id)


def _module_mistakes():
    for assignment in LOADED.values():
        for test in assignment.tests:
            if isinstance(test.judge, mc.values):
                for index, mistake in enumerate(test.judge.mistakes):
                    yield pytest.param(test, index, id=f"{test.id}-{mistake.says[:40]}")


def _module_verdict(test, cases, reports):
    outcomes = [CaseOutcome(result=_through_wire(r)) for r in reports]
    return test.judge(test, cases, TestRun(outcomes, "ok"))


@pytest.mark.parametrize("test", list(_module_tests()))
def test_the_reference_module_earns_full_marks(test):
    cases = test.cases(np.random.default_rng(3))
    reports = [mc.reference_report(test.judge.spec, case) for case in cases]
    assert _module_verdict(test, cases, reports).fraction == 1.0


@pytest.mark.parametrize("test, index", list(_module_mistakes()))
def test_every_wrong_module_is_recognised_by_name(test, index):
    mistake = test.judge.mistakes[index]
    cases = test.cases(np.random.default_rng(1))
    verdict = _module_verdict(test, cases, [mistake.compute(case) for case in cases])
    assert verdict.fraction < 1.0
    assert any(mistake.says in d and mistake.hint in d for d in verdict.details), verdict.details


@pytest.mark.parametrize("test", list(_module_tests()))
def test_the_exercise_lays_out_every_parameter_the_grader_loads(test):
    """The grader loads its weights by name: every name must be in the learner's notebook."""
    assignment = next(a for a in LOADED.values() if test in a.tests)
    text = (subs.EXERCISES / assignment.name / assignment.notebook).read_text(encoding="utf-8")
    case = test.cases(np.random.default_rng(0))[0]
    for name in mc.layout(test.judge.spec, case.args[0]):
        assert f"`{name}`" in text, name
