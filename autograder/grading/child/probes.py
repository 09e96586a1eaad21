"""Fixed objects the parent can ask the child to build, and the child's generic runner for
``nn.Module`` exercises. Nothing here judges anything: see :mod:`..module_checks`.

* :data:`FUNCTIONS`: test functions of one array, handed to the student's code as arguments
  (``numerical_gradient(f, x, df)``). The parent builds the very same functions from here to
  compute the expected results.
* :func:`run_module`: build a learner's ``nn.Module`` class with arguments the parent chose,
  load the parent's weights into its parameters by name, run the parent's operations on the
  parent's arrays, and return the raw tensors. The parent runs this same function on its own
  reference module and compares the two reports value by value, so a report forged by the
  learner's code (which shares this interpreter and can replace anything here) is worth only
  what its numbers are: to forge them is to compute the answer.

The request (a plain dict, sent over :mod:`.wire`)::

    {"weights": {name: array},  # every parameter, by its name in model.named_parameters()
     "ops": [op, ...]}          # run in order, on the same model

Each ``op`` is a dict with ``"op"`` one of:

* ``"forward"``, ``inputs``: the output of ``model(*inputs)`` (under ``torch.no_grad``);
* ``"backward"``, ``inputs``, ``upstream``: back-propagate ``sum_i <out_i, upstream[i]>`` (the
  ``out_i`` are the tensors of the output, depth first); the gradients with respect to the
  float inputs (None for the others) and to each parameter, ``{"inputs": [...], "params": {...}}``;
* ``"sgd"``, ``inputs``, ``upstream``, ``lr``, ``steps``: that many steps of
  ``torch.optim.SGD(model.parameters(), lr)`` on the same linear loss; ``{"params": {...}}``;
* ``"fit"``, ``batches`` (a list of ``[inputs, target]``), ``loss`` ("cross_entropy" or "mse"),
  ``lr``, optional ``clip`` and ``ignore_index``: one step of Adam per batch on the loss of the
  output's first tensor, with global-norm clipping; ``{"params": {...}, "losses": [...]}``.

Float inputs are given in the dtype of the model's parameters (a notebook may have switched to
float64), integer inputs as int64 token indices, None stays None. The report is
``{"layout": {name: shape}, "results": [one per op]}``; when the model's parameters do not have
the names and shapes of ``weights``, only the layout comes back (the parent words the message).
An op that raises gives ``{"error": text}`` and the next ops still run (a MemoryError ends the
whole call).
"""

from __future__ import annotations

# The learner's code runs in this process and may replace builtins; the grader's side keeps
# its own references, taken before any of that code runs.
from builtins import (  # noqa: UP029 - see the comment above
    Exception,
    MemoryError,
    ValueError,
    dict,
    float,
    int,
    isinstance,
    len,
    list,
    str,
    tuple,
    type,
    zip,
)

import numpy as np


def _tanh_affine(A, b, xp=np):
    """x (M, K) -> tanh(x A + b), (M, J): a smooth vector function of a matrix."""

    def f(x):
        return xp.tanh(x @ A + b)

    return f


def _sin_times_square(xp=np):
    """x (any shape) -> sin(x) x**2, elementwise."""

    def f(x):
        return xp.sin(x) * x**2

    return f


def _sum_of_cubes(xp=np):
    """x (any shape) -> sum(x**3), a scalar."""

    def f(x):
        return (x**3).sum()

    return f


def _identity(xp=np):
    """x -> x itself (a view: a caller that does not copy f(x) sees it change)."""

    def f(x):
        return x

    return f


# Each takes its parameters and an array namespace (NumPy here and in the parent, which also
# writes out their exact derivatives: solutions/02_bptt/checks.py).
FUNCTIONS = {
    "tanh_affine": _tanh_affine,
    "sin_times_square": _sin_times_square,
    "sum_of_cubes": _sum_of_cubes,
    "identity": _identity,
}


# --------------------------------------------------------------------------------------------
# The generic runner for nn.Module exercises

MAX_ERROR = 300


def tensor_leaves(out) -> list:
    """The tensors of a model's output, depth first ((logits, h_last) -> [logits, h_last])."""
    import torch

    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in tensor_leaves(item)]
    return []


