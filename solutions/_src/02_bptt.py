# Source of solutions/02_bptt/bptt.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 2: backpropagation through time (通过时间反向传播)
#
# | | |
# |---|---|
# | **Follows** | chapter 5, [Backpropagation through time](../../book/chapters/05_bptt.ipynb) |
# | **Time** | about 2 hours, and 45 minutes more for the optional challenge |
# | **Prerequisites** | [Exercise 1](../01_rnn_cell/rnn_cell.ipynb); the chain rule for matrices |
# | **What you will build** | the backward pass of one step and of a whole sequence (序列) (BPTT), and a numerical gradient check (梯度检验) that you then use on your own BPTT; Exercises 3, 6 and 7 give this check back to you. Optional, not graded: BPTT truncated to $k$ steps per loss |
#
# Terms are given with their Chinese names at first use; all of them are in the
# [glossary](../../book/glossary.md).
#
# **After this exercise you can**
#
# - derive and code the backward pass (反向传播) of one step of a recurrent neural network
#   (循环神经网络, RNN);
# - run it backwards over a sequence, carrying the gradient from each step to the one before:
#   backpropagation through time (通过时间反向传播, BPTT);
# - check any gradient against finite differences, and choose the
#   finite-difference step;
# - (optional challenge) truncate BPTT so that each loss reaches back at most $k$ steps, and
#   say exactly what is dropped.
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
import numpy as np

