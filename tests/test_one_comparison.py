"""One comparison: the notebooks' visible tests and the grader judge a value by the same rule and
say the same thing about it (autograder.comparison serves both).

The property that matters to a learner: a visible check that passes in Jupyter means the grader's
comparison passes on the same value, and a failing one fails in the grader with the same words.
Values are drawn near the tolerance boundary, where two different rules would part.
"""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import comparison
from autograder.grading import compare, givens
from autograder.grading.child.wire import Returned
from autograder.grading.spec import Array, Scalar, Tolerance
from autograder.notebook_checks import CheckFailure, check_array, check_scalar

ROOT = Path(__file__).resolve().parents[1]


def notebook_verdict(call) -> tuple[bool, str]:
    try:
        call()
    except CheckFailure as failure:
        return False, str(failure).splitlines()[0]
    return True, ""


def grader_text(name: str, finding) -> str:
    text = f"{name} {finding.message}"
    return text if text.endswith((".", "?", ")")) else text + "."


def wire(value):
    """What the grader receives for ``value`` (the child's wire turns arrays into Returned)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return Returned(comparison.type_name(value), np.array(value))
    if isinstance(value, (list, tuple)):
        return type(value)(wire(v) for v in value)
    return value


arrays = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
    elements=st.floats(-50, 50, allow_subnormal=False),
)


@settings(max_examples=300, deadline=None)
@given(
    arrays,
    st.floats(0.5, 1.5),
    st.sampled_from([(1e-8, 1e-5), (1e-12, 1e-9), (1e-8, 1e-6), (0.0, 0.0), (1e-7, 1e-5)]),
    st.data(),
)
def test_a_visible_check_passes_exactly_when_the_grader_comparison_passes(
    expected, ratio, tols, data
):
    atol, rtol = tols
    limit = comparison.tolerance(expected, atol, rtol)
    # One entry off by ratio times the tolerance: below 1 must pass, above 1 must fail, in both.
    where = data.draw(st.integers(0, expected.size - 1))
    got = expected.copy()
    got.flat[where] += ratio * limit if limit > 0 else ratio * 1e-3
    leaf = Array("H", ("N", "T", "Dh")[: expected.ndim])
    finding = compare.compare_array(leaf, wire(got), expected, Tolerance(rtol=rtol, atol=atol))
    ok, text = notebook_verdict(
        lambda: check_array("H", got, expected, atol=atol, rtol=rtol, axes=leaf.axes)
    )
    assert ok == finding.ok
    if not ok:
        assert text == grader_text("H", finding)


WRONG_KINDS = [
    None,
    [[0.1, 0.2], [0.3, 0.4]],
    (np.zeros((2, 2)), np.zeros(2)),
    np.zeros((2, 2), dtype=int),
    np.zeros((2, 3)),
    np.zeros((2, 2, 1)),
    np.float64(0.5),
    0.5,
    "0.5",
    {"h": 1.0},
    np.array([[np.nan, 0.0], [0.0, 0.0]]),
    np.array([[0.1, 0.2], [0.3, 0.4]]) * -1,
    np.array([[0.1, 0.2], [0.3, 0.4]]) * 3,
]


@pytest.mark.parametrize("value", WRONG_KINDS, ids=lambda v: comparison.type_name(v))
def test_every_kind_of_wrong_value_fails_in_both_with_the_same_words(value):
    expected = np.array([[0.1, 0.2], [0.3, 0.4]])
    finding = compare.compare_array(Array("h", ("N", "Dh")), wire(value), expected, Tolerance())
    ok, text = notebook_verdict(lambda: check_array("h", value, expected, axes=("N", "Dh")))
    assert not ok and not finding.ok
    assert text == grader_text("h", finding)


def test_the_words_name_the_pattern_without_guessing_the_cause():
    expected = np.array([[0.1, 0.2], [0.3, 0.4]])
    _, text = notebook_verdict(lambda: check_array("h", expected * 3, expected))
    assert "times 3: a factor is missing or extra" in text
    _, text = notebook_verdict(lambda: check_array("h", -expected, expected))
    assert "sign flipped" in text


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-1e3, 1e3, allow_subnormal=False),
    st.floats(0.2, 3.0),
    st.sampled_from([(1e-8, 1e-5), (0.0, 1e-12), (1e-7, 0.0)]),
    st.sampled_from([float, np.float64, np.array]),
)
def test_a_scalar_check_passes_exactly_when_the_grader_comparison_passes(
    expected, ratio, tols, kind
):
    atol, rtol = tols
    limit = atol + rtol * abs(expected)
    got = kind(expected + ratio * limit)
    finding = compare.compare_scalar(
        Scalar("loss"), wire(got), expected, Tolerance(rtol=rtol, atol=atol)
    )
    ok, text = notebook_verdict(lambda: check_scalar("loss", got, expected, atol=atol, rtol=rtol))
    assert ok == finding.ok
    if not ok:
        assert text == grader_text("loss", finding)


def test_a_number_off_by_a_whole_factor_says_so():
    finding = comparison.compare_scalar("float", "a float", np.asarray(1.2), 6.0)
    assert "the expected one divided by 5" in finding.message
    finding = comparison.compare_scalar("float", "a float", np.asarray(6.01), 6.0)
    assert "factor" not in finding.message


def test_a_rounding_difference_is_shown_with_the_digits_that_differ():
    # The missing eps of clip_grad_norm: a relative error of about 1e-7.
    finding = comparison.compare_scalar(
        "float", "a float", np.asarray(-0.249000024), -0.249, atol=1e-12, rtol=1e-9
    )
    assert "is -0.24900002, expected -0.249" in finding.message
    assert "relative 1e-07" in finding.message


def test_the_sandbox_is_handed_the_comparison_that_notebook_checks_imports():
    modules = givens.course_modules({})
    assert "autograder.comparison" in modules
    tree = ast.parse(modules["autograder.comparison"])
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported <= {"__future__", "collections", "dataclasses", "numpy"}
    # In the sandbox, the package holds only what it is handed: comparison and its i18n.
    package = types.ModuleType("course_in_the_sandbox")
    package.__path__ = []
    names = {"i18n": "autograder.i18n", "comparison": "autograder.comparison"}
    created = [package.__name__]
    sys.modules[package.__name__] = package
    try:
        for short, full in names.items():
            module = types.ModuleType(f"{package.__name__}.{short}")
            module.__package__ = package.__name__
            module.__file__ = f"<course {full}>"  # as the sandbox names it
            sys.modules[module.__name__] = module
            created.append(module.__name__)
            exec(compile(modules[full], full, "exec"), module.__dict__)
        copy = sys.modules[f"{package.__name__}.comparison"]
    finally:
        for name in created:
            del sys.modules[name]
    assert copy.within(np.ones(2), np.ones(2)) and not copy.within(np.ones(2), np.zeros(2))


def test_the_grader_and_the_notebooks_define_no_comparison_of_their_own():
    for path in ("autograder/notebook_checks.py", "autograder/grading/compare.py"):
        tree = ast.parse((ROOT / path).read_text())
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert not defined & {"largest_error", "where_wrong", "_ranges", "_shape_text", "_patterns"}
        assert "allclose" not in (ROOT / path).read_text(), path
