# Source of solutions/05_gradient_clipping/gradient_clipping.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 5: gradient clipping
#
# | | |
# |---|---|
# | **Follows** | chapter 8, [Why the loss oscillates](../../book/chapters/08_loss_oscillation.ipynb) |
# | **Time** | about 1 hour |
# | **Prerequisites** | [Exercise 2](../02_bptt/bptt.ipynb) (gradients that grow or shrink through time); NumPy |
# | **What you will build** | norm clipping and value clipping in NumPy, checked against PyTorch's; a training run with and without clipping; and an experiment where clipping cannot help, because the gradient vanishes instead |
#
# **After this exercise you can**
#
# - clip a set of gradients by their global norm, exactly as `torch.nn.utils.clip_grad_norm_`
#   does, and clip them elementwise as `torch.nn.utils.clip_grad_value_` does;
# - say how the two differ: rescaling keeps the gradient's direction, clamping does not, and a
#   clamping threshold bounds the step only once it is scaled to the number of parameters;
# - show on a real training run that clipping turns the sudden loss spikes of an RNN into a
#   steady descent.
#
# **NumPy only.** Write both functions with NumPy. PyTorch is not available when your notebook
# is graded (the grader's sandbox does not offer it), so a function that calls
# `torch.nn.utils.clip_grad_norm_` gets no points. Only the experiment of section 3, which is not
# graded, trains a PyTorch model with your function, and imports PyTorch there.
#
# **How to work.** Fill in every cell that contains `raise NotImplementedError(...)`, then run
# the test cell below it. Hidden tests try other gradients: other shapes, a single array,
# gradients that are already small, all-zero gradients, and a threshold of 0.
#
# **Why clip at all?** In [Exercise 2](../02_bptt/bptt.ipynb) you saw the gradient on an early
# state grow as it travels back through time, which needs a largest singular value
# $\sigma_{\max}(W_{hh}) > 1$. In training this shows up as rare, huge gradients: one step of gradient descent then throws the
# weights far away and the loss jumps by orders of magnitude. Clipping bounds the size of every
# step while keeping (for norm clipping) its direction.

# %% [code] tags=hide-input
# Course setup: make the course package `autograder` importable. In a checkout of the
# repository it is imported from there; on Colab, or any machine without it, it is first
# installed with pip from https://github.com/open-rnn-course/rnn-course
# Where it already imports, this cell changes nothing.
import importlib.util
import subprocess
import sys
from pathlib import Path

for _root in (Path.cwd(), *Path.cwd().parents):
    if (_root / "autograder" / "__init__.py").is_file():
        for _path in (str(_root / "book"), str(_root)):
            if _path not in sys.path:
                sys.path.insert(0, _path)
        break
if importlib.util.find_spec("autograder") is None:
    _spec = "rnn-course @ git+https://github.com/open-rnn-course/rnn-course@main"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", _spec], check=True)

# %% [setup] id=setup_imports
import matplotlib.pyplot as plt
import numpy as np

from autograder.notebook_checks import (
    CheckFailure,
    check_array,
    check_scalar,
    check_unchanged,
    expected_values,
)

EXPECTED = expected_values("05_gradient_clipping")  # the visible tests' answers, stored

# %% [markdown]
# ## 1. Clipping by the global norm
#
# The gradients of a model are several arrays (one per parameter). Treat them as **one long
# vector** $g$: its norm is
#
# $$\lVert g \rVert = \sqrt{\sum_{\text{arrays } G} \; \sum_{\text{entries}} G_{ij}^2}$$
#
# If that norm exceeds `max_norm`, scale *every* array by the same factor so that the norm comes
# down to `max_norm`; otherwise leave them alone. PyTorch computes the factor as
#
# $$c = \frac{\mathtt{max\_norm}}{\lVert g \rVert + 10^{-6}}$$
#
# and multiplies by $c$ only when $c < 1$ (the $10^{-6}$ avoids dividing by zero). Do the same,
# so that your function and PyTorch's agree to the last digit.
#
# Return **new** arrays (the caller's arrays must not change) in a list, and the norm measured
# **before** clipping, as a Python float.


# %% [answer] id=clip_grad_norm_impl
def clip_grad_norm(grads, max_norm):
    """Rescale gradients so that their global L2 norm is at most max_norm.

    Args:
        grads: list of arrays (any shapes), the gradients of all the parameters.
        max_norm: float >= 0, the largest allowed global norm.

    Returns:
        clipped: list of new arrays, each grads[i] * min(1, max_norm / (total_norm + 1e-6)).
        total_norm: float, the global norm of grads before clipping.
    """
    # Global norm of all the arrays together; one coefficient, applied only if it is below 1.
    ### BEGIN SOLUTION
    total_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))
    coef = max_norm / (total_norm + 1e-6)
    if coef < 1:
        return [g * coef for g in grads], total_norm
    return [np.array(g, copy=True) for g in grads], total_norm
    ### END SOLUTION