def _tensors(arrays, dtype, grad: bool = False) -> list:
    import torch

    out = []
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            t = torch.tensor(a, dtype=dtype)
            out.append(t.requires_grad_(True) if grad else t)
        elif isinstance(a, np.ndarray):
            out.append(torch.tensor(a.astype(np.int64)))
        else:
            out.append(a)
    return out


def _linear_loss(out, upstream):
    """sum_i <out_i, upstream_i> in float64: its gradient is the vector-Jacobian product."""
    import torch

    leaves = tensor_leaves(out)
    if len(leaves) != len(upstream):
        raise ValueError(f"forward returned {len(leaves)} tensors, expected {len(upstream)}")
    total = torch.zeros((), dtype=torch.float64)
    for leaf, g in zip(leaves, upstream, strict=True):
        if tuple(leaf.shape) != tuple(g.shape):
            raise ValueError(f"forward returned a tensor of shape {tuple(leaf.shape)}")
        total = total + (leaf.to(torch.float64) * torch.tensor(g, dtype=torch.float64)).sum()
    return total


def _values(params) -> dict:
    return {name: p.detach().clone() for name, p in params.items()}


def _forward(model, params, op, dtype):
    import torch

    with torch.no_grad():
        return {"out": model(*_tensors(op["inputs"], dtype))}


def _backward(model, params, op, dtype):
    inputs = _tensors(op["inputs"], dtype, grad=True)
    model.zero_grad(set_to_none=True)
    _linear_loss(model(*inputs), op["upstream"]).backward()
    grads = {
        name: (None if p.grad is None else p.grad.detach().clone()) for name, p in params.items()
    }
    return {"inputs": [_input_grad(x) for x in inputs], "params": grads}


def _input_grad(x):
    import torch

    if isinstance(x, torch.Tensor) and x.grad is not None:
        return x.grad.detach().clone()
    return None


def _sgd(model, params, op, dtype):
    import torch

    inputs = _tensors(op["inputs"], dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=float(op["lr"]))
    for _ in range(int(op["steps"])):
        optimizer.zero_grad(set_to_none=True)
        _linear_loss(model(*inputs), op["upstream"]).backward()
        optimizer.step()
    return {"params": _values(params)}


def _fit(model, params, op, dtype):
    import torch
    import torch.nn.functional as F

    optimizer = torch.optim.Adam(model.parameters(), lr=float(op["lr"]))
    losses = []
    model.train()
    for inputs, target in op["batches"]:
        leaves = tensor_leaves(model(*_tensors(inputs, dtype)))
        if not leaves:
            raise ValueError("forward returned no tensor")
        out, target = leaves[0], torch.tensor(target)
        if op["loss"] == "mse":
            loss = F.mse_loss(out, target.to(out.dtype))
        else:
            loss = F.cross_entropy(
                out.reshape(-1, out.shape[-1]),
                target.to(torch.int64).reshape(-1),
                ignore_index=int(op.get("ignore_index", -100)),
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if op.get("clip"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(op["clip"]))
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return {"params": _values(params), "losses": losses}


OPS = {"forward": _forward, "backward": _backward, "sgd": _sgd, "fit": _fit}


def _error_text(err) -> str:
    try:
        text = f"{type(err).__name__}: {err}"
    except Exception:  # noqa: BLE001 - a learner's exception may fail to print
        text = type(err).__name__
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def run_module(cls, init, request: dict) -> dict:
    """Build ``cls(*init)``, load ``request["weights"]``, run ``request["ops"]`` (see above)."""
    import torch

    model = cls(*init)
    if not isinstance(model, torch.nn.Module):
        return {"layout": None}
    params = dict(model.named_parameters())
    layout = {name: tuple(int(s) for s in p.shape) for name, p in params.items()}
    weights = request["weights"]
    wanted = {name: tuple(int(s) for s in np.shape(w)) for name, w in weights.items()}
    if layout != wanted:
        return {"layout": layout}
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(torch.tensor(value))
    dtype = next(iter(params.values())).dtype if params else torch.get_default_dtype()
    model.eval()
    results = []
    for op in request["ops"]:
        try:
            results.append(OPS[op["op"]](model, params, op, dtype))
        except MemoryError:
            raise  # the whole call fails: the parent says the code ran out of memory
        except Exception as err:  # noqa: BLE001 - the learner's forward may raise anything
            results.append({"error": _error_text(err)})
    return {"layout": layout, "results": results}
