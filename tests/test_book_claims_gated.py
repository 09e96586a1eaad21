"""The claims of chapters 10 (gated RNNs) and 11 (attention), re-run over seeds the chapters do
not use, with the experiment code the chapters call (book/experiments/gated.py, attention.py).

Each test names the sentence of the chapter it checks. The training runs are the costly part
(about a minute on one core for everything here); they are done once per module and shared.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book"))

from experiments import attention, gated  # noqa: E402

from autograder.reference import numpy_rnn as rnn  # noqa: E402

SEEDS = (101, 102, 103)  # the chapters use 0, 1, 2
L = gated.Setup().length


@cache
def study():
    return gated.adding_study(SEEDS)


# Chapter 10.


@pytest.mark.parametrize("seed", range(5))
def test_cell_state_jacobian_is_the_diagonal_of_the_forget_gate(seed):
    """'∂C_t/∂C_{t-1} = diag(F_t)' ... 'the two agree to the resolution of the finite
    differences'."""
    jacobian, diag_f = gated.cell_state_jacobian(seed)
    assert np.abs(jacobian - diag_f).max() < 1e-8
    assert np.abs(np.diag(diag_f)).min() > 0.01  # a real gate, not a trivially zero Jacobian


@pytest.mark.parametrize("seed", SEEDS)
def test_vanilla_response_to_the_first_input_is_tiny_at_initialisation(seed):
    """'Across 29 steps the response falls by a factor of about 1e-6' (order of magnitude)."""
    ratio = gated.decay_ratio(
        gated.gradient_over_distance(gated.initial_layer("RNN", seed), L, seed)
    )
    assert ratio < 1e-4


@pytest.mark.parametrize("seed", range(10, 15))
def test_forget_bias_of_one_lets_the_first_input_reach_the_last_state(seed):
    """'With b_f = 1 the first input's effect on the last state is larger by a factor of about
    1e3-1e4', and only the LSTM reaches back at initialisation (left panel of the figure)."""

    def ratio(kind, **kw):
        layer = gated.initial_layer(kind, seed, **kw)
        return gated.decay_ratio(gated.gradient_over_distance(layer, L, seed))

    open_, closed = ratio("LSTM", forget_bias=1.0), ratio("LSTM", forget_bias=0.0)
    assert open_ > 100 * closed
    assert open_ > 100 * ratio("RNN") and open_ > 100 * ratio("GRU")


def test_lstm_and_gru_solve_the_adding_problem_and_the_vanilla_rnn_stays_at_one_twelfth():
    """'Every LSTM and GRU run solves the task ... the best vanilla RNN ends at the level of a
    network that remembers the late value and guesses the early one (the others end no better).'"""
    runs = study()
    for kind in ("LSTM", "GRU"):
        errors = [r.test_mse for r in runs[kind]]
        assert all(gated.solved(e) for e in errors), (kind, errors)
    vanilla = [r.test_mse for r in runs["RNN"]]
    assert all(e > 0.7 * gated.BASELINE_RECENT for e in vanilla), vanilla


def test_after_training_the_gated_cells_respond_to_the_first_input_and_the_rnn_does_not():
    """'After training, the response to the first input is of the order of the response to the
    last for the LSTM and the GRU, against orders of magnitude less for the vanilla RNN.'"""
    runs = study()
    ratios = {
        kind: [gated.decay_ratio(gated.gradient_over_distance(r.model.rnn, L, r.seed)) for r in rs]
        for kind, rs in runs.items()
    }
    assert all(r > 0.05 for kind in ("LSTM", "GRU") for r in ratios[kind]), ratios
    assert max(ratios["RNN"]) < 0.01 * min(min(ratios["LSTM"]), min(ratios["GRU"])), ratios


@pytest.mark.parametrize("seed", range(3))
def test_pytorch_gru_and_the_papers_gru_differ_on_the_same_weights(seed):
    """'The two are different functions of the same weights.'"""
    rng = np.random.default_rng(seed)
    N, T, D, Dh = 3, 5, 2, 4
    X, h0 = rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((N, Dh))
    params = (
        rng.standard_normal((D, 3 * Dh)) / np.sqrt(D),
        rng.standard_normal((Dh, 3 * Dh)) / np.sqrt(Dh),
        0.5 * rng.standard_normal(3 * Dh),
        0.5 * rng.standard_normal(3 * Dh),
    )
    pytorch, _ = rnn.gru_forward(X, h0, *params)
    assert rnn.rel_error(pytorch, gated.cho_gru_forward(X, h0, *params)) > 1e-3
    # ... and they agree when the reset gate is shut off (R = 1): the difference is its place.
    open_reset = list(params)
    open_reset[2] = open_reset[2].copy()
    open_reset[2][:Dh] = 50.0
    a, _ = rnn.gru_forward(X, h0, *open_reset)
    assert rnn.rel_error(a, gated.cho_gru_forward(X, h0, *open_reset)) < 1e-12


@pytest.mark.parametrize("D, Dh", [(2, 64), (128, 256), (1, 1), (10, 20)])
def test_parameter_counts_follow_the_formula(D, Dh):
    counts = gated.parameter_counts(D, Dh)
    assert all(pytorch == formula for pytorch, formula in counts.values())
    assert (
        counts["LSTM"][0] == 4 * counts["RNN"][0] and 4 * counts["GRU"][0] == 3 * counts["LSTM"][0]
    )


# Chapter 11.


@cache
def reversal(kind: str, length: int, seed: int):
    return attention.train(kind, length, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_plain_encoder_decoder_loses_accuracy_as_sequences_get_longer(seed):
    """'From ~1.0 at S = 4 the accuracy falls to ~0.5 at S = 16.'"""
    short, long = reversal("plain", 4, seed).accuracy, reversal("plain", 16, seed).accuracy
    assert short > 0.9
    assert long < short - 0.25


@pytest.mark.parametrize("seed", SEEDS)
def test_attention_removes_the_bottleneck_and_aligns_with_the_reversed_source(seed):
    """'At S = 16 attention reaches ~0.9 where the plain model stops at ~0.5' and 'output step t
    puts most of its weight within one position of source token S + 1 - t'."""
    result = reversal("attention", 16, seed)
    assert result.accuracy > reversal("plain", 16, seed).accuracy + 0.25
    _, weights = attention.attention_weights(result.model, 16, seed)
    assert attention.near_alignment(weights) > 3 * (3 / 16)
