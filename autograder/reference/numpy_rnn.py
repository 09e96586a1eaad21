"""A vanilla RNN from scratch in NumPy: the grader's first oracle.

Conventions (those of the course text):

* batch first, row vectors: ``H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)``, ``O_t = H_t W_hq + b_q``;
* shapes: ``X (N, T, D)``, ``h0 (N, Dh)``, ``H (N, T, Dh)``, ``O (N, T, Q)``, ``W_xh (D, Dh)``,
  ``W_hh (Dh, Dh)``, ``b_h (Dh,)``, ``W_hq (Dh, Q)``, ``b_q (Q,)``;
* every forward function returns ``(out, cache)``; its backward function takes ``(d_out, cache)``
  and returns the gradients in the order of the forward inputs.

Dtypes: integer inputs become float64; float inputs are computed in the dtype NumPy's promotion
gives them, so all-float32 inputs give float32 outputs and gradients.

Accuracy (measured by the tests with :func:`rel_error`): in float64 this module agrees with
PyTorch to about 1e-15 and with central differences to better than 1e-6, saturated units
included (arrays of vanishing gradients, whose entries are all far below 1, to about 1e-9
absolute: the resolution of central differences). In float32, for unit-scale inputs and T <= 5,
forward values stay within 1e-5 and gradients within 1e-4 of the float64 result (relative to the
largest entry of each array; arrays whose entries are all below 1e-3 are good to ~1e-7
absolute). Saturated units cost float32 more: tanh' is computed as 1 - h^2 from a rounded h,
which loses digits as |h| approaches 1, so with most units saturated expect gradient errors
around 1e-3 to 1e-2. Errors also grow with T, because BPTT multiplies T Jacobians.

Every public function validates its inputs and raises ValueError that names the argument and the
expected and given shapes. Nothing is broadcast or transposed silently: the most common mistake,
a weight passed as ``(Dh, D)`` instead of ``(D, Dh)``, is caught even though NumPy could multiply it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from ._checks import (
    Dims,
    as_float_array,
    check_positive,
    take,
    take_cell_params,
    take_char_params,
    take_gated_params,
    take_targets,
    unpack_params,
)
from .char_data import build_vocab, decode, encode

__all__ = [
    "CellCache",
    "SequenceCache",
    "OutputCache",
    "BiCache",
    "rnn_cell_forward",
    "rnn_cell_backward",
    "rnn_forward",
    "rnn_backward",
    "rnn_tbptt",
    "TBPTTResult",
    "output_forward",
    "output_backward",
    "softmax",
    "softmax_cross_entropy",
    "birnn_forward",
    "birnn_backward",
    "clip_grad_norm",
    "clip_grad_value",
    "numerical_gradient",
    "rel_error",
    "gradient_check",
    "gradient_check_table",
    "one_hot",
    "char_rnn_init",
    "char_rnn_loss",
    "sgd_step",
    "adagrad_step",
    "sample",
    "train_char_rnn",
    "build_vocab",
    "encode",
    "decode",
    "LSTMCache",
    "GRUCache",
    "lstm_forward",
    "lstm_backward",
    "gru_forward",
    "gru_backward",
]


# Caches. Named fields instead of positional tuples so that a backward pass reads like the maths.
# The caches hold only the forward *inputs* and the hidden states, which is all an autograd
# implementation needs to replay the forward pass: torch_rnn's backward functions accept them too.


class CellCache(NamedTuple):
    """What :func:`rnn_cell_backward` needs from one step.

    x: (N, D); h_prev: (N, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,); h_next: (N, Dh).
    ``b_h`` is not needed by the NumPy backward pass (tanh' is computed from ``h_next``); it is
    kept so that the step can be replayed exactly.
    """

    x: np.ndarray
    h_prev: np.ndarray
    W_xh: np.ndarray
    W_hh: np.ndarray
    b_h: np.ndarray
    h_next: np.ndarray


class SequenceCache(NamedTuple):
    """What :func:`rnn_backward` needs: the inputs of :func:`rnn_forward` and its output H.

    X: (N, T, D); h0: (N, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,); H: (N, T, Dh).
    The per-step caches are views into these arrays (see :meth:`step`), not copies.
    """

    X: np.ndarray
    h0: np.ndarray
    W_xh: np.ndarray
    W_hh: np.ndarray
    b_h: np.ndarray
    H: np.ndarray

    def step(self, t: int) -> CellCache:
        """The cache :func:`rnn_cell_forward` would have returned at time step ``t``."""
        h_prev = self.h0 if t == 0 else self.H[:, t - 1]
        return CellCache(self.X[:, t], h_prev, self.W_xh, self.W_hh, self.b_h, self.H[:, t])


class OutputCache(NamedTuple):
    """What :func:`output_backward` needs. H: (N, T, Dh); W_hq: (Dh, Q); b_q: (Q,)."""

    H: np.ndarray
    W_hq: np.ndarray
    b_q: np.ndarray


class BiCache(NamedTuple):
    """What :func:`birnn_backward` needs: one :class:`SequenceCache` per direction.

    ``backward`` holds the *time-reversed* input and the states in reversed time order, exactly
    as :func:`rnn_forward` produced them.
    """

    forward: SequenceCache
    backward: SequenceCache


def _check_cache(name: str, cache, kind: type) -> None:
    if not isinstance(cache, kind):
        raise TypeError(
            f"{name} must be the {kind.__name__} returned by the forward function, "
            f"got {type(cache).__name__}"
        )


# One time step. The private cores do the maths; the public functions validate and delegate, so
# the sequence functions below can call the cores T times without re-validating every step.


def _cell_forward(x, h_prev, W_xh, W_hh, b_h):
    return np.tanh(x @ W_xh + h_prev @ W_hh + b_h)


def _cell_backward(dh_next, cache: CellCache):
    # tanh'(a) = 1 - tanh(a)^2, so the step's own output is all we need to go through tanh.
    da = dh_next * (1 - cache.h_next**2)
    dx = da @ cache.W_xh.T
    dh_prev = da @ cache.W_hh.T
    dW_xh = cache.x.T @ da
    dW_hh = cache.h_prev.T @ da
    db_h = da.sum(axis=0)
    return dx, dh_prev, dW_xh, dW_hh, db_h


def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):
    """One step of a vanilla RNN: ``h_next = tanh(x W_xh + h_prev W_hh + b_h)``.

    Args:
        x: (N, D) inputs at this step.
        h_prev: (N, Dh) hidden state from the previous step.
        W_xh: (D, Dh) input-to-hidden weights.
        W_hh: (Dh, Dh) hidden-to-hidden weights.
        b_h: (Dh,) hidden bias.

    Returns:
        h_next: (N, Dh) new hidden state.
        cache: :class:`CellCache` for :func:`rnn_cell_backward`.
    """
    dims = Dims()
    x = take("x", x, ("N", "D"), dims)
    W_xh, W_hh, b_h = take_cell_params(W_xh, W_hh, b_h, dims)
    h_prev = take("h_prev", h_prev, ("N", "Dh"), dims)
    h_next = _cell_forward(x, h_prev, W_xh, W_hh, b_h)
    return h_next, CellCache(x, h_prev, W_xh, W_hh, b_h, h_next)


def rnn_cell_backward(dh_next, cache: CellCache):
    """Backward pass of :func:`rnn_cell_forward`.

    Args:
        dh_next: (N, Dh) gradient of the loss with respect to ``h_next``.
        cache: :class:`CellCache` from :func:`rnn_cell_forward`.

    Returns:
        dx: (N, D); dh_prev: (N, Dh); dW_xh: (D, Dh); dW_hh: (Dh, Dh); db_h: (Dh,).
    """
    _check_cache("cache", cache, CellCache)
    dims = Dims({"N": cache.h_next.shape[0], "Dh": cache.h_next.shape[1]}, "the cache")
    dh_next = take("dh_next", dh_next, ("N", "Dh"), dims)
    return _cell_backward(dh_next, cache)


# A whole sequence: the step in a loop.


def rnn_forward(X, h0, W_xh, W_hh, b_h):
    """Run a vanilla RNN over a whole sequence, carrying the hidden state from step to step.

    Args:
        X: (N, T, D) input sequences, batch first.
        h0: (N, Dh) initial hidden state.
        W_xh: (D, Dh) input-to-hidden weights.
        W_hh: (Dh, Dh) hidden-to-hidden weights.
        b_h: (Dh,) hidden bias.

    Returns:
        H: (N, T, Dh) hidden state at every step; ``H[:, t]`` is the state after reading ``X[:, t]``.
        cache: :class:`SequenceCache` for :func:`rnn_backward`.
    """
    dims = Dims()
    X = take("X", X, ("N", "T", "D"), dims)
    W_xh, W_hh, b_h = take_cell_params(W_xh, W_hh, b_h, dims)
    h0 = take("h0", h0, ("N", "Dh"), dims)
    return _rnn_forward(X, h0, W_xh, W_hh, b_h)


def _rnn_forward(X, h0, W_xh, W_hh, b_h):
    N, T, _ = X.shape
    dtype = np.result_type(X, h0, W_xh, W_hh, b_h)
    H = np.empty((N, T, W_hh.shape[0]), dtype=dtype)
    h = h0
    for t in range(T):
        h = _cell_forward(X[:, t], h, W_xh, W_hh, b_h)
        H[:, t] = h
    return H, SequenceCache(X, h0, W_xh, W_hh, b_h, H)


def rnn_backward(dH, cache: SequenceCache, k: int | None = None):
    """Backpropagation through time for :func:`rnn_forward`.

    ``dH`` is the gradient of the loss with respect to *every* hidden state, as it comes from the
    layer above (for example :func:`output_backward`); the gradient passed from one step to the
    previous one is computed here.

    Full BPTT (``k=None``) runs the step backward from T-1 down to 0, carrying ``dh_next``: the
    gradient arriving at step t is the upstream ``dH[:, t]`` plus what step t+1 sent back.

    Truncated BPTT (``k`` a positive int): the gradient of the loss at step t passes back through
    at most k steps, t, t-1, ..., t-k+1, and is then dropped. In terms of the chain rule, every
    product of step Jacobians dh_j/dh_{j-1} is cut after k-1 factors for the contributions to
    ``dX`` and the weights, and after k factors for ``dh0``. What is dropped:

    * ``dX[:, s]``, ``dW_xh``, ``dW_hh``, ``db_h`` lose the contribution of the loss at every step
      t >= s + k to step s;
    * ``dh0`` (the gradient that leaves step 0) only collects the losses at steps t < k.

    So ``k=1`` keeps only each step's direct effect, and any ``k >= T`` gives full BPTT (equal to
    ``k=None`` up to floating-point summation order). This is the per-loss truncation studied by
    Williams & Peng (1990), computed directly with one chain of at most k step-backward calls per
    loss (O(T k) calls in all, more than the T of full BPTT: a tool for analysis, not a saving).
    It is a different thing from cutting a long stream into windows and carrying the state
    across them without gradient, which is what :func:`char_rnn_loss` does and what
    :func:`rnn_tbptt` generalises to TBPTT(k1, k2).

    Args:
        dH: (N, T, Dh) upstream gradient on every hidden state.
        cache: :class:`SequenceCache` from :func:`rnn_forward`.
        k: None for full BPTT, or a positive int, the truncation length.

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dW_xh: (D, Dh); dW_hh: (Dh, Dh); db_h: (Dh,).
    """
    _check_cache("cache", cache, SequenceCache)
    N, T, Hdim = cache.H.shape
    dH = take("dH", dH, ("N", "T", "Dh"), Dims({"N": N, "T": T, "Dh": Hdim}, "the cache"))
    if k is None:
        return _rnn_backward_full(dH, cache)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be None or a positive int, got {k!r}")
    return _rnn_backward_truncated(dH, cache, int(k))


def _zero_grads(dH, cache: SequenceCache):
    dtype = np.result_type(dH, cache.X, cache.h0, cache.W_xh, cache.W_hh, cache.H)
    return (
        np.zeros(cache.X.shape, dtype),
        np.zeros(cache.h0.shape, dtype),
        np.zeros(cache.W_xh.shape, dtype),
        np.zeros(cache.W_hh.shape, dtype),
        np.zeros(cache.b_h.shape, dtype),
    )


def _rnn_backward_full(dH, cache: SequenceCache):
    dX, dh0, dW_xh, dW_hh, db_h = _zero_grads(dH, cache)
    dh_next = dh0  # nothing flows back into the last step from the future
    for t in reversed(range(dH.shape[1])):
        dx, dh_next, dW_xh_t, dW_hh_t, db_h_t = _cell_backward(dH[:, t] + dh_next, cache.step(t))
        dX[:, t] = dx
        dW_xh += dW_xh_t
        dW_hh += dW_hh_t
        db_h += db_h_t
    return dX, dh_next, dW_xh, dW_hh, db_h


def _rnn_backward_truncated(dH, cache: SequenceCache, k: int):
    dX, dh0, dW_xh, dW_hh, db_h = _zero_grads(dH, cache)
    # One chain per loss: a single carried dh_next would mix gradients of different ages, and the
    # truncation depends on the age (how many steps the gradient has already travelled).
    for t in range(dH.shape[1]):
        dh = dH[:, t]
        for s in range(t, max(t - k, -1), -1):
            dx, dh, dW_xh_s, dW_hh_s, db_h_s = _cell_backward(dh, cache.step(s))
            dX[:, s] += dx
            dW_xh += dW_xh_s
            dW_hh += dW_hh_s
            db_h += db_h_s
        if t < k:  # the chain went through step 0, so dh is now a gradient on h0
            dh0 += dh
    return dX, dh0, dW_xh, dW_hh, db_h


# Truncated BPTT as it is used in practice: the stream in chunks, the state carried across them.


class TBPTTResult(NamedTuple):
    """What :func:`rnn_tbptt` returns.

    H: (N, T, Dh) every hidden state, as :func:`rnn_forward` computes it.
    dX: (N, T, D); dh0: (N, Dh); dW_xh: (D, Dh); dW_hh: (Dh, Dh); db_h: (Dh,): the gradients of
    all the chunks added up, which is what one update after the whole stream would apply.
    chunks: one ``(dW_xh, dW_hh, db_h)`` per chunk, in order: what a training loop applies after
    each chunk.
    backward_steps: int, the number of step-backward calls executed (the cost of the backward
    passes, in units of one step).
    """

    H: np.ndarray
    dX: np.ndarray
    dh0: np.ndarray
    dW_xh: np.ndarray
    dW_hh: np.ndarray
    db_h: np.ndarray
    chunks: tuple
    backward_steps: int


def _check_window(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_tbptt_args(X, h0, W_xh, W_hh, b_h, dH, k1, k2):
    """Validate the arguments of ``rnn_tbptt`` (shared with ``torch_rnn.rnn_tbptt``).

    Returns the float arrays and the windows: ``X, h0, W_xh, W_hh, b_h, dH, k1, k2``.
    """
    dims = Dims()
    X = take("X", X, ("N", "T", "D"), dims)
    W_xh, W_hh, b_h = take_cell_params(W_xh, W_hh, b_h, dims)
    hidden = next(sym for sym in dims.sizes if sym not in ("N", "T", "D"))  # bound by W_hh
    h0 = take("h0", h0, ("N", hidden), dims)
    dH = take("dH", dH, ("N", "T", hidden), dims)
    k1 = _check_window("k1", k1)
    k2 = k1 if k2 is None else _check_window("k2", k2)
    if k2 < k1:
        raise ValueError(
            f"k2 must be >= k1 (with k2 < k1 the losses of the first k1 - k2 steps of every "
            f"chunk would reach no weight), got k1 = {k1}, k2 = {k2}"
        )
    return X, h0, W_xh, W_hh, b_h, dH, k1, k2


def rnn_tbptt(X, h0, W_xh, W_hh, b_h, dH, k1: int, k2: int | None = None) -> TBPTTResult:
    """Truncated BPTT in chunks, TBPTT(k1, k2): forward k1 steps, then backpropagate k2 steps.

    The stream is read in chunks of ``k1`` steps, carrying the hidden state from one chunk to the
    next. At the end of each chunk (step e, counting steps from 1), the gradient of that chunk's
    losses, ``dH`` at steps e-k1+1..e, is propagated back through the last ``k2`` steps,
    e-k2+1..e (fewer at the start of the stream), and stops there: the loss of every step
    reaches between k2-k1+1 and k2 steps back. A last chunk of m < k1 steps goes back through
    itself and the k2-k1 steps before it, so its losses too reach between k2-k1+1 and k2 steps.
    This is the algorithm of Williams & Peng (1990), called TBPTT(k1, k2) by Sutskever (2013);
    ``k2 = k1`` is the common "windows of k steps, state carried, no gradient across the
    boundary" form.

    Cost: each chunk runs at most k2 step-backwards, so the whole stream costs at most
    ``ceil(T / k1) * k2`` of them, and at most ``T + (chunks - 1) * (k2 - k1)``
    (``backward_steps`` counts them): O(T) for a fixed ratio k2 / k1, and exactly T when k2 = k1, the cost of full
    BPTT. A training loop needs to keep only the last k2 states (this reference keeps all
    of H, to return it). With ``k1 = T`` and ``k2 >= T``, or any k1 with ``k2 >= T``, the summed
    gradients equal full BPTT (:func:`rnn_backward`) up to floating-point summation order.

    The weights are the same for every chunk here (a reference computes gradients; it does not
    update), so ``H`` equals the output of :func:`rnn_forward`.

    Args:
        X: (N, T, D) input stream, batch first.
        h0: (N, Dh) initial hidden state.
        W_xh: (D, Dh) input-to-hidden weights.
        W_hh: (Dh, Dh) hidden-to-hidden weights.
        b_h: (Dh,) hidden bias.
        dH: (N, T, Dh) upstream gradient on every hidden state (from the losses above).
        k1: positive int, the chunk length: steps run forward between two backward passes.
        k2: int >= k1, how many steps each backward pass goes back; None means k2 = k1.

    Returns:
        :class:`TBPTTResult` (H, dX, dh0, dW_xh, dW_hh, db_h, chunks, backward_steps).
    """
    X, h0, W_xh, W_hh, b_h, dH, k1, k2 = check_tbptt_args(X, h0, W_xh, W_hh, b_h, dH, k1, k2)
    N, T, _ = X.shape
    dtype = np.result_type(X, h0, W_xh, W_hh, b_h, dH)
    H = np.empty((N, T, W_hh.shape[0]), dtype=dtype)
    cache = SequenceCache(X, h0, W_xh, W_hh, b_h, H)
    dX, dh0, *_ = _zero_grads(dH, cache)
    chunks = []
    backward_steps = 0
    h = h0
    for start in range(0, T, k1):  # array indices start..end-1 hold the steps of this chunk
        end = min(start + k1, T)
        for t in range(start, end):
            h = _cell_forward(X[:, t], h, W_xh, W_hh, b_h)
            H[:, t] = h
        first = max(start - (k2 - k1), 0)  # the chunk and k2 - k1 steps before it
        dW_xh = np.zeros(W_xh.shape, dtype)
        dW_hh = np.zeros(W_hh.shape, dtype)
        db_h = np.zeros(b_h.shape, dtype)
        dh = np.zeros(h0.shape, dtype)
        for t in reversed(range(first, end)):
            # Steps before `start` belong to earlier chunks: their own losses were counted there.
            upstream = dH[:, t] + dh if t >= start else dh
            dx, dh, dW_xh_t, dW_hh_t, db_h_t = _cell_backward(upstream, cache.step(t))
            dX[:, t] += dx
            dW_xh += dW_xh_t
            dW_hh += dW_hh_t
            db_h += db_h_t
            backward_steps += 1
        if first == 0:  # this backward pass went through step 1, so dh is a gradient on h0
            dh0 += dh
        chunks.append((dW_xh, dW_hh, db_h))
    totals = [np.zeros(p.shape, dtype) for p in (W_xh, W_hh, b_h)]
    for chunk in chunks:
        for total, grad in zip(totals, chunk, strict=True):
            total += grad
    return TBPTTResult(H, dX, dh0, *totals, tuple(chunks), backward_steps)


# Output layer and loss.


def output_forward(H, W_hq, b_q):
    """Affine output layer applied at every step: ``O_t = H_t W_hq + b_q``.

    Args:
        H: (N, T, Dh) hidden states.
        W_hq: (Dh, Q) hidden-to-output weights.
        b_q: (Q,) output bias.

    Returns:
        O: (N, T, Q) outputs (logits for a classifier).
        cache: :class:`OutputCache` for :func:`output_backward`.
    """
    dims = Dims()
    H = take("H", H, ("N", "T", "Dh"), dims)
    b_q = take("b_q", b_q, ("Q",), dims)  # before W_hq, so that a transposed W_hq shows as such
    W_hq = take("W_hq", W_hq, ("Dh", "Q"), dims)
    return H @ W_hq + b_q, OutputCache(H, W_hq, b_q)


def output_backward(dO, cache: OutputCache):
    """Backward pass of :func:`output_forward`.

    Args:
        dO: (N, T, Q) gradient of the loss with respect to the outputs.
        cache: :class:`OutputCache` from :func:`output_forward`.

    Returns:
        dH: (N, T, Dh); dW_hq: (Dh, Q); db_q: (Q,).
    """
    _check_cache("cache", cache, OutputCache)
    N, T, Hdim = cache.H.shape
    dO = take(
        "dO", dO, ("N", "T", "Q"), Dims({"N": N, "T": T, "Q": cache.W_hq.shape[1]}, "the cache")
    )
    dH = dO @ cache.W_hq.T
    # Every step uses the same W_hq, so its gradient sums over batch and time: one matmul over
    # the N*T rows does that sum.
    dW_hq = cache.H.reshape(N * T, Hdim).T @ dO.reshape(N * T, -1)
    db_q = dO.sum(axis=(0, 1))
    return dH, dW_hq, db_q


def softmax(O, axis: int = -1):
    """Numerically stable softmax along ``axis`` (the max is subtracted before exponentiating).

    Args:
        O: array of logits, any shape.
        axis: the axis that holds the classes.

    Returns:
        P: array of O's shape, non-negative, summing to 1 along ``axis``.
    """
    O = as_float_array("O", O)
    e = np.exp(O - O.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_cross_entropy(O, y):
    """Softmax cross-entropy summed over time and averaged over the batch.

    ``loss = (1/N) * sum_n sum_t -log softmax(O[n, t])[y[n, t]]``. The log-softmax is computed
    as ``O - logsumexp(O)`` with the max subtracted first, so logits of 1e4 neither overflow nor
    produce log(0).

    Args:
        O: (N, T, Q) logits.
        y: (N, T) integer targets in [0, Q).

    Returns:
        loss: float.
        dO: (N, T, Q) gradient of ``loss`` with respect to ``O``: ``(softmax(O) - onehot(y)) / N``.
    """
    dims = Dims()
    O = take("O", O, ("N", "T", "Q"), dims)
    y = take_targets("y", y, ("N", "T"), dims, n_classes=dims["Q"])
    N = dims["N"]
    if N == 0:
        raise ValueError("O must hold at least one sequence (N >= 1), got N = 0")
    shifted = O - O.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y[..., None], axis=-1)
    loss = -picked.sum() / N
    dO = np.exp(log_probs)
    np.put_along_axis(dO, y[..., None], np.take_along_axis(dO, y[..., None], axis=-1) - 1, axis=-1)
    dO /= N
    return float(loss), dO


# Bidirectional RNN: two independent RNNs, the second reading the sequence backwards.


def birnn_forward(X, h0_f, h0_b, params_f, params_b):
    """Bidirectional RNN built from :func:`rnn_forward` on the input and on its time reversal.

    Args:
        X: (N, T, D) input sequences.
        h0_f: (N, Dh) initial state of the forward RNN (before step 0).
        h0_b: (N, Dh) initial state of the backward RNN (before step T-1, which it reads first).
        params_f: (W_xh (D, Dh), W_hh (Dh, Dh), b_h (Dh,)) of the forward RNN.
        params_b: (W_xh (D, Dh), W_hh (Dh, Dh), b_h (Dh,)) of the backward RNN.

    Returns:
        H: (N, T, 2Dh); ``H[:, t, :Dh]`` is the forward state after reading X[:, 0..t] and
            ``H[:, t, Dh:]`` the backward state after reading X[:, T-1..t]. This is the layout
            of ``torch.nn.RNN(bidirectional=True)``.
        cache: :class:`BiCache` for :func:`birnn_backward`.
    """
    dims = Dims()
    X = take("X", X, ("N", "T", "D"), dims)
    params_f = take_cell_params(*unpack_params("params_f", params_f), dims, "params_f ")
    params_b = take_cell_params(*unpack_params("params_b", params_b), dims, "params_b ")
    h0_f = take("h0_f", h0_f, ("N", "Dh"), dims)
    h0_b = take("h0_b", h0_b, ("N", "Dh"), dims)
    H_f, cache_f = _rnn_forward(X, h0_f, *params_f)
    H_b_reversed, cache_b = _rnn_forward(X[:, ::-1], h0_b, *params_b)
    H = np.concatenate([H_f, H_b_reversed[:, ::-1]], axis=2)
    return H, BiCache(cache_f, cache_b)


def birnn_backward(dH, cache: BiCache):
    """Backward pass of :func:`birnn_forward` (full BPTT in both directions).

    Args:
        dH: (N, T, 2Dh) upstream gradient on the concatenated states.
        cache: :class:`BiCache` from :func:`birnn_forward`.

    Returns:
        dX: (N, T, D), the sum of both directions' input gradients.
        dh0_f: (N, Dh); dh0_b: (N, Dh).
        dparams_f: (dW_xh (D, Dh), dW_hh (Dh, Dh), db_h (Dh,)) of the forward RNN.
        dparams_b: (dW_xh (D, Dh), dW_hh (Dh, Dh), db_h (Dh,)) of the backward RNN.
    """
    _check_cache("cache", cache, BiCache)
    N, T, Hdim = cache.forward.H.shape
    dH = take("dH", dH, ("N", "T", "2Dh"), Dims({"N": N, "T": T, "2Dh": 2 * Hdim}, "the cache"))
    dX_f, dh0_f, *dparams_f = _rnn_backward_full(dH[..., :Hdim], cache.forward)
    # The backward RNN saw time reversed, so its upstream gradient must be reversed the same way,
    # and the input gradient it returns reversed back.
    dX_b_reversed, dh0_b, *dparams_b = _rnn_backward_full(dH[:, ::-1, Hdim:], cache.backward)
    dX = dX_f + dX_b_reversed[:, ::-1]
    return dX, dh0_f, dh0_b, tuple(dparams_f), tuple(dparams_b)


# Gradient clipping, with the semantics of torch.nn.utils.


def _as_grad_list(grads):
    if isinstance(grads, Mapping):
        return list(grads.keys()), [as_float_array(f"grads[{k!r}]", g) for k, g in grads.items()]
    if isinstance(grads, (list, tuple)):
        return None, [as_float_array(f"grads[{i}]", g) for i, g in enumerate(grads)]
    raise TypeError(f"grads must be a list, tuple or dict of arrays, got {type(grads).__name__}")


def _like(grads, keys, arrays):
    if keys is not None:
        return dict(zip(keys, arrays, strict=True))
    return tuple(arrays) if isinstance(grads, tuple) else list(arrays)


def clip_grad_norm(grads, max_norm: float):
    """Rescale gradients so that their global L2 norm is at most ``max_norm``.

    Same semantics as ``torch.nn.utils.clip_grad_norm_`` with ``norm_type=2``: the total norm is
    the L2 norm of all the arrays taken together, ``coef = max_norm / (total_norm + 1e-6)``, and
    every array is multiplied by ``min(coef, 1)``. A NaN or infinite total norm propagates as in
    PyTorch (the arrays become NaN). Unlike PyTorch, nothing is modified in place.

    Args:
        grads: list, tuple or dict of arrays (any shapes).
        max_norm: float >= 0, the largest allowed total norm.

    Returns:
        clipped: new arrays in a container of the same kind (list, tuple or dict).
        total_norm: float, the norm *before* clipping.
    """
    max_norm = check_positive("max_norm", max_norm, allow_zero=True)
    keys, arrays = _as_grad_list(grads)
    if not arrays:
        return _like(grads, keys, []), 0.0
    # A norm per array, then the norm of those norms: the same reduction order as PyTorch, and
    # each array's norm is computed in its own dtype.
    norms = np.array([np.linalg.norm(g.ravel()) for g in arrays])
    total_norm = np.linalg.norm(norms)
    coef = np.minimum(max_norm / (total_norm + 1e-6), 1.0)  # np.minimum propagates NaN
    with np.errstate(invalid="ignore"):  # inf * 0 = nan is the intended PyTorch behaviour
        clipped = [g * coef.astype(g.dtype) for g in arrays]
    return _like(grads, keys, clipped), float(total_norm)


def clip_grad_value(grads, clip_value: float):
    """Clamp every gradient element to ``[-clip_value, clip_value]`` (new arrays).

    Same semantics as ``torch.nn.utils.clip_grad_value_``, without modifying the inputs.

    Args:
        grads: list, tuple or dict of arrays (any shapes).
        clip_value: float >= 0.

    Returns:
        clipped: new arrays in a container of the same kind (list, tuple or dict).
    """
    clip_value = check_positive("clip_value", clip_value, allow_zero=True)
    keys, arrays = _as_grad_list(grads)
    return _like(grads, keys, [np.clip(g, -clip_value, clip_value) for g in arrays])


# Gradient checking.


def numerical_gradient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df, h: float = 1e-5):
    """Central-difference gradient of ``f`` at ``x``, contracted with the upstream gradient ``df``.

    ``grad[i] = sum(df * (f(x + h e_i) - f(x - h e_i))) / (2 h)``, i.e. the gradient of the
    scalar ``sum(df * f(x))``. ``x`` is modified in place while ``f`` is evaluated, so ``f`` must
    read ``x`` (or close over it); every entry is restored afterwards, even if ``f`` raises.
    The difference of the outputs is taken before contracting with ``df``, which keeps the
    round-off of large outputs out of the result; the division uses the step actually taken
    after rounding ``x[i] +/- h`` to x's dtype. Use float64: in float32 the round-off (about
    1e-7 / h) swamps the result.

    Args:
        f: function of ``x`` returning an array (or a scalar) of a fixed shape S.
        x: float ndarray, any shape; the point at which to differentiate.
        df: array of shape S (a scalar when f returns a scalar), the upstream gradient.
        h: float > 0, the step.

    Returns:
        grad: array of x's shape and dtype.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise ValueError(
            "x must be a floating-point numpy array (it is perturbed in place), "
            f"got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
        )
    h = check_positive("h", h)
    df = np.asarray(df)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + h
            x_plus = x[i]
            f_plus = np.array(f(x), dtype=np.result_type(x, df), copy=True)
            x[i] = old - h
            x_minus = x[i]
            f_minus = np.array(f(x), dtype=np.result_type(x, df), copy=True)
        finally:
            x[i] = old
        if f_plus.shape != df.shape:
            raise ValueError(f"df must have the shape of f(x) = {f_plus.shape}, got {df.shape}")
        grad[i] = np.sum((f_plus - f_minus) * df) / (x_plus - x_minus)
    return grad