# %% [setup] id=setup_clip_helpers
def check_clipped(name, got, expected, exact=True):
    """Check a list of clipped arrays against the expected list.

    The expected arrays are what torch.nn.utils.clip_grad_norm_ / clip_grad_value_ give (computed
    once by the course's NumPy reference, which its tests check against PyTorch, and stored).
    Clipping by value copies or clamps entries, so it is checked to the last digits; clipping by
    norm divides by the norm plus 1e-6, a rounding difference that the default tolerance (the
    grader's) lets through."""
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        got_text = f"{len(got)} items" if isinstance(got, (list, tuple)) else type(got).__name__
        raise CheckFailure(f"{name} must be a list of {len(expected)} arrays, got {got_text}.")
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if exact:
            check_array(f"{name}[{i}]", g, e, atol=1e-12, rtol=1e-9)
        else:
            check_array(f"{name}[{i}]", g, e)


def random_grads(seed, shapes, scale):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(shape) for shape in shapes]


# %% [test] id=test_clip_grad_norm points=3
grads = random_grads(0, [(3, 4), (4, 4), (4,)], scale=2.0)  # global norm about 11
before = [g.copy() for g in grads]
result = clip_grad_norm(grads, max_norm=1.0)
if not isinstance(result, tuple) or len(result) != 2:
    raise CheckFailure("clip_grad_norm must return a tuple (clipped, total_norm).")
clipped, total_norm = result
for i, (b, g) in enumerate(zip(before, grads, strict=True)):
    check_unchanged(f"grads[{i}]", b, g)