from autograder.handouts.bptt import rel_error
from autograder.handouts.bptt import rnn_forward as given_rnn_forward
from autograder.notebook_checks import (
    CheckFailure,
    check_array,
    check_arrays,
    check_choice,
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
    hints={"db_h": "the bias has one entry per hidden unit, and so has its gradient."},
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
    "dx": "x reached a through W_xh: which product of da with W_xh has the shape (N, D)?",
    "dh_prev": "h_prev reached a through W_hh: which product of da with W_hh has the shape of h_prev?",
    "dW_xh": "a weight's gradient pairs the weight's input with da and has the weight's shape.",
    "dW_hh": "W_hh multiplied one of the step's two states: which one did the step read?",
    "db_h": "the bias was added to every row of the batch.",
}
# what you get if the gradient on the pre-activation is taken to be dh_next itself
no_derivative = tuple(EXPECTED[f"cell_no_derivative_{name}"] for name in CELL_AXES)
check_arrays(
    "rnn_cell_backward(...)",
    got,
    {name: EXPECTED[f"cell_{name}"] for name in CELL_AXES},
    axes=CELL_AXES,
    hints=hints,
    suspects={
        "the gradients with tanh's derivative left out "
        "(the gradient on the pre-activation is not dh_next itself)": no_derivative
    },
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
# $J_{t+1} = \partial H_{t+1} / \partial H_t$ is the Jacobian (雅可比矩阵) of step $t+1$ (in numerator
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
    "dX": "each state gets gradient along two paths, from above and from the later step: "
    "check that both reach each call of rnn_cell_backward (section 2).",
    "dh0": "h0 is the state the first step read: what does that step send back?",
    "dW_xh": "the same weights are used at every step: each step's gradient adds to the total.",
    "dW_hh": "check which state each step read, and that every step's weight gradients count.",
    "db_h": "the same bias is used at every step: each step's gradient adds to the total.",
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
# This gradient check (梯度检验) becomes a habit: Exercises 3, 6 and 7 give your
# `numerical_gradient` back, in
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
check_unchanged("x", x_before, x, restores=True)
check_array(
    "numerical_gradient(f, x, df) for f(x) = tanh(x W), compared with the exact gradient",
    got,
    EXPECTED["numerical_tanh"],
    atol=1e-8,
    rtol=1e-6,
    hint="compare f(x) before and after you change x again: can it be the same array object?",
)
### BEGIN HIDDEN TESTS
for seed, shape in enumerate([(1,), (3,), (2, 1, 3), (1, 1)], start=401):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    df = rng.standard_normal(shape)
    x_before = x.copy()
    got = numerical_gradient(lambda v: np.sin(v) * v**2, x, df)
    check_unchanged("x", x_before, x, restores=True)
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
# ## 4. Predict, run, explain: how small a step?
#
# `numerical_gradient` uses the step $h = 10^{-5}$. The derivative is the limit as $h \to 0$,
# so why not $10^{-11}$? The cell after the question compares your `rnn_backward`'s `dW_hh`
# with `numerical_gradient` for the steps $h = 10^{-1}, 10^{-3}, \dots, 10^{-11}$, on the
# inputs above, and prints the relative error for each.
#
# **Before you run it**, predict what the errors do as $h$ goes down from $10^{-1}$ to
# $10^{-11}$ (with a right `rnn_backward`):
#
# - **A.** they keep falling: the smaller $h$, the closer the difference is to the derivative;
# - **B.** they fall, are smallest for a middle step (near $10^{-5}$), then grow again;
# - **C.** they stay about the same, below $10^{-8}$, for every $h$: a right backward pass passes
#   the check whatever the step;
# - **D.** they are smallest for the largest step, $10^{-1}$, which rises farthest above
#   rounding noise, and grow as $h$ shrinks.

# %% [answer] id=predict_step
# Set predict_step to the letter of your prediction, then run the experiment below.
predict_step = None
### BEGIN SOLUTION
predict_step = "B"
### END SOLUTION

# %% [test] id=test_predict_step points=1
check_choice("predict_step", globals().get("predict_step"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "In exact arithmetic, yes; in float64, f(x + h) and f(x - h) are each rounded to about "
        "1e-16 of their size, and dividing their difference by 2h magnifies that rounding by "
        "1/h. Below 1e-5 the error grows again, to a few 1e-6 at h = 1e-11."
    ),
    "B": (
        "Right: two errors pull in opposite directions. The central difference itself is off "
        "by a term in h**2 (a few 1e-3 at h = 0.1), and rounding adds a term in 1/h (a few "
        "1e-6 at h = 1e-11). Their sum is smallest near h = 1e-5, which is why "
        "numerical_gradient uses it."
    ),
    "C": (
        "The check's error is not only that of your backward pass: the finite difference has "
        "its own. Even with a right rnn_backward it is a few 1e-3 at h = 0.1 (the h**2 term of "
        "the central difference) and a few 1e-6 at h = 1e-11 (rounding, magnified by 1/h)."
    ),
    "D": (
        "A large step does rise above rounding, but the central difference's own error grows "
        "as h**2: at h = 0.1 it is a few 1e-3, far above the error near h = 1e-5, which is "
        "the smallest of all."
    ),
}
print(f"predict_step = {predict_step!r}. {WHY.get(predict_step, '')}")
assert predict_step == "B", f"predict_step is not right. {WHY.get(predict_step, '')}"
### END HIDDEN TESTS
print("✓ predict_step is one of A, B, C, D")


# %% [code]
def check_errors(steps, seed=7):
    """Relative error of rnn_backward's dW_hh against numerical_gradient, for each step h."""
    dH, X, h0, H_states, W_xh, W_hh, cache = sequence(seed, N=2, T=4, D=3, Dh=3)
    dW_hh = rnn_backward(dH, X, h0, H_states, W_xh, W_hh)[3]
    errors = {}
    for h in steps:
        f = lambda _: rnn_forward(X, h0, W_xh, W_hh, cache.b_h)  # noqa: E731
        errors[h] = rel_error(dW_hh, numerical_gradient(f, W_hh, dH, h=h))
    return errors


# %% [code]
for h, error in check_errors([1e-1, 1e-3, 1e-5, 1e-7, 1e-9, 1e-11]).items():
    print(f"h = {h:.0e}: relative error of dW_hh {error:.1e}")

# %% [markdown]
# **What you will see, and why.** The error falls fast at first, by about $10^4$ for each
# factor 100 in $h$: that is the $O(h^2)$ error of the central difference. It is smallest at
# $h = 10^{-5}$, far below $10^{-8}$, and then grows again as $h$ shrinks further: $f(x + h)$
# and $f(x - h)$ are rounded to about $10^{-16}$ of their size, and dividing their difference
# by $2h$ magnifies that rounding by $1/h$. At $h = 10^{-11}$ the check is back to a few
# $10^{-6}$, an error that would make you look for a bug that is not there. To see it hold
# for other inputs, run `check_errors([1e-1, 1e-3, 1e-5, 1e-7, 1e-9, 1e-11], seed=1)`.

# %% [markdown]
# ## 5. Optional challenge, not graded: truncated backpropagation through time
#
# *This section is optional and is not graded: leaving it blank costs nothing. The cell after
# the function checks it and prints what is wrong.*
#
# Your `rnn_backward` is one backward sweep: $T$ calls of `rnn_cell_backward`, the same work as
# the forward pass, because the gradients of all the losses travel back together in
# `dh_next`. What full BPTT costs on a long sequence is storage (all $T$ states are kept for the
# backward pass) and time before the first update (the whole sequence); and the long products
# of step Jacobians are where gradients explode or vanish
# ([Exercise 5](../05_gradient_clipping/gradient_clipping.ipynb) measures them). Truncated BPTT
# (截断的通过时间反向传播) limits how far back the gradient travels.
#
# In practice the stream is read in chunks of $k_1$ steps, the state carried from one chunk to
# the next, and after each chunk its losses are backpropagated through the last $k_2$ steps
# only: TBPTT($k_1$, $k_2$), at most $\lceil T / k_1 \rceil k_2$ step-backwards (shown in the
# chapter). Here you write a finer form, which is the easiest to reason about: the gradient of
# the loss at step $t$ travels back through at most $k$ steps, $t, t-1, \dots, t-k+1$, and is
# then dropped. So:
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
    # Optional, not graded. One backward chain per loss, at most k steps long. In the loops, t
    # and s are array indices: step t+1 of the maths is X[:, t], H[:, t].
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


# %% [code]
# Self-check of the optional challenge (not graded): it prints what is wrong, and never fails.
def check_truncated():
    dH, X, h0, H_states, W_xh, W_hh, cache = sequence(seed=0, N=2, T=6, D=3, Dh=4)
    hints = {
        "dX": "the loss at step t reaches steps t, t-1, ..., t-k+1 and no further.",
        "dh0": "dh0 collects only the chains that went through step 1.",
    }
    for k in (1, 2, 4, 6):
        check_arrays(
            f"rnn_backward_truncated(..., k={k})" + (" (k = T: full BPTT)" if k == 6 else ""),
            rnn_backward_truncated(dH, X, h0, H_states, W_xh, W_hh, k),
            {name: EXPECTED[f"truncated_{k}_{name}"] for name in SEQ_AXES},
            axes=SEQ_AXES,
            hints=hints,
        )


try:
    check_truncated()
except NotImplementedError:
    print("The optional challenge is not attempted: that is fine, it is not graded.")
except CheckFailure as failure:
    print(f"Not right yet (optional, not graded):\n{failure}")
else:
    print("✓ rnn_backward_truncated gives the expected gradients for k = 1, 2, 4 and k = T")

# %% [markdown]
# Next: [Exercise 3](../03_bidirectional/bidirectional.ipynb) runs two of these networks, one
# in each direction; [Exercise 5](../05_gradient_clipping/gradient_clipping.ipynb) measures how
# far back the gradient reaches.
