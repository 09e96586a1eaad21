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


# --------------------------------------------------------------------------------------------
# Gradient checking and gradient norms


def numerical_gradient(f, x, df, h=1e-5, *, scheme="central", divisor=None, use_df=True, copy=True):
    """Finite differences with a slip (works on a copy of x, which it never needs to restore).

    ``scheme="forward"``: (f(x + h) - f(x)) / (divisor h), with divisor 1 or 2; ``divisor=1``
    with the central scheme: divided by h instead of 2h; ``use_df=False``: the gradient of sum(f) instead of sum(df * f);
    ``copy=False``: f(x + h) kept without a copy, so an f that returns a view of x goes wrong.
    """
    if divisor is None:
        divisor = 2 if scheme == "central" else 1
    x = np.array(x, dtype=float, copy=True)
    grad = np.zeros_like(x)
    weight = np.asarray(df) if use_df else 1.0
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        plus = np.array(plus, copy=True) if copy else plus
        x[i] = old - h if scheme == "central" else old
        minus = np.array(f(x), copy=True)
        x[i] = old
        step = (divisor * h) if scheme == "central" else h * divisor
        grad[i] = np.sum((np.asarray(plus) - minus) * weight) / step
    return grad


def hidden_grad_norms(
    X, h0, W_xh, W_hh, b_h, *, tanh_grad=True, reverse_order=False, squared=False, carry=True
):
    """Norms of dL/dH_t for L = sum(H[:, -1]) with a slip.

    ``tanh_grad=False``: the gradient multiplied by W_hh.T only; ``reverse_order``: the norms
    listed from the last step to the first; ``squared``: squared norms; ``carry=False``: only
    the direct gradient (ones at the last step, zeros elsewhere).
    """
    H = sequence(X, h0, W_xh, W_hh, b_h)
    T = X.shape[1]
    norms = np.zeros(T)
    dh = np.ones(H[:, -1].shape)
    norms[-1] = np.linalg.norm(dh)
    for t in range(T - 1, 0, -1):
        if carry:
            dh = (dh * ((1 - H[:, t] ** 2) if tanh_grad else 1.0)) @ W_hh.T
        else:
            dh = np.zeros_like(dh)
        norms[t - 1] = np.linalg.norm(dh)
    if squared:
        norms = norms**2
    return norms[::-1] if reverse_order else norms


# --------------------------------------------------------------------------------------------
# Bidirectional


def birnn_forward(
    X,
    h0_f,
    h0_b,
    params_f,
    params_b,
    *,
    reverse_input=True,
    reverse_output=True,
    order="fb",
    same_params=False,
    swap_h0=False,
):
    """Bidirectional forward with a slip.

    ``reverse_input=False``: the backward RNN reads X forwards; ``reverse_output=False``: its
    states left in reversed time order; ``order="bf"``: halves swapped; ``same_params``: the
    forward parameters used for both; ``swap_h0``: the two initial states swapped.
    """
    if swap_h0:
        h0_f, h0_b = h0_b, h0_f
    if same_params:
        params_b = params_f
    H_f = sequence(X, h0_f, *params_f)
    H_b = sequence(X[:, ::-1] if reverse_input else X, h0_b, *params_b)
    if reverse_output:
        H_b = H_b[:, ::-1]
    halves = [H_f, H_b] if order == "fb" else [H_b, H_f]
    return np.concatenate(halves, axis=-1)


def birnn_backward(
    dH,
    X,
    h0_f,
    h0_b,
    params_f,
    params_b,
    *,
    reverse=True,
    reverse_dX=True,
    sum_dX=True,
    swap_halves=False,
):
    """Bidirectional backward with a slip.

    ``reverse=False``: the backward RNN treated as a forward one (no time reversal anywhere);
    ``reverse_dX=False``: its dX not reversed back; ``sum_dX=False``: dX of the forward
    direction only; ``swap_halves``: dH[..., :H] given to the backward RNN and vice versa.
    """
    Hn = dH.shape[-1] // 2
    dH_f, dH_b = dH[..., :Hn], dH[..., Hn:]
    if swap_halves:
        dH_f, dH_b = dH_b, dH_f
    H_f = sequence(X, h0_f, *params_f)
    dX_f, dh0_f, *g_f = sequence_backward(dH_f, X, h0_f, H_f, *params_f[:2])
    X_b = X[:, ::-1] if reverse else X
    H_b = sequence(X_b, h0_b, *params_b)
    dX_b, dh0_b, *g_b = sequence_backward(
        dH_b[:, ::-1] if reverse else dH_b, X_b, h0_b, H_b, *params_b[:2]
    )
    if reverse and reverse_dX:
        dX_b = dX_b[:, ::-1]
    dX = dX_f + dX_b if sum_dX else dX_f
    return dX, dh0_f, dh0_b, tuple(g_f), tuple(g_b)


# --------------------------------------------------------------------------------------------
# Clipping


