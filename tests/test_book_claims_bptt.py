"""The claims of chapter 5 (backpropagation through time), re-run over several seeds.

Each test re-runs an experiment of book/chapters/05_bptt.ipynb through the functions the chapter
itself calls (book/experiments/bptt.py) with other seeds, and fails when the sentence of the
chapter it names no longer holds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.reference import numpy_rnn as rnn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book"))
from experiments import bptt  # noqa: E402

SEEDS = range(6)


@pytest.mark.parametrize("seed", SEEDS)
def test_central_differences_agree_with_bptt_to_about_ten_digits(seed):
    # "a correct analytic gradient agrees with it to about ten significant digits"
    rng = np.random.default_rng(seed)
    N, T, D, Dh, Q = 3, 5, 4, 6, 3
    X, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, Dh))
    y = rng.integers(0, Q, size=(N, T))
    W_xh, W_hh = rng.normal(0, 0.5, (D, Dh)), rng.normal(0, 0.5, (Dh, Dh))
    b_h, W_hq, b_q = rng.normal(0, 0.1, Dh), rng.normal(0, 0.5, (Dh, Q)), rng.normal(0, 0.1, Q)

    def loss_and_grads():
        H, cache = rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
        O, out_cache = rnn.output_forward(H, W_hq, b_q)
        loss, dO = rnn.softmax_cross_entropy(O, y)
        dH, dW_hq, _ = rnn.output_backward(dO, out_cache)
        _, _, _, dW_hh, _ = rnn.rnn_backward(dH, cache)
        return loss, dW_hh, dW_hq

    _, dW_hh, dW_hq = loss_and_grads()
    for point, analytic in ((W_hh, dW_hh), (W_hq, dW_hq)):
        numeric = rnn.numerical_gradient(lambda _: loss_and_grads()[0], point, 1.0)
        assert rnn.rel_error(analytic, numeric) < 1e-8


@pytest.mark.parametrize("seed", SEEDS)
def test_sigma_max_below_one_makes_the_gradient_vanish_geometrically(seed):
    # "sigma_max(W_hh) < 1/gamma is sufficient for the gradient to vanish", for non-normal W_hh
    # and inputs of unit size.
    norms, bound = bptt.sigma_bound_run(seed, sigma=0.9)
    assert np.all(norms <= bound * (1 + 1e-9)), np.max(norms / bound)
    assert norms[-1] <= 0.9 ** len(norms)


@pytest.mark.parametrize("seed", SEEDS)
def test_for_normal_matrices_the_spectral_radius_picture_holds(seed):
    runs = bptt.normal_runs(seed=seed, T=60, Dh=32)
    s = np.arange(1, 61)
    # rho = 0.9: decays geometrically, at the rate 0.9 (within the slopes 1 - H^2 <= 1).
    assert np.all(runs["ρ = 0.9"] <= 0.9**s * (1 + 1e-9))
    assert np.all(runs["ρ = 0.9"] >= 0.5 * 0.9**s)
    # rho = 1: nearly keeps its size over 60 steps.
    assert 0.5 < runs["ρ = 1.0"][-1] <= 1.0
    # rho = 1.1 in the linear regime: grows, then saturation flattens the curve.
    grown = runs["ρ = 1.1"]
    assert grown[9] > 2 and grown.max() > 5
    assert grown[-1] / grown[-21] < 1.1**20 / 2  # the last 20 steps grow far slower than 1.1^s
    # rho = 1.1 with saturating inputs: vanishes although rho > 1.
    assert runs["ρ = 1.1, saturated"][29] < 1e-6


@pytest.mark.parametrize("seed", range(10))
def test_non_normal_w_hh_with_rho_below_one_grows_transiently(seed):
    case = bptt.stability_cases(seed=seed, T=60)["non-normal"]
    W, norms = case["W_hh"], case["norms"]
    assert bptt.spectral_radius(W) < 1 < bptt.sigma_max(W)
    peak = int(np.argmax(norms))
    assert norms[peak] > 1.5 * case["g_norm"], "the gradient should grow above its start"
    assert peak >= 2, "the growth should last several steps"
    assert norms[-1] < norms[peak] / 5, "and then decay at the rate rho"


@pytest.mark.parametrize("seed", range(10))
def test_nilpotent_w_hh_explodes_through_a_saturated_unit(seed):
    cases = bptt.stability_cases(seed=seed, T=60)
    saturated, linear = cases["nilpotent, saturated"], cases["nilpotent, linear"]
    W = saturated["W_hh"]
    assert bptt.spectral_radius(W) < 1e-6 and bptt.sigma_max(W) == pytest.approx(3)
    norms = saturated["norms"]
    assert np.all(np.diff(norms) > 0), "grows at every step"
    assert norms[29] > 1e4 * norms[0]
    np.testing.assert_allclose(norms[1:] / norms[:-1], 1.5, rtol=1e-6)  # rho(diag(1,0) W^T)
    # The same matrix in the linear regime: "can triple in one step back and is then annihilated"
    assert linear["norms"][0] == pytest.approx(3, rel=1e-3)
    assert np.all(linear["norms"][1:] < 1e-3)


def test_the_chapters_nilpotent_run_is_sqrt2_times_1_5_to_the_s():
    # The chapter prints 10.7, 82, 4.7e3, 2.7e5 for s = 5, 10, 20, 30: sqrt(2) 1.5^s exactly.
    norms = bptt.saturated_nilpotent_run(T=30)
    s = np.arange(1, 31)
    np.testing.assert_allclose(norms, np.sqrt(2) * 1.5**s, rtol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_truncation_errors_and_costs(seed):
    runs = {r: bptt.truncation_errors(seed=seed, r=r) for r in (0.8, 1.2)}
    T = 40
    for r, run in runs.items():
        per_loss = np.array(run["per-loss k"]["errors"])
        # "The error falls with k for both matrices"
        assert np.all(np.diff(per_loss) < 0), (r, per_loss)
        assert run["full cost"] == T
        ks = np.array(run["ks"])
        # per-loss truncation costs more than full BPTT as soon as k >= 2
        costs = np.array(run["per-loss k"]["costs"])
        assert np.all(costs[ks >= 2] > T)
        np.testing.assert_array_equal(costs, [bptt.per_loss_cost(T, k) for k in ks])
        # chunks with k1 = k2 cost exactly T; with k2 = 2 k1 less than 2T, and more accurate
        # than the per-loss truncation with the same k
        assert all(c == T for c in run["chunks k1 = k2 = k"]["costs"])
        assert all(c < 2 * T for c in run["chunks k1 = k, k2 = 2k"]["costs"])
        assert np.all(np.array(run["chunks k1 = k, k2 = 2k"]["errors"]) < per_loss)
        # "The chunked form with k1 = k2 = k ... is the least accurate"
        same_k = np.array(run["chunks k1 = k2 = k"]["errors"])
        assert np.all(same_k >= per_loss * (1 - 1e-9))
        assert np.all(same_k > run["chunks k1 = k, k2 = 2k"]["errors"])
    # "faster for r = 0.8 than for r = 1.2", and r = 1.2 saturates more
    assert np.all(np.array(runs[1.2]["per-loss k"]["errors"]) > runs[0.8]["per-loss k"]["errors"])
    assert runs[1.2]["tanh'"] < runs[0.8]["tanh'"]
    # "Even at r = 1.2 the gradient does fade with distance"
    assert runs[1.2]["per-loss k"]["errors"][-1] < 1e-2


@pytest.mark.parametrize("T", [37, 200, 1000])
@pytest.mark.parametrize("k", [1, 5, 10])
def test_chunked_truncation_costs_order_T_and_per_loss_truncation_order_Tk(T, k):
    counted = bptt.costs(T=T, k=k, seed=T)
    assert counted["full BPTT"] == T
    assert counted[f"per-loss truncation, k = {k}"] == bptt.per_loss_cost(T, k)
    assert counted[f"chunks, k1 = k2 = {k}"] == T
    chunked = counted[f"chunks, k1 = {k}, k2 = {2 * k}"]
    assert chunked <= bptt.chunked_cost_bound(T, k, 2 * k) and chunked < 2 * T
    if k >= 2:  # T k - k (k - 1) / 2 of them: more than full BPTT, about k times more
        assert counted[f"per-loss truncation, k = {k}"] > max(T, k * T / 2)


def test_the_counter_counts_what_rnn_tbptt_reports():
    rng = np.random.default_rng(0)
    X, h0 = rng.normal(size=(2, 23, 3)), np.zeros((2, 4))
    W_xh, W_hh, b_h, dH = rng.normal(size=(3, 4)), 0.5 * np.eye(4), np.zeros(4), np.ones((2, 23, 4))
    with bptt.counting_step_backwards() as count:
        result = rnn.rnn_tbptt(X, h0, W_xh, W_hh, b_h, dH, 5, 8)
    assert count["steps"] == result.backward_steps > 0
