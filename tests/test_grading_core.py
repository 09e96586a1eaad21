"""The grader's functional core: wire format, notebook reading, code finding, comparison,
diagnosis, credit, wrong versions, course stand-ins and records. No sandbox here."""

from __future__ import annotations

import io
import json
import os
import pwd
from functools import partial

import nbformat
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograder.grading import (
    compare,
    feedback,
    givens,
    judges,
    mistakes,
    record,
    sandbox,
)
from autograder.grading.child import wire
from autograder.grading.child.wire import Opaque, Returned
from autograder.grading.notebook import Cell, NotebookError, parse_notebook
from autograder.grading.program import find_program, prune_module, to_python
from autograder.grading.run import CaseOutcome, TestRun
from autograder.grading.spec import (
    Array,
    Assignment,
    Case,
    ListOf,
    Mistake,
    Scalar,
    Test,
    Tolerance,
)
from autograder.reference import numpy_rnn

TOL = Tolerance()


def returned(a, kind="numpy.ndarray"):
    return Returned(kind, np.asarray(a))


# --------------------------------------------------------------------------------------------
# Wire


def _round_trip(value, tagged=True):
    header, blobs = wire.encode(value)
    data = wire.pack({"v": header}, blobs)
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    frame = wire.FrameReader(r, 1 << 24).read(deadline=None)
    os.close(r)
    return wire.load(frame[0]["v"], frame[1], tagged=tagged)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.bool_, np.complex128]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
    )
)
def test_arrays_travel_exactly_and_keep_their_type(arr):
    back = _round_trip(arr)
    assert isinstance(back, Returned) and back.type == "numpy.ndarray"
    assert back.array.dtype == arr.dtype and back.array.shape == arr.shape
    np.testing.assert_array_equal(back.array, arr)


def test_containers_keep_tuples_lists_dicts_and_special_floats():
    value = (1, [2.5, float("nan"), float("inf")], {"k": "text", 3: None, "b": True})
    back = _round_trip(value)
    assert isinstance(back, tuple) and isinstance(back[1], list) and isinstance(back[2], dict)
    assert back[0] == 1 and back[1][0] == 2.5 and np.isnan(back[1][1]) and back[1][2] == np.inf
    assert back[2] == {"k": "text", 3: None, "b": True}


def test_objects_come_back_as_type_names_only():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class EqualArray(np.ndarray):
        def __eq__(self, other):
            return True

    back = _round_trip([AlwaysEqual(), np.arange(3.0).view(EqualArray), 10**30, object()])
    assert isinstance(back[0], Opaque) and "AlwaysEqual" in back[0].type
    assert type(back[1].array) is np.ndarray and back[1].type.endswith("EqualArray")
    assert isinstance(back[2], Opaque) and isinstance(back[3], Opaque)
    assert not isinstance(back[0], tuple)  # an Opaque must never pass for a tuple


def test_tensors_and_numpy_scalars_say_what_they_were():
    back = _round_trip([torch.ones(2, requires_grad=True), np.float32(1.5)])
    assert back[0].type == "torch.Tensor" and back[0].array.dtype == np.float32
    assert back[1].type == "numpy.float32" and back[1].array.shape == ()


def test_object_arrays_are_refused():
    back = _round_trip(np.array([None, 1], dtype=object))
    assert isinstance(back, Opaque)
    header = {"$a": 0, "t": "numpy.ndarray"}
    buf = io.BytesIO()
    np.save(buf, np.array([1, None], dtype=object), allow_pickle=True)
    with pytest.raises(wire.FrameError):
        wire.load(header, [buf.getvalue()], tagged=True)


def test_inputs_become_generators_and_test_functions():
    header, blobs = wire.encode((wire.Rng(7), wire.Fn("sum_of_cubes", ())))
    from autograder.grading.child.probes import FUNCTIONS

    rng, f = wire.load(header, blobs, tagged=False, functions=FUNCTIONS)
    assert rng.integers(1000) == np.random.default_rng(7).integers(1000)
    assert f(np.array([1.0, 2.0])) == 9.0