def rel_error(a, b, floor: float = 1e-8) -> float:
    """Relative error between two arrays of the same shape, in the max norm.

    ``rel_error(a, b) = max|a - b| / max(floor, max(|a| + |b|))``: the largest absolute
    difference, relative to the largest magnitude found in either array. Unlike the elementwise
    version (``max(|a - b| / (|a| + |b|))``), an entry that is tiny compared to the rest of its
    array, such as a vanishing gradient through a saturated tanh, is judged at the array's scale,
    which is the precision finite differences can resolve. ``floor`` is the magnitude below which
    arrays count as zero, so that two all-zero arrays have error 0 and tiny arrays are compared
    absolutely (error = max|a - b| / floor).

    Args:
        a, b: arrays (or scalars) of the same shape; no broadcasting.
        floor: float > 0.

    Returns:
        float in [0, 1] (1 when the arrays differ in sign everywhere at their largest entries),
        NaN if either array holds NaN.
    """
    a = as_float_array("a", a)
    b = as_float_array("b", b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return float(np.max(np.abs(a - b)) / max(floor, np.max(np.abs(a) + np.abs(b))))


def gradient_check(loss, params: Mapping, grads: Mapping, h: float = 1e-5) -> dict:
    """Relative error of each analytic gradient against central differences of a scalar loss.

    Every array of ``params`` is perturbed in place, one entry at a time, by
    :func:`numerical_gradient`, and restored afterwards; ``loss`` must read the arrays of
    ``params`` each time it is called (close over the dict, or over the arrays themselves).

    Args:
        loss: function of no arguments returning the scalar loss at the current values of params.
        params: dict name -> float64 array, the point at which to differentiate.
        grads: dict name -> array of the same shape as ``params[name]``, the gradients to check.
        h: float > 0, the step of the central differences.

    Returns:
        dict name -> :func:`rel_error` between ``grads[name]`` and the numerical gradient, in the
        order of ``params``.
    """
    missing = [name for name in params if name not in grads]
    if missing:
        raise ValueError(f"grads has no entry for {missing}")
    errors = {}
    for name, x in params.items():
        numeric = numerical_gradient(lambda _: loss(), x, 1.0, h)
        analytic = as_float_array(f"grads[{name!r}]", grads[name])
        if analytic.shape != x.shape:
            raise ValueError(
                f"grads[{name!r}] must have the shape of params[{name!r}] = {x.shape}, "
                f"got {analytic.shape}"
            )
        errors[name] = rel_error(analytic, numeric)
    return errors


def gradient_check_table(errors: Mapping, tol: float = 1e-6) -> str:
    """The result of :func:`gradient_check` as a table: one row per parameter, with a verdict.

    Args:
        errors: dict name -> relative error.
        tol: float, the largest relative error that passes.

    Returns:
        str, one line per parameter (``W_hh   3.1e-10   ok``) under a header line.
    """
    width = max([9, *(len(str(name)) for name in errors)])
    lines = [f"{'parameter':<{width}}  relative error  verdict"]
    for name, error in errors.items():
        verdict = "ok" if error <= tol else "WRONG"
        lines.append(f"{name!s:<{width}}  {error:14.2e}  {verdict}")
    return "\n".join(lines)


# A character-level language model (the capstone): one-hot characters -> RNN -> logits.


def one_hot(indices, depth: int, dtype=np.float64) -> np.ndarray:
    """One-hot encode integer indices.

    Args:
        indices: integer array of any shape S, values in [0, depth).
        depth: number of classes.
        dtype: dtype of the result.

    Returns:
        array of shape S + (depth,) with a single 1 per index.
    """
    indices = np.asarray(indices)
    take_targets("indices", indices, tuple(f"d{i}" for i in range(indices.ndim)), Dims(), depth)
    return (indices[..., None] == np.arange(depth)).astype(dtype)


def char_rnn_init(
    vocab_size: int, hidden_size: int, seed: int = 0, scale: float = 0.01, dtype=np.float64
) -> dict:
    """Initial parameters of the character RNN: small Gaussian weights, zero biases.

    Small weights keep tanh in its linear range and the initial prediction close to uniform, so
    the first loss is close to ``T * log(vocab_size)`` per sequence.

    Args:
        vocab_size: V, the number of distinct characters.
        hidden_size: Dh.
        seed: seed of the random generator.
        scale: standard deviation of the weights.
        dtype: dtype of the parameters.

    Returns:
        dict with W_xh (V, Dh), W_hh (Dh, Dh), b_h (Dh,), W_hq (Dh, V), b_q (V,).
    """
    rng = np.random.default_rng(seed)
    V, H = int(vocab_size), int(hidden_size)
    if V < 1 or H < 1:
        raise ValueError(f"vocab_size and hidden_size must be >= 1, got {V} and {H}")
    return {
        "W_xh": (scale * rng.standard_normal((V, H))).astype(dtype),
        "W_hh": (scale * rng.standard_normal((H, H))).astype(dtype),
        "b_h": np.zeros(H, dtype),
        "W_hq": (scale * rng.standard_normal((H, V))).astype(dtype),
        "b_q": np.zeros(V, dtype),
    }


def char_rnn_loss(params, inputs, targets, h_prev):
    """Loss and gradients of the character RNN on one window of text.

    Forward: one-hot inputs -> :func:`rnn_forward` -> :func:`output_forward` ->
    :func:`softmax_cross_entropy`; backward: the same functions' backward passes in reverse.
    The window is the unit of truncation: ``h_last`` is carried into the next window as its
    ``h_prev``, but no gradient flows into ``h_prev`` (its gradient is discarded).

    Args:
        params: dict from :func:`char_rnn_init`: W_xh (V, Dh), W_hh (Dh, Dh), b_h (Dh,),
            W_hq (Dh, V), b_q (V,).
        inputs: (N, T) integer character indices.
        targets: (N, T) integer indices of the next characters (usually inputs shifted by one).
        h_prev: (N, Dh) hidden state at the start of the window.

    Returns:
        loss: float, summed over the T steps and averaged over the N sequences.
        grads: dict with the keys and shapes of ``params``.
        h_last: (N, Dh) hidden state after the last step, for the next window.
    """
    params, dims = take_char_params(params)
    V = dims["V"]
    inputs = take_targets("inputs", inputs, ("N", "T"), dims, V)
    targets = take_targets("targets", targets, ("N", "T"), dims, V)
    h_prev = take("h_prev", h_prev, ("N", "Dh"), dims)

    X = one_hot(inputs, V, dtype=params["W_xh"].dtype)
    H, rnn_cache = _rnn_forward(X, h_prev, params["W_xh"], params["W_hh"], params["b_h"])
    O, out_cache = output_forward(H, params["W_hq"], params["b_q"])
    loss, dO = softmax_cross_entropy(O, targets)

    dH, dW_hq, db_q = output_backward(dO, out_cache)
    _dX, _dh_prev, dW_xh, dW_hh, db_h = _rnn_backward_full(dH, rnn_cache)
    grads = {"W_xh": dW_xh, "W_hh": dW_hh, "b_h": db_h, "W_hq": dW_hq, "b_q": db_q}
    return loss, grads, H[:, -1].copy()


def sgd_step(params: dict, grads: dict, lr: float) -> dict:
    """Plain gradient descent: ``param - lr * grad`` for every parameter (new arrays).

    Args:
        params: dict of arrays.
        grads: dict with the same keys and shapes.
        lr: learning rate > 0.

    Returns:
        new params dict.
    """
    lr = check_positive("lr", lr)
    _check_same_keys(params, grads)
    return {name: params[name] - lr * grads[name] for name in params}


def adagrad_step(params: dict, grads: dict, memory: dict, lr: float = 0.1, eps: float = 1e-10):
    """One Adagrad update (new arrays, inputs untouched).

    ``memory += grad**2``; ``param -= lr * grad / (sqrt(memory) + eps)``. Each weight gets its own
    step size, which shrinks as its squared gradients accumulate. This is exactly the update of
    ``torch.optim.Adagrad`` (default options), so the two references train identically;
    min-char-rnn puts its 1e-8 inside the square root instead, a difference that only matters
    while the memory is still near zero.

    Args:
        params: dict of arrays.
        grads: dict with the same keys and shapes.
        memory: dict with the same keys and shapes: sums of squared past gradients (zeros at
            the start, e.g. ``{k: np.zeros_like(v) for k, v in params.items()}``).
        lr: learning rate > 0.
        eps: float > 0, keeps the division finite.

    Returns:
        new_params: dict; new_memory: dict.
    """
    lr = check_positive("lr", lr)
    eps = check_positive("eps", eps)
    _check_same_keys(params, grads)
    _check_same_keys(params, memory, "memory")
    new_memory = {name: memory[name] + grads[name] ** 2 for name in params}
    new_params = {
        name: params[name] - lr * grads[name] / (np.sqrt(new_memory[name]) + eps) for name in params
    }
    return new_params, new_memory


def _check_same_keys(params, other, other_name="grads"):
    if set(params) != set(other):
        raise ValueError(
            f"{other_name} must have the keys of params {sorted(params)}, got {sorted(other)}"
        )
    for name in params:
        if np.shape(other[name]) != np.shape(params[name]):
            raise ValueError(
                f"{other_name}[{name!r}] must have shape {np.shape(params[name])}, "
                f"got {np.shape(other[name])}"
            )


def sample(params, h, seed_ix: int, n: int, temperature: float = 1.0, rng=None) -> np.ndarray:
    """Sample ``n`` characters from the character RNN, feeding each one back as the next input.

    At each step the distribution is ``softmax(O_t / temperature)``: below 1 it is sharper
    (more conservative text), above 1 flatter (more surprising text).

    Args:
        params: dict from :func:`char_rnn_init`.
        h: (Dh,) hidden state to start from (e.g. zeros, or ``h_last[0]`` of a training window).
        seed_ix: int in [0, V), the first input character.
        n: number of characters to sample (>= 0).
        temperature: float > 0.
        rng: numpy.random.Generator; None for a fresh, unseeded one.

    Returns:
        (n,) int64 array of sampled character indices (the seed is not included).
    """
    params, dims = take_char_params(params)
    V = dims["V"]
    h = take("h", h, ("Dh",), dims)
    take_targets("seed_ix", np.asarray(seed_ix), (), Dims(), V)
    temperature = check_positive("temperature", temperature)
    if rng is None:
        rng = np.random.default_rng()
    out = np.empty(int(n), dtype=np.int64)
    h = h[None, :]
    ix = int(seed_ix)
    for i in range(int(n)):
        x = one_hot(np.array([ix]), V, dtype=params["W_xh"].dtype)
        h = _cell_forward(x, h, params["W_xh"], params["W_hh"], params["b_h"])
        o = h @ params["W_hq"] + params["b_q"]
        # Sample in float64 even for float32 params: rng.choice insists that p sums to 1.
        p = softmax(o[0].astype(np.float64) / temperature)
        ix = int(rng.choice(V, p=p))
        out[i] = ix
    return out


def train_char_rnn(
    data,
    vocab_size: int,
    *,
    hidden_size: int = 100,
    seq_length: int = 25,
    steps: int = 300,
    lr: float = 0.1,
    clip_value: float = 5.0,
    seed: int = 0,
):
    """Train the character RNN on one stream of text with Adagrad, min-char-rnn style.

    The text is read in consecutive windows of ``seq_length`` characters; the hidden state is
    carried from window to window (and reset to zero when the text wraps around), gradients are
    clipped elementwise to ``[-clip_value, clip_value]`` and applied with :func:`adagrad_step`.

    Args:
        data: (L,) integer character indices, L > seq_length.
        vocab_size: V.
        hidden_size: Dh.
        seq_length: T, the window (truncation) length.
        steps: number of updates.
        lr: Adagrad learning rate.
        clip_value: elementwise gradient clip.
        seed: seed of :func:`char_rnn_init`.

    Returns:
        params: trained parameters (dict as from :func:`char_rnn_init`).
        losses: (steps,) loss per character of each window, *before* its update.
    """
    data = take_targets("data", np.asarray(data), ("L",), Dims(), vocab_size)
    if len(data) <= seq_length:
        raise ValueError(f"data must be longer than seq_length = {seq_length}, got {len(data)}")
    params = char_rnn_init(vocab_size, hidden_size, seed)
    memory = {name: np.zeros_like(p) for name, p in params.items()}
    losses = np.empty(steps)
    p = 0
    h = np.zeros((1, hidden_size))
    for step in range(steps):
        if p + seq_length + 1 > len(data):
            p, h = 0, np.zeros((1, hidden_size))
        inputs = data[None, p : p + seq_length]
        targets = data[None, p + 1 : p + seq_length + 1]
        loss, grads, h = char_rnn_loss(params, inputs, targets, h)
        grads = clip_grad_value(grads, clip_value)
        params, memory = adagrad_step(params, grads, memory, lr)
        losses[step] = loss / seq_length
        p += seq_length
    return params, losses


# Gated cells: LSTM and GRU, with PyTorch's gate order and equations, so that the weights of a
# torch.nn.LSTM / torch.nn.GRU map onto these functions by a transpose. Like SequenceCache, the
# caches hold the forward inputs and the states; the backward passes recompute the gates from them
# (one matmul per step), which keeps the caches interchangeable with torch_rnn's.


def _sigmoid(a):
    # exp of a non-positive number only: no overflow warning for large |a|.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


class LSTMCache(NamedTuple):
    """What :func:`lstm_backward` needs: the inputs of :func:`lstm_forward` and the states.

    X: (N, T, D); h0, c0: (N, Dh); W_x: (D, 4Dh); W_h: (Dh, 4Dh); b: (4Dh,);
    H: (N, T, Dh) hidden states; C: (N, T, Dh) cell states (``C[:, t-1]`` holds c_t).
    """

    X: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    H: np.ndarray
    C: np.ndarray


class GRUCache(NamedTuple):
    """What :func:`gru_backward` needs: the inputs of :func:`gru_forward` and the states.

    X: (N, T, D); h0: (N, Dh); W_x: (D, 3Dh); W_h: (Dh, 3Dh); b_x, b_h: (3Dh,); H: (N, T, Dh).
    """

    X: np.ndarray
    h0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b_x: np.ndarray
    b_h: np.ndarray
    H: np.ndarray


def _lstm_gates(x, h_prev, W_x, W_h, b):
    """The four gate activations of one LSTM step, each (N, Dh), in PyTorch's order i, f, g, o."""
    i, f, g, o = np.split(x @ W_x + h_prev @ W_h + b, 4, axis=1)
    return _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)