check_scalar(
    "total_norm compared with torch.nn.utils.clip_grad_norm_",
    total_norm,
    float(EXPECTED["norm_total"]),
    rtol=1e-12,
    hint="one norm over all the arrays together: the square root of the sum of all squared entries.",
)
check_clipped(
    "clipped compared with torch.nn.utils.clip_grad_norm_",
    clipped,
    [EXPECTED[f"norm_clipped_{i}"] for i in range(3)],
    exact=False,
)
# Gradients that are already small enough come back unchanged.
small = random_grads(1, [(2, 3), (5,)], scale=0.1)
check_clipped(
    "clip_grad_norm(small gradients, max_norm=10)[0]", clip_grad_norm(small, 10.0)[0], small
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

cases = [
    ([(1,)], 3.0, 0.5),
    ([(2, 1, 3)], 1.0, 5.0),
    ([(7, 2), (1, 1), (3,), (2, 2, 2)], 1.0, 0.7),
    ([(4, 4), (4,)], 2.5, 0.01),
    ([(3, 3), (3,)], 0.0, 1.0),
]
for seed, (shapes, scale, max_norm) in enumerate(cases, start=101):
    grads = random_grads(seed, shapes, scale)
    before = [g.copy() for g in grads]
    clipped, total_norm = clip_grad_norm(grads, max_norm)
    for i, (b, g) in enumerate(zip(before, grads, strict=True)):
        check_unchanged(f"grads[{i}]", b, g)
    expected, expected_norm = numpy_rnn.clip_grad_norm(before, max_norm)
    name = f"clip_grad_norm(shapes {shapes}, max_norm={max_norm})"
    check_scalar(f"{name}: total_norm", total_norm, expected_norm, rtol=1e-12)
    check_clipped(f"{name}: clipped", clipped, expected, exact=False)
zeros = [np.zeros((2, 2)), np.zeros(3)]
clipped, total_norm = clip_grad_norm(zeros, 1.0)
check_scalar("total_norm of all-zero gradients", total_norm, 0.0)
check_clipped("clip_grad_norm(all-zero gradients)", clipped, zeros)
### END HIDDEN TESTS
print("✓ clip_grad_norm matches torch.nn.utils.clip_grad_norm_")

# %% [markdown]
# ## 2. Clipping by value
#
# The simpler alternative clamps every entry to $[-\mathtt{clip\_value}, \mathtt{clip\_value}]$
# (`np.clip` does it); Karpathy's `min-char-rnn` clamps at 5. Unlike norm clipping it can change
# the gradient's *direction*: a gradient $(10, 0.1)$ clamped at 1 becomes $(1, 0.1)$, which points
# somewhere else. Its threshold is also on another scale: $P$ entries clamped to $\pm c$ can
# still have norm $c\sqrt{P}$, so clamping at $c$ bounds the step only as clipping by norm at
# $\theta = c\sqrt{P}$ does, a far looser bound once there are thousands of parameters; the
# matched value is $c = \theta/\sqrt{P}$. Chapter 8 compares
# the two rules with matched thresholds over several seeds and learning rates; the capstone
# clips by norm, whose threshold is a step length whatever the number of parameters.


# %% [answer] id=clip_grad_value_impl
def clip_grad_value(grads, clip_value):
    """Clamp every gradient entry to [-clip_value, clip_value].

    Args:
        grads: list of arrays (any shapes).
        clip_value: float >= 0.

    Returns:
        list of new arrays of the same shapes.
    """
    # One np.clip per array; do not modify the inputs.
    ### BEGIN SOLUTION
    return [np.clip(g, -clip_value, clip_value) for g in grads]
    ### END SOLUTION


# %% [test] id=test_clip_grad_value points=2
grads = random_grads(0, [(3, 4), (4,)], scale=2.0)
before = [g.copy() for g in grads]
clipped = clip_grad_value(grads, 1.5)
for i, (b, g) in enumerate(zip(before, grads, strict=True)):
    check_unchanged(f"grads[{i}]", b, g)
check_clipped(
    "clip_grad_value(grads, 1.5) compared with torch.nn.utils.clip_grad_value_",
    clipped,
    [EXPECTED[f"value_clipped_{i}"] for i in range(2)],
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

for seed, (shapes, scale, clip_value) in enumerate(
    [([(1,)], 3.0, 0.5), ([(2, 1, 3), (5,)], 1.0, 0.0), ([(6, 2)], 0.1, 10.0)], start=201
):
    grads = random_grads(seed, shapes, scale)
    before = [g.copy() for g in grads]
    clipped = clip_grad_value(grads, clip_value)
    for i, (b, g) in enumerate(zip(before, grads, strict=True)):
        check_unchanged(f"grads[{i}]", b, g)
    check_clipped(
        f"clip_grad_value(shapes {shapes}, clip_value={clip_value})",
        clipped,
        numpy_rnn.clip_grad_value(before, clip_value),
    )
### END HIDDEN TESTS
print("✓ clip_grad_value matches torch.nn.utils.clip_grad_value_")

# %% [markdown]
# ## 3. Experiment: training with and without clipping
#
# **Task.** Read 40 random numbers and output, at the end, the sum of the *first three*. The
# answer lies 37 steps back, so the gradient has to travel a long way through time.
#
# **Model.** An `nn.RNN` with 32 hidden units whose recurrent weights start as a random
# orthogonal matrix times 1.2 (every singular value 1.2, so gradients can grow as they go
# back), a linear read-out of the last state, plain SGD.
#
# The cell below trains the same model from the same start three times: without clipping; with
# *your* `clip_grad_norm` applied to the gradients before each step; and with PyTorch's
# `clip_grad_norm_`. It plots the losses and the gradient norms.

# %% [setup] id=setup_experiment
import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)  # models this small train fastest on one thread
T_RECALL = 40


def recall_batch(batch_size, generator):
    """X (N, 40, 1) standard normal; y (N, 1) = the sum of the first three inputs."""
    X = torch.randn(batch_size, T_RECALL, 1, generator=generator, dtype=torch.float64)
    return X, X[:, :3, 0].sum(dim=1, keepdim=True)


class LastStateRegressor(nn.Module):
    def __init__(self, hidden_size=32, spectral_radius=1.2):
        super().__init__()
        self.rnn = nn.RNN(1, hidden_size, batch_first=True, dtype=torch.float64)
        self.head = nn.Linear(hidden_size, 1, dtype=torch.float64)
        with torch.no_grad():
            q, _ = torch.linalg.qr(torch.randn(hidden_size, hidden_size, dtype=torch.float64))
            self.rnn.weight_hh_l0.copy_(spectral_radius * q)

    def forward(self, X):
        H, _ = self.rnn(X)
        return self.head(H[:, -1])


def run(clipping, steps=400, lr=0.02, max_norm=1.0, seed=0, spectral_radius=1.2):
    """Train a fresh model; clipping is None, "yours" or "torch". Returns (losses, grad norms).
    ``spectral_radius``: every singular value of the starting W_hh (an orthogonal matrix times it).
    """
    torch.manual_seed(seed)
    model = LastStateRegressor(spectral_radius=spectral_radius)
    params = list(model.parameters())
    optimizer = torch.optim.SGD(params, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses, norms = [], []
    for _ in range(steps):
        X, y = recall_batch(32, generator)
        loss = F.mse_loss(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        if clipping == "yours":
            clipped, norm = clip_grad_norm([p.grad.numpy() for p in params], max_norm)
            with torch.no_grad():
                for p, g in zip(params, clipped, strict=True):
                    p.grad.copy_(torch.from_numpy(np.asarray(g, dtype=np.float64)))
        elif clipping == "torch":
            norm = float(nn.utils.clip_grad_norm_(params, max_norm))
        else:
            norm = float(nn.utils.clip_grad_norm_(params, float("inf")))  # measures only
        optimizer.step()
        losses.append(loss.item())
        norms.append(norm)
    return np.array(losses), np.array(norms)


# %% [code]
results = {label: run(label) for label in (None, "yours", "torch")}
labels = {None: "no clipping", "yours": "your clip_grad_norm", "torch": "torch clip_grad_norm_"}
window = 10  # the curves are running means over 10 steps, to make the trend visible

fig, (ax_loss, ax_norm) = plt.subplots(1, 2, figsize=(11, 3.5))
for key, (losses, norms) in results.items():
    style = {"linestyle": ":", "linewidth": 2} if key == "torch" else {}
    ax_loss.semilogy(
        np.convolve(losses, np.ones(window) / window, "valid"), label=labels[key], **style
    )
    ax_norm.semilogy(norms, label=labels[key], **style)
ax_loss.set(xlabel="step", ylabel="training loss (MSE)", title="Loss (running mean)")
ax_norm.set(xlabel="step", ylabel="gradient norm before clipping", title="Gradient norm")
ax_loss.legend()
plt.show()

for key, (losses, norms) in results.items():
    print(
        f"{labels[key]:22s} mean loss over the last 50 steps {losses[-50:].mean():6.3f}, "
        f"largest gradient norm {norms.max():6.1f} (at step {norms.argmax()})"
    )
difference = np.abs(results["yours"][0] - results["torch"][0]).max()
print(f"largest difference between the losses with your clipping and PyTorch's: {difference:.1e}")

# %% [markdown]
# **What to look for.** Without clipping, one of the first large gradients (right panel) throws
# the weights into a region the model does not come back from: its loss stalls near 3, the
# variance of the target, which is what a model that always predicts the same number scores.
# With clipping, no step is longer than `lr * max_norm`, however large the gradient, and the loss
# keeps going down. Your clipping and PyTorch's should give the same curve (the dotted line lies
# on top of the other), up to rounding.
#
# Things to try: `run(None, lr=0.05)`, where the run without clipping blows up completely;
# `run("yours", max_norm=0.1)` or `max_norm=10`; and the experiment below.
#
# **Experiment: a recurrent matrix that shrinks.** The cell below trains the same model with
# and without your clipping, starting from a recurrent matrix whose singular values are all
# 0.9 instead of 1.2 (`run(..., spectral_radius=0.9)`; change the argument to try others).
#
# **What you will see, and why.** The run without clipping ends near 3 again, for the opposite
# reason: the gradient vanishes. From the last state back to the first three inputs it goes
# through 37 Jacobians $\operatorname{diag}(1 - H_t^2)\, W_{hh}^\top$, each of
# norm at most $\sigma_{\max}(W_{hh}) = 0.9$ at the start, so what reaches them is at most
# $0.9^{37}$ of it (the cell prints this bound): the model never learns that the target lives
# there. Clipping only ever shortens a step, so it cannot bring back a gradient that is too
# small: the clipped run ends far above where it ends with 1.2 (on most seeds it stalls near
# 3 too). Clipping cures exploding gradients; vanishing ones need another cell, the LSTM and GRU
# of [Exercise 7](../07_gated/gated.ipynb).


# %% [code]
print(f"the bound on the share of the gradient that travels 37 steps back: 0.9**37 = {0.9**37:.3f}")
for label in ("yours", None):
    losses, norms = run(label, spectral_radius=0.9)
    print(
        f"{labels[label]:22s} spectral radius 0.9: mean loss over the last 50 steps "
        f"{losses[-50:].mean():6.3f}, largest gradient norm {norms.max():6.1f}"
    )
print(f"(with 1.2 and your clipping: {results['yours'][0][-50:].mean():.3f})")

# %% [markdown]
# Next: [Exercise 6](../06_char_rnn/char_rnn.ipynb), the capstone: a character-level language
# model.
