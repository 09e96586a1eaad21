"""The NumPy reference on its own: finite differences, hand-derived cases, validation, dtypes.

Agreement with PyTorch is in test_reference_torch.py; the character model in test_char_rnn.py.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_cases import (
    F32_FLOOR,
    F32_FWD_TOL,
    F32_GRAD_TOL,
    FWD_TOL,
    GRAD_TOL,
    VALIDATION_CASES,
    fd_error,
    rnn_problem,
    scales,
    seeds,
    shapes,
)

from autograder.reference import numpy_rnn as nr

SETTINGS = settings(max_examples=30, deadline=None)


def fd_rnn_grads(p, k_forward=nr.rnn_forward):
    """Central differences of sum(dH * rnn_forward(...)) with respect to every input."""

    def f_of(i):
        def f(_):
            args = [p.X, p.h0, p.W_xh, p.W_hh, p.b_h]
            return k_forward(*args)[0]

        return f

    arrays = [p.X, p.h0, p.W_xh, p.W_hh, p.b_h]
    return [nr.numerical_gradient(f_of(i), a, p.dH) for i, a in enumerate(arrays)]


# Gradients against finite differences.


@SETTINGS
@given(shape=shapes, seed=seeds, scale=scales)
def test_rnn_cell_backward_matches_finite_differences(shape, seed, scale):
    N, _, D, H = shape
    p = rnn_problem(N, 1, D, H, seed, scale)
    x, dh = p.X[:, 0], p.dH[:, 0]
    h_next, cache = nr.rnn_cell_forward(x, p.h0, p.W_xh, p.W_hh, p.b_h)
    analytic = nr.rnn_cell_backward(dh, cache)
    inputs = [x, p.h0, p.W_xh, p.W_hh, p.b_h]
    for i, (a, grad) in enumerate(zip(inputs, analytic, strict=True)):
        numeric = nr.numerical_gradient(lambda _: nr.rnn_cell_forward(*inputs)[0], a, dh)
        assert fd_error(grad, numeric) < GRAD_TOL, f"gradient {i}"


@SETTINGS
@given(shape=shapes, seed=seeds, scale=scales)
def test_bptt_matches_finite_differences(shape, seed, scale):
    p = rnn_problem(*shape, seed, scale)
    _, cache = nr.rnn_forward(p.X, p.h0, *p.params)
    analytic = nr.rnn_backward(p.dH, cache)
    names = ["dX", "dh0", "dW_xh", "dW_hh", "db_h"]
    for name, grad, numeric in zip(names, analytic, fd_rnn_grads(p), strict=True):
        assert grad.shape == numeric.shape
        assert fd_error(grad, numeric) < GRAD_TOL, name


@SETTINGS
@given(shape=shapes, seed=seeds, q=st.integers(1, 4))
def test_output_layer_backward_matches_finite_differences(shape, seed, q):
    N, T, _, H = shape
    rng = np.random.default_rng(seed)
    H_all, W_hq, b_q = (
        rng.standard_normal((N, T, H)),
        rng.standard_normal((H, q)),
        rng.standard_normal(q),
    )
    dO = rng.standard_normal((N, T, q))
    O, cache = nr.output_forward(H_all, W_hq, b_q)
    assert fd_error(O, np.einsum("nth,hq->ntq", H_all, W_hq) + b_q) < FWD_TOL
    analytic = nr.output_backward(dO, cache)
    inputs = [H_all, W_hq, b_q]
    for a, grad in zip(inputs, analytic, strict=True):
        numeric = nr.numerical_gradient(lambda _: nr.output_forward(*inputs)[0], a, dO)
        assert fd_error(grad, numeric) < GRAD_TOL


@SETTINGS
@given(shape=shapes, seed=seeds, q=st.integers(1, 6), logit_scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_softmax_cross_entropy_gradient_matches_finite_differences(shape, seed, q, logit_scale):
    N, T, _, _ = shape
    rng = np.random.default_rng(seed)
    O = logit_scale * rng.standard_normal((N, T, q))
    y = rng.integers(0, q, (N, T))
    _, dO = nr.softmax_cross_entropy(O, y)
    numeric = nr.numerical_gradient(lambda _: nr.softmax_cross_entropy(O, y)[0], O, 1.0)
    assert fd_error(dO, numeric) < GRAD_TOL


@SETTINGS
@given(shape=shapes, seed=seeds, scale=scales)
def test_birnn_backward_matches_finite_differences(shape, seed, scale):
    p = rnn_problem(*shape, seed, scale)
    q = rnn_problem(*shape, seed + 1, scale)
    dH = np.concatenate([p.dH, q.dH], axis=2)
    params_f, params_b = list(p.params), list(q.params)

    def f(_):
        return nr.birnn_forward(p.X, p.h0, q.h0, tuple(params_f), tuple(params_b))[0]

    _, cache = nr.birnn_forward(p.X, p.h0, q.h0, tuple(params_f), tuple(params_b))
    dX, dh0_f, dh0_b, dparams_f, dparams_b = nr.birnn_backward(dH, cache)
    pairs = [(dX, p.X), (dh0_f, p.h0), (dh0_b, q.h0)]
    pairs += list(zip(dparams_f, params_f, strict=True)) + list(
        zip(dparams_b, params_b, strict=True)
    )
    for grad, a in pairs:
        assert fd_error(grad, nr.numerical_gradient(f, a, dH)) < GRAD_TOL


# The sequence functions are the step functions in a loop.


@SETTINGS
@given(shape=shapes, seed=seeds, scale=scales)
def test_rnn_forward_is_the_cell_in_a_loop(shape, seed, scale):
    p = rnn_problem(*shape, seed, scale)
    H_all, cache = nr.rnn_forward(p.X, p.h0, *p.params)
    h = p.h0
    for t in range(p.X.shape[1]):
        h, step_cache = nr.rnn_cell_forward(p.X[:, t], h, *p.params)
        np.testing.assert_array_equal(H_all[:, t], h)
        for field, value in step_cache._asdict().items():
            np.testing.assert_array_equal(getattr(cache.step(t), field), value)


@SETTINGS
@given(shape=shapes, seed=seeds, scale=scales)
def test_bptt_is_the_cell_backward_in_a_loop_carrying_dh_next(shape, seed, scale):
    p = rnn_problem(*shape, seed, scale)
    _, cache = nr.rnn_forward(p.X, p.h0, *p.params)
    dX, dh0, *dparams = nr.rnn_backward(p.dH, cache)
    dh_next = np.zeros_like(p.h0)
    sums = [np.zeros_like(a) for a in p.params]
    for t in reversed(range(p.X.shape[1])):
        dx, dh_next, *step_grads = nr.rnn_cell_backward(p.dH[:, t] + dh_next, cache.step(t))
        np.testing.assert_array_equal(dX[:, t], dx)
        sums = [s + g for s, g in zip(sums, step_grads, strict=True)]
    np.testing.assert_array_equal(dh0, dh_next)
    for total, s in zip(dparams, sums, strict=True):
        np.testing.assert_array_equal(total, s)


# Truncated BPTT.


@SETTINGS
@given(shape=shapes, seed=seeds, scale=scales, extra=st.integers(0, 3))
def test_truncated_bptt_equals_full_bptt_when_k_is_at_least_T(shape, seed, scale, extra):
    p = rnn_problem(*shape, seed, scale)
    _, cache = nr.rnn_forward(p.X, p.h0, *p.params)
    full = nr.rnn_backward(p.dH, cache)
    truncated = nr.rnn_backward(p.dH, cache, k=p.X.shape[1] + extra)
    for a, b in zip(full, truncated, strict=True):
        assert nr.rel_error(a, b) < 1e-12


def scalar_rnn_case():
    """N = D = H = 1, T = 3, written out by hand. States h_1..h_3 (h_0 given), a_t = 1 - h_t^2,
    upstream gradients g_1..g_3 on the states, delta_t = g_t a_t."""
    x = np.array([0.5, -1.2, 0.8])
    h0, w, u, b = 0.3, 0.9, -1.1, 0.2
    g = np.array([0.7, -0.4, 1.3])
    h = [h0]
    for t in range(3):
        h.append(np.tanh(w * x[t] + u * h[-1] + b))
    a = [None] + [1 - h[t] ** 2 for t in (1, 2, 3)]
    args = (x.reshape(1, 3, 1), np.array([[h0]]), np.array([[w]]), np.array([[u]]), np.array([b]))
    return args, g.reshape(1, 3, 1), x, h, a, g, w, u


def grads_by_hand(x, h, a, g, w, u, k):
    """Sum over losses t = 1..3 of the chain back through steps t, t-1, ..., max(t-k+1, 1)."""
    dX, dh0, dw, du, db = np.zeros(3), 0.0, 0.0, 0.0, 0.0
    for t in (1, 2, 3):
        delta = g[t - 1] * a[t]  # gradient on the pre-activation of step t
        for s in range(t, max(t - k, 0), -1):
            dX[s - 1] += delta * w
            dw += delta * x[s - 1]
            du += delta * h[s - 1]
            db += delta
            if s > 1:
                delta = delta * u * a[s - 1]  # one more Jacobian factor: back to step s-1
            else:
                dh0 += delta * u  # the chain left step 1: a gradient on h_0
    return dX, dh0, dw, du, db


def test_truncated_bptt_matches_hand_derived_scalar_case():
    args, dH, x, h, a, g, w, u = scalar_rnn_case()
    _, cache = nr.rnn_forward(*args)
    d1, d2, d3 = (g[i] * a[i + 1] for i in range(3))  # delta_t = g_t a_t

    # k = 1: every loss reaches only its own step; only the first one reaches h_0.
    dX, dh0, dW_xh, dW_hh, db_h = nr.rnn_backward(dH, cache, k=1)
    np.testing.assert_allclose(dX.ravel(), [d1 * w, d2 * w, d3 * w], rtol=1e-13)
    np.testing.assert_allclose(dh0.ravel(), [d1 * u], rtol=1e-13)
    np.testing.assert_allclose(dW_xh.ravel(), [d1 * x[0] + d2 * x[1] + d3 * x[2]], rtol=1e-13)
    np.testing.assert_allclose(dW_hh.ravel(), [d1 * h[0] + d2 * h[1] + d3 * h[2]], rtol=1e-13)
    np.testing.assert_allclose(db_h.ravel(), [d1 + d2 + d3], rtol=1e-13)

    # k = 2: the loss at step 3 reaches steps 3 and 2 but not step 1 nor h_0.
    d21 = d2 * u * a[1]  # loss 2, carried back to step 1
    d32 = d3 * u * a[2]  # loss 3, carried back to step 2 (and no further)
    dX, dh0, dW_xh, dW_hh, db_h = nr.rnn_backward(dH, cache, k=2)
    np.testing.assert_allclose(dX.ravel(), [(d1 + d21) * w, (d2 + d32) * w, d3 * w], rtol=1e-13)
    np.testing.assert_allclose(dh0.ravel(), [(d1 + d21) * u], rtol=1e-13)
    np.testing.assert_allclose(
        dW_hh.ravel(), [d1 * h[0] + d2 * h[1] + d21 * h[0] + d3 * h[2] + d32 * h[1]], rtol=1e-13
    )
    np.testing.assert_allclose(db_h.ravel(), [d1 + d2 + d21 + d3 + d32], rtol=1e-13)

    # k = 3 = T: full BPTT, which adds loss 3 carried back to step 1 and to h_0.
    d321 = d32 * u * a[1]
    full = nr.rnn_backward(dH, cache)
    np.testing.assert_allclose(full[1].ravel(), [(d1 + d21 + d321) * u], rtol=1e-13)
    np.testing.assert_allclose(
        full[0].ravel(), [(d1 + d21 + d321) * w, (d2 + d32) * w, d3 * w], rtol=1e-13
    )

    # The loop form of the same hand derivation agrees for every k.
    for k in (1, 2, 3, 4):
        expected = grads_by_hand(x, h, a, g, w, u, k)
        got = nr.rnn_backward(dH, cache, k=k)
        for e, v in zip(expected, got, strict=True):
            np.testing.assert_allclose(np.ravel(v), np.ravel(e), rtol=1e-13)


def test_truncation_drops_long_range_gradient_only():
    # With k < T the gradient of an early input on a late loss is gone, a recent one is kept.
    p = rnn_problem(1, 6, 2, 3, seed=5)
    dH = np.zeros_like(p.dH)
    dH[:, -1] = 1.0  # a loss on the last state only
    _, cache = nr.rnn_forward(p.X, p.h0, *p.params)
    dX_full = nr.rnn_backward(dH, cache)[0]
    dX_k2 = nr.rnn_backward(dH, cache, k=2)[0]
    np.testing.assert_allclose(dX_k2[:, 4:], dX_full[:, 4:], rtol=1e-13)
    assert np.all(dX_k2[:, :4] == 0) and np.all(dX_full[:, :4] != 0)


# Bidirectional RNN.


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_birnn_halves_are_causal_in_opposite_directions(shape, seed):
    p = rnn_problem(*shape, seed)
    q = rnn_problem(*shape, seed + 1)
    N, T, D, H = shape
    s = T // 2
    X2 = p.X.copy()
    X2[:, s] += 1.0
    H1, _ = nr.birnn_forward(p.X, p.h0, q.h0, p.params, q.params)
    H2, _ = nr.birnn_forward(X2, p.h0, q.h0, p.params, q.params)
    assert H1.shape == (N, T, 2 * H)
    np.testing.assert_array_equal(H1[:, :s, :H], H2[:, :s, :H])  # forward: past only
    np.testing.assert_array_equal(H1[:, s + 1 :, H:], H2[:, s + 1 :, H:])  # backward: future only
    np.testing.assert_array_equal(H1[..., :H], nr.rnn_forward(p.X, p.h0, *p.params)[0])


# Loss.


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    O = np.array([[[1e4, 0.0, -1e4], [1e4, 1e4, -1e4]]])  # (N=1, T=2, Q=3)
    loss, dO = nr.softmax_cross_entropy(O, np.array([[1, 0]]))
    # step 0: log-sum-exp = 1e4 exactly, so -log p[1] = 1e4; step 1: two tied maxima, log 2.
    assert np.isfinite(loss) and np.all(np.isfinite(dO))
    assert loss == pytest.approx(1e4 + np.log(2), rel=1e-15)
    np.testing.assert_allclose(dO, [[[1.0, -1.0, 0.0], [-0.5, 0.5, 0.0]]], atol=1e-15)


def test_softmax_cross_entropy_sums_over_time_and_averages_over_batch():
    rng = np.random.default_rng(0)
    O, y = rng.standard_normal((4, 3, 5)), rng.integers(0, 5, (4, 3))
    loss, _ = nr.softmax_cross_entropy(O, y)
    per_step = [
        [-np.log(np.exp(O[n, t, y[n, t]]) / np.exp(O[n, t]).sum()) for t in range(3)]
        for n in range(4)
    ]
    assert loss == pytest.approx(np.sum(per_step) / 4, rel=1e-13)


def test_softmax_is_stable_and_normalised():
    P = nr.softmax(np.array([[1e4, 1e4 - 1.0, -1e4]]))
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=1e-15)
    assert P[0, 0] / P[0, 1] == pytest.approx(np.e, rel=1e-12)


# Clipping (agreement with torch.nn.utils is in test_reference_torch.py).


def test_clip_grad_norm_scales_only_above_max_norm_and_leaves_inputs_untouched():
    grads = [np.array([3.0, 0.0]), np.array([[0.0, 4.0]])]  # total norm 5
    before = [g.copy() for g in grads]
    clipped, total = nr.clip_grad_norm(grads, 1.0)
    assert total == 5.0
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(clipped[0], [3 * coef, 0.0], rtol=1e-15)
    np.testing.assert_allclose(clipped[1], [[0.0, 4 * coef]], rtol=1e-15)
    unclipped, total = nr.clip_grad_norm(grads, 10.0)
    for g, b, c, u in zip(grads, before, clipped, unclipped, strict=True):
        np.testing.assert_array_equal(g, b)
        np.testing.assert_array_equal(u, b)
        assert not np.shares_memory(c, g) and not np.shares_memory(u, g)
    assert isinstance(clipped, list) and isinstance(nr.clip_grad_norm(tuple(grads), 1.0)[0], tuple)
    as_dict, _ = nr.clip_grad_norm({"a": grads[0], "b": grads[1]}, 1.0)
    np.testing.assert_array_equal(as_dict["b"], clipped[1])


def test_clip_grad_value_clamps_elementwise_into_new_arrays():
    g = np.array([-3.0, -0.5, 0.0, 2.0])
    (c,) = nr.clip_grad_value([g], 1.0)
    np.testing.assert_array_equal(c, [-1.0, -0.5, 0.0, 1.0])
    np.testing.assert_array_equal(g, [-3.0, -0.5, 0.0, 2.0])


# Gradient-checking tools.


def test_numerical_gradient_contracts_with_df_and_restores_x():
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    x_before = x.copy()
    df = np.array([[1.0, 2.0], [-1.0, 0.5]])
    grad = nr.numerical_gradient(lambda z: z**3, x, df)
    np.testing.assert_allclose(grad, 3 * x_before**2 * df, rtol=1e-9)
    np.testing.assert_array_equal(x, x_before)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def boom(z):
        raise RuntimeError("f failed")

    with pytest.raises(RuntimeError):
        nr.numerical_gradient(boom, x, 1.0)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_numerical_gradient_rejects_df_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"df must have the shape of f\(x\) = \(2,\), got \(3,\)"):
        nr.numerical_gradient(lambda z: 2 * z, np.ones(2), np.ones(3))


def test_rel_error_is_max_abs_difference_over_largest_magnitude():
    a, b = np.array([1.0, 100.0]), np.array([1.5, 100.0])
    assert nr.rel_error(a, b) == pytest.approx(0.5 / 200.0)  # not 0.5 / 2.5 (elementwise)
    assert nr.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert nr.rel_error(np.array([1e-12]), np.array([2e-12])) == pytest.approx(1e-12 / 1e-8)
    assert nr.rel_error(np.array([1.0]), np.array([-1.0])) == 1.0
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(1, 2\)"):
        nr.rel_error(a, b[None])


# Validation and dtypes.


@pytest.mark.parametrize(
    "call, message", [c[1:] for c in VALIDATION_CASES], ids=[c[0] for c in VALIDATION_CASES]
)
def test_bad_input_raises_value_error_naming_argument_and_shapes(call, message):
    with pytest.raises(ValueError) as info:
        call(nr)
    assert message in str(info.value)


def test_wrong_cache_type_is_rejected():
    p = rnn_problem(1, 2, 2, 2, seed=0)
    _, cell_cache = nr.rnn_cell_forward(p.X[:, 0], p.h0, *p.params)
    with pytest.raises(TypeError, match="SequenceCache"):
        nr.rnn_backward(p.dH, cell_cache)


@SETTINGS
@given(shape=shapes, seed=seeds, scale=st.sampled_from([0.3, 1.0]))
def test_float32_inputs_stay_float32_within_documented_tolerance(shape, seed, scale):
    p32 = rnn_problem(*shape, seed, scale, dtype=np.float32)
    p64 = rnn_problem(*shape, seed, scale, dtype=np.float32)  # the same float32 numbers...
    p64.__dict__.update({k: v.astype(np.float64) for k, v in vars(p32).items()})  # ...in float64
    H32, c32 = nr.rnn_forward(p32.X, p32.h0, *p32.params)
    H64, c64 = nr.rnn_forward(p64.X, p64.h0, *p64.params)
    assert H32.dtype == np.float32
    assert nr.rel_error(H32, H64) < F32_FWD_TOL
    for g32, g64 in zip(nr.rnn_backward(p32.dH, c32), nr.rnn_backward(p64.dH, c64), strict=True):
        assert g32.dtype == np.float32
        assert nr.rel_error(g32, g64, floor=F32_FLOOR) < F32_GRAD_TOL
    O, oc = nr.output_forward(H32, p32.W_hh, p32.b_h)
    assert O.dtype == np.float32 and all(g.dtype == np.float32 for g in nr.output_backward(O, oc))
    _, dO = nr.softmax_cross_entropy(O, np.zeros(O.shape[:2], dtype=np.int64))
    assert dO.dtype == np.float32
    clipped, _ = nr.clip_grad_norm([p32.X], 0.1)
    assert clipped[0].dtype == np.float32


def test_integer_inputs_are_computed_in_float64():
    H_all, _ = nr.rnn_forward(
        np.ones((1, 2, 2), dtype=int),
        np.zeros((1, 2), dtype=int),
        np.eye(2, dtype=int),
        np.eye(2, dtype=int),
        np.zeros(2, dtype=int),
    )
    assert H_all.dtype == np.float64
    np.testing.assert_allclose(H_all[0, 0], np.tanh(1.0))


def test_numpy_reference_does_not_import_torch():
    code = "import sys, autograder.reference.numpy_rnn; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