def lstm_forward(X, h0, c0, W_x, W_h, b):
    """Run an LSTM over a whole sequence (the equations and gate order of ``torch.nn.LSTM``).

    With the gate blocks of the (N, 4Dh) pre-activation ``A_t = X_t W_x + H_{t-1} W_h + b``
    taken in the order input, forget, cell candidate, output::

        I_t = sigmoid(A_i), F_t = sigmoid(A_f), G_t = tanh(A_g), O_t = sigmoid(A_o)
        C_t = F_t * C_{t-1} + I_t * G_t
        H_t = O_t * tanh(C_t)

    A ``torch.nn.LSTM(D, Dh, batch_first=True)`` computes the same H with ``W_x = weight_ih_l0.T``,
    ``W_h = weight_hh_l0.T`` and ``b = bias_ih_l0 + bias_hh_l0``.

    Args:
        X: (N, T, D) input sequences, batch first.
        h0: (N, Dh) initial hidden state.
        c0: (N, Dh) initial cell state.
        W_x: (D, 4Dh) input weights, blocks [i | f | g | o].
        W_h: (Dh, 4Dh) recurrent weights, same blocks.
        b: (4Dh,) bias, same blocks.

    Returns:
        H: (N, T, Dh) hidden state at every step.
        cache: :class:`LSTMCache` for :func:`lstm_backward` (``cache.C`` holds the cell states).
    """
    dims = Dims()
    X = take("X", X, ("N", "T", "D"), dims)
    W_x, W_h, b = take_gated_params((("W_x", W_x), ("W_h", W_h)), (("b", b),), dims, 4)
    h0 = take("h0", h0, ("N", "Dh"), dims)
    c0 = take("c0", c0, ("N", "Dh"), dims)
    N, T, _ = X.shape
    dtype = np.result_type(X, h0, c0, W_x, W_h, b)
    H = np.empty((N, T, dims["Dh"]), dtype=dtype)
    C = np.empty_like(H)
    h, c = h0, c0
    for t in range(T):
        i, f, g, o = _lstm_gates(X[:, t], h, W_x, W_h, b)
        c = f * c + i * g
        h = o * np.tanh(c)
        H[:, t], C[:, t] = h, c
    return H, LSTMCache(X, h0, c0, W_x, W_h, b, H, C)