@pytest.mark.parametrize(
    "data",
    [b"XXXX" + b"\0" * 12, wire.pack({"a": 1})[:-1], wire.pack({"a": 1})[:10]],
    ids=["bad magic", "cut short", "cut in the prefix"],
)
def test_frame_reader_refuses_broken_frames(data):
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    with pytest.raises(wire.FrameError):
        wire.FrameReader(r, 1 << 20).read(None)
    os.close(r)


def test_frame_reader_enforces_size_and_time_limits():
    r, w = os.pipe()
    os.write(w, wire.pack({"a": "x" * 1000}))
    with pytest.raises(wire.FrameError, match="over the limit"):
        wire.FrameReader(r, 100).read(None)
    r2, w2 = os.pipe()
    import time

    with pytest.raises(wire.FrameTimeout):
        wire.FrameReader(r2, 100).read(time.monotonic() + 0.05)
    for fd in (r, w, r2, w2):
        os.close(fd)


# --------------------------------------------------------------------------------------------
# Reading notebooks


def _nb(cells, **extra) -> bytes:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": cells, **extra}).encode()


def test_a_notebook_reads_without_any_metadata():
    cells = parse_notebook(_nb([{"cell_type": "code", "source": ["a = 1\n", "b = 2"]}]))
    assert cells == [Cell(1, "code", "a = 1\nb = 2")]


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\x00\x01\x02" * 10, "binary"),
        (b"\xff\xfe{", "not UTF-8"),
        (b'{"cells": [', "not valid JSON"),
        (b"[1, 2]", "not a Jupyter notebook"),
        (json.dumps({"nbformat": 3, "worksheets": []}).encode(), "old notebook format 3"),
        (json.dumps({"nbformat": 5, "cells": []}).encode(), "unknown format"),
        (json.dumps({"nbformat": 4}).encode(), "no list of cells"),
        (_nb([3]), "cell 1 is damaged"),
        (_nb([{"source": "x"}]), "no cell type"),
        (_nb([{"cell_type": "code", "source": 5}]), "not text"),
    ],
)
def test_unreadable_notebooks_say_why(data, words):
    with pytest.raises(NotebookError, match=words):
        parse_notebook(data)


def test_too_large_notebooks_are_refused_before_parsing():
    with pytest.raises(NotebookError, match="MB"):
        parse_notebook(b" " * (2 << 20), max_mb=1)


# --------------------------------------------------------------------------------------------
# Finding the code


def _program(*sources, required=("f",)):
    cells = [Cell(i + 1, "code", s) for i, s in enumerate(sources)]
    return find_program(cells, required)


def _run(program) -> dict:
    ns: dict = {}
    for snippet in program.snippets:
        exec(compile(snippet.source, snippet.origin, "exec"), ns)
    return ns


def test_the_last_definition_wins_and_helpers_follow():
    program = _program(
        "import numpy as np\nimport matplotlib.pyplot as plt\n",
        "def f(x):\n    return helper(x) + 1\n",
        "print(f(1))\nplt.plot([1])\nassert f(1) == 3\n",
        "def helper(x):\n    return np.tanh(x) * SCALE\nSCALE = 2\n",
        "def f(x):\n    return helper(x)\n",
    )
    texts = [s.source.strip() for s in program.snippets]
    assert texts[0] == "import numpy as np"
    assert not any("matplotlib" in t or "print" in t or "assert" in t for t in texts)
    assert _run(program)["f"](0.5) == pytest.approx(2 * np.tanh(0.5))


def test_statements_keep_their_line_numbers():
    program = _program("x = 1\n\n\ndef f():\n    return x\n")
    assert program.snippets[-1].source.splitlines()[3] == "def f():"


def test_names_read_at_definition_time_must_come_first():
    program = _program("@deco\ndef f():\n    return 1\n", "def deco(g):\n    return g\n")
    assert "def deco" not in "".join(s.source for s in program.snippets)


