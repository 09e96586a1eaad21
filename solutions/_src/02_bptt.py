# Source of solutions/02_bptt/bptt.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 2: backpropagation through time
#
# | | |
# |---|---|
# | **Follows** | chapter 5, [Backpropagation through time](../../book/chapters/05_bptt.ipynb) |
# | **Time** | about 3 hours |
# | **Prerequisites** | [Exercise 1](../01_rnn_cell/rnn_cell.ipynb); the chain rule for matrices |
# | **What you will build** | the backward pass of one step and of a whole sequence (BPTT), its truncation to $k$ steps, a numerical gradient check that Exercises 6 and 7 give back to you, and a measurement of how the gradient shrinks or grows going back in time |
#
# **After this exercise you can**
#
# - derive and code the backward pass of one RNN step;
# - run it backwards over a sequence, carrying the gradient from each step to the one before
#   (backpropagation through time, BPTT);
# - truncate BPTT to the last $k$ steps and say exactly what is dropped;
# - check any gradient against finite differences;
# - measure how the gradient shrinks or grows as it travels back in time, and relate it to the
#   recurrent weights.
#
# **NumPy only.** Write every answer with NumPy. PyTorch is not available when your notebook is
# graded (the grader's sandbox does not offer it), so an answer that calls PyTorch (autograd,
# say) gets no points; this notebook does not import PyTorch either.
#
# **How to work.** Fill in every cell that contains `raise NotImplementedError(...)`, then run
# the test cell below it. Hidden tests try other shapes and values, including $N = 1$ and
# $T = 1$.
#
# Shapes and names are those of [Exercise 1](../01_rnn_cell/rnn_cell.ipynb) and of the
# [notation page](../../book/notation.md): `X` $(N, T, D)$, `h0` $(N, D_h)$, `H` $(N, T, D_h)$,
# `W_xh` $(D, D_h)$, `W_hh` $(D_h, D_h)$, `b_h` $(D_h,)$, with $D_h$ the hidden size (`Dh` in
# shape tuples), and $H_t = \tanh(X_t W_{xh} + H_{t-1} W_{hh} + b_h)$ for $t = 1, \dots, T$,
# from the initial state $H_0$ = `h0`. Python counts from 0, so $X_t$ is `X[:, t-1]` and $H_t$ is
# `H[:, t-1]`. A gradient has the shape of what it is the gradient of: `dW_hh` is $(D_h, D_h)$,
# `dX` is $(N, T, D)$.

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

from autograder.handouts.bptt import rel_error
from autograder.handouts.bptt import rnn_forward as given_rnn_forward
from autograder.notebook_checks import (
    check_array,
    check_arrays,
    check_unchanged,
    expected_values,
    rnn_inputs,
)

np.set_printoptions(precision=4, suppress=True)
EXPECTED = expected_values("02_bptt")  # the visible tests' answers, computed once and stored


def rnn_forward(X, h0, W_xh, W_hh, b_h):
    """The forward pass of Exercise 1, given here: H (N, T, Dh), the state after every step."""
    H, _ = given_rnn_forward(X, h0, W_xh, W_hh, b_h)
    return H


# %% [markdown]
# ## 1. The backward pass of one step
#
# Write the step as two stages, $a = x W_{xh} + h_{prev} W_{hh} + b_h$ and
# $h_{next} = \tanh(a)$. Given the gradient of the loss with respect to the step's output,
# `dh_next` $= \partial L / \partial h_{next}$, the chain rule gives
#
# $$\frac{\partial L}{\partial a} = \frac{\partial L}{\partial h_{next}} \odot (1 - h_{next}^2)$$
#
# (in code, `da = dh_next * (1 - h_next**2)`), because $\tanh'(a) = 1 - \tanh(a)^2$: you need the step's *output*, not its input. From
# `da` every other gradient is one matrix product away. Work out which; the shapes tell you the
# order of each product (for example `dW_xh` must be $(D, D_h)$, and `x` is $(N, D)$, `da` is
# $(N, D_h)$). The bias is added to every row, so its gradient sums `da` over the batch.