def clip_grad_norm(
    grads, max_norm, *, scope="global", eps=1e-6, always_scale=False, norm_after=False, norm="l2"
):
    """Norm clipping with a slip; returns (clipped, total_norm).

    ``scope="array"``: each array clipped to max_norm on its own; ``scope="element"``: every
    entry clamped to [-max_norm, max_norm] (value clipping); ``always_scale``: scaled to
    max_norm even when the norm is already below it; ``norm_after``: the norm after clipping
    returned; ``norm="sum"``: the norms of the arrays added instead of combined in quadrature.
    """
    arrays = [np.asarray(g, dtype=float) for g in grads]
    norms = [float(np.linalg.norm(g.ravel())) for g in arrays]
    total = float(np.sqrt(sum(n**2 for n in norms))) if norm == "l2" else float(sum(norms))
    if scope == "element":
        clipped = [np.clip(g, -max_norm, max_norm) for g in arrays]
    elif scope == "array":
        clipped = [g * min(1.0, max_norm / (n + eps)) for g, n in zip(arrays, norms, strict=True)]
    else:
        coef = max_norm / (total + eps)
        clipped = [g * (coef if always_scale or coef < 1 else 1.0) for g in arrays]
    if norm_after:
        total = float(np.sqrt(sum(np.sum(g**2) for g in clipped)))
    return clipped, total


def clip_grad_value(grads, clip_value, *, scheme="both"):
    """Value clipping with a slip: ``scheme`` "upper" (np.minimum only), "norm" (global-norm
    clipping instead), "zero" (entries beyond the bound set to 0)."""
    arrays = [np.asarray(g, dtype=float) for g in grads]
    if scheme == "upper":
        return [np.minimum(g, clip_value) for g in arrays]
    if scheme == "norm":
        return clip_grad_norm(arrays, clip_value)[0]
    if scheme == "zero":
        return [np.where(np.abs(g) > clip_value, 0.0, g) for g in arrays]
    return [np.clip(g, -clip_value, clip_value) for g in arrays]


# --------------------------------------------------------------------------------------------
# Character RNN


def _softmax(O):
    e = np.exp(O - O.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def char_rnn_loss(
    params,
    inputs,
    targets,
    h_prev,
    *,
    mean_over_time=False,
    mean_over_batch=True,
    use_h_prev=True,
    h_last="last",
    carry=True,
    output_grad_last_only=False,
):
    """Loss, gradients and last state of the char-RNN with a slip.

    ``mean_over_time``: loss (and gradients) divided by T as well; ``mean_over_batch=False``:
    summed over the windows; ``use_h_prev=False``: the window starts from zeros;
    ``h_last="prev"``: h_prev returned unchanged; ``carry=False``: dh_next not carried back;
    ``output_grad_last_only``: dW_hq and db_q from the last step only.
    """
    inputs, targets, h_prev = np.atleast_2d(inputs), np.atleast_2d(targets), np.atleast_2d(h_prev)
    W_xh, W_hh, b_h, W_hq, b_q = (params[k] for k in ("W_xh", "W_hh", "b_h", "W_hq", "b_q"))
    N, T = inputs.shape
    V = W_xh.shape[0]
    X = (inputs[..., None] == np.arange(V)).astype(float)
    h0 = h_prev if use_h_prev else np.zeros_like(h_prev, dtype=float)
    H = sequence(X, h0, W_xh, W_hh, b_h)
    P = _softmax(H @ W_hq + b_q)
    rows, steps = np.indices(targets.shape)
    scale = N if mean_over_batch else 1
    scale *= T if mean_over_time else 1
    loss = -np.log(P[rows, steps, targets]).sum() / scale
    dO = P.copy()
    dO[rows, steps, targets] -= 1
    dO /= scale
    if output_grad_last_only:
        dW_hq, db_q = H[:, -1].T @ dO[:, -1], dO[:, -1].sum(axis=0)
    else:
        dW_hq, db_q = H.reshape(N * T, -1).T @ dO.reshape(N * T, -1), dO.sum(axis=(0, 1))
    dH = dO @ W_hq.T
    _, _, dW_xh, dW_hh, db_h = sequence_backward(dH, X, h0, H, W_xh, W_hh, carry=carry)
    grads = {"W_xh": dW_xh, "W_hh": dW_hh, "b_h": db_h, "W_hq": dW_hq, "b_q": db_q}
    last = H[:, -1] if h_last == "last" else h_prev
    return float(loss), grads, np.array(last, dtype=float)


def sample(
    params,
    h,
    seed_ix,
    n,
    temperature,
    rng,
    *,
    feed_back=True,
    temper="divide",
    carry=True,
    greedy=False,
):
    """Characters sampled with a slip (``rng`` a NumPy generator, drawn from once per step).

    ``feed_back=False``: the seed character is read at every step; ``temper``: "ignore" or
    "multiply" the temperature; ``carry=False``: the state restarts from h at every step;
    ``greedy``: the most likely character instead of a draw.
    """
    W_xh, W_hh, b_h, W_hq, b_q = (params[k] for k in ("W_xh", "W_hh", "b_h", "W_hq", "b_q"))
    V = W_xh.shape[0]
    h0 = np.asarray(h, dtype=float).reshape(1, -1)
    state, ix = h0, int(seed_ix)
    out = np.zeros(int(n), dtype=np.int64)
    for i in range(int(n)):
        x = np.zeros((1, V))
        x[0, ix if feed_back else int(seed_ix)] = 1
        state = np.tanh(x @ W_xh + (state if carry else h0) @ W_hh + b_h)
        o = (state @ W_hq + b_q)[0]
        o = {"divide": o / temperature, "ignore": o, "multiply": o * temperature}[temper]
        p = _softmax(o)
        ix = int(np.argmax(p)) if greedy else int(rng.choice(V, p=p))
        out[i] = ix
    return out