def test_classes_keep_their_bases_and_methods_their_globals():
    program = _program(
        "import torch\nfrom torch import nn\n",
        "class f(nn.Module):\n    def forward(self, x):\n        return torch.tanh(x)\n",
        required=("f",),
    )
    assert isinstance(_run(program)["f"](), torch.nn.Module)


def test_changes_to_needed_data_are_kept_but_library_calls_are_not():
    program = _program(
        "import numpy as np\n",
        "VOCAB = ['a']\nVOCAB.append('b')\nPARAMS = {}\nPARAMS['w'] = 3\n",
        "np.random.seed(0)\nnp.testing.assert_allclose(1, 1)\nnp.allclose = len\n",
        "def f():\n    return VOCAB, PARAMS, np.allclose\n",
    )
    text = "".join(s.source for s in program.snippets)
    assert "VOCAB.append" in text and "PARAMS['w']" in text and "np.allclose = len" in text
    assert "seed" not in text and "assert_allclose" not in text


def test_conditional_definitions_do_not_hide_earlier_ones():
    program = _program("def f():\n    return 1\n", "if False:\n    def f():\n        return 2\n")
    assert _run(program)["f"]() == 1


def test_ipython_syntax_becomes_python_or_is_skipped():
    assert to_python("%%bash\nls\n") is None
    assert "x = 1" in to_python("%%time\nx = 1\n")
    assert to_python("%time y = 2\n").strip() == "y = 2"
    assert "get_ipython()" in to_python("!ls\n%matplotlib inline\n")
    program = _program(
        "%%capture\ndef f():\n    return 1\n", "%%html\n<b>x</b>\n", "!pip install x\n"
    )
    assert _run(program)["f"]() == 1
    assert any("%%html" in note for note in program.notes)


def test_cells_with_syntax_errors_are_skipped_with_a_note():
    program = _program("def f(:\n", "def f():\n    return 2\n")
    assert _run(program)["f"]() == 2
    assert program.notes and "syntax error" in program.notes[0]
    assert program.defined == {"f"}


def test_prune_module_keeps_only_what_the_given_names_need():
    source = (
        "import os\nimport numpy as np\n\n\ndef _core(x):\n    return np.tanh(x)\n\n\n"
        "def given(x):\n    return _core(x)\n\n\ndef secret(x):\n    return x\n"
    )
    pruned = prune_module(source, ["given"], "stand-in")
    ns: dict = {}
    exec(pruned, ns)
    assert ns["given"](0.0) == 0.0 and "secret" not in ns and "os" not in ns
    assert ns["__doc__"] == "stand-in"


# --------------------------------------------------------------------------------------------
# Comparing


def test_compare_array_goes_from_coarse_to_fine():
    leaf = Array("H", ("N", "T", "H"))
    expected = np.arange(24.0).reshape(2, 3, 4)
    cases = [
        (None, "missing", "does the function return"),
        (Opaque("Thing"), "type", "Thing object"),
        (returned(expected, "torch.Tensor"), "type", "only the type is wrong"),
        (returned(expected.astype(int)), "dtype", "integers"),
        (returned(expected.transpose(1, 0, 2)), "shape", "look like (T, N, H)"),
        (returned(np.where(expected > 20, np.nan, expected)), "nonfinite", "NaN"),
    ]
    for got, problem, words in cases:
        finding = compare.compare_array(leaf, got, expected, TOL)
        assert not finding.ok and finding.problem == problem and words in finding.message
    assert compare.compare_array(leaf, returned(expected + 1e-9), expected, TOL).ok


def test_wrong_values_say_where_and_when():
    expected = np.zeros((2, 5, 3))
    got = expected.copy()
    got[1, 3:, 2] = 0.5
    finding = compare.compare_array(Array("H", ("N", "T", "H")), returned(got), expected, TOL)
    assert "Largest error 0.5 at [1, 3, 2]: yours 0.5, expected 0." in finding.message
    assert (
        "Along T: wrong at array index 3..4 (t = 4..5), right at array index 0..2 (t = 1..3)."
        in finding.message
    )


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float64, hnp.array_shapes(max_dims=3), elements=st.floats(-1e3, 1e3)),
    st.floats(1e-3, 10),
)
def test_compare_accepts_rounding_and_rejects_real_errors(arr, shift):
    leaf = Array("a")
    assert compare.compare_array(leaf, returned(arr * (1 + 1e-9)), arr, TOL).ok
    wrong = arr.copy()
    wrong.flat[0] += shift * (1 + np.abs(arr).max())
    assert not compare.compare_array(leaf, returned(wrong), arr, TOL).ok


