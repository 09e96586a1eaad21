"""Fixed objects the parent can ask the child to build, since functions cannot travel as data.

* :data:`FUNCTIONS`: test functions of one array, handed to the student's code as arguments
  (``numerical_gradient(f, x, df)``). The parent builds the very same functions from here to
  compute the expected results.
* :func:`probe_module`: build a student's ``nn.Module`` with sizes chosen by the parent, run it
  on the parent's inputs and report the outputs, and which parameters receive a gradient.
"""

from __future__ import annotations

# The learner's code runs in this process and may replace builtins; the grader's side keeps
# its own references, taken before any of that code runs.
from builtins import (  # noqa: UP029 - see the comment above
    bool,
    dict,
    enumerate,
    float,
    int,
    isinstance,
    len,
    list,
    range,
    sum,
    tuple,
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


# Each takes its parameters and an array namespace (NumPy here; the parent also builds them with
# PyTorch to get exact gradients by autograd).
FUNCTIONS = {
    "tanh_affine": _tanh_affine,
    "sin_times_square": _sin_times_square,
    "sum_of_cubes": _sum_of_cubes,
    "identity": _identity,
}


# --------------------------------------------------------------------------------------------
# Tasks for training probes. NumPy generators, so that the child draws training batches and the
# parent draws held-out data (and keeps its answers) with the same code.

PAD, BOS, EOS = 10, 11, 12  # the digit-reversal task's special tokens


def sum_sign_batch(rng, batch: int, T: int = 12):
    """X (N, T, 1) standard normal; y (N,) = 1 where the sequence's sum is positive."""
    X = rng.standard_normal((batch, T, 1)).astype(np.float32)
    return (X,), (X.sum(axis=(1, 2)) > 0).astype(np.int64)


def rise_batch(rng, batch: int, T: int = 15):
    """X (N, T, 1); tags (N, T) = 1 where X went up since the previous step (0 at t = 0)."""
    X = rng.standard_normal((batch, T, 1)).astype(np.float32)
    tags = np.zeros((batch, T), dtype=np.int64)
    tags[:, 1:] = X[:, 1:, 0] > X[:, :-1, 0]
    return (X,), tags


def arithmetic_batch(rng, batch: int, steps: int = 8):
    """x (N, 2) = (a, d), a in [-1, 1], d in [-0.3, 0.3]; Y (N, steps, 1) = a + t d."""
    a = rng.uniform(-1, 1, (batch, 1))
    d = rng.uniform(-0.3, 0.3, (batch, 1))
    Y = (a + d * np.arange(steps))[..., None]
    return (np.concatenate([a, d], axis=1).astype(np.float32),), Y.astype(np.float32)


def reverse_batch(rng, batch: int, min_digits: int = 2, max_digits: int = 4):
    """src (N, max) left-padded digits; tgt_in = BOS + tgt[:, :-1]; tgt = reversed, EOS, PAD."""
    lengths = rng.integers(min_digits, max_digits + 1, batch)
    digits = rng.integers(0, 10, (batch, max_digits))
    src = np.full((batch, max_digits), PAD, dtype=np.int64)
    tgt = np.full((batch, max_digits + 1), PAD, dtype=np.int64)
    for i, length in enumerate(lengths):
        src[i, max_digits - length :] = digits[i, :length]
        tgt[i, :length] = digits[i, :length][::-1]
        tgt[i, length] = EOS
    tgt_in = np.concatenate([np.full((batch, 1), BOS), tgt[:, :-1]], axis=1)
    return (src, tgt_in), tgt


def char_windows(rng, batch: int, data, length: int = 64):
    """Windows of a text at random places: inputs and next characters, (N, length) each."""
    starts = rng.integers(0, len(data) - length - 1, batch)
    x = np.stack([data[s : s + length] for s in starts]).astype(np.int64)
    y = np.stack([data[s + 1 : s + length + 1] for s in starts]).astype(np.int64)
    return (x,), y


TASKS = {
    "sum_sign": sum_sign_batch,
    "rise": rise_batch,
    "arithmetic": arithmetic_batch,
    "reverse": reverse_batch,
    "char_windows": char_windows,
}


def _first_tensor(out):
    """The first tensor of a model's output (logits of a (logits, state) pair); TypeError if
    the model returned something else."""
    import torch

    while isinstance(out, (tuple, list)) and out:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"forward returned a {type(out).__name__}, not a tensor")
    return out


