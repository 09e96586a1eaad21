"""Shared inputs for the reference-library tests: random problems, hypothesis strategies, and the
table of malformed calls that must raise ValueError. Imports no torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from autograder.reference import numpy_rnn

# Finite differences with h = 1e-5 in float64 resolve a gradient entry to about 1e-10 absolute
# (round-off ~ eps / h, truncation ~ h^2 f'''). An array whose entries are all far below 1 -- a
# gradient vanishing through saturated tanh units -- is therefore compared at a floor of 1e-3, i.e.
# to 1e-9 absolute at the 1e-6 tolerance, instead of relatively to its own tiny scale.
FD_FLOOR = 1e-3
FWD_TOL = 1e-7  # forward values, float64
GRAD_TOL = 1e-6  # gradients, float64

# float32 against float64 (the tolerances documented in numpy_rnn), for unit-scale inputs. In
# float32, tanh' = 1 - h^2 is computed from a rounded h, so small gradients are known only to
# ~1e-7 absolute: they are compared at the same floor as finite differences.
F32_FWD_TOL = 1e-5
F32_GRAD_TOL = 1e-4
F32_FLOOR = 1e-3


def fd_error(analytic, numeric) -> float:
    return numpy_rnn.rel_error(analytic, numeric, floor=FD_FLOOR)


@dataclass
class RNNProblem:
    X: np.ndarray
    h0: np.ndarray
    W_xh: np.ndarray
    W_hh: np.ndarray
    b_h: np.ndarray
    dH: np.ndarray

    @property
    def params(self):
        return self.W_xh, self.W_hh, self.b_h


def rnn_problem(N, T, D, H, seed, scale=1.0, dtype=np.float64) -> RNNProblem:
    """Random RNN inputs. ``scale`` multiplies inputs and weights: at 1 most units sit in tanh's
    linear range; at 3 most are saturated."""
    rng = np.random.default_rng(seed)
    return RNNProblem(
        X=(scale * rng.standard_normal((N, T, D))).astype(dtype),
        h0=np.tanh(rng.standard_normal((N, H))).astype(dtype),
        W_xh=(scale * rng.standard_normal((D, H)) / np.sqrt(D)).astype(dtype),
        W_hh=(scale * rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype),
        b_h=(scale * rng.standard_normal(H)).astype(dtype),
        dH=rng.standard_normal((N, T, H)).astype(dtype),
    )


# Shapes include the edges: N = 1, T = 1, D = 1, H = 1, and D != H most of the time.
shapes = st.tuples(
    st.integers(1, 3),  # N
    st.integers(1, 5),  # T
    st.integers(1, 4),  # D
    st.integers(1, 5),  # H
)
seeds = st.integers(0, 2**32 - 1)
# 0.3: nearly linear; 1: typical; 3: pre-activations of standard deviation ~9, so most units are
# saturated (tanh' < 1e-2) and gradients vanish along some paths.
scales = st.sampled_from([0.3, 1.0, 3.0])


# Malformed calls. Each case builds its call from a reference module (numpy_rnn or torch_rnn), so
# that both oracles are held to the same validation. N=2, T=3, D=3, H=5, Q=7.

N, T, D, H, Q = 2, 3, 3, 5, 7


def _ok():
    p = rnn_problem(N, T, D, H, seed=0)
    rng = np.random.default_rng(1)
    return p, rng.standard_normal((H, Q)), rng.standard_normal(Q)


def _fwd(ref, **change):
    p, _, _ = _ok()
    args = dict(X=p.X, h0=p.h0, W_xh=p.W_xh, W_hh=p.W_hh, b_h=p.b_h) | change
    return ref.rnn_forward(**args)


def _cell(ref, **change):
    p, _, _ = _ok()
    args = dict(x=p.X[:, 0], h_prev=p.h0, W_xh=p.W_xh, W_hh=p.W_hh, b_h=p.b_h) | change
    return ref.rnn_cell_forward(**args)


def _out(ref, **change):
    p, W_hq, b_q = _ok()
    H_all = np.tanh(p.dH)
    args = dict(H=H_all, W_hq=W_hq, b_q=b_q) | change
    return ref.output_forward(**args)


def _xent(ref, O=None, y=None):
    rng = np.random.default_rng(2)
    O = rng.standard_normal((N, T, Q)) if O is None else O
    y = rng.integers(0, Q, (N, T)) if y is None else y
    return ref.softmax_cross_entropy(O, y)


def _bi(ref, **change):
    p, _, _ = _ok()
    args = dict(X=p.X, h0_f=p.h0, h0_b=p.h0, params_f=p.params, params_b=p.params) | change
    return ref.birnn_forward(**args)


_p, _W_hq, _b_q = _ok()

# (id, call(ref), message that must appear in the ValueError)
VALIDATION_CASES = [
    (
        "W_xh transposed",
        lambda r: _fwd(r, W_xh=_p.W_xh.T),
        "W_xh must have shape (D, Dh) = (3, 5), got (5, 3) (D from X, Dh from W_hh)",
    ),
    (
        "W_hh not square",
        lambda r: _fwd(r, W_hh=_p.W_hh[:, :4]),
        "W_hh must have shape (Dh, Dh) = (5, 5), got (5, 4)",
    ),
    (
        "b_h as a row",
        lambda r: _fwd(r, b_h=_p.b_h[None]),
        "b_h must be a 1-D array of shape (Dh,), got a 2-D array of shape (1, 5)",
    ),
    (
        "b_h wrong length",
        lambda r: _fwd(r, b_h=_p.b_h[:4]),
        "b_h must have shape (Dh,) = (5,), got (4,)",
    ),
    (
        "h0 wrong batch",
        lambda r: _fwd(r, h0=np.zeros((3, H))),
        "h0 must have shape (N, Dh) = (2, 5), got (3, 5)",
    ),
    (
        "h0 wrong width",
        lambda r: _fwd(r, h0=np.zeros((N, D))),
        "h0 must have shape (N, Dh) = (2, 5), got (2, 3)",
    ),
    (
        "h0 missing batch axis",
        lambda r: _fwd(r, h0=np.zeros(H)),
        "h0 must be a 2-D array of shape (N, Dh), got a 1-D array of shape (5,)",
    ),
    (
        "X without time axis",
        lambda r: _fwd(r, X=_p.X[:, 0]),
        "X must be a 3-D array of shape (N, T, D), got a 2-D array of shape (2, 3)",
    ),
    ("X complex", lambda r: _fwd(r, X=_p.X + 0j), "X must hold real numbers, got dtype complex128"),
    (
        "cell x wrong width",
        lambda r: _cell(r, x=np.zeros((N, 4))),
        "W_xh must have shape (D, Dh) = (4, 5), got (3, 5)",
    ),
    (
        "cell h_prev wrong batch",
        lambda r: _cell(r, h_prev=np.zeros((1, H))),
        "h_prev must have shape (N, Dh) = (2, 5), got (1, 5)",
    ),
    (
        "cell W_xh transposed",
        lambda r: _cell(r, W_xh=_p.W_xh.T),
        "W_xh must have shape (D, Dh) = (3, 5), got (5, 3)",
    ),
    (
        "cell dh_next wrong shape",
        lambda r: r.rnn_cell_backward(np.zeros((N, 4)), _cell(r)[1]),
        "dh_next must have shape (N, Dh) = (2, 5), got (2, 4)",
    ),
    (
        "dH wrong time length",
        lambda r: r.rnn_backward(np.zeros((N, 4, H)), _fwd(r)[1]),
        "dH must have shape (N, T, Dh) = (2, 3, 5), got (2, 4, 5) (N, T, Dh from the cache)",
    ),
    (
        "dH given as dh (N, H)",
        lambda r: r.rnn_backward(np.zeros((N, H)), _fwd(r)[1]),
        "dH must be a 3-D array of shape (N, T, Dh), got a 2-D array of shape (2, 5)",
    ),
    (
        "k zero",
        lambda r: r.rnn_backward(np.zeros((N, T, H)), _fwd(r)[1], k=0),
        "k must be None or a positive int, got 0",
    ),
    (
        "k float",
        lambda r: r.rnn_backward(np.zeros((N, T, H)), _fwd(r)[1], k=2.0),
        "k must be None or a positive int, got 2.0",
    ),
    (
        "W_hq transposed",
        lambda r: _out(r, W_hq=_W_hq.T),
        "W_hq must have shape (Dh, Q) = (5, 7), got (7, 5)",
    ),
    # b_q defines Q (so that a transposed W_hq is reported as such); the message says so.
    (
        "b_q wrong length",
        lambda r: _out(r, b_q=_b_q[:3]),
        "W_hq must have shape (Dh, Q) = (5, 3), got (5, 7) (Dh from H, Q from b_q)",
    ),
    (
        "dO wrong shape",
        lambda r: r.output_backward(np.zeros((N, T, 6)), _out(r)[1]),
        "dO must have shape (N, T, Q) = (2, 3, 7), got (2, 3, 6)",
    ),
    (
        "y float",
        lambda r: _xent(r, y=np.zeros((N, T))),
        "y must hold integer class indices, got dtype float64",
    ),
    (
        "y out of range",
        lambda r: _xent(r, y=np.full((N, T), Q)),
        "y must hold class indices in [0, 7), got values in [7, 7]",
    ),
    (
        "y negative",
        lambda r: _xent(r, y=np.full((N, T), -1)),
        "y must hold class indices in [0, 7), got values in [-1, -1]",
    ),
    (
        "y wrong shape",
        lambda r: _xent(r, y=np.zeros((N, T + 1), dtype=int)),
        "y must have shape (N, T) = (2, 3), got (2, 4)",
    ),
    (
        "O without time axis",
        lambda r: _xent(r, O=np.zeros((N, Q))),
        "O must be a 3-D array of shape (N, T, Q), got a 2-D array of shape (2, 7)",
    ),
    (
        "birnn params not a triple",
        lambda r: _bi(r, params_f=_p.params[:2]),
        "params_f must be a tuple (W_xh, W_hh, b_h), got 2 items",
    ),
    (
        "birnn backward W_xh transposed",
        lambda r: _bi(r, params_b=(_p.W_xh.T, _p.W_hh, _p.b_h)),
        "params_b W_xh must have shape (D, Dh) = (3, 5), got (5, 3)",
    ),
    (
        "birnn directions of different sizes",
        lambda r: _bi(r, params_b=(_p.W_xh[:, :4], _p.W_hh[:4, :4], _p.b_h[:4])),
        "params_b W_hh must have shape (Dh, Dh) = (5, 5), got (4, 4)",
    ),
    (
        "birnn h0_b wrong width",
        lambda r: _bi(r, h0_b=np.zeros((N, 4))),
        "h0_b must have shape (N, Dh) = (2, 5), got (2, 4)",
    ),
    (
        "birnn dH of one direction",
        lambda r: r.birnn_backward(np.zeros((N, T, H)), _bi(r)[1]),
        "dH must have shape (N, T, 2Dh) = (2, 3, 10), got (2, 3, 5)",
    ),
    (
        "clip_grad_norm negative",
        lambda r: r.clip_grad_norm([np.ones(3)], -1.0),
        "max_norm must be a finite number >= 0, got -1.0",
    ),
    (
        "clip_grad_value negative",
        lambda r: r.clip_grad_value([np.ones(3)], -1.0),
        "clip_value must be a finite number >= 0, got -1.0",
    ),
]