def test_scalars_accept_python_and_numpy_numbers_but_not_tensors():
    leaf = Scalar("loss")
    assert compare.compare_scalar(leaf, 2.0, 2.0, TOL).ok
    assert compare.compare_scalar(leaf, returned(np.float64(2.0), "numpy.float64"), 2.0, TOL).ok
    finding = compare.compare_scalar(leaf, returned(np.float32(2.0), "torch.Tensor"), 2.0, TOL)
    assert not finding.ok and ".item()" in finding.message
    assert not compare.compare_scalar(leaf, [1.0, 2.0], 2.0, TOL).ok


def test_structures_are_checked_before_their_leaves():
    template = (Array("dx"), {"W": Array("dW")}, ListOf("clipped"))
    expected = (np.ones(2), {"W": np.ones(3)}, [np.ones(1), np.ones(2)])
    assert [leaf.name for leaf, _ in compare.expected_leaves(template, expected)] == [
        "dx",
        "dW",
        "clipped[0]",
        "clipped[1]",
    ]
    with pytest.raises(compare.StructureError, match="returned 2 values, expected 3"):
        compare.received_leaves(template, (1, 2), expected)
    with pytest.raises(compare.StructureError, match="expected a tuple"):
        compare.received_leaves(template, Opaque("x"), expected)
    with pytest.raises(compare.StructureError, match="has 1 arrays, expected 2"):
        compare.received_leaves(template, (1, {"W": 2}, [3]), expected)
    assert compare.received_leaves(template, (1, {}, [3, 4]), expected) == [1, None, 3, 4]


# --------------------------------------------------------------------------------------------
# Diagnosing and judging


def _judge_outputs(test: Test, outputs, cases):
    run = TestRun([CaseOutcome(result=o) for o in outputs], "ok")
    return test.judge(test, cases, run)


def _cell_test(mistake_list):
    refs = {"NumPy": lambda *a: numpy_rnn.rnn_cell_forward(*a)[0]}
    judge = judges.references(Array("h_next", ("N", "H")), refs, mistake_list)
    return Test("t", "rnn_cell_forward", 2, lambda rng: [], judge)


def _cell_cases():
    rng = np.random.default_rng(0)
    out = []
    for N, D, H in [(3, 4, 5), (1, 1, 1), (2, 3, 3)]:
        x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
        W_xh, W_hh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)), np.ones(H)
        out.append(Case((x, h, W_xh, W_hh, b), label=f"N={N}"))
    return out


NO_BIAS = Mistake("the bias left out", "add b_h", partial(mistakes.cell, bias=False))
RELU = Mistake("a ReLU", "use tanh", partial(mistakes.cell, act=mistakes.relu))


def test_a_matching_mistake_is_named_with_its_hint():
    cases = _cell_cases()
    outputs = [returned(mistakes.cell(*c.args, bias=False)) for c in cases]
    verdict = _judge_outputs(_cell_test([RELU, NO_BIAS]), outputs, cases)
    assert verdict.status == "failed" and verdict.fraction == 0
    assert (
        "it matches what rnn_cell_forward gives with the bias left out: add b_h"
        not in verdict.message
    )
    assert "your output matches what rnn_cell_forward gives with the bias left out: add b_h" in (
        verdict.message
    )


def test_a_contradicted_mistake_is_not_named():
    cases = _cell_cases()
    outputs = [returned(mistakes.cell(*c.args, bias=False) * 1.5) for c in cases]
    verdict = _judge_outputs(_cell_test([NO_BIAS]), outputs, cases)
    assert "matches" not in verdict.message and not verdict.details


