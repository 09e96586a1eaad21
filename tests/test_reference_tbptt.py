"""Truncated BPTT in chunks, TBPTT(k1, k2): ``rnn_tbptt`` in both references.

Checked against three things: each other (NumPy and PyTorch), full BPTT when nothing is cut
(k2 >= T), and an oracle built from the already-tested ``rnn_forward``/``rnn_backward`` run on
each chunk's window separately. A small case is also worked out by hand, and the count of
step-backwards is checked against its formula.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_cases import GRAD_TOL, rnn_problem, scales, seeds

from autograder.reference import numpy_rnn as nr
from autograder.reference import torch_rnn as tr

SETTINGS = settings(max_examples=25, deadline=None)
REFERENCES = {"numpy": nr, "torch": tr}

windows = st.tuples(st.integers(1, 5), st.integers(0, 6))  # k1, k2 - k1


# Tiny tensors: a second intra-op thread only adds synchronisation (fixture in conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tbptt(module, p, k1, k2):
    return module.rnn_tbptt(p.X, p.h0, p.W_xh, p.W_hh, p.b_h, p.dH, k1, k2)


def assert_close(a, b, what, tol=GRAD_TOL):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} and {b.shape}"
    error = nr.rel_error(a, b)
    assert error < tol, f"{what}: relative error {error:.1e}"


def assert_same_result(got, expected, what):
    for field in ("H", "dX", "dh0", "dW_xh", "dW_hh", "db_h"):
        assert_close(getattr(got, field), getattr(expected, field), f"{what}: {field}")
    assert len(got.chunks) == len(expected.chunks), f"{what}: number of chunks"
    for i, (ours, theirs) in enumerate(zip(got.chunks, expected.chunks, strict=True)):
        for name, a, b in zip(("dW_xh", "dW_hh", "db_h"), ours, theirs, strict=True):
            assert_close(a, b, f"{what}: chunk {i} {name}")
    assert got.backward_steps == expected.backward_steps, f"{what}: backward_steps"


def windowed_oracle(p, k1, k2):
    """TBPTT(k1, k2) from rnn_forward/rnn_backward: one full BPTT per chunk, over its own window.

    The chunk of array indices start..end-1 backpropagates through first..end-1 with
    first = max(start - (k2 - k1), 0), starting from the state before ``first`` as a constant
    (h0 when first = 0), with the upstream gradient of the chunk's own steps only.
    """
    N, T, _ = p.X.shape
    H, _ = nr.rnn_forward(p.X, p.h0, *p.params)
    dX, dh0 = np.zeros_like(p.X), np.zeros_like(p.h0)
    chunks, steps = [], 0
    for start in range(0, T, k1):
        end = min(start + k1, T)
        first = max(start - (k2 - k1), 0)
        h_start = p.h0 if first == 0 else H[:, first - 1]
        _, cache = nr.rnn_forward(p.X[:, first:end], h_start, *p.params)
        dH = np.zeros((N, end - first, p.W_hh.shape[0]))
        dH[:, start - first :] = p.dH[:, start:end]
        dX_w, dh_w, dW_xh, dW_hh, db_h = nr.rnn_backward(dH, cache)
        dX[:, first:end] += dX_w
        if first == 0:
            dh0 += dh_w
        chunks.append((dW_xh, dW_hh, db_h))
        steps += end - first
    totals = [sum(c[i] for c in chunks) for i in range(3)]
    return nr.TBPTTResult(H, dX, dh0, *totals, tuple(chunks), steps)


@SETTINGS
@given(
    N=st.integers(1, 3),
    T=st.integers(1, 9),
    D=st.integers(1, 3),
    Dh=st.integers(1, 4),
    window=windows,
    seed=seeds,
    scale=scales,
)
def test_numpy_and_torch_tbptt_agree_with_the_windowed_oracle(N, T, D, Dh, window, seed, scale):
    k1, extra = window
    p = rnn_problem(N, T, D, Dh, seed, scale)
    expected = windowed_oracle(p, k1, k1 + extra)
    for name, module in REFERENCES.items():
        assert_same_result(tbptt(module, p, k1, k1 + extra), expected, f"{name} k1={k1}")


@SETTINGS
@given(
    N=st.integers(1, 3),
    T=st.integers(1, 8),
    D=st.integers(1, 3),
    Dh=st.integers(1, 4),
    k1=st.integers(1, 10),
    beyond=st.integers(0, 3),
    seed=seeds,
    scale=scales,
)
def test_tbptt_that_reaches_the_start_equals_full_bptt(N, T, D, Dh, k1, beyond, seed, scale):
    # A chunk goes back through its own steps and k2 - k1 before it. With k2 >= start + k1 for
    # the last chunk's start (so k2 >= T, and more when the last chunk is short), every backward
    # pass goes back to step 1 and nothing is cut. With k1 >= T there is one chunk and one
    # backward pass of T steps: full BPTT exactly, at its cost.
    p = rnn_problem(N, T, D, Dh, seed, scale)
    H, cache = nr.rnn_forward(p.X, p.h0, *p.params)
    full = nr.rnn_backward(p.dH, cache)
    last_start = k1 * ((T - 1) // k1)
    k2 = last_start + k1 + beyond
    for name, module in REFERENCES.items():
        got = tbptt(module, p, k1, k2)
        assert_close(got.H, H, f"{name}: H")
        for field, expected in zip(("dX", "dh0", "dW_xh", "dW_hh", "db_h"), full, strict=True):
            assert_close(getattr(got, field), expected, f"{name} k1={k1} k2={k2}: {field}")
        if k1 >= T:
            assert len(got.chunks) == 1 and got.backward_steps == T


@pytest.mark.parametrize("name", REFERENCES)
def test_tbptt_small_case_by_hand(name):
    # One unit, one input, T = 3, k1 = 2, k2 = 3. Chunk 1 (steps 1, 2) backpropagates both steps
    # and reaches h0; chunk 2 (step 3) goes back k2 = 3 steps from step 3, but not past the
    # k2 - k1 = 1 step before it: steps 3 and 2 only, with no loss injected again at step 2.
    x = np.array([0.5, -1.0, 2.0])
    h0, w_x, w, b = 0.3, 0.7, -1.2, 0.1
    g = np.array([1.0, -2.0, 0.5])  # dL/dh_t from the losses of steps 1, 2, 3
    h1 = np.tanh(w_x * x[0] + w * h0 + b)
    h2 = np.tanh(w_x * x[1] + w * h1 + b)
    h3 = np.tanh(w_x * x[2] + w * h2 + b)
    # Chunk 1: a2 = g2 tanh'(.), then step 2 sends a2 w back to h1, which adds its own g1.
    a2 = g[1] * (1 - h2**2)
    a1 = (g[0] + a2 * w) * (1 - h1**2)
    chunk1 = (x[1] * a2 + x[0] * a1, h1 * a2 + h0 * a1, a2 + a1)
    # Chunk 2: the loss of step 3, through step 3 and then step 2 (without g2), then dropped.
    c3 = g[2] * (1 - h3**2)
    c2 = c3 * w * (1 - h2**2)
    chunk2 = (x[2] * c3 + x[1] * c2, h2 * c3 + h1 * c2, c3 + c2)

    got = REFERENCES[name].rnn_tbptt(
        x.reshape(1, 3, 1),
        np.array([[h0]]),
        np.array([[w_x]]),
        np.array([[w]]),
        np.array([b]),
        g.reshape(1, 3, 1),
        k1=2,
        k2=3,
    )
    np.testing.assert_allclose(got.H.ravel(), [h1, h2, h3], rtol=1e-12)
    for chunk, expected in zip(got.chunks, (chunk1, chunk2), strict=True):
        np.testing.assert_allclose([float(a.squeeze()) for a in chunk], expected, rtol=1e-12)
    np.testing.assert_allclose(got.dh0.ravel(), [a1 * w], rtol=1e-12)
    np.testing.assert_allclose(got.dX.ravel(), [a1 * w_x, (a2 + c2) * w_x, c3 * w_x], rtol=1e-12)
    assert got.backward_steps == 2 + 2


@pytest.mark.parametrize("T", [1, 7, 24, 100])
@pytest.mark.parametrize("k1, k2", [(1, 1), (4, 4), (5, 8), (3, 12)])
def test_tbptt_counts_its_step_backwards_and_costs_order_T(T, k1, k2):
    p = rnn_problem(1, T, 2, 3, seed=T + k1 + k2)
    chunks = math.ceil(T / k1)
    # Each chunk: its own steps plus k2 - k1 before it, as far as the stream goes back.
    starts = range(0, T, k1)
    expected = sum(
        min(min(start + k1, T) - start + k2 - k1, min(start + k1, T)) for start in starts
    )
    got = nr.rnn_tbptt(p.X, p.h0, *p.params, p.dH, k1, k2)
    assert got.backward_steps == expected
    assert got.backward_steps <= T + (chunks - 1) * (k2 - k1)
    assert got.backward_steps <= chunks * k2
    assert got.backward_steps <= T * (1 + (k2 - k1) / k1)  # O(T) for a fixed k2 / k1
    if k1 == k2:
        assert got.backward_steps == T  # the cost of full BPTT


def test_k2_equal_to_k1_is_the_default():
    p = rnn_problem(2, 7, 3, 4, seed=3)
    assert_same_result(
        nr.rnn_tbptt(p.X, p.h0, *p.params, p.dH, 3),
        nr.rnn_tbptt(p.X, p.h0, *p.params, p.dH, 3, 3),
        "k2=None",
    )


BAD_WINDOWS = [
    ((0, None), "k1 must be a positive int"),
    ((True, None), "k1 must be a positive int"),
    ((2.0, None), "k1 must be a positive int"),
    ((3, 0), "k2 must be a positive int"),
    ((3, 2), "k2 must be >= k1"),
]


@pytest.mark.parametrize("name", REFERENCES)
@pytest.mark.parametrize("window, message", BAD_WINDOWS)
def test_tbptt_rejects_bad_windows_by_name(name, window, message):
    p = rnn_problem(2, 5, 3, 4, seed=0)
    with pytest.raises(ValueError, match=message):
        REFERENCES[name].rnn_tbptt(p.X, p.h0, *p.params, p.dH, *window)


@pytest.mark.parametrize("name", REFERENCES)
def test_tbptt_names_the_argument_and_shapes_of_a_wrong_array(name):
    p = rnn_problem(2, 5, 3, 4, seed=0)
    module = REFERENCES[name]
    with pytest.raises(ValueError, match=r"dH must have shape \(N, T, \w+\) = \(2, 5, 4\), got"):
        module.rnn_tbptt(p.X, p.h0, *p.params, p.dH[:, :3], 2)
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, \w+\) = \(2, 4\), got \(4, 2\)"):
        module.rnn_tbptt(p.X, p.h0.T, *p.params, p.dH, 2)