def lstm_backward(dH, cache: LSTMCache):
    """Backpropagation through time for :func:`lstm_forward`.

    Two gradients are carried from step to step: ``dh_next`` through the recurrent weights, and
    ``dc_next`` along the cell state, where one step multiplies it by the forget gate only
    (dC_t/dC_{t-1} = diag(F_t)): the additive path that lets gradients travel far.

    Args:
        dH: (N, T, Dh) upstream gradient on every hidden state.
        cache: :class:`LSTMCache` from :func:`lstm_forward`.

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dc0: (N, Dh); dW_x: (D, 4Dh); dW_h: (Dh, 4Dh); db: (4Dh,).
    """
    _check_cache("cache", cache, LSTMCache)
    N, T, Dh = cache.H.shape
    dH = take("dH", dH, ("N", "T", "Dh"), Dims({"N": N, "T": T, "Dh": Dh}, "the cache"))
    dtype = np.result_type(dH, *cache)
    dX = np.zeros(cache.X.shape, dtype)
    dW_x = np.zeros(cache.W_x.shape, dtype)
    dW_h = np.zeros(cache.W_h.shape, dtype)
    db = np.zeros(cache.b.shape, dtype)
    dh_next = np.zeros(cache.h0.shape, dtype)
    dc_next = np.zeros(cache.c0.shape, dtype)
    for t in reversed(range(T)):
        x = cache.X[:, t]
        h_prev = cache.h0 if t == 0 else cache.H[:, t - 1]
        c_prev = cache.c0 if t == 0 else cache.C[:, t - 1]
        i, f, g, o = _lstm_gates(x, h_prev, cache.W_x, cache.W_h, cache.b)
        tanh_c = np.tanh(cache.C[:, t])
        dh = dH[:, t] + dh_next
        dc = dc_next + dh * o * (1 - tanh_c**2)
        # Gradients on the pre-activations: sigmoid' = s (1 - s), tanh' = 1 - tanh^2.
        dA = np.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g**2),
                dh * tanh_c * o * (1 - o),
            ],
            axis=1,
        )
        dX[:, t] = dA @ cache.W_x.T
        dW_x += x.T @ dA
        dW_h += h_prev.T @ dA
        db += dA.sum(axis=0)
        dh_next = dA @ cache.W_h.T
        dc_next = dc * f
    return dX, dh_next, dc_next, dW_x, dW_h, db