def test_credit_is_full_half_or_nothing_per_part():
    assert judges.credit([{"a": True, "b": True}, {"a": True, "b": True}]) == 1
    assert judges.credit([{"a": True, "b": False}, {"a": False, "b": False}]) == 0.25
    assert judges.credit([{"a": False}, {"a": True}]) == 0
    assert judges.credit([]) == 0


def test_right_output_passes_and_edge_case_failure_gets_half():
    cases = _cell_cases()
    right = [returned(numpy_rnn.rnn_cell_forward(*c.args)[0]) for c in cases]
    test = _cell_test([])
    assert _judge_outputs(test, right, cases).status == "passed"
    half = right[:2] + [returned(np.zeros((2, 3)))]
    verdict = _judge_outputs(test, half, cases)
    assert verdict.status == "partial" and verdict.fraction == 0.5
    assert "N=2" in verdict.message


@pytest.mark.parametrize(
    "error, words",
    [
        ({"type": "NotImplementedError", "message": "", "where": None}, "not written yet"),
        ({"type": "SystemExit", "message": "0", "where": None}, "sys.exit()"),
        ({"type": "ExitRefused", "message": "", "where": None}, "os._exit()"),
        ({"type": "MemoryError", "message": "", "where": None}, "memory"),
        (
            {
                "type": "ValueError",
                "message": "matmul mismatch",
                "where": {"origin": "cell 4", "line": 3, "code": "x @ W.T", "function": "f"},
            },
            "raised ValueError: matmul mismatch (cell 4, line 3: `x @ W.T`)",
        ),
    ],
)
def test_errors_are_told_in_plain_words(error, words):
    assert words in judges.error_text("f", error)


def test_lost_cases_and_missing_names_are_explained():
    test = _cell_test([])
    cases = _cell_cases()
    lost = TestRun([None, None, None], "timeout", "3 s")
    assert "did not finish within 3 s" in test.judge(test, cases, lost).message
    missing = TestRun([CaseOutcome(missing=True)] * 3, "ok")
    assert test.judge(test, cases, missing).status == "missing"


def test_multiple_choice_answers_never_reveal_the_right_letter():
    test = Test("q", "answer_q1", 1, lambda rng: [Case(())], judges.answer("C", "ABCD"))
    run = lambda value: TestRun([CaseOutcome(result=value)], "ok")  # noqa: E731
    assert test.judge(test, [Case(())], run(" c ")).status == "passed"
    wrong = test.judge(test, [Case(())], run("B"))
    assert wrong.fraction == 0 and "C" not in wrong.message.replace("answer_q1", "")
    assert "one of the letters" in test.judge(test, [Case(())], run("Z")).message
    assert "string" in test.judge(test, [Case(())], run(Opaque("AlwaysEqual"))).message


# --------------------------------------------------------------------------------------------
# Wrong versions: everything off is the reference, each switch changes something


def _rnn(rng, N=2, T=4, D=3, H=3):
    return (
        rng.standard_normal((N, T, D)),
        rng.standard_normal((N, H)),
        rng.standard_normal((D, H)) / 2,
        rng.standard_normal((H, H)) / 2,
        rng.standard_normal(H),
    )


