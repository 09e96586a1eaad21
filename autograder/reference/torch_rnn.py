"""The same quantities as :mod:`numpy_rnn`, computed by PyTorch: the grader's second oracle.

Functions here take and return NumPy arrays in the layout and dtype of :mod:`numpy_rnn`, and
return the same cache types, so the two modules are interchangeable: ``torch_rnn.rnn_backward``
accepts a cache from ``numpy_rnn.rnn_forward`` and the other way round. Forward passes go through
the stock modules (``nn.RNNCell``, ``nn.RNN``, ``nn.Linear``, ``F.cross_entropy``), backward passes
through autograd, which replays the forward pass from the inputs held in the cache.

PyTorch's RNN computes ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``, column-vector style, with
two biases. The course's row-vector weights map onto it as ``weight_ih = W_xh.T``,
``weight_hh = W_hh.T``, ``bias_ih = b_h`` and ``bias_hh = 0``.

The second half of the module holds the small ``nn.Module`` models of the exercises and the book:
:class:`OneToMany`, :class:`ManyToOne`, :class:`ManyToManyAligned`, :class:`EncoderDecoder` and
:class:`CharRNN`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    Dims,
    check_positive,
    take,
    take_cell_params,
    take_char_params,
    take_gated_params,
    take_targets,
    unpack_params,
)
from .numpy_rnn import (
    BiCache,
    CellCache,
    GRUCache,
    LSTMCache,
    OutputCache,
    SequenceCache,
    TBPTTResult,
    check_tbptt_args,
)

__all__ = [
    "rnn_cell_forward",
    "rnn_cell_backward",
    "rnn_forward",
    "rnn_backward",
    "rnn_tbptt",
    "output_forward",
    "output_backward",
    "softmax_cross_entropy",
    "birnn_forward",
    "birnn_backward",
    "clip_grad_norm",
    "clip_grad_value",
    "OneToMany",
    "ManyToOne",
    "ManyToManyAligned",
    "EncoderDecoder",
    "CharRNN",
    "char_rnn_from_numpy",
    "train_char_rnn",
    "lstm_forward",
    "lstm_backward",
    "gru_forward",
    "gru_backward",
]


# NumPy <-> torch. Always copy: PyTorch's in-place operations (clip_grad_norm_) must never reach
# the caller's arrays, and time-reversed views have negative strides that torch cannot share.


def _tensor(a, dtype, requires_grad: bool = False) -> torch.Tensor:
    t = torch.from_numpy(np.array(a, dtype=dtype, copy=True))
    return t.requires_grad_(requires_grad)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


def _set_rnn_weights(module: nn.Module, W_xh, W_hh, b_h, dtype, suffix: str = "") -> None:
    """Load row-vector weights into nn.RNN / nn.RNNCell parameters named ``weight_ih{suffix}``..."""
    with torch.no_grad():
        getattr(module, "weight_ih" + suffix).copy_(_tensor(W_xh, dtype).T)
        getattr(module, "weight_hh" + suffix).copy_(_tensor(W_hh, dtype).T)
        getattr(module, "bias_ih" + suffix).copy_(_tensor(b_h, dtype))
        getattr(module, "bias_hh" + suffix).zero_()


def _rnn_grads(module: nn.Module, suffix: str = ""):
    """(dW_xh, dW_hh, db_h) in the course's layout from the module's .grad fields.

    bias_ih and bias_hh enter the pre-activation the same way, so their gradients are equal and
    either one is db_h.
    """
    return (
        _numpy(getattr(module, "weight_ih" + suffix).grad.T),
        _numpy(getattr(module, "weight_hh" + suffix).grad.T),
        _numpy(getattr(module, "bias_ih" + suffix).grad),
    )


def _check_cache(name: str, cache, kind: type) -> None:
    if not isinstance(cache, kind):
        raise TypeError(
            f"{name} must be the {kind.__name__} returned by the forward function, "
            f"got {type(cache).__name__}"
        )


# One step: nn.RNNCell.


def _make_cell(W_xh, W_hh, b_h, dtype) -> nn.RNNCell:
    D, H = W_xh.shape
    cell = nn.RNNCell(D, H, nonlinearity="tanh", dtype=_torch_dtype(dtype))
    _set_rnn_weights(cell, W_xh, W_hh, b_h, dtype)
    return cell


def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):
    """``numpy_rnn.rnn_cell_forward`` computed by ``torch.nn.RNNCell``.

    Args:
        x: (N, D); h_prev: (N, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,).

    Returns:
        h_next: (N, Dh); cache: :class:`~numpy_rnn.CellCache`.
    """
    dims = Dims()
    x = take("x", x, ("N", "D"), dims)
    W_xh, W_hh, b_h = take_cell_params(W_xh, W_hh, b_h, dims)
    h_prev = take("h_prev", h_prev, ("N", "Dh"), dims)
    dtype = np.result_type(x, h_prev, W_xh, W_hh, b_h)
    with torch.no_grad():
        h_next = _numpy(
            _make_cell(W_xh, W_hh, b_h, dtype)(_tensor(x, dtype), _tensor(h_prev, dtype))
        )
    return h_next, CellCache(x, h_prev, W_xh, W_hh, b_h, h_next)


def rnn_cell_backward(dh_next, cache: CellCache):
    """``numpy_rnn.rnn_cell_backward`` by autograd through ``torch.nn.RNNCell``.

    Args:
        dh_next: (N, Dh) upstream gradient; cache: :class:`~numpy_rnn.CellCache`.

    Returns:
        dx: (N, D); dh_prev: (N, Dh); dW_xh: (D, Dh); dW_hh: (Dh, Dh); db_h: (Dh,).
    """
    _check_cache("cache", cache, CellCache)
    N, H = cache.h_next.shape
    dh_next = take("dh_next", dh_next, ("N", "Dh"), Dims({"N": N, "Dh": H}, "the cache"))
    dtype = np.result_type(dh_next, *cache)
    cell = _make_cell(cache.W_xh, cache.W_hh, cache.b_h, dtype)
    x = _tensor(cache.x, dtype, requires_grad=True)
    h_prev = _tensor(cache.h_prev, dtype, requires_grad=True)
    cell(x, h_prev).backward(_tensor(dh_next, dtype))
    return (_numpy(x.grad), _numpy(h_prev.grad), *_rnn_grads(cell))


# A sequence: nn.RNN(batch_first=True).


def _make_rnn(W_xh, W_hh, b_h, dtype) -> nn.RNN:
    D, H = W_xh.shape
    rnn = nn.RNN(D, H, nonlinearity="tanh", batch_first=True, dtype=_torch_dtype(dtype))
    _set_rnn_weights(rnn, W_xh, W_hh, b_h, dtype, "_l0")
    return rnn


def rnn_forward(X, h0, W_xh, W_hh, b_h):
    """``numpy_rnn.rnn_forward`` computed by ``torch.nn.RNN(batch_first=True)``.

    Args:
        X: (N, T, D); h0: (N, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,).

    Returns:
        H: (N, T, Dh); cache: :class:`~numpy_rnn.SequenceCache`.
    """
    dims = Dims()
    X = take("X", X, ("N", "T", "D"), dims)
    W_xh, W_hh, b_h = take_cell_params(W_xh, W_hh, b_h, dims)
    h0 = take("h0", h0, ("N", "Dh"), dims)
    dtype = np.result_type(X, h0, W_xh, W_hh, b_h)
    rnn = _make_rnn(W_xh, W_hh, b_h, dtype)
    with torch.no_grad():
        H, _ = rnn(_tensor(X, dtype), _tensor(h0, dtype)[None])
    H = _numpy(H)
    return H, SequenceCache(X, h0, W_xh, W_hh, b_h, H)


def rnn_backward(dH, cache: SequenceCache, k: int | None = None):
    """``numpy_rnn.rnn_backward`` by autograd through ``torch.nn.RNN``.

    Full BPTT (``k=None``) is one ``backward`` of ``sum(H * dH)``. Truncated BPTT (same
    semantics as ``numpy_rnn.rnn_backward``: the loss at step t reaches steps t..t-k+1 and, when
    t < k, h0) replays, for each t, only the last ``min(k, t+1)`` steps, starting from the state
    before them taken *without* gradient (from h0 with gradient when the window starts at 0).

    Args:
        dH: (N, T, Dh) upstream gradient on every hidden state.
        cache: :class:`~numpy_rnn.SequenceCache` from either module's ``rnn_forward``.
        k: None for full BPTT, or a positive int.

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dW_xh: (D, Dh); dW_hh: (Dh, Dh); db_h: (Dh,).
    """
    _check_cache("cache", cache, SequenceCache)
    N, T, Hdim = cache.H.shape
    dH = take("dH", dH, ("N", "T", "Dh"), Dims({"N": N, "T": T, "Dh": Hdim}, "the cache"))
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be None or a positive int, got {k!r}")
    dtype = np.result_type(dH, cache.X, cache.h0, cache.W_xh, cache.W_hh, cache.b_h)
    rnn = _make_rnn(cache.W_xh, cache.W_hh, cache.b_h, dtype)
    X = _tensor(cache.X, dtype, requires_grad=True)
    h0 = _tensor(cache.h0, dtype, requires_grad=True)
    dH_t = _tensor(dH, dtype)
    if k is None:
        H, _ = rnn(X, h0[None])
        H.backward(dH_t)
    else:
        with torch.no_grad():
            H_const, _ = rnn(X, h0[None])
        for t in range(T):
            start = max(t - k + 1, 0)
            h_start = h0 if start == 0 else H_const[:, start - 1]
            H_window, _ = rnn(X[:, start : t + 1], h_start[None])
            (H_window[:, -1] * dH_t[:, t]).sum().backward()
    # Leaves that never received a gradient (possible only when truncating) have grad None.
    dX = _numpy(X.grad) if X.grad is not None else np.zeros_like(cache.X, dtype=dtype)
    dh0 = _numpy(h0.grad) if h0.grad is not None else np.zeros_like(cache.h0, dtype=dtype)
    return (dX, dh0, *_rnn_grads(rnn, "_l0"))


def rnn_tbptt(X, h0, W_xh, W_hh, b_h, dH, k1: int, k2: int | None = None):
    """``numpy_rnn.rnn_tbptt`` (TBPTT(k1, k2)) by autograd through ``torch.nn.RNN``.

    The state is carried from chunk to chunk without gradient (detached). At the end of each
    chunk, ``nn.RNN`` is run again over the last ``k2`` steps, from the state before them taken
    without gradient (``h0`` with gradient when the window starts at step 1), and ``backward`` is
    called on the chunk's losses ``sum(H * dH)`` over the chunk's own steps: the graph it goes
    through is exactly ``min(k2, steps so far)`` steps long, which ``backward_steps`` adds up.

    Args:
        X: (N, T, D); h0: (N, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,);
        dH: (N, T, Dh) upstream gradient on every state;
        k1: positive int, the chunk length; k2: int >= k1 or None (= k1), the backward depth.

    Returns:
        :class:`~numpy_rnn.TBPTTResult` (H, dX, dh0, dW_xh, dW_hh, db_h, chunks, backward_steps).
    """
    X, h0, W_xh, W_hh, b_h, dH, k1, k2 = check_tbptt_args(X, h0, W_xh, W_hh, b_h, dH, k1, k2)
    N, T, _ = X.shape
    dtype = np.result_type(X, h0, W_xh, W_hh, b_h, dH)
    rnn = _make_rnn(W_xh, W_hh, b_h, dtype)
    X_t = _tensor(X, dtype, requires_grad=True)
    h0_t = _tensor(h0, dtype, requires_grad=True)
    dH_t = _tensor(dH, dtype)
    H = torch.zeros((N, T, W_hh.shape[0]), dtype=_torch_dtype(dtype))
    h = h0_t.detach()
    chunks, backward_steps = [], 0
    for start in range(0, T, k1):
        end = min(start + k1, T)
        with torch.no_grad():  # forward k1 steps, carrying the state
            H[:, start:end], _ = rnn(X_t[:, start:end], h[None])
        h = H[:, end - 1].clone()
        first = max(start - (k2 - k1), 0)  # the chunk and k2 - k1 steps before it
        h_first = h0_t if first == 0 else H[:, first - 1].clone()
        rnn.zero_grad(set_to_none=True)
        H_window, _ = rnn(X_t[:, first:end], h_first[None])
        (H_window[:, start - first :] * dH_t[:, start:end]).sum().backward()
        backward_steps += end - first
        chunks.append(tuple(g.copy() for g in _rnn_grads(rnn, "_l0")))
    totals = [np.zeros(p.shape, dtype) for p in (W_xh, W_hh, b_h)]
    for chunk in chunks:
        for total, grad in zip(totals, chunk, strict=True):
            total += grad
    dX = _numpy(X_t.grad) if X_t.grad is not None else np.zeros(X.shape, dtype)
    dh0 = _numpy(h0_t.grad) if h0_t.grad is not None else np.zeros(h0.shape, dtype)
    return TBPTTResult(_numpy(H), dX, dh0, *totals, tuple(chunks), backward_steps)


# Output layer and loss: nn.Linear and F.cross_entropy.


def _make_linear(W_hq, b_q, dtype) -> nn.Linear:
    H, Q = W_hq.shape
    linear = nn.Linear(H, Q, dtype=_torch_dtype(dtype))
    with torch.no_grad():
        linear.weight.copy_(_tensor(W_hq, dtype).T)
        linear.bias.copy_(_tensor(b_q, dtype))
    return linear


def output_forward(H, W_hq, b_q):
    """``numpy_rnn.output_forward`` computed by ``torch.nn.Linear`` (weight = W_hq.T).

    Args:
        H: (N, T, Dh); W_hq: (Dh, Q); b_q: (Q,).

    Returns:
        O: (N, T, Q); cache: :class:`~numpy_rnn.OutputCache`.
    """
    dims = Dims()
    H = take("H", H, ("N", "T", "Dh"), dims)
    b_q = take("b_q", b_q, ("Q",), dims)  # before W_hq, so that a transposed W_hq shows as such
    W_hq = take("W_hq", W_hq, ("Dh", "Q"), dims)
    dtype = np.result_type(H, W_hq, b_q)
    with torch.no_grad():
        O = _numpy(_make_linear(W_hq, b_q, dtype)(_tensor(H, dtype)))
    return O, OutputCache(H, W_hq, b_q)


def output_backward(dO, cache: OutputCache):
    """``numpy_rnn.output_backward`` by autograd through ``torch.nn.Linear``.

    Args:
        dO: (N, T, Q); cache: :class:`~numpy_rnn.OutputCache`.

    Returns:
        dH: (N, T, Dh); dW_hq: (Dh, Q); db_q: (Q,).
    """
    _check_cache("cache", cache, OutputCache)
    N, T, _ = cache.H.shape
    dO = take(
        "dO", dO, ("N", "T", "Q"), Dims({"N": N, "T": T, "Q": cache.W_hq.shape[1]}, "the cache")
    )
    dtype = np.result_type(dO, *cache)
    linear = _make_linear(cache.W_hq, cache.b_q, dtype)
    H = _tensor(cache.H, dtype, requires_grad=True)
    linear(H).backward(_tensor(dO, dtype))
    return _numpy(H.grad), _numpy(linear.weight.grad.T), _numpy(linear.bias.grad)


def softmax_cross_entropy(O, y):
    """``numpy_rnn.softmax_cross_entropy`` by ``F.cross_entropy`` and autograd.

    ``F.cross_entropy(..., reduction="sum") / N``: summed over time, averaged over the batch.

    Args:
        O: (N, T, Q) logits; y: (N, T) integer targets in [0, Q).

    Returns:
        loss: float; dO: (N, T, Q).
    """
    dims = Dims()
    O = take("O", O, ("N", "T", "Q"), dims)
    y = take_targets("y", y, ("N", "T"), dims, n_classes=dims["Q"])
    N, T, Q = O.shape
    if N == 0:
        raise ValueError("O must hold at least one sequence (N >= 1), got N = 0")
    logits = _tensor(O, O.dtype, requires_grad=True)
    targets = torch.from_numpy(y.astype(np.int64).reshape(N * T))
    loss = F.cross_entropy(logits.reshape(N * T, Q), targets, reduction="sum") / N
    loss.backward()
    return loss.item(), _numpy(logits.grad)


# Bidirectional: nn.RNN(bidirectional=True). PyTorch names the second direction "_l0_reverse".


def _make_birnn(params_f, params_b, dtype) -> nn.RNN:
    D, H = params_f[0].shape
    rnn = nn.RNN(D, H, batch_first=True, bidirectional=True, dtype=_torch_dtype(dtype))
    _set_rnn_weights(rnn, *params_f, dtype, "_l0")
    _set_rnn_weights(rnn, *params_b, dtype, "_l0_reverse")
    return rnn


def birnn_forward(X, h0_f, h0_b, params_f, params_b):
    """``numpy_rnn.birnn_forward`` computed by ``torch.nn.RNN(bidirectional=True)``.

    Args:
        X: (N, T, D); h0_f, h0_b: (N, Dh);
        params_f, params_b: (W_xh (D, Dh), W_hh (Dh, Dh), b_h (Dh,)).

    Returns:
        H: (N, T, 2Dh), [forward state, backward state] at every step;
        cache: :class:`~numpy_rnn.BiCache` (the backward direction's cache holds the time-reversed
        input and states, as in ``numpy_rnn``).
    """
    dims = Dims()
    X = take("X", X, ("N", "T", "D"), dims)
    params_f = take_cell_params(*unpack_params("params_f", params_f), dims, "params_f ")
    params_b = take_cell_params(*unpack_params("params_b", params_b), dims, "params_b ")
    h0_f = take("h0_f", h0_f, ("N", "Dh"), dims)
    h0_b = take("h0_b", h0_b, ("N", "Dh"), dims)
    dtype = np.result_type(X, h0_f, h0_b, *params_f, *params_b)
    rnn = _make_birnn(params_f, params_b, dtype)
    with torch.no_grad():
        H, _ = rnn(_tensor(X, dtype), _tensor(np.stack([h0_f, h0_b]), dtype))
    H = _numpy(H)
    Hdim = dims["Dh"]
    cache = BiCache(
        SequenceCache(X, h0_f, *params_f, H[..., :Hdim]),
        SequenceCache(X[:, ::-1], h0_b, *params_b, H[:, ::-1, Hdim:]),
    )
    return H, cache


def birnn_backward(dH, cache: BiCache):
    """``numpy_rnn.birnn_backward`` by autograd through ``torch.nn.RNN(bidirectional=True)``.

    Args:
        dH: (N, T, 2Dh); cache: :class:`~numpy_rnn.BiCache`.

    Returns:
        dX: (N, T, D); dh0_f: (N, Dh); dh0_b: (N, Dh);
        dparams_f, dparams_b: (dW_xh (D, Dh), dW_hh (Dh, Dh), db_h (Dh,)).
    """
    _check_cache("cache", cache, BiCache)
    f, b = cache.forward, cache.backward
    N, T, Hdim = f.H.shape
    dH = take("dH", dH, ("N", "T", "2Dh"), Dims({"N": N, "T": T, "2Dh": 2 * Hdim}, "the cache"))
    params_f, params_b = (f.W_xh, f.W_hh, f.b_h), (b.W_xh, b.W_hh, b.b_h)
    dtype = np.result_type(dH, f.X, f.h0, b.h0, *params_f, *params_b)
    rnn = _make_birnn(params_f, params_b, dtype)
    X = _tensor(f.X, dtype, requires_grad=True)
    h0 = _tensor(np.stack([f.h0, b.h0]), dtype, requires_grad=True)
    H, _ = rnn(X, h0)
    H.backward(_tensor(dH, dtype))
    dh0 = _numpy(h0.grad)
    return (_numpy(X.grad), dh0[0], dh0[1], _rnn_grads(rnn, "_l0"), _rnn_grads(rnn, "_l0_reverse"))


# Clipping: torch.nn.utils on copies of the arrays.


def _grad_holders(grads, dtype_of=None):
    if isinstance(grads, Mapping):
        keys, arrays = list(grads.keys()), list(grads.values())
    elif isinstance(grads, (list, tuple)):
        keys, arrays = None, list(grads)
    else:
        raise TypeError(
            f"grads must be a list, tuple or dict of arrays, got {type(grads).__name__}"
        )
    holders = []
    for i, g in enumerate(arrays):
        g = take(
            f"grads[{keys[i]!r}]" if keys else f"grads[{i}]",
            g,
            tuple(f"d{j}" for j in range(np.ndim(g))),
            Dims(),
        )
        p = nn.Parameter(torch.zeros(g.shape, dtype=_torch_dtype(g.dtype)))
        p.grad = _tensor(g, g.dtype)
        holders.append(p)
    return keys, holders


def _like(grads, keys, arrays):
    if keys is not None:
        return dict(zip(keys, arrays, strict=True))
    return tuple(arrays) if isinstance(grads, tuple) else list(arrays)


def clip_grad_norm(grads, max_norm: float):
    """``numpy_rnn.clip_grad_norm`` by ``torch.nn.utils.clip_grad_norm_`` (on copies).

    Args:
        grads: list, tuple or dict of arrays; max_norm: float >= 0.

    Returns:
        clipped: new arrays, same container kind; total_norm: float, before clipping.
    """
    max_norm = check_positive("max_norm", max_norm, allow_zero=True)
    keys, holders = _grad_holders(grads)
    if not holders:
        return _like(grads, keys, []), 0.0
    total_norm = nn.utils.clip_grad_norm_(holders, max_norm)
    return _like(grads, keys, [_numpy(p.grad) for p in holders]), float(total_norm)


def clip_grad_value(grads, clip_value: float):
    """``numpy_rnn.clip_grad_value`` by ``torch.nn.utils.clip_grad_value_`` (on copies).

    Args:
        grads: list, tuple or dict of arrays; clip_value: float >= 0.

    Returns:
        clipped: new arrays, same container kind.
    """
    clip_value = check_positive("clip_value", clip_value, allow_zero=True)
    keys, holders = _grad_holders(grads)
    if holders:
        nn.utils.clip_grad_value_(holders, clip_value)
    return _like(grads, keys, [_numpy(p.grad) for p in holders])


# Models used by the exercises and the book. Inputs are batch first throughout.


class OneToMany(nn.Module):
    """Generate a sequence from one vector (e.g. a curve from its parameters).

    The vector sets the initial state, ``h_0 = tanh(x W_init + b_init)``; the RNN then reads its
    own previous output at each step (zeros at the first step) and emits the next one through a
    linear head. With ``targets``, training uses teacher forcing: step t reads the true
    ``targets[:, t-1]`` instead of the model's own output.

    Args:
        input_size: D, size of the conditioning vector.
        hidden_size: Dh.
        output_size: Q, size of each generated element.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.init_state = nn.Linear(input_size, hidden_size)
        self.cell = nn.RNNCell(output_size, hidden_size)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor, steps: int, targets: torch.Tensor | None = None):
        """x: (N, D); steps: T; targets: optional (N, T, Q). Returns (N, T, Q)."""
        h = torch.tanh(self.init_state(x))
        y_prev = x.new_zeros(x.shape[0], self.head.out_features)
        outputs = []
        for t in range(steps):
            h = self.cell(y_prev, h)
            y = self.head(h)
            outputs.append(y)
            y_prev = targets[:, t] if targets is not None else y
        return torch.stack(outputs, dim=1)


