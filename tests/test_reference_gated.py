"""Gated cells (LSTM, GRU): the NumPy reference, the PyTorch reference, torch.nn.LSTM/GRU
themselves and finite differences must all agree; plus the cell-state path, dtypes, validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from reference_cases import (
    F32_FLOOR,
    F32_FWD_TOL,
    F32_GRAD_TOL,
    FWD_TOL,
    GRAD_TOL,
    fd_error,
    scales,
    seeds,
    shapes,
)

from autograder.reference import numpy_rnn as nr
from autograder.reference import torch_rnn as tr

SETTINGS = settings(max_examples=20, deadline=None)


# Tiny tensors: a second intra-op thread only adds synchronisation (fixture in conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@dataclass
class GatedProblem:
    X: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    biases: tuple
    dH: np.ndarray

    def lstm_inputs(self):
        return [self.X, self.h0, self.c0, self.W_x, self.W_h, *self.biases]

    def gru_inputs(self):
        return [self.X, self.h0, self.W_x, self.W_h, *self.biases]


def gated_problem(N, T, D, Dh, seed, gates, n_biases, scale=1.0, dtype=np.float64):
    """Random inputs of an LSTM (gates=4, one bias) or a GRU (gates=3, two biases). ``scale``
    multiplies inputs and weights; at 3 most gates are saturated."""
    rng = np.random.default_rng(seed)
    G = gates * Dh
    return GatedProblem(
        X=(scale * rng.standard_normal((N, T, D))).astype(dtype),
        h0=np.tanh(rng.standard_normal((N, Dh))).astype(dtype),
        c0=rng.standard_normal((N, Dh)).astype(dtype),
        W_x=(scale * rng.standard_normal((D, G)) / np.sqrt(D)).astype(dtype),
        W_h=(scale * rng.standard_normal((Dh, G)) / np.sqrt(Dh)).astype(dtype),
        biases=tuple((scale * rng.standard_normal(G)).astype(dtype) for _ in range(n_biases)),
        dH=rng.standard_normal((N, T, Dh)).astype(dtype),
    )


def lstm_problem(N, T, D, Dh, seed, scale=1.0, dtype=np.float64):
    return gated_problem(N, T, D, Dh, seed, 4, 1, scale, dtype)


def gru_problem(N, T, D, Dh, seed, scale=1.0, dtype=np.float64):
    return gated_problem(N, T, D, Dh, seed, 3, 2, scale, dtype)


def assert_all_close(ours, theirs, tol, what="", floor=1e-8):
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, f"{what}[{i}]"
        error = nr.rel_error(a, b, floor=floor)
        assert error < tol, f"{what}[{i}]: {error}"


def fd_grads(forward, inputs, dH):
    """Central differences of sum(dH * forward(*inputs)[0]) with respect to every input."""
    return [nr.numerical_gradient(lambda _: forward(*inputs)[0], a, dH) for a in inputs]


# Three-way agreement, float64.


@SETTINGS
@given(shape=shapes, seed=seeds, scale=scales)
def test_lstm_agrees_with_torch_autograd_and_finite_differences(shape, seed, scale):
    p = lstm_problem(*shape, seed, scale)
    inputs = p.lstm_inputs()
    H_np, cache_np = nr.lstm_forward(*inputs)
    H_torch, cache_torch = tr.lstm_forward(*inputs)
    assert_all_close([H_np, cache_np.C], [H_torch, cache_torch.C], FWD_TOL, "H, C")
    grads_np = nr.lstm_backward(p.dH, cache_np)
    assert_all_close(grads_np, tr.lstm_backward(p.dH, cache_torch), GRAD_TOL, "LSTM grads")
    names = ["dX", "dh0", "dc0", "dW_x", "dW_h", "db"]
    for name, g, numeric in zip(
        names, grads_np, fd_grads(nr.lstm_forward, inputs, p.dH), strict=True
    ):
        assert fd_error(g, numeric) < GRAD_TOL, name


@SETTINGS
@given(shape=shapes, seed=seeds, scale=scales)
def test_gru_agrees_with_torch_autograd_and_finite_differences(shape, seed, scale):
    p = gru_problem(*shape, seed, scale)
    inputs = p.gru_inputs()
    H_np, cache_np = nr.gru_forward(*inputs)
    H_torch, cache_torch = tr.gru_forward(*inputs)
    assert_all_close([H_np], [H_torch], FWD_TOL, "H")
    grads_np = nr.gru_backward(p.dH, cache_np)
    assert_all_close(grads_np, tr.gru_backward(p.dH, cache_torch), GRAD_TOL, "GRU grads")
    names = ["dX", "dh0", "dW_x", "dW_h", "db_x", "db_h"]
    for name, g, numeric in zip(
        names, grads_np, fd_grads(nr.gru_forward, inputs, p.dH), strict=True
    ):
        assert fd_error(g, numeric) < GRAD_TOL, name


# The documented correspondence with the stock modules, with PyTorch's own initialisation and
# both biases non-zero: transposed weights, and for the LSTM the sum of the two biases.


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_torch_nn_lstm_weights_transposed_give_the_same_states_and_gradients(shape, seed):
    N, T, D, Dh = shape
    torch.manual_seed(seed % 2**31)
    lstm = nn_module(torch.nn.LSTM, D, Dh)
    with torch.no_grad():
        lstm.bias_hh_l0.normal_()  # PyTorch's init is small; make the sum of biases matter
    rng = np.random.default_rng(seed)
    X, h0, c0 = (rng.standard_normal(s) for s in [(N, T, D), (N, Dh), (N, Dh)])
    dH = rng.standard_normal((N, T, Dh))
    W_x = lstm.weight_ih_l0.detach().numpy().T
    W_h = lstm.weight_hh_l0.detach().numpy().T
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy()
    H_np, cache = nr.lstm_forward(X, h0, c0, W_x, W_h, b)

    X_t = torch.tensor(X, requires_grad=True)
    h0_t, c0_t = (torch.tensor(a[None], requires_grad=True) for a in (h0, c0))
    H_t, (h_n, c_n) = lstm(X_t, (h0_t, c0_t))
    H_t.backward(torch.tensor(dH))
    assert_all_close([H_np], [H_t.detach().numpy()], FWD_TOL, "H")
    assert_all_close(
        [H_np[:, -1], cache.C[:, -1]], [h_n[0].detach().numpy(), c_n[0].detach().numpy()], FWD_TOL
    )
    module_grads = [
        X_t.grad.numpy(),
        h0_t.grad[0].numpy(),
        c0_t.grad[0].numpy(),
        lstm.weight_ih_l0.grad.numpy().T,
        lstm.weight_hh_l0.grad.numpy().T,
        lstm.bias_hh_l0.grad.numpy(),
    ]
    assert_all_close(nr.lstm_backward(dH, cache), module_grads, GRAD_TOL, "nn.LSTM grads")


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_torch_nn_gru_weights_transposed_give_the_same_states_and_gradients(shape, seed):
    N, T, D, Dh = shape
    torch.manual_seed(seed % 2**31)
    gru = nn_module(torch.nn.GRU, D, Dh)
    with torch.no_grad():
        gru.bias_hh_l0.normal_()
    rng = np.random.default_rng(seed)
    X, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, Dh))
    dH = rng.standard_normal((N, T, Dh))
    params = [
        gru.weight_ih_l0.detach().numpy().T,
        gru.weight_hh_l0.detach().numpy().T,
        gru.bias_ih_l0.detach().numpy(),
        gru.bias_hh_l0.detach().numpy(),
    ]
    H_np, cache = nr.gru_forward(X, h0, *params)
    X_t, h0_t = torch.tensor(X, requires_grad=True), torch.tensor(h0[None], requires_grad=True)
    H_t, h_n = gru(X_t, h0_t)
    H_t.backward(torch.tensor(dH))
    assert_all_close([H_np, H_np[:, -1]], [H_t.detach().numpy(), h_n[0].detach().numpy()], FWD_TOL)
    module_grads = [
        X_t.grad.numpy(),
        h0_t.grad[0].numpy(),
        gru.weight_ih_l0.grad.numpy().T,
        gru.weight_hh_l0.grad.numpy().T,
        gru.bias_ih_l0.grad.numpy(),
        gru.bias_hh_l0.grad.numpy(),
    ]
    assert_all_close(nr.gru_backward(dH, cache), module_grads, GRAD_TOL, "nn.GRU grads")


def nn_module(kind, D, Dh):
    return kind(D, Dh, batch_first=True, dtype=torch.float64)


def test_gru_biases_are_not_interchangeable():
    # b_hn sits inside the reset gate's product, so moving it into b_x changes H: the reason the
    # GRU keeps PyTorch's two biases where the LSTM has one.
    p = gru_problem(2, 4, 3, 5, seed=3)
    b_x, b_h = p.biases
    Dh = 5
    moved_x, moved_h = b_x.copy(), b_h.copy()
    moved_x[2 * Dh :] += b_h[2 * Dh :]
    moved_h[2 * Dh :] = 0
    H, _ = nr.gru_forward(p.X, p.h0, p.W_x, p.W_h, b_x, b_h)
    H_moved, _ = nr.gru_forward(p.X, p.h0, p.W_x, p.W_h, moved_x, moved_h)
    assert nr.rel_error(H, H_moved) > 1e-3
    # ... while the reset and update blocks only ever see b_x + b_h.
    shifted_x, shifted_h = b_x.copy(), b_h.copy()
    shifted_x[: 2 * Dh] += b_h[: 2 * Dh]
    shifted_h[: 2 * Dh] = 0
    H_shifted, _ = nr.gru_forward(p.X, p.h0, p.W_x, p.W_h, shifted_x, shifted_h)
    assert nr.rel_error(H, H_shifted) < 1e-14


# Caches are interchangeable between the two references.


def test_caches_are_interchangeable_between_numpy_and_torch():
    p = lstm_problem(2, 3, 3, 4, seed=5)
    _, cache_np = nr.lstm_forward(*p.lstm_inputs())
    _, cache_torch = tr.lstm_forward(*p.lstm_inputs())
    assert_all_close(
        nr.lstm_backward(p.dH, cache_torch), tr.lstm_backward(p.dH, cache_np), GRAD_TOL
    )
    q = gru_problem(2, 3, 3, 4, seed=6)
    _, cache_np = nr.gru_forward(*q.gru_inputs())
    _, cache_torch = tr.gru_forward(*q.gru_inputs())
    assert_all_close(nr.gru_backward(q.dH, cache_torch), tr.gru_backward(q.dH, cache_np), GRAD_TOL)


# The cell state is an additive path: one step multiplies its gradient by the forget gate.


@SETTINGS
@given(shape=shapes, seed=seeds)
def test_cell_state_gradient_is_the_product_of_forget_gates(shape, seed):
    # With W_h = 0 the only way from C_T back to c0 is the cell state itself, so
    # dL/dc0 = dL/dC_T * F_T * ... * F_1, with dL/dC_T = dH_T * O_T * (1 - tanh(C_T)^2).
    N, T, D, Dh = shape
    p = lstm_problem(N, T, D, Dh, seed)
    W_h = np.zeros_like(p.W_h)
    dH = np.zeros_like(p.dH)
    dH[:, -1] = p.dH[:, -1]
    _, cache = nr.lstm_forward(p.X, p.h0, p.c0, p.W_x, W_h, *p.biases)
    gates = p.X @ p.W_x + p.biases[0]  # (N, T, 4Dh): no recurrent part
    sig = 1 / (1 + np.exp(-gates))
    F, O = sig[..., Dh : 2 * Dh], sig[..., 3 * Dh :]
    dC_T = dH[:, -1] * O[:, -1] * (1 - np.tanh(cache.C[:, -1]) ** 2)
    expected = dC_T * np.prod(F, axis=1)
    dc0 = nr.lstm_backward(dH, cache)[2]
    assert nr.rel_error(dc0, expected) < 1e-12


# float32 in, float32 out, close to float64.


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_float32_inputs_give_float32_results_close_to_float64(kind):
    make, fwd, bwd, inputs = {
        "lstm": (lstm_problem, "lstm_forward", "lstm_backward", "lstm_inputs"),
        "gru": (gru_problem, "gru_forward", "gru_backward", "gru_inputs"),
    }[kind]
    for seed in range(5):
        p64 = make(3, 5, 4, 6, seed)
        p32 = make(3, 5, 4, 6, seed, dtype=np.float32)
        for ref in (nr, tr):
            H64, c64 = getattr(ref, fwd)(*getattr(p64, inputs)())
            H32, c32 = getattr(ref, fwd)(*getattr(p32, inputs)())
            assert H32.dtype == np.float32
            assert nr.rel_error(H32, H64) < F32_FWD_TOL
            g64 = getattr(ref, bwd)(p64.dH, c64)
            g32 = getattr(ref, bwd)(p32.dH, c32)
            for a, b in zip(g32, g64, strict=True):
                assert a.dtype == np.float32
                assert nr.rel_error(a, b, floor=F32_FLOOR) < F32_GRAD_TOL


# Validation: the same messages from both references.

_l = lstm_problem(2, 3, 3, 5, seed=0)
_g = gru_problem(2, 3, 3, 5, seed=0)


def _lstm(ref, **change):
    args = dict(X=_l.X, h0=_l.h0, c0=_l.c0, W_x=_l.W_x, W_h=_l.W_h, b=_l.biases[0]) | change
    return ref.lstm_forward(**args)


def _gru(ref, **change):
    b_x, b_h = _g.biases
    args = dict(X=_g.X, h0=_g.h0, W_x=_g.W_x, W_h=_g.W_h, b_x=b_x, b_h=b_h) | change
    return ref.gru_forward(**args)


GATED_VALIDATION_CASES = [
    (
        "LSTM W_x transposed",
        lambda r: _lstm(r, W_x=_l.W_x.T),
        "W_x must have shape (D, 4Dh) = (3, 20), got (20, 3) (D from X, 4Dh from W_h)",
    ),
    (
        "LSTM W_h with three gate blocks",
        lambda r: _lstm(r, W_h=_l.W_h[:, :15]),
        "W_h must have shape (Dh, 4Dh) = (5, 20), got (5, 15)",
    ),
    (
        "LSTM b of one gate",
        lambda r: _lstm(r, b=_l.biases[0][:5]),
        "b must have shape (4Dh,) = (20,), got (5,) (4Dh from W_h)",
    ),
    (
        "LSTM c0 wrong width",
        lambda r: _lstm(r, c0=np.zeros((2, 4))),
        "c0 must have shape (N, Dh) = (2, 5), got (2, 4) (N from X, Dh from W_h)",
    ),
    (
        "LSTM dH of the wrong width",
        lambda r: r.lstm_backward(np.zeros((2, 3, 4)), _lstm(r)[1]),
        "dH must have shape (N, T, Dh) = (2, 3, 5), got (2, 3, 4) (N, T, Dh from the cache)",
    ),
    (
        "GRU given LSTM-sized W_h",
        lambda r: _gru(r, W_h=_l.W_h),
        "W_h must have shape (Dh, 3Dh) = (5, 15), got (5, 20)",
    ),
    (
        "GRU b_h of one gate",
        lambda r: _gru(r, b_h=_g.biases[1][:5]),
        "b_h must have shape (3Dh,) = (15,), got (5,) (3Dh from W_h)",
    ),
    (
        "GRU h0 wrong batch",
        lambda r: _gru(r, h0=np.zeros((3, 5))),
        "h0 must have shape (N, Dh) = (2, 5), got (3, 5) (N from X, Dh from W_h)",
    ),
]


@pytest.mark.parametrize("ref", [nr, tr], ids=["numpy", "torch"])
@pytest.mark.parametrize(
    "call, message",
    [c[1:] for c in GATED_VALIDATION_CASES],
    ids=[c[0] for c in GATED_VALIDATION_CASES],
)
def test_malformed_gated_calls_raise_value_error_naming_argument_and_shapes(ref, call, message):
    with pytest.raises(ValueError) as err:
        call(ref)
    assert str(err.value) == message


def test_backward_rejects_a_cache_of_the_other_cell():
    _, gru_cache = _gru(nr)
    with pytest.raises(TypeError, match="LSTMCache"):
        nr.lstm_backward(np.zeros((2, 3, 5)), gru_cache)