def test_wrong_versions_with_no_switch_are_the_reference():
    rng = np.random.default_rng(1)
    X, h0, W_xh, W_hh, b_h = _rnn(rng)
    H, cache = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    np.testing.assert_allclose(mistakes.sequence(X, h0, W_xh, W_hh, b_h), H)
    dH = rng.standard_normal(H.shape)
    for got, want in zip(
        mistakes.sequence_backward(dH, X, h0, H, W_xh, W_hh),
        numpy_rnn.rnn_backward(dH, cache),
        strict=False,
    ):
        np.testing.assert_allclose(got, want)
    for k in (1, 2, 9):
        for got, want in zip(
            mistakes.sequence_backward(dH, X, h0, H, W_xh, W_hh, k=k),
            numpy_rnn.rnn_backward(dH, cache, k=k),
            strict=False,
        ):
            np.testing.assert_allclose(got, want)
    params_b = tuple(p + 0.1 for p in (W_xh, W_hh, b_h))
    H_bi, bi_cache = numpy_rnn.birnn_forward(X, h0, -h0, (W_xh, W_hh, b_h), params_b)
    np.testing.assert_allclose(
        mistakes.birnn_forward(X, h0, -h0, (W_xh, W_hh, b_h), params_b), H_bi
    )
    dHb = rng.standard_normal(H_bi.shape)
    want = numpy_rnn.birnn_backward(dHb, bi_cache)
    got = mistakes.birnn_backward(dHb, X, h0, -h0, (W_xh, W_hh, b_h), params_b)
    for g, w in zip(got[:3] + got[3] + got[4], want[:3] + want[3] + want[4], strict=True):
        np.testing.assert_allclose(g, w)
    grads = [3 * rng.standard_normal((3, 2)), rng.standard_normal(4)]
    clipped, norm = mistakes.clip_grad_norm(grads, 1.0)
    ref_clipped, ref_norm = numpy_rnn.clip_grad_norm(grads, 1.0)
    assert norm == pytest.approx(ref_norm)
    for g, w in zip(clipped, ref_clipped, strict=True):
        np.testing.assert_allclose(g, w)
    for g, w in zip(
        mistakes.clip_grad_value(grads, 0.5), numpy_rnn.clip_grad_value(grads, 0.5), strict=True
    ):
        np.testing.assert_allclose(g, w)
    params = numpy_rnn.char_rnn_init(5, 4, seed=2, scale=0.5)
    inputs, targets = rng.integers(0, 5, (2, 6)), rng.integers(0, 5, (2, 6))
    loss, g, h_last = mistakes.char_rnn_loss(params, inputs, targets, np.ones((2, 4)))
    ref_loss, ref_g, ref_h = numpy_rnn.char_rnn_loss(params, inputs, targets, np.ones((2, 4)))
    assert loss == pytest.approx(ref_loss)
    for key in ref_g:
        np.testing.assert_allclose(g[key], ref_g[key], atol=1e-12)
    np.testing.assert_allclose(h_last, ref_h)
    got = mistakes.sample(params, np.ones(4), 1, 12, 0.7, np.random.default_rng(5))
    np.testing.assert_array_equal(
        got, numpy_rnn.sample(params, np.ones(4), 1, 12, 0.7, np.random.default_rng(5))
    )


@pytest.mark.parametrize(
    "switch",
    [
        {"bias": False},
        {"act": mistakes.sigmoid},
        {"act": mistakes.relu},
        {"act": mistakes.identity},
        {"bias_outside": True},
        {"use_x": False},
        {"use_h": False},
        {"transpose_W_hh": True},
        {"transpose_W_xh": True},
        {"swap_weights": True},
        {"carry": False},
        {"zero_h0": True},
        {"shift": True},
    ],
)
def test_each_forward_switch_changes_the_states(switch):
    X, h0, W_xh, W_hh, b_h = _rnn(np.random.default_rng(3))
    right = mistakes.sequence(X, h0, W_xh, W_hh, b_h)
    assert not np.allclose(mistakes.sequence(X, h0, W_xh, W_hh, b_h, **switch), right)


def test_a_slip_that_cannot_apply_raises_value_error():
    rng = np.random.default_rng(4)
    X, h0, W_xh, W_hh, b_h = _rnn(rng, D=2, H=3)
    with pytest.raises(ValueError):
        mistakes.cell(X[:, 0], h0, W_xh, W_hh, b_h, transpose_W_xh=True)


# --------------------------------------------------------------------------------------------
# Stand-ins of the course package, records, sandbox helpers


def test_stand_ins_give_only_what_the_exercise_gives():
    modules = givens.course_modules({"autograder.reference.numpy_rnn": ("rnn_forward",)}, "02_bptt")
    stand_in = modules["autograder.handouts.bptt"]
    assert "def rnn_forward(" in stand_in
    for graded in ("def rnn_backward(", "def rnn_cell_backward(", "def numerical_gradient("):
        assert graded not in stand_in
    assert not {"autograder.reference.numpy_rnn", "autograder.reference.torch_rnn"} & set(modules)
    with pytest.raises(ValueError):
        givens.course_modules({"autograder.grading.engine": ("grade",)})


