"""Fixed objects the parent can ask the child to build, since functions cannot travel as data.

* :data:`FUNCTIONS`: test functions of one array, handed to the student's code as arguments
  (``numerical_gradient(f, x, df)``). The parent builds the very same functions from here to
  compute the expected results.
* :func:`probe_module`: build a student's ``nn.Module`` with sizes chosen by the parent, run it
  on the parent's inputs and report the outputs, and which parameters receive a gradient.
"""

from __future__ import annotations

import numpy as np


def _tanh_affine(A, b):
    """x (M, K) -> tanh(x A + b), (M, J): a smooth vector function of a matrix."""

    def f(x):
        return np.tanh(x @ A + b)

    return f


def _weighted_sin_sum(c):
    """x (any shape) -> sum(c * sin(x)), a scalar."""

    def f(x):
        return np.sum(c * np.sin(x))

    return f


def _rnn_last_state(X, W_hh, b_h):
    """W_xh (D, H) -> the last hidden state of a tanh RNN over X (N, T, D), (N, H)."""

    def f(W_xh):
        h = np.zeros((X.shape[0], W_hh.shape[0]))
        for t in range(X.shape[1]):
            h = np.tanh(X[:, t] @ W_xh + h @ W_hh + b_h)
        return h

    return f


FUNCTIONS = {
    "tanh_affine": _tanh_affine,
    "weighted_sin_sum": _weighted_sin_sum,
    "rnn_last_state": _rnn_last_state,
}


def probe_module(cls, init, inputs, seed: int, grad: bool) -> dict:
    """Build ``cls(*init)`` and run it on each input list; report outputs and gradient flow.

    Float inputs are given in PyTorch's default dtype (a notebook may have switched it to
    float64), integer inputs as int64 token indices. The gradient probe back-propagates a
    fixed random projection of the first output from the first inputs, so that no parameter
    gets a zero gradient by symmetry.
    """
    import torch

    torch.manual_seed(seed)
    model = cls(*init)
    is_module = isinstance(model, torch.nn.Module)
    if is_module:
        model.eval()

    def tensors(arrays):
        out = []
        for a in arrays:
            if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                out.append(torch.as_tensor(a, dtype=torch.get_default_dtype()))
            elif isinstance(a, np.ndarray):
                out.append(torch.as_tensor(a, dtype=torch.int64))
            else:
                out.append(a)
        return out

    outputs = []
    with torch.no_grad():
        for arrays in inputs:
            outputs.append(model(*tensors(arrays)))
    report = {"is_module": is_module, "outputs": outputs, "grads": None, "n_params": 0}
    if is_module:
        params = list(model.named_parameters())
        report["n_params"] = int(sum(p.numel() for _, p in params))
        if grad and params:
            out = model(*tensors(inputs[0]))
            while isinstance(out, (tuple, list)) and out:
                out = out[0]
            g = torch.Generator().manual_seed(seed)
            weights = torch.randn(tuple(out.shape), generator=g, dtype=torch.float64)
            (out.double() * weights).sum().backward()
            report["grads"] = {
                name: bool(p.grad is not None and float(p.grad.abs().sum()) > 0)
                for name, p in params
            }
    return report