class ManyToOne(nn.Module):
    """Classify a whole sequence from the hidden state after its last element.

    Padded batches need no packing: the RNN is causal, so the state at step ``lengths[n] - 1``
    of sequence n does not depend on the padding after it, and that state is the one used.

    Args:
        input_size: D.
        hidden_size: Dh.
        num_classes: C.
    """

    def __init__(self, input_size: int, hidden_size: int, num_classes: int):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, X: torch.Tensor, lengths: torch.Tensor | None = None):
        """X: (N, T, D); lengths: optional (N,) true lengths (1..T). Returns logits (N, C)."""
        H, _ = self.rnn(X)
        if lengths is None:
            last = H[:, -1]
        else:
            last = H[torch.arange(H.shape[0]), torch.as_tensor(lengths) - 1]
        return self.head(last)


class ManyToManyAligned(nn.Module):
    """Tag every step of a sequence (one output per input), optionally reading both directions.

    Args:
        input_size: D.
        hidden_size: H (per direction).
        num_tags: C.
        bidirectional: if True, each step's tag sees the whole sequence (the head reads 2H).
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_tags: int, bidirectional: bool = False
    ):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, X: torch.Tensor):
        """X: (N, T, D). Returns logits (N, T, C)."""
        H, _ = self.rnn(X)
        return self.head(H)


class EncoderDecoder(nn.Module):
    """Sequence to sequence of a different length: an encoder RNN summarises the source into its
    final state, which becomes the initial state of a decoder RNN that emits the target.

    Training uses teacher forcing (:meth:`forward` reads the true previous target tokens);
    :meth:`greedy_decode` feeds back its own most likely token instead.

    Args:
        src_vocab: size of the source vocabulary.
        tgt_vocab: size of the target vocabulary.
        embed_size: E, size of the token embeddings.
        hidden_size: Dh.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, embed_size: int, hidden_size: int):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, embed_size)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed_size)
        self.encoder = nn.RNN(embed_size, hidden_size, batch_first=True)
        self.decoder = nn.RNN(embed_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, tgt_vocab)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """src: (N, S) token indices. Returns the encoder's final state (1, N, Dh)."""
        _, h = self.encoder(self.src_embed(src))
        return h

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor):
        """Teacher-forced logits.

        src: (N, S) source tokens; tgt_in: (N, T) decoder inputs, i.e. the target shifted right
        (``[bos, y_0, ..., y_{T-2}]``). Returns logits (N, T, tgt_vocab) for ``y_0 .. y_{T-1}``.
        """
        H, _ = self.decoder(self.tgt_embed(tgt_in), self.encode(src))
        return self.head(H)

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, bos: int, max_len: int, eos: int | None = None):
        """Decode by feeding back the arg-max token; after ``eos`` a sequence keeps emitting eos.

        src: (N, S). Returns (N, max_len) int64 tokens (bos not included).
        """
        h = self.encode(src)
        token = torch.full((src.shape[0], 1), bos, dtype=torch.long, device=src.device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        out = []
        for _ in range(max_len):
            H, h = self.decoder(self.tgt_embed(token), h)
            token = self.head(H).argmax(dim=-1)
            if eos is not None:
                token[finished] = eos
                finished |= token[:, 0] == eos
            out.append(token)
        return torch.cat(out, dim=1)


class CharRNN(nn.Module):
    """Character language model: characters -> (one-hot or embedding) -> nn.RNN -> nn.Linear.

    Args:
        vocab_size: V.
        hidden_size: Dh.
        embedding_dim: None to feed one-hot vectors (the model of ``numpy_rnn``), or the size of
            a learned ``nn.Embedding``.
        dtype: parameter dtype (float32 by default).
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        embedding_dim: int | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = (
            nn.Embedding(vocab_size, embedding_dim, dtype=dtype)
            if embedding_dim is not None
            else None
        )
        in_size = embedding_dim if embedding_dim is not None else vocab_size
        self.rnn = nn.RNN(in_size, hidden_size, batch_first=True, dtype=dtype)
        self.head = nn.Linear(hidden_size, vocab_size, dtype=dtype)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """idx: (N, T) int64. Returns (N, T, E or V) inputs for the RNN."""
        if self.embedding is not None:
            return self.embedding(idx)
        return F.one_hot(idx, self.vocab_size).to(self.head.weight.dtype)

    def forward(self, idx: torch.Tensor, h: torch.Tensor | None = None):
        """idx: (N, T) int64; h: optional (1, N, Dh). Returns logits (N, T, V) and h_last (1, N, Dh)."""
        H, h_last = self.rnn(self.embed(idx), h)
        return self.head(H), h_last

    @torch.no_grad()
    def sample(
        self,
        seed_ix: int,
        n: int,
        temperature: float = 1.0,
        h: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ):
        """Sample ``n`` characters, each drawn from ``softmax(logits / temperature)`` and fed back.

        seed_ix: first input character; h: optional (1, 1, Dh) initial state; generator: a
        ``torch.Generator`` for reproducible samples. Returns a list of n ints (seed excluded).
        """
        temperature = check_positive("temperature", temperature)
        idx = torch.tensor([[int(seed_ix)]])
        out = []
        for _ in range(int(n)):
            logits, h = self(idx, h)
            p = torch.softmax(logits[0, -1].double() / temperature, dim=-1)
            idx = torch.multinomial(p, 1, generator=generator)[None]
            out.append(int(idx))
        return out


def char_rnn_from_numpy(params: dict) -> CharRNN:
    """A one-hot :class:`CharRNN` holding ``numpy_rnn`` char-RNN parameters (same dtype).

    PyTorch's second bias ``bias_hh`` is set to zero and frozen (``requires_grad=False``), so an
    optimiser updates exactly the parameters of the NumPy model.

    Args:
        params: dict from ``numpy_rnn.char_rnn_init``: W_xh (V, Dh), W_hh (Dh, Dh), b_h (Dh,),
            W_hq (Dh, V), b_q (V,).

    Returns:
        CharRNN with ``embedding_dim=None``.
    """
    params, dims = take_char_params(params)
    dtype = params["W_xh"].dtype
    model = CharRNN(dims["V"], dims["Dh"], dtype=_torch_dtype(dtype))
    _set_rnn_weights(model.rnn, params["W_xh"], params["W_hh"], params["b_h"], dtype, "_l0")
    model.rnn.bias_hh_l0.requires_grad_(False)
    with torch.no_grad():
        model.head.weight.copy_(_tensor(params["W_hq"], dtype).T)
        model.head.bias.copy_(_tensor(params["b_q"], dtype))
    return model


def train_char_rnn(
    data,
    model: CharRNN,
    *,
    seq_length: int = 25,
    steps: int = 300,
    lr: float = 0.1,
    clip_value: float = 5.0,
):
    """Train a :class:`CharRNN` in place, exactly as ``numpy_rnn.train_char_rnn`` trains its model.

    Consecutive windows of one stream, the hidden state carried across windows without gradient
    (detached) and reset when the text wraps around, loss summed over the window, elementwise
    gradient clipping and ``torch.optim.Adagrad``. Started from ``char_rnn_from_numpy`` of the
    same initial parameters, it follows the NumPy trajectory up to rounding.

    Speed: for a model this small, ``torch.set_num_threads(1)`` is faster than the default. In
    float32, a model started from PyTorch's default initialisation (weights up to 1/sqrt(H)) soon
    produces subnormal probabilities under Adagrad at lr = 0.1, which makes the CPU about ten
    times slower; start from ``numpy_rnn.char_rnn_init`` (weights ~0.01) or call
    ``torch.set_flush_denormal(True)``.

    Args:
        data: (L,) integer character indices, L > seq_length.
        model: the CharRNN to train.
        seq_length: T; steps: number of updates; lr: Adagrad learning rate;
        clip_value: elementwise gradient clip.

    Returns:
        losses: (steps,) NumPy array, loss per character of each window before its update.
    """
    data = take_targets("data", np.asarray(data), ("L",), Dims(), model.vocab_size)
    if len(data) <= seq_length:
        raise ValueError(f"data must be longer than seq_length = {seq_length}, got {len(data)}")
    data = torch.from_numpy(data.astype(np.int64))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adagrad(trainable, lr=lr)
    losses = np.empty(steps)
    p, h = 0, None
    for step in range(steps):
        if p + seq_length + 1 > len(data):
            p, h = 0, None
        inputs = data[None, p : p + seq_length]
        targets = data[None, p + 1 : p + seq_length + 1]
        logits, h = model(inputs, h)
        loss = F.cross_entropy(logits.reshape(seq_length, -1), targets.reshape(-1), reduction="sum")
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(trainable, clip_value)
        optimizer.step()
        h = h.detach()
        losses[step] = loss.item() / seq_length
        p += seq_length
    return losses


# Gated cells: nn.LSTM and nn.GRU (batch_first=True). PyTorch stores every weight transposed with
# respect to the course's row-vector layout: W_x = weight_ih_l0.T, W_h = weight_hh_l0.T.


def _make_lstm(W_x, W_h, b, dtype) -> nn.LSTM:
    D, Dh = W_x.shape[0], W_h.shape[0]
    lstm = nn.LSTM(D, Dh, batch_first=True, dtype=_torch_dtype(dtype))
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(_tensor(W_x, dtype).T)
        lstm.weight_hh_l0.copy_(_tensor(W_h, dtype).T)
        lstm.bias_ih_l0.copy_(_tensor(b, dtype))
        lstm.bias_hh_l0.zero_()  # the course's single b is bias_ih_l0 + bias_hh_l0
    return lstm


def lstm_forward(X, h0, c0, W_x, W_h, b):
    """``numpy_rnn.lstm_forward`` computed by ``torch.nn.LSTM(batch_first=True)``.

    nn.LSTM returns the cell state of the last step only; the cell states of the cache are
    recovered by running the same module one step at a time.

    Args:
        X: (N, T, D); h0, c0: (N, Dh); W_x: (D, 4Dh); W_h: (Dh, 4Dh); b: (4Dh,).

    Returns:
        H: (N, T, Dh); cache: :class:`~numpy_rnn.LSTMCache`.
    """
    dims = Dims()
    X = take("X", X, ("N", "T", "D"), dims)
    W_x, W_h, b = take_gated_params((("W_x", W_x), ("W_h", W_h)), (("b", b),), dims, 4)
    h0 = take("h0", h0, ("N", "Dh"), dims)
    c0 = take("c0", c0, ("N", "Dh"), dims)
    dtype = np.result_type(X, h0, c0, W_x, W_h, b)
    lstm = _make_lstm(W_x, W_h, b, dtype)
    X_t = _tensor(X, dtype)
    with torch.no_grad():
        H, _ = lstm(X_t, (_tensor(h0, dtype)[None], _tensor(c0, dtype)[None]))
        state = (_tensor(h0, dtype)[None], _tensor(c0, dtype)[None])
        C = []
        for t in range(X.shape[1]):
            _, state = lstm(X_t[:, t : t + 1], state)
            C.append(state[1][0])
    H = _numpy(H)
    C = _numpy(torch.stack(C, dim=1)) if C else np.empty_like(H)
    return H, LSTMCache(X, h0, c0, W_x, W_h, b, H, C)


def lstm_backward(dH, cache: LSTMCache):
    """``numpy_rnn.lstm_backward`` by autograd through ``torch.nn.LSTM``.

    Args:
        dH: (N, T, Dh); cache: :class:`~numpy_rnn.LSTMCache` from either module.

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dc0: (N, Dh); dW_x: (D, 4Dh); dW_h: (Dh, 4Dh); db: (4Dh,).
    """
    _check_cache("cache", cache, LSTMCache)
    N, T, Dh = cache.H.shape
    dH = take("dH", dH, ("N", "T", "Dh"), Dims({"N": N, "T": T, "Dh": Dh}, "the cache"))
    dtype = np.result_type(dH, cache.X, cache.h0, cache.c0, cache.W_x, cache.W_h, cache.b)
    lstm = _make_lstm(cache.W_x, cache.W_h, cache.b, dtype)
    X = _tensor(cache.X, dtype, requires_grad=True)
    h0 = _tensor(cache.h0, dtype, requires_grad=True)
    c0 = _tensor(cache.c0, dtype, requires_grad=True)
    H, _ = lstm(X, (h0[None], c0[None]))
    H.backward(_tensor(dH, dtype))
    # bias_ih and bias_hh enter the pre-activation the same way: either gradient is db.
    return (
        _numpy(X.grad),
        _numpy(h0.grad),
        _numpy(c0.grad),
        _numpy(lstm.weight_ih_l0.grad.T),
        _numpy(lstm.weight_hh_l0.grad.T),
        _numpy(lstm.bias_ih_l0.grad),
    )


def _make_gru(W_x, W_h, b_x, b_h, dtype) -> nn.GRU:
    D, Dh = W_x.shape[0], W_h.shape[0]
    gru = nn.GRU(D, Dh, batch_first=True, dtype=_torch_dtype(dtype))
    with torch.no_grad():
        gru.weight_ih_l0.copy_(_tensor(W_x, dtype).T)
        gru.weight_hh_l0.copy_(_tensor(W_h, dtype).T)
        gru.bias_ih_l0.copy_(_tensor(b_x, dtype))
        gru.bias_hh_l0.copy_(_tensor(b_h, dtype))
    return gru


def gru_forward(X, h0, W_x, W_h, b_x, b_h):
    """``numpy_rnn.gru_forward`` computed by ``torch.nn.GRU(batch_first=True)``.

    Args:
        X: (N, T, D); h0: (N, Dh); W_x: (D, 3Dh); W_h: (Dh, 3Dh); b_x, b_h: (3Dh,).

    Returns:
        H: (N, T, Dh); cache: :class:`~numpy_rnn.GRUCache`.
    """
    dims = Dims()
    X = take("X", X, ("N", "T", "D"), dims)
    W_x, W_h, b_x, b_h = take_gated_params(
        (("W_x", W_x), ("W_h", W_h)), (("b_x", b_x), ("b_h", b_h)), dims, 3
    )
    h0 = take("h0", h0, ("N", "Dh"), dims)
    dtype = np.result_type(X, h0, W_x, W_h, b_x, b_h)
    with torch.no_grad():
        H, _ = _make_gru(W_x, W_h, b_x, b_h, dtype)(_tensor(X, dtype), _tensor(h0, dtype)[None])
    H = _numpy(H)
    return H, GRUCache(X, h0, W_x, W_h, b_x, b_h, H)


def gru_backward(dH, cache: GRUCache):
    """``numpy_rnn.gru_backward`` by autograd through ``torch.nn.GRU``.

    Args:
        dH: (N, T, Dh); cache: :class:`~numpy_rnn.GRUCache` from either module.

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dW_x: (D, 3Dh); dW_h: (Dh, 3Dh); db_x: (3Dh,); db_h: (3Dh,).
    """
    _check_cache("cache", cache, GRUCache)
    N, T, Dh = cache.H.shape
    dH = take("dH", dH, ("N", "T", "Dh"), Dims({"N": N, "T": T, "Dh": Dh}, "the cache"))
    dtype = np.result_type(dH, cache.X, cache.h0, cache.W_x, cache.W_h, cache.b_x, cache.b_h)
    gru = _make_gru(cache.W_x, cache.W_h, cache.b_x, cache.b_h, dtype)
    X = _tensor(cache.X, dtype, requires_grad=True)
    h0 = _tensor(cache.h0, dtype, requires_grad=True)
    H, _ = gru(X, h0[None])
    H.backward(_tensor(dH, dtype))
    return (
        _numpy(X.grad),
        _numpy(h0.grad),
        _numpy(gru.weight_ih_l0.grad.T),
        _numpy(gru.weight_hh_l0.grad.T),
        _numpy(gru.bias_ih_l0.grad),
        _numpy(gru.bias_hh_l0.grad),
    )