def train(model, task: dict) -> list:
    """The grader's recipe: Adam, global-norm clipping at 1, fresh batches; returns the losses.

    ``task``: {"name": one of TASKS, "steps", "lr", "batch", "seed", "options": kwargs of the
    task's generator, "loss": "cross_entropy" | "mse", "ignore_index": optional}.
    """
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(task["seed"])
    make = TASKS[task["name"]]
    optimizer = torch.optim.Adam(model.parameters(), lr=task["lr"])
    losses = []
    model.train()
    for _ in range(int(task["steps"])):
        inputs, target = make(rng, int(task["batch"]), **task.get("options", {}))
        out = _first_tensor(model(*_tensors(inputs)))
        target = torch.as_tensor(target)
        if task["loss"] == "mse":
            loss = F.mse_loss(out, target.to(out.dtype))
        else:
            loss = F.cross_entropy(
                out.reshape(-1, out.shape[-1]),
                target.reshape(-1),
                ignore_index=task.get("ignore_index", -100),
            )
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def _tensors(arrays):
    import torch

    out = []
    for a in arrays:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            out.append(torch.as_tensor(a, dtype=torch.get_default_dtype()))
        elif isinstance(a, np.ndarray):
            out.append(torch.as_tensor(a, dtype=torch.int64))
        else:
            out.append(a)
    return out


def probe_module(cls, init, inputs, seed: int, grad: bool, options: dict | None = None) -> dict:
    """Build ``cls(*init)``, optionally train it, run it on each input list, and report.

    Float inputs are given in PyTorch's default dtype (a notebook may have switched it to
    float64), integer inputs as int64 token indices. The gradient probe back-propagates a
    fixed random projection of the first output from the first inputs, so that no parameter
    gets a zero gradient by symmetry. ``options``: {"train": task for :func:`train`},
    {"split": k}: also read the first input in two pieces, ``[:, :k]`` then ``[:, k:]``
    from the state (the second output) the first piece returned.
    """
    import torch

    options = options or {}
    torch.manual_seed(seed)
    model = cls(*init)
    is_module = isinstance(model, torch.nn.Module)
    report = {"is_module": is_module, "outputs": [], "grads": None, "n_params": 0}
    if not is_module:
        return report
    params = list(model.named_parameters())
    report["n_params"] = int(sum(p.numel() for _, p in params))
    if grad and params:
        try:
            out = _first_tensor(model(*_tensors(inputs[0])))
        except TypeError:
            grad = False  # reported by the shape checks, from the outputs below
    if grad and params:
        g = torch.Generator().manual_seed(seed)
        weights = torch.randn(tuple(out.shape), generator=g, dtype=torch.float64)
        (out.double() * weights).sum().backward()
        report["grads"] = {
            name: bool(p.grad is not None and float(p.grad.abs().sum()) > 0) for name, p in params
        }
        model.zero_grad()
    if options.get("train"):
        report["losses"] = train(model, options["train"])
    model.eval()
    with torch.no_grad():
        for arrays in inputs:
            report["outputs"].append(model(*_tensors(arrays)))
        if options.get("split"):
            k = int(options["split"])
            tensors = _tensors(inputs[0])
            first = model(tensors[0][:, :k], *tensors[1:])
            second = model(tensors[0][:, k:], first[1])
            report["split"] = (first[0], second[0])
    return report