def test_csv_rows_have_the_promised_columns_and_rounded_points(tmp_path):
    tests = (Test("t1", "f", 2, lambda r: [], None), Test("t2", "g", 1, lambda r: [], None))
    assignment = Assignment("01_x", "x.ipynb", tests)
    verdicts = [judges.Verdict(1 / 3, "partial", "a\nb"), judges.Verdict(1.0, "passed", "ok")]
    report = record.Report("s", assignment, "x", verdicts, [], None, (1, 2))
    rows = record.rows(report)
    record.write_csv(tmp_path / "g.csv", rows)
    text = (tmp_path / "g.csv").read_text().splitlines()
    assert text[0] == ",".join(record.COLUMNS)
    assert text[1] == "s,01_x,x,t1,0.667,2,partial,a b,x.ipynb,yes,,0"


def test_feedback_escapes_what_the_learner_wrote():
    tests = (Test("t1", "f", 1, lambda r: [], None, about="f works"),)
    assignment = Assignment("01_x", "x.ipynb", tests)
    verdict = judges.Verdict(0, "error", "f raised X (`<script>alert(1)</script>`)", ("hint",))
    html = feedback.render(
        record.Report("<b>s</b>", assignment, "x", [verdict], ["<i>"], None, (1, 2))
    )
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;s" in html
    assert "0 / 1 points" in html and "hint" in html


def test_protected_folders_must_not_be_visible(tmp_path):
    visible = ["/usr", str(tmp_path / "venv")]
    assert sandbox._forbidden(visible, ["/usr/local/secret"]) == ["/usr"]
    assert sandbox._forbidden(visible, [str(tmp_path)]) == []
    assert sandbox._forbidden(visible, [str(tmp_path / "venv")]) == [str(tmp_path / "venv")]


def test_worker_uids_avoid_existing_accounts():
    taken = {e.pw_uid for e in pwd.getpwall()}
    uids = sandbox.worker_uids(3, start=min(taken))
    assert len(set(uids)) == 3 and not set(uids) & taken


def test_reaping_everything_is_allowed_only_where_it_cannot_reach_the_grader():
    base = sandbox.Isolation("rlimits", layers=())
    limits = sandbox.Limits()
    assert not sandbox.zygote_config(base, limits, "/tmp")["reap_all"]
    scoped = sandbox.Isolation("landlock", landlock_abi=6)
    assert sandbox.zygote_config(scoped, limits, "/tmp")["reap_all"]
    bwrap_userns = sandbox.Isolation("bubblewrap", bubblewrap="bwrap", landlock_abi=5)
    assert not sandbox.zygote_config(bwrap_userns, limits, "/tmp")["reap_all"]
    bwrap_uid = sandbox.Isolation("bubblewrap", bubblewrap="bwrap", uid=61000, landlock_abi=5)
    assert sandbox.zygote_config(bwrap_uid, limits, "/tmp", 61001)["uid"] == 61001


def test_nbformat_written_notebooks_parse():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    assert parse_notebook(nbformat.writes(nb).encode())[0].source == "x = 1"


def test_a_function_that_calls_a_failing_one_says_so():
    from autograder.grading.engine import blame_callees

    program = _program(
        "def g(x):\n    return x\n",
        "def f(x):\n    return g(x) + 1\n",
        required=("f", "g"),
    )
    assert program.uses == {"f": {"g"}, "g": set()}
    tests = [Test("t_f", "f", 1, None, None), Test("t_g", "g", 1, None, None)]
    wrong = judges.Verdict(0.0, "failed", "f is off")
    verdicts = blame_callees(tests, [wrong, judges.Verdict(0.0, "failed", "g")], program.uses)
    assert verdicts[0].message == "f is off; it calls g, which fails its own test: fix that first"
    assert (
        blame_callees(tests, [wrong, judges.Verdict(1.0, "passed", "")], program.uses)[0] == wrong
    )