def _gru_parts(x, h_prev, W_x, W_h, b_x, b_h):
    """One GRU step's gates r, z, candidate n and the recurrent part of n's pre-activation."""
    xr, xz, xn = np.split(x @ W_x + b_x, 3, axis=1)
    hr, hz, hn = np.split(h_prev @ W_h + b_h, 3, axis=1)
    r = _sigmoid(xr + hr)
    z = _sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return r, z, n, hn


def gru_forward(X, h0, W_x, W_h, b_x, b_h):
    """Run a GRU over a whole sequence (the equations and gate order of ``torch.nn.GRU``).

    With the blocks of ``X_t W_x + b_x`` and ``H_{t-1} W_h + b_h`` taken in the order reset,
    update, new::

        R_t = sigmoid(X_t W_xr + b_xr + H_{t-1} W_hr + b_hr)
        Z_t = sigmoid(X_t W_xz + b_xz + H_{t-1} W_hz + b_hz)
        N_t = tanh(X_t W_xn + b_xn + R_t * (H_{t-1} W_hn + b_hn))
        H_t = (1 - Z_t) * N_t + Z_t * H_{t-1}

    The reset gate multiplies ``H_{t-1} W_hn + b_hn``, after the matmul; Cho et al. (2014) apply
    it before, to ``H_{t-1}``. A ``torch.nn.GRU(D, Dh, batch_first=True)`` computes the same H with
    ``W_x = weight_ih_l0.T``, ``W_h = weight_hh_l0.T``, ``b_x = bias_ih_l0``, ``b_h = bias_hh_l0``
    (the two biases are not interchangeable: ``b_hn`` sits inside the reset gate's product).

    Args:
        X: (N, T, D) input sequences, batch first.
        h0: (N, Dh) initial hidden state.
        W_x: (D, 3Dh) input weights, blocks [r | z | n].
        W_h: (Dh, 3Dh) recurrent weights, same blocks.
        b_x: (3Dh,) input bias; b_h: (3Dh,) recurrent bias.

    Returns:
        H: (N, T, Dh) hidden state at every step.
        cache: :class:`GRUCache` for :func:`gru_backward`.
    """
    dims = Dims()
    X = take("X", X, ("N", "T", "D"), dims)
    W_x, W_h, b_x, b_h = take_gated_params(
        (("W_x", W_x), ("W_h", W_h)), (("b_x", b_x), ("b_h", b_h)), dims, 3
    )
    h0 = take("h0", h0, ("N", "Dh"), dims)
    N, T, _ = X.shape
    H = np.empty((N, T, dims["Dh"]), dtype=np.result_type(X, h0, W_x, W_h, b_x, b_h))
    h = h0
    for t in range(T):
        _r, z, n, _hn = _gru_parts(X[:, t], h, W_x, W_h, b_x, b_h)
        h = (1 - z) * n + z * h
        H[:, t] = h
    return H, GRUCache(X, h0, W_x, W_h, b_x, b_h, H)