# %% [answer] id=rnn_cell_backward_impl
def rnn_cell_backward(dh_next, x, h_prev, h_next, W_xh, W_hh):
    """Backward pass of one step h_next = tanh(x W_xh + h_prev W_hh + b_h).

    Args:
        dh_next: (N, Dh) gradient of the loss with respect to h_next.
        x: (N, D) the step's input.
        h_prev: (N, Dh) the state the step read.
        h_next: (N, Dh) the state the step computed.
        W_xh: (D, Dh); W_hh: (Dh, Dh) the weights.

    Returns:
        dx: (N, D); dh_prev: (N, Dh); dW_xh: (D, Dh); dW_hh: (Dh, Dh); db_h: (Dh,).
    """
    # First go back through tanh to get da, then one product (or sum) per gradient.
    ### BEGIN SOLUTION
    da = dh_next * (1 - h_next**2)
    dx = da @ W_xh.T
    dh_prev = da @ W_hh.T
    dW_xh = x.T @ da
    dW_hh = h_prev.T @ da
    db_h = da.sum(axis=0)
    return dx, dh_prev, dW_xh, dW_hh, db_h
    ### END SOLUTION


# %% [setup] id=setup_step_helpers
CELL_AXES = {
    "dx": ("N", "D"),
    "dh_prev": ("N", "Dh"),
    "dW_xh": ("D", "Dh"),
    "dW_hh": ("Dh", "Dh"),
    "db_h": ("Dh",),
}
SEQ_AXES = {
    "dX": ("N", "T", "D"),
    "dh0": ("N", "Dh"),
    "dW_xh": ("D", "Dh"),
    "dW_hh": ("Dh", "Dh"),
    "db_h": ("Dh",),
}


def one_step(seed, N, D, Dh):
    """Random inputs of one step, its output, and an upstream gradient."""
    X, h_prev, W_xh, W_hh, b_h = rnn_inputs(seed, N, 1, D, Dh, scale=1.0)
    x = X[:, 0]
    H, cache = given_rnn_forward(X, h_prev, W_xh, W_hh, b_h)
    h_next = H[:, 0]
    dh_next = np.random.default_rng(seed + 1).standard_normal((N, Dh))
    return dh_next, x, h_prev, h_next, W_xh, W_hh, cache


