"""Wrong versions of the course's functions, for naming a learner's mistake.

Each function computes what a typical wrong implementation outputs; keyword switches select
the slip (``bias=False``: the bias left out). With every switch at its default, a function here
computes the right answer, which is what lets the tests check that each switch changes exactly
one thing. The declarations in ``solutions/<NN_topic>/checks.py`` turn these into catalogues of
:class:`~.spec.Mistake` with words for the learner.

Inputs that a slip cannot apply to (a transposed matrix that is not square) raise ValueError,
as NumPy's matmul does; the diagnosis then skips that case.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def relu(a):
    return np.maximum(a, 0.0)


def identity(a):
    return a


def _square(name: str, M: np.ndarray) -> None:
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} is not square")


# --------------------------------------------------------------------------------------------
# Forward


def cell(
    x,
    h_prev,
    W_xh,
    W_hh,
    b_h,
    *,
    act=np.tanh,
    bias=True,
    bias_outside=False,
    use_x=True,
    use_h=True,
    transpose_W_xh=False,
    transpose_W_hh=False,
    swap_weights=False,
):
    """One RNN step with a slip: ``act(x W_xh + h_prev W_hh + b_h)`` when nothing is switched."""
    if transpose_W_xh:
        _square("W_xh", W_xh)
        W_xh = W_xh.T
    if transpose_W_hh:
        W_hh = W_hh.T
    if swap_weights:
        if W_xh.shape != W_hh.shape:
            raise ValueError("W_xh and W_hh have different shapes")
        W_xh, W_hh = W_hh, W_xh
    a = (x @ W_xh if use_x else 0) + (h_prev @ W_hh if use_h else 0)
    if bias and not bias_outside:
        a = a + b_h
    h = act(a)
    if bias and bias_outside:
        h = h + b_h
    return np.broadcast_to(h, (x.shape[0], W_hh.shape[0])).copy()


def sequence(X, h0, W_xh, W_hh, b_h, *, carry=True, zero_h0=False, shift=False, **slip):
    """The states of a whole sequence with a slip.

    ``carry=False``: every step reads h0 instead of the previous state; ``zero_h0``: starts from
    zeros; ``shift``: H[:, t] holds the state *before* step t. Other switches go to :func:`cell`.
    """
    N, T, _ = X.shape
    h = np.zeros_like(h0) if zero_h0 else h0
    states = []
    for t in range(T):
        before = h
        h_new = cell(
            X[:, t], h if carry else (np.zeros_like(h0) if zero_h0 else h0), W_xh, W_hh, b_h, **slip
        )
        states.append(before if shift else h_new)
        h = h_new
    return np.stack(states, axis=1)


def output(H, W_hq, b_q, *, bias=True, transpose=False, softmax=False, last_only=False):
    """``H W_hq + b_q`` with a slip."""
    if transpose:
        _square("W_hq", W_hq)
        W_hq = W_hq.T
    O = H @ W_hq + (b_q if bias else 0)
    if softmax:
        e = np.exp(O - O.max(axis=-1, keepdims=True))
        O = e / e.sum(axis=-1, keepdims=True)
    if last_only:
        O = O[:, -1]
    return O


# --------------------------------------------------------------------------------------------
# Backward


def cell_backward(
    dh_next,
    x,
    h_prev,
    h_next,
    W_xh,
    W_hh,
    *,
    tanh_grad="h_next",
    transpose_back=True,
    sum_db=True,
    dW_order="x.T @ da",
):
    """Backward pass of one step with a slip.

    ``tanh_grad``: "h_next" (right), "none" (tanh' left out), "h_prev" (1 - h_prev^2),
    "tanh" (1 - tanh(h_next)^2, as if h_next were the pre-activation).
    ``transpose_back=False``: dx = da W_xh and dh_prev = da W_hh (no transpose).
    ``sum_db=False``: db_h not summed over the batch. ``dW_order="da.T @ x"``: transposed
    weight gradients.
    """
    factor = {
        "h_next": 1 - h_next**2,
        "none": 1.0,
        "h_prev": 1 - h_prev**2,
        "tanh": 1 - np.tanh(h_next) ** 2,
    }[tanh_grad]
    da = dh_next * factor
    if transpose_back:
        dx, dh_prev = da @ W_xh.T, da @ W_hh.T
    else:
        _square("W_xh", W_xh)
        dx, dh_prev = da @ W_xh, da @ W_hh
    if dW_order == "x.T @ da":
        dW_xh, dW_hh = x.T @ da, h_prev.T @ da
    else:
        dW_xh, dW_hh = (da.T @ x), (da.T @ h_prev)
        _square("dW_xh", dW_xh)
    db_h = da.sum(axis=0) if sum_db else da
    return dx, dh_prev, dW_xh, dW_hh, db_h


def sequence_backward(
    dH,
    X,
    h0,
    H,
    W_xh,
    W_hh,
    *,
    carry=True,
    last_only=False,
    accumulate=True,
    reverse=True,
    tanh_grad="h_next",
    h_prev_from_H=True,
    k=None,
    windows=False,
):
    """BPTT with a slip; returns (dX, dh0, dW_xh, dW_hh, db_h).

    ``carry=False``: dh_next is not carried back (each step sees only dH[:, t]).
    ``last_only``: only the loss at the last step, dH[:, -1], is back-propagated.
    ``accumulate=False``: weight gradients overwritten at each step, so only step 0's remains.
    ``reverse=False``: steps visited from 0 to T-1 while carrying dh_next.
    ``h_prev_from_H=False``: dW_hh computed with H[:, t] instead of the previous state.
    ``k``: truncated BPTT (the reference's per-loss truncation) when ``windows`` is False; with
    ``windows``, the sequence is cut into windows of k steps with no gradient between them.
    ``k`` with every other switch at its default gives the right truncated gradients.
    """
    N, T, D = X.shape
    Hn = W_hh.shape[0]
    dX, dh0 = np.zeros((N, T, D)), np.zeros((N, Hn))
    dW_xh, dW_hh, db_h = np.zeros_like(W_xh), np.zeros_like(W_hh), np.zeros(Hn)
    if last_only:
        dH = np.concatenate([np.zeros_like(dH[:, :-1]), dH[:, -1:]], axis=1)

    def step(t, dh):
        h_prev = (h0 if t == 0 else H[:, t - 1]) if h_prev_from_H else H[:, t]
        return cell_backward(dh, X[:, t], h_prev, H[:, t], W_xh, W_hh, tanh_grad=tanh_grad)

    def add(t, grads):
        nonlocal dW_xh, dW_hh, db_h
        dx, _, g_xh, g_hh, g_b = grads
        dX[:, t] += dx
        if accumulate:
            dW_xh, dW_hh, db_h = dW_xh + g_xh, dW_hh + g_hh, db_h + g_b
        else:
            dW_xh, dW_hh, db_h = g_xh, g_hh, g_b

    if k is not None and not windows:
        for t in range(T):
            dh = dH[:, t]
            for s in range(t, max(t - k, -1), -1):
                grads = step(s, dh)
                add(s, grads)
                dh = grads[1]
            if t < k:
                dh0 = dh0 + dh
        return dX, dh0, dW_xh, dW_hh, db_h
    if k is not None:
        starts = range(0, T, k)
        for start in reversed(list(starts)):
            dh_next = np.zeros((N, Hn))
            for t in reversed(range(start, min(start + k, T))):
                grads = step(t, dH[:, t] + dh_next)
                add(t, grads)
                dh_next = grads[1]
            if start == 0:
                dh0 = dh_next
        return dX, dh0, dW_xh, dW_hh, db_h
    order = reversed(range(T)) if reverse else range(T)
    dh_next = np.zeros((N, Hn))
    for t in order:
        grads = step(t, dH[:, t] + (dh_next if carry else 0))
        add(t, grads)
        dh_next = grads[1]
    return dX, dh_next, dW_xh, dW_hh, db_h