def gru_backward(dH, cache: GRUCache):
    """Backpropagation through time for :func:`gru_forward`.

    Args:
        dH: (N, T, Dh) upstream gradient on every hidden state.
        cache: :class:`GRUCache` from :func:`gru_forward`.

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dW_x: (D, 3Dh); dW_h: (Dh, 3Dh); db_x: (3Dh,); db_h: (3Dh,).
    """
    _check_cache("cache", cache, GRUCache)
    N, T, Dh = cache.H.shape
    dH = take("dH", dH, ("N", "T", "Dh"), Dims({"N": N, "T": T, "Dh": Dh}, "the cache"))
    dtype = np.result_type(dH, *cache)
    dX = np.zeros(cache.X.shape, dtype)
    dW_x = np.zeros(cache.W_x.shape, dtype)
    dW_h = np.zeros(cache.W_h.shape, dtype)
    db_x = np.zeros(cache.b_x.shape, dtype)
    db_h = np.zeros(cache.b_h.shape, dtype)
    dh_next = np.zeros(cache.h0.shape, dtype)
    for t in reversed(range(T)):
        x = cache.X[:, t]
        h_prev = cache.h0 if t == 0 else cache.H[:, t - 1]
        r, z, n, hn = _gru_parts(x, h_prev, cache.W_x, cache.W_h, cache.b_x, cache.b_h)
        dh = dH[:, t] + dh_next
        da_n = dh * (1 - z) * (1 - n**2)  # on n's pre-activation
        da_z = dh * (h_prev - n) * z * (1 - z)
        da_r = da_n * hn * r * (1 - r)
        dA_x = np.concatenate([da_r, da_z, da_n], axis=1)
        dA_h = np.concatenate([da_r, da_z, da_n * r], axis=1)  # r scales the recurrent part of n
        dX[:, t] = dA_x @ cache.W_x.T
        dW_x += x.T @ dA_x
        dW_h += h_prev.T @ dA_h
        db_x += dA_x.sum(axis=0)
        db_h += dA_h.sum(axis=0)
        dh_next = dh * z + dA_h @ cache.W_h.T
    return dX, dh_next, dW_x, dW_h, db_x, db_h