# %% [test] id=test_rnn_cell_backward_shapes points=1
dh_next, x, h_prev, h_next, W_xh, W_hh, cache = one_step(seed=0, N=2, D=3, Dh=4)
got = rnn_cell_backward(dh_next, x, h_prev, h_next, W_xh, W_hh)
check_arrays(
    "rnn_cell_backward(...)",
    got,
    {name: np.zeros_like(EXPECTED[f"cell_{name}"]) for name in CELL_AXES},
    atol=np.inf,
    axes=CELL_AXES,
    hints={"db_h": "the bias gradient has one entry per hidden unit: sum over the batch."},
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

for seed, (N, D, Dh) in enumerate([(1, 1, 1), (1, 4, 2), (5, 2, 3)], start=101):
    dh_next, x, h_prev, h_next, W_xh, W_hh, cache = one_step(seed, N, D, Dh)
    cell_cache = numpy_rnn.SequenceCache(*cache).step(0)
    shapes = {
        name: np.zeros_like(g)
        for name, g in zip(CELL_AXES, numpy_rnn.rnn_cell_backward(dh_next, cell_cache), strict=True)
    }
    check_arrays(
        f"rnn_cell_backward with N={N}, D={D}, Dh={Dh}",
        rnn_cell_backward(dh_next, x, h_prev, h_next, W_xh, W_hh),
        shapes,
        atol=np.inf,
        axes=CELL_AXES,
    )
### END HIDDEN TESTS
print("✓ rnn_cell_backward returns five gradients of the right shapes")

# %% [test] id=test_rnn_cell_backward_values points=2
dh_next, x, h_prev, h_next, W_xh, W_hh, cache = one_step(seed=0, N=2, D=3, Dh=4)
got = rnn_cell_backward(dh_next, x, h_prev, h_next, W_xh, W_hh)
hints = {
    "dx": "dx = da W_xh^T, where da = dh_next * (1 - h_next**2).",
    "dh_prev": "dh_prev = da W_hh^T, where da = dh_next * (1 - h_next**2).",
    "dW_xh": "each weight's gradient is (its input)^T @ da.",
    "dW_hh": "each weight's gradient is (its input)^T @ da; the input of W_hh is h_prev.",
    "db_h": "db_h sums da over the batch axis.",
}
check_arrays(
    "rnn_cell_backward(...)",
    got,
    {name: EXPECTED[f"cell_{name}"] for name in CELL_AXES},
    axes=CELL_AXES,
    hints=hints,
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

for seed, (N, D, Dh) in enumerate([(1, 1, 1), (1, 4, 2), (5, 2, 3), (3, 6, 6)], start=201):
    dh_next, x, h_prev, h_next, W_xh, W_hh, cache = one_step(seed, N, D, Dh)
    cache = numpy_rnn.SequenceCache(*cache).step(0)
    got = rnn_cell_backward(dh_next, x, h_prev, h_next, W_xh, W_hh)
    name = f"rnn_cell_backward with N={N}, D={D}, Dh={Dh}"
    check_arrays(
        name, got, dict(zip(CELL_AXES, numpy_rnn.rnn_cell_backward(dh_next, cache), strict=True))
    )
### END HIDDEN TESTS
print("✓ rnn_cell_backward gives the expected gradients")

# %% [markdown]
# ## 2. Backpropagation through time
#
# In a sequence, the state $H_t$ is used twice: by the layer above (an output, a loss), and by
# the next step, which reads it as its `h_prev`. Its gradient is the sum of both paths:
#
# $$\frac{\partial L}{\partial H_t} = \underbrace{G_t}_{\text{from above}}
#   + \underbrace{\frac{\partial L}{\partial H_{t+1}} J_{t+1}}_{\text{from step } t+1}$$
#
# where $G_t$ is the gradient the layer above puts on $H_t$, the array `dH[:, t-1]`, and
# $J_{t+1} = \partial H_{t+1} / \partial H_t$ is the Jacobian of step $t+1$ (in numerator
# layout, so that a row-vector gradient is multiplied by it on the right): the second term is
# the `dh_prev` that step $t+1$ returned.
#
# So walk backwards over the steps $t = T, \dots, 1$ (in code, `for i in reversed(range(T))`
# visits the array indices $i = t - 1$), calling your `rnn_cell_backward` with
# `dH[:, i] + dh_next`, where `dh_next` is what the later step sent back (zeros for step $T$).
# Every step uses the same weights, so their gradients **add up** over the steps. What step 1
# sends back is the gradient with respect to `h0`.
#
# Careful with `h_prev`: step $t$ read $H_{t-1}$, which is `H[:, t-2]`, except step 1, which
# read $H_0$ = `h0`.


# %% [answer] id=rnn_backward_impl
def rnn_backward(dH, X, h0, H, W_xh, W_hh):
    """Full backpropagation through time for rnn_forward.

    Args:
        dH: (N, T, Dh) upstream gradient on every hidden state (from the layer above).
        X: (N, T, D) the inputs; h0: (N, Dh) the initial state.
        H: (N, T, Dh) the states rnn_forward computed.
        W_xh: (D, Dh); W_hh: (Dh, Dh) the weights.

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dW_xh: (D, Dh); dW_hh: (Dh, Dh); db_h: (Dh,).
    """
    # Loop over the array indices T-1, ..., 0 (steps T..1); add each step's weight
    # gradients; carry dh_prev to the step before.
    ### BEGIN SOLUTION
    N, T, _ = X.shape
    dX = np.zeros(X.shape)
    dW_xh = np.zeros(W_xh.shape)
    dW_hh = np.zeros(W_hh.shape)
    db_h = np.zeros(W_hh.shape[0])
    dh_next = np.zeros(h0.shape)
    for t in reversed(range(T)):
        h_prev = h0 if t == 0 else H[:, t - 1]
        dx, dh_next, dW_xh_t, dW_hh_t, db_h_t = rnn_cell_backward(
            dH[:, t] + dh_next, X[:, t], h_prev, H[:, t], W_xh, W_hh
        )
        dX[:, t] = dx
        dW_xh += dW_xh_t
        dW_hh += dW_hh_t
        db_h += db_h_t
    return dX, dh_next, dW_xh, dW_hh, db_h
    ### END SOLUTION


# %% [setup] id=setup_sequence_helpers
def sequence(seed, N, T, D, Dh, scale=0.8):
    """Random inputs, their states, an upstream gradient, and the forward pass's cache."""
    X, h0, W_xh, W_hh, b_h = rnn_inputs(seed, N, T, D, Dh, scale=scale)
    H_states, cache = given_rnn_forward(X, h0, W_xh, W_hh, b_h)
    dH = np.random.default_rng(seed + 1).standard_normal((N, T, Dh))
    return dH, X, h0, H_states, W_xh, W_hh, cache


# %% [test] id=test_rnn_backward points=3
dH, X, h0, H_states, W_xh, W_hh, cache = sequence(seed=0, N=2, T=5, D=3, Dh=4)
got = rnn_backward(dH, X, h0, H_states, W_xh, W_hh)
# what you get if nothing is carried back from step t+1 to step t
only_local = {name: EXPECTED[f"local_{name}"] for name in SEQ_AXES}
hints = {
    "dX": "step t must receive dH[:, t] plus the dh_prev that step t+1 returned.",
    "dh0": "dh0 is the dh_prev returned by step 0, after the whole loop.",
    "dW_hh": "step t read h_prev = H[:, t-1] (h0 at t = 0); the weight gradients add up over t.",
}
check_arrays(
    "rnn_backward(...)",
    got,
    {name: EXPECTED[f"bptt_{name}"] for name in SEQ_AXES},
    axes=SEQ_AXES,
    hints=hints,
    suspects={"BPTT with nothing carried back from step t+1 to step t": tuple(only_local.values())},
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

shapes = [(1, 1, 1, 1), (1, 7, 2, 3), (4, 1, 3, 2), (3, 6, 2, 5), (2, 15, 3, 4)]
for seed, (N, T, D, Dh) in enumerate(shapes, start=301):
    dH, X, h0, H_states, W_xh, W_hh, cache = sequence(seed, N, T, D, Dh, scale=1.1)
    cache = numpy_rnn.SequenceCache(*cache)
    got = rnn_backward(dH, X, h0, H_states, W_xh, W_hh)
    name = f"rnn_backward with N={N}, T={T}, D={D}, Dh={Dh}"
    check_arrays(
        name,
        got,
        dict(zip(SEQ_AXES, numpy_rnn.rnn_backward(dH, cache), strict=True)),
        axes=SEQ_AXES,
    )
### END HIDDEN TESTS
print("✓ rnn_backward gives the expected gradients")

# %% [markdown]
# ## 3. Checking gradients with finite differences
#
# How do you know a backward pass is right when there is no reference to compare with? You
# compare it with the definition of the derivative. For a function $f$ whose output has the shape
# of an upstream gradient `df`, the gradient of the scalar $\sum \texttt{df} \odot f(x)$ with
# respect to the entry $x_i$ is, to second order in $h$,
#
# $$\frac{\sum \texttt{df} \odot \big(f(x + h e_i) - f(x - h e_i)\big)}{2h}$$
#
# (a *central* difference: its error is $O(h^2)$, against $O(h)$ for the one-sided one).
#
# Write `numerical_gradient`. It changes one entry of `x` at a time, **in place**, calls
# `f(x)` (which reads the modified `x`), and puts the entry back exactly as it was.
# `np.ndindex(x.shape)` walks over all the indices of an array of any shape.
#
# This check becomes a habit: Exercises 6 and 7 give your `numerical_gradient` back, in
# `autograder.handouts.gradcheck`, with `gradient_check`, which runs it over every parameter of
# a loss and prints one row of relative error per parameter.


# %% [answer] id=numerical_gradient_impl
def numerical_gradient(f, x, df, h=1e-5):
    """Central-difference gradient of sum(df * f(x)) with respect to x.

    Args:
        f: function of x returning an array (or a number) of the shape of df.
        x: float array of any shape; perturbed in place one entry at a time, then restored.
        df: upstream gradient, the shape of f(x).
        h: the step.

    Returns:
        grad: array of x's shape.
    """
    # For each index i: evaluate f at x[i] + h and x[i] - h (copy the results!), restore x[i].
    ### BEGIN SOLUTION
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = np.array(f(x), copy=True)
        x[i] = old - h
        f_minus = np.array(f(x), copy=True)
        x[i] = old
        grad[i] = np.sum((f_plus - f_minus) * df) / (2 * h)
    return grad
    ### END SOLUTION


# %% [test] id=test_numerical_gradient points=2
rng = np.random.default_rng(0)
W = rng.standard_normal((3, 4))
x = rng.standard_normal((2, 3))
df = rng.standard_normal((2, 4))
x_before = x.copy()
got = numerical_gradient(lambda v: np.tanh(v @ W), x, df)
check_unchanged("x", x_before, x)
check_array(
    "numerical_gradient(f, x, df) for f(x) = tanh(x W), compared with the exact gradient",
    got,
    EXPECTED["numerical_tanh"],
    atol=1e-8,
    rtol=1e-6,
    hint="f(x) may return the same array object every time: copy it before you perturb x again.",
)
### BEGIN HIDDEN TESTS
for seed, shape in enumerate([(1,), (3,), (2, 1, 3), (1, 1)], start=401):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    df = rng.standard_normal(shape)
    x_before = x.copy()
    got = numerical_gradient(lambda v: np.sin(v) * v**2, x, df)
    check_unchanged("x", x_before, x)
    check_array(
        f"numerical_gradient of sin(x) x**2 for x of shape {shape}",
        got,
        df * (np.cos(x) * x**2 + 2 * x * np.sin(x)),
        atol=1e-8,
        rtol=1e-6,
    )
# A scalar-valued f with a scalar df, and an f that returns a view of x.
rng = np.random.default_rng(499)
x = rng.standard_normal((2, 3))
check_array(
    "numerical_gradient of sum(x**3) (a scalar)",
    numerical_gradient(lambda v: np.sum(v**3), x, 1.0),
    3 * x**2,
    atol=1e-8,
    rtol=1e-6,
)
check_array(
    "numerical_gradient of f(x) = x (a view of x)",
    numerical_gradient(lambda v: v, x, np.ones_like(x)),
    np.ones_like(x),
    atol=1e-8,
    rtol=1e-6,
)
### END HIDDEN TESTS
print("✓ numerical_gradient matches central differences and the exact gradient")

# %% [markdown]
# Now use it: the cell below checks your `rnn_backward` against finite differences of
# `rnn_forward`, for each input. The usual yardstick is the relative error
# $\max|a - b| / \max(|a| + |b|)$: around $10^{-8}$ or less in float64 means the two agree;
# $10^{-3}$ or more means a bug. (This cell is not graded; it is how you would test a backward
# pass of your own.)

# %% [code]
dH, X, h0, H_states, W_xh, W_hh, cache = sequence(seed=7, N=2, T=4, D=3, Dh=3)
b_h = cache.b_h
dX, dh0, dW_xh, dW_hh, db_h = rnn_backward(dH, X, h0, H_states, W_xh, W_hh)
for name, analytic, point in [
    ("dX", dX, X),
    ("dh0", dh0, h0),
    ("dW_xh", dW_xh, W_xh),
    ("dW_hh", dW_hh, W_hh),
    ("db_h", db_h, b_h),
]:
    numeric = numerical_gradient(lambda _: rnn_forward(X, h0, W_xh, W_hh, b_h), point, dH)
    print(f"{name:6s} relative error {rel_error(analytic, numeric):.2e}")

# %% [markdown]
# ## 4. Truncated backpropagation through time
#
# Your `rnn_backward` is one backward sweep: $T$ calls of `rnn_cell_backward`, the same work as
# the forward pass, because the gradients of all the losses travel back together in
# `dh_next`. What full BPTT costs on a long sequence is memory (all $T$ states are kept for the
# backward pass) and time before the first update (the whole sequence); and the long products
# of step Jacobians are exactly where gradients explode or vanish. *Truncated* BPTT limits how
# far back the gradient travels.
#
# In practice the stream is read in chunks of $k_1$ steps, the state carried from one chunk to
# the next, and after each chunk its losses are backpropagated through the last $k_2$ steps
# only: TBPTT($k_1$, $k_2$), at most $\lceil T / k_1 \rceil k_2$ step-backwards
# (`numpy_rnn.rnn_tbptt`, shown in the chapter). Here you write a finer form, which is the
# easiest to reason about: the gradient of the loss at step $t$ travels back through at most $k$
# steps, $t, t-1, \dots, t-k+1$, and is then dropped. So:
#
# - `dX[:, s-1]` (the gradient on $X_s$) and the weight gradients keep the contribution of the
#   loss at step $t$ to step $s$ only when $t - k < s \le t$;
# - `dh0` collects only the losses at steps $t \le k$ (their chains reach step 1 and go through
#   it);
# - $k = 1$ keeps each step's direct effect only, and any $k \ge T$ is full BPTT.
#
# A single carried `dh_next` cannot do this, because it mixes gradients of different ages. Follow
# one chain per loss instead: for each step $t$, start from `dH[:, t-1]` and call your
# `rnn_cell_backward` for the steps $s = t, t-1, \dots, \max(t-k+1, 1)$, feeding each step's
# `dh_prev` into the next call, and add what each call returns into the gradients.
#
# Mind the cost: one chain of up to $k$ step-backwards per loss is about $T k$ calls in all,
# *more* than full BPTT. This form is for measuring what truncation drops, not for saving work.


# %% [answer] id=rnn_backward_truncated_impl
def rnn_backward_truncated(dH, X, h0, H, W_xh, W_hh, k):
    """Truncated BPTT: the loss at step t reaches back at most k steps (t, ..., t-k+1).

    Args:
        dH: (N, T, Dh) upstream gradient on every hidden state.
        X: (N, T, D); h0: (N, Dh); H: (N, T, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh), as in
            rnn_backward.
        k: positive int, the truncation length.

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dW_xh: (D, Dh); dW_hh: (Dh, Dh); db_h: (Dh,).
        dh0 gets the gradient of the losses at steps t <= k only (array indices below k).
    """
    # One backward chain per loss, at most k steps long; accumulate everything. In the loops,
    # t and s are array indices: step t+1 of the maths is X[:, t], H[:, t].
    ### BEGIN SOLUTION
    N, T, _ = X.shape
    dX = np.zeros(X.shape)
    dh0 = np.zeros(h0.shape)
    dW_xh = np.zeros(W_xh.shape)
    dW_hh = np.zeros(W_hh.shape)
    db_h = np.zeros(W_hh.shape[0])
    for t in range(T):
        dh = dH[:, t]
        for s in range(t, max(t - k, -1), -1):
            h_prev = h0 if s == 0 else H[:, s - 1]
            dx, dh, dW_xh_s, dW_hh_s, db_h_s = rnn_cell_backward(
                dh, X[:, s], h_prev, H[:, s], W_xh, W_hh
            )
            dX[:, s] += dx
            dW_xh += dW_xh_s
            dW_hh += dW_hh_s
            db_h += db_h_s
        if t < k:
            dh0 += dh
    return dX, dh0, dW_xh, dW_hh, db_h
    ### END SOLUTION


# %% [test] id=test_rnn_backward_truncated points=2
dH, X, h0, H_states, W_xh, W_hh, cache = sequence(seed=0, N=2, T=6, D=3, Dh=4)
hints = {
    "dX": "the loss at step t reaches steps t, t-1, ..., t-k+1 and no further.",
    "dh0": "dh0 collects the chains of the losses at steps 1..k, after they went through step 1.",
}
for k in (1, 2, 4, 6):
    check_arrays(
        f"rnn_backward_truncated(..., k={k})"
        + (" (k = T: must equal full BPTT)" if k == 6 else ""),
        rnn_backward_truncated(dH, X, h0, H_states, W_xh, W_hh, k),
        {name: EXPECTED[f"truncated_{k}_{name}"] for name in SEQ_AXES},
        axes=SEQ_AXES,
        hints=hints,
    )
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

cases = [
    (1, 1, 1, 1, 1),
    (1, 1, 2, 3, 5),
    (3, 5, 2, 3, 1),
    (2, 7, 3, 2, 3),
    (1, 9, 2, 4, 20),
    (2, 8, 1, 3, 7),
]
for seed, (N, T, D, Dh, k) in enumerate(cases, start=501):
    dH, X, h0, H_states, W_xh, W_hh, cache = sequence(seed, N, T, D, Dh, scale=1.1)
    cache = numpy_rnn.SequenceCache(*cache)
    got = rnn_backward_truncated(dH, X, h0, H_states, W_xh, W_hh, k)
    name = f"rnn_backward_truncated with N={N}, T={T}, D={D}, Dh={Dh}, k={k}"
    check_arrays(
        name,
        got,
        dict(zip(SEQ_AXES, numpy_rnn.rnn_backward(dH, cache, k=k), strict=True)),
        axes=SEQ_AXES,
    )
### END HIDDEN TESTS
print("✓ rnn_backward_truncated gives the expected gradients for k = 1, 2, 4 and k = T")

# %% [markdown]
# ## 5. How far back does the gradient reach?
#
# Take the loss $L = \sum H_T$, the sum of every entry of the last state. Its gradient with
# respect to the last state is all ones, and each step back multiplies it on the right by one
# step's Jacobian $J_t = \operatorname{diag}(1 - H_t \odot H_t)\, W_{hh}^\top$ (for one
# example; numerator layout): $\partial L / \partial H_{t-1} = (\partial L / \partial H_t)\, J_t$.
# In code, for a batch, `dh_prev = (dh_next * (1 - h_next**2)) @ W_hh.T`, which is the `dh_prev`
# of your `rnn_cell_backward`. How does $\lVert \partial L / \partial H_t \rVert$ change as $t$
# moves away from $T$?
#
# Write `hidden_grad_norms`: run the forward pass (the `rnn_forward` given at the top of this
# notebook), then walk back from $t = T$ to $1$, recording the Frobenius norm
# (`np.linalg.norm` of the whole $(N, D_h)$ array) of the gradient on each state $H_t$ in
# `norms[t-1]`. The last entry, for $H_T$, is the norm of the all-ones array, $\sqrt{N D_h}$.


# %% [answer] id=hidden_grad_norms_impl
def hidden_grad_norms(X, h0, W_xh, W_hh, b_h):
    """Norms of dL/dH_t for L = sum(H_T) (the array H[:, T-1]), for every step t = 1..T.

    Args:
        X: (N, T, D); h0: (N, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,).

    Returns:
        norms: (T,) array; norms[t-1] is the Frobenius norm of dL/dH_t, an (N, Dh) array.
    """
    # Forward, then carry dL/dH_t backwards with rnn_cell_backward's dh_prev.
    ### BEGIN SOLUTION
    H = rnn_forward(X, h0, W_xh, W_hh, b_h)
    T = X.shape[1]
    norms = np.zeros(T)
    dh = np.ones(H[:, -1].shape)
    norms[T - 1] = np.linalg.norm(dh)
    for t in range(T - 1, 0, -1):
        dh = rnn_cell_backward(dh, X[:, t], H[:, t - 1], H[:, t], W_xh, W_hh)[1]
        norms[t - 1] = np.linalg.norm(dh)
    return norms
    ### END SOLUTION


# %% [test] id=test_hidden_grad_norms points=2
X, h0, W_xh, W_hh, b_h = rnn_inputs(seed=0, N=2, T=6, D=3, Dh=4, scale=1.0)
check_array(
    "hidden_grad_norms(...)",
    hidden_grad_norms(X, h0, W_xh, W_hh, b_h),
    EXPECTED["grad_norms"],
    axes=("T",),
    hint="norms[T-1] = sqrt(N * Dh); each step back applies dh_prev = (dh * (1 - h**2)) @ W_hh.T.",
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only


def reference_grad_norms(X, h0, W_xh, W_hh, b_h):
    """dL/dH_t by the reference: the gradient on the initial state of the rest of the sequence."""
    H_states, _ = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    N, T, Dh = H_states.shape
    norms = [np.sqrt(N * Dh)]
    for t in range(T - 2, -1, -1):
        _, rest = numpy_rnn.rnn_forward(X[:, t + 1 :], H_states[:, t], W_xh, W_hh, b_h)
        dH_rest = np.zeros(rest.H.shape)
        dH_rest[:, -1] = 1.0
        norms.append(np.linalg.norm(numpy_rnn.rnn_backward(dH_rest, rest)[1]))
    return np.array(norms[::-1])


for seed, (N, T, D, Dh) in enumerate(
    [(1, 1, 1, 1), (1, 5, 2, 3), (3, 1, 2, 2), (2, 12, 3, 5)], start=601
):
    X, h0, W_xh, W_hh, b_h = rnn_inputs(seed, N, T, D, Dh, scale=1.3)
    check_array(
        f"hidden_grad_norms with N={N}, T={T}, D={D}, Dh={Dh}",
        hidden_grad_norms(X, h0, W_xh, W_hh, b_h),
        reference_grad_norms(X, h0, W_xh, W_hh, b_h),
        axes=("T",),
    )
### END HIDDEN TESTS
print("✓ hidden_grad_norms gives the expected norms")

# %% [markdown]
# ### Experiment: vanishing and exploding gradients
#
# The cell below builds recurrent weights whose spectral radius (the largest absolute value of
# an eigenvalue) is below, at and above 1: a random orthogonal matrix scaled by $\rho$. Such a
# matrix is *normal*, so its largest singular value $\sigma_{\max}$ equals $\rho$, and every
# step multiplies the gradient's length by about $\rho$ while the states stay small and $\tanh$
# is nearly linear. (For a non-normal $W_{hh}$ the spectral radius decides neither vanishing nor
# exploding over a finite number of steps: $\sigma_{\max} < 1$ is what guarantees vanishing, and
# $\sigma_{\max} > 1$ is needed for exploding; the chapter shows both.) It plots your
# `hidden_grad_norms` on a log scale.
#
# What to look for: a straight line on a log scale is exponential decay or growth, with slope
# $\log \rho$ per step. For $\rho > 1$ the states themselves grow along the sequence until
# $\tanh$ saturates; over the steps where they do, $1 - H_t^2$ shrinks every factor and the curve
# flattens. Make the inputs larger (`input_scale = 1.0`) and watch saturation take over: even
# $\rho > 1$ stops exploding. Chapter
# [Why the loss oscillates](../../book/chapters/08_loss_oscillation.ipynb) explains what this
# means for training.

# %% [code]
T, N, D, Dh = 40, 4, 3, 16
input_scale = 0.01
rng = np.random.default_rng(0)
orthogonal, _ = np.linalg.qr(rng.standard_normal((Dh, Dh)))
X = input_scale * rng.standard_normal((N, T, D))
W_xh = rng.standard_normal((D, Dh)) / np.sqrt(D)

fig, ax = plt.subplots(figsize=(6, 3.5))
for rho in (0.8, 1.0, 1.2):
    W_hh = rho * orthogonal
    radius = np.abs(np.linalg.eigvals(W_hh)).max()
    norms = hidden_grad_norms(X, np.zeros((N, Dh)), W_xh, W_hh, np.zeros(Dh))
    ax.semilogy(range(1, T + 1), norms, marker=".", label=f"spectral radius {radius:.1f}")
ax.set_xlabel("time step t")
ax.set_ylabel(r"$\|\partial L / \partial H_t\|$")
ax.set_title(r"Gradient of $L = \sum H_T$ on earlier states")
ax.legend()
plt.show()

# %% [markdown]
# Next: [Exercise 3](../03_bidirectional/bidirectional.ipynb) runs two of these networks, one
# in each direction.
