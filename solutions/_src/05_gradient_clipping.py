# Source of solutions/05_gradient_clipping/gradient_clipping.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 5: exploding and vanishing gradients (梯度爆炸与梯度消失), and gradient clipping (梯度裁剪)
#
# | | |
# |---|---|
# | **Follows** | chapter 8, [Why the loss oscillates](../../book/chapters/08_loss_oscillation.ipynb) |
# | **Time** | about 2 hours |
# | **Prerequisites** | [Exercise 2](../02_bptt/bptt.ipynb) (the backward step, BPTT); NumPy; a first look at PyTorch's `nn.RNN` helps for section 4 |
# | **What you will build** | a measurement of how the gradient shrinks or grows going back in time, and what the recurrent weights and the inputs do to it; norm clipping and value clipping in NumPy, checked against PyTorch's; a training run with and without clipping; and an experiment where clipping cannot help, because the gradient vanishes instead |
#
# Terms are given with their Chinese names at first use; all of them are in the
# [glossary](../../book/glossary.md).
#
# **After this exercise you can**
#
# - measure the norm of the gradient on every hidden state (隐藏状态) of a recurrent neural
#   network (循环神经网络, RNN), and tell a vanishing gradient (梯度消失) from an exploding
#   gradient (梯度爆炸);
# - clip a set of gradients by their global norm, exactly as `torch.nn.utils.clip_grad_norm_`
#   does, and clip them elementwise as `torch.nn.utils.clip_grad_value_` does;
# - say how the two differ: rescaling keeps the gradient's direction, clamping does not, and a
#   clamping threshold bounds the step only once it is scaled to the number of parameters;
# - show on a real training run what gradient clipping (梯度裁剪) cures, and what it cannot.
#
# **NumPy only.** Write every graded function with NumPy.
# PyTorch is not available when your notebook is graded (the grader's sandbox does not offer
# it), so a function that calls `torch.nn.utils.clip_grad_norm_` gets no points. Only the experiments of sections 4 and 5,
# which are not graded, train a PyTorch model with your function, and import PyTorch there.
#
# **How to work.** Fill in every cell that contains `raise NotImplementedError(...)`, then run
# the test cell below it. Hidden tests try other inputs: other shapes, $N = 1$ and $T = 1$, a
# single array, gradients that are already small, all-zero gradients, and a threshold of 0.
# The two predictions (`predict_...`) are graded too: answer them *before* you run the
# experiment that follows them.
#
# **Given.** The setup cell hands you two pieces of earlier exercises as utilities:
# `rnn_forward(X, h0, W_xh, W_hh, b_h)`, which returns the states `H` $(N, T, D_h)$
# ([Exercise 1](../01_rnn_cell/rnn_cell.ipynb)), and
# `rnn_cell_backward(dh_next, x, h_prev, h_next, W_xh, W_hh)`, the backward pass of one step,
# which returns `(dx, dh_prev, dW_xh, dW_hh, db_h)` ([Exercise 2](../02_bptt/bptt.ipynb)). The
# notation is the book's ([notation page](../../book/notation.md)):
# $H_t = \tanh(X_t W_{xh} + H_{t-1} W_{hh} + b_h)$ for $t = 1, \dots, T$, with $X_t$ the array
# `X[:, t-1]` and $H_t$ the array `H[:, t-1]`.

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

from autograder.handouts.gradient_clipping import CellCache
from autograder.handouts.gradient_clipping import rnn_cell_backward as given_cell_backward
from autograder.handouts.gradient_clipping import rnn_forward as given_rnn_forward
from autograder.notebook_checks import (
    CheckFailure,
    check_array,
    check_choice,
    check_scalar,
    check_unchanged,
    expected_values,
    rnn_inputs,
)

EXPECTED = expected_values("05_gradient_clipping")  # the visible tests' answers, stored


def rnn_forward(X, h0, W_xh, W_hh, b_h):
    """Exercise 1's forward pass, given: H (N, T, Dh), the state after every step."""
    H, _ = given_rnn_forward(X, h0, W_xh, W_hh, b_h)
    return H


def rnn_cell_backward(dh_next, x, h_prev, h_next, W_xh, W_hh):
    """Exercise 2's backward step, given: (dx, dh_prev, dW_xh, dW_hh, db_h) for one step."""
    b_h = np.zeros(W_hh.shape[0])  # not used going back: tanh' is read from h_next
    return given_cell_backward(dh_next, CellCache(x, h_prev, W_xh, W_hh, b_h, h_next))


# %% [markdown]
# ## 1. How far back does the gradient reach?
#
# Backpropagation through time (通过时间反向传播, BPTT) carries the gradient from each state to
# the one before it. Take the loss $L = \sum H_T$, the sum of every entry of the last state. Its
# gradient with respect to the last state is all ones, and each step back multiplies it on the
# right by one step's Jacobian (雅可比矩阵)
# $J_t = \operatorname{diag}(1 - H_t \odot H_t)\, W_{hh}^\top$ (for one example; numerator
# layout): $\partial L / \partial H_{t-1} = (\partial L / \partial H_t)\, J_t$. For a batch, that
# product is exactly the `dh_prev` that the given `rnn_cell_backward` returns for step $t$. How
# does $\lVert \partial L / \partial H_t \rVert$ change as $t$ moves away from $T$?
#
# Write `hidden_grad_norms`: run the forward pass (the given `rnn_forward`), then walk back from
# $t = T$ to $1$, recording the Frobenius norm (`np.linalg.norm` of the whole $(N, D_h)$ array)
# of the gradient on each state $H_t$ in `norms[t-1]`. The last entry, for $H_T$, is the norm of
# the all-ones array, $\sqrt{N D_h}$. Careful with the arguments of each backward step: step
# $t$ computed $H_t$ from $X_t$ and $H_{t-1}$.


# %% [answer] id=hidden_grad_norms_impl
def hidden_grad_norms(X, h0, W_xh, W_hh, b_h):
    """Norms of dL/dH_t for L = sum(H_T) (the array H[:, T-1]), for every step t = 1..T.

    Args:
        X: (N, T, D); h0: (N, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,).

    Returns:
        norms: (T,) array; norms[t-1] is the Frobenius norm of dL/dH_t, an (N, Dh) array.
    """
    # Forward first; then one backward step per earlier state, keeping the norm of each.
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
    hint="check norms[T-1] first (the gradient of L on H_T itself), then which step each "
    "backward call goes through and which states it reads.",
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
# ### Predict, run, explain: three recurrent matrices
#
# The experiment after the question builds recurrent weights whose spectral radius (谱半径, the
# largest absolute value of an eigenvalue) is $\rho = 0.8$, $1.0$ and $1.2$: a random
# orthogonal matrix times $\rho$. Such a matrix is *normal*, so its largest singular value
# $\sigma_{\max}$ equals $\rho$. (For a non-normal $W_{hh}$ the spectral radius decides neither
# vanishing nor exploding over a finite number of steps: $\sigma_{\max} < 1$ is what guarantees
# vanishing, and $\sigma_{\max} > 1$ is needed for exploding; chapter 5 shows both.) The inputs
# are small, $0.01$ times standard normal, over $T = 40$ steps, from $H_0 = 0$. The cell plots
# your `hidden_grad_norms` for each $\rho$ on a log scale, against $t$.
#
# **Before you run it**, predict how $\lVert \partial L / \partial H_t \rVert$ behaves as $t$
# goes back from $T = 40$ to $1$:
#
# - **A.** three straight lines: for $\rho = 0.8$ it shrinks by about $0.8$ per step back, for
#   $1.0$ it stays level, for $1.2$ it grows by about $1.2$ per step back, all the way;
# - **B.** as in A for $0.8$ and $1.0$; but for $1.2$ it barely grows over the last steps, and
#   grows by about $1.2$ per step only over the early ones;
# - **C.** it shrinks going back for all three: every step multiplies it by
#   $\tanh' = 1 - H_t^2 < 1$, so the gradient always vanishes;
# - **D.** it grows going back for all three: an earlier state influences every later state, so
#   its gradient collects more.

# %% [answer] id=predict_norms
# Set predict_norms to the letter of your prediction, then run the experiment below.
predict_norms = None
### BEGIN SOLUTION
predict_norms = "B"
### END SOLUTION

# %% [test] id=test_predict_norms points=1
check_choice("predict_norms", globals().get("predict_norms"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "For 0.8 and 1.0, yes: their states stay small, so that tanh is nearly linear. With "
        "1.2 the states themselves grow along the sequence until tanh saturates: near the end "
        "they reach 0.9 in size, where 1 - H_t**2 is small, so going back over the last steps "
        "the gradient barely grows. It grows by about 1.2 per step only over the early steps, "
        "where the states are still small."
    ),
    "B": (
        "Right: with small states tanh is nearly linear and every step back multiplies the "
        "gradient's length by about rho. With 1.2 the states grow along the sequence until tanh "
        "saturates (they reach 0.9 in size near the end), and there 1 - H_t**2 shrinks every "
        "factor: the curve is flat over the last steps and steep over the early ones."
    ),
    "C": (
        "tanh' = 1 - H_t**2 is below 1, but with inputs of size 0.01 the states stay small and "
        "tanh' is almost 1 for rho = 0.8 and 1.0: the factor per step is then rho's. For 1.2 "
        "the gradient on H_1 is tens of times larger than on H_40."
    ),
    "D": (
        "L = sum(H_T) depends on the last state only: an earlier state reaches it through one "
        "chain of steps, and its gradient is that chain's product of Jacobians, not a sum over "
        "later states. For 0.8 the product shrinks going back, to about 0.8**39 of the last "
        "state's gradient at H_1. (A sum over later states appears when every step has a loss "
        "of its own, as in Exercise 2's BPTT.)"
    ),
}
print(f"predict_norms = {predict_norms!r}. {WHY.get(predict_norms, '')}")
assert predict_norms == "B", f"predict_norms is not right. {WHY.get(predict_norms, '')}"
### END HIDDEN TESTS
print("✓ predict_norms is one of A, B, C, D")


# %% [code]
def norms_by_radius(input_scale=0.01, seed=0, radii=(0.8, 1.0, 1.2), T=40, N=4, D=3, Dh=16):
    """{rho: hidden_grad_norms} for W_hh = rho * (a random orthogonal matrix)."""
    rng = np.random.default_rng(seed)
    orthogonal, _ = np.linalg.qr(rng.standard_normal((Dh, Dh)))
    X = input_scale * rng.standard_normal((N, T, D))
    W_xh = rng.standard_normal((D, Dh)) / np.sqrt(D)
    return {
        rho: hidden_grad_norms(X, np.zeros((N, Dh)), W_xh, rho * orthogonal, np.zeros(Dh))
        for rho in radii
    }


def plot_norms(input_scale=0.01, seed=0):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for rho, norms in norms_by_radius(input_scale, seed).items():
        ax.semilogy(range(1, len(norms) + 1), norms, marker=".", label=f"spectral radius {rho}")
        print(f"rho = {rho}: |dL/dH_1| / |dL/dH_T| = {norms[0] / norms[-1]:.2e}")
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"$\|\partial L / \partial H_t\|$")
    ax.set_title(rf"Gradient of $L = \sum H_T$ on earlier states (inputs $\times$ {input_scale})")
    ax.legend()
    plt.show()


# %% [code]
plot_norms(input_scale=0.01)

# %% [markdown]
# **What you will see, and why.** A straight line on a log scale is exponential decay or
# growth. For $\rho = 0.8$ the curve falls going back by about $0.8$ per step: at $H_1$ the
# gradient is about $0.8^{39}$, less than $10^{-3}$, of what it was at $H_T$: a vanishing
# gradient. For $\rho = 1.0$ it stays nearly level (within about 10%). For $\rho = 1.2$ it is
# flat over the last ten steps or so and steep before: the states grow along the sequence (序列), by
# about $1.2$ per step, until $\tanh$ saturates near the end, and there $1 - H_t^2$ shrinks
# every factor; over the early steps, where the states are still small, the gradient grows by
# about $1.2$ per step back: an exploding gradient (梯度爆炸), tens of times larger at $H_1$ than at
# $H_T$.
#
# Now make the inputs a hundred times larger, which drives every state towards saturation. The
# cell below runs the same experiment with inputs of standard deviation 1.

# %% [code]
plot_norms(input_scale=1.0)

# %% [markdown]
# **What you will see.** All three curves fall going back, the one for $\rho = 1.2$ too: with
# saturated states, $1 - H_t^2$ is small at most steps, and the product of the factors vanishes
# whatever $\rho$. An $\sigma_{\max}(W_{hh}) > 1$ is needed for the gradient to explode, but it
# is not enough. Chapter [Why the loss oscillates](../../book/chapters/08_loss_oscillation.ipynb)
# explains what exploding gradients do to training, and the rest of this exercise bounds them.
#
# **Why clip at all?** In training, an exploding gradient shows up as rare, huge gradients: one
# step of gradient descent then throws the weights far away and the loss jumps by orders of
# magnitude. Clipping bounds the size of every step while keeping (for norm clipping) its
# direction.

# %% [markdown]
# ## 2. Clipping by the global norm
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
def check_clipped(name, got, expected, exact=True, suspects=None, against=None):
    """Check a list of clipped arrays against the expected list.

    The expected arrays are what torch.nn.utils.clip_grad_norm_ / clip_grad_value_ give (computed
    once by the course's NumPy reference, which its tests check against PyTorch, and stored).
    Clipping by value copies or clamps entries, so it is checked to the last digits; clipping by
    norm divides by the norm plus 1e-6, a rounding difference that the default tolerance (the
    grader's) lets through. Item i is called name[i] (then "compared with <against>", if given).
    suspects: typical wrong results, by description, each a list of arrays like expected; if
    item i matches item i of one of them, the message names it."""
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        got_text = f"{len(got)} items" if isinstance(got, (list, tuple)) else type(got).__name__
        raise CheckFailure(f"{name} must be a list of {len(expected)} arrays, got {got_text}.")
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        label = f"{name}[{i}]" + (f" compared with {against}" if against else "")
        wrong = {description: arrays[i] for description, arrays in (suspects or {}).items()}
        if exact:
            check_array(label, g, e, atol=1e-12, rtol=1e-9, suspects=wrong)
        else:
            check_array(label, g, e, suspects=wrong)


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
suspects = {  # what the usual slip gives on these inputs, stored with the answers
    "each array clipped by its own norm instead of one norm over all of them": [
        EXPECTED[f"norm_clipped_each_{i}"] for i in range(3)
    ],
}
check_clipped(
    "clipped",
    clipped,
    [EXPECTED[f"norm_clipped_{i}"] for i in range(3)],
    exact=False,
    suspects=suspects,
    against="torch.nn.utils.clip_grad_norm_",
)
# Gradients that are already small enough come back unchanged.
small = random_grads(1, [(2, 3), (5,)], scale=0.1)
check_clipped(
    "clip_grad_norm(small gradients, max_norm=10)[0]", clip_grad_norm(small, 10.0)[0], small
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402, F811 - hidden tests only

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
# ## 3. Clipping by value (按值裁剪)
#
# The simpler alternative clamps every entry to $[-\mathtt{clip\_value}, \mathtt{clip\_value}]$
# (`np.clip` does it); Karpathy's `min-char-rnn` clamps at 5. Unlike norm clipping it can change
# the gradient's *direction*: a gradient $(10, 0.1)$ clamped at 1 becomes $(1, 0.1)$, which points
# somewhere else. Its threshold is also on another scale: $P$ entries clamped to $\pm c$ can
# still have norm $c\sqrt{P}$, so clamping at $c$ bounds the step only as clipping by norm (按范数裁剪) at
# $\theta = c\sqrt{P}$ does, a far looser bound once there are thousands of parameters; the
# matched value is $c = \theta/\sqrt{P}$. Chapter 8 compares
# the two rules with matched thresholds over several seeds and learning rates (学习率); the capstone
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
    # Return new arrays: the inputs must not change.
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
    "clip_grad_value(grads, 1.5)",
    clipped,
    [EXPECTED[f"value_clipped_{i}"] for i in range(2)],
    against="torch.nn.utils.clip_grad_value_",
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402, F811 - hidden tests only

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
# ## 4. Experiment: training with and without clipping
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
        f"median gradient norm after step 100 {np.median(norms[100:]):6.1f}, "
        f"largest {norms.max():6.1f} (at step {norms.argmax()})"
    )
difference = np.abs(results["yours"][0] - results["torch"][0]).max()
print(f"largest difference between the losses with your clipping and PyTorch's: {difference:.1e}")

# %% [markdown]
# **What you will see, and why.** Look at the loss first (left panel). Without clipping it
# never comes down: it wanders around 3, the variance of the target, which is what a model that
# always predicts the same number scores. No single spike in the right panel is to blame.
# Without clipping, every step is `lr` times the whole gradient, and in the first tens of steps
# the gradient norm is several units, at times tens (the largest is printed below the plot):
# those steps are several to tens of times longer than the `lr * max_norm` that clipping allows.
# Steps that long knock the weights about instead of taking them down the loss surface, and in
# 400 steps the run never recovers. With clipping, no step is longer than `lr * max_norm`, however large the
# gradient, and the loss keeps going down, to below 1.
#
# The right panel shows the gradients *before* clipping. After the first tens of steps the
# clipped run's are the larger ones, tens against a few: clipping bounds the step, not the
# gradient. The clipped model is still learning, on the steep part of the loss surface, and
# every step its gradient is measured large and brought down to `max_norm`; the model without
# clipping has learnt nothing, its loss hardly changes on average, and its gradient stays at a
# few units.
#
# Your clipping and PyTorch's give the same curve, up to rounding: on this seed the dotted line
# lies on top of the other all the way. (On other seeds, the tiny rounding differences between
# the two computations are amplified after some tens of steps, as small differences are in any
# training run this unstable, and the two curves part, ending at about the same loss.) To see
# the rest on another seed, run `run(None, seed=1)` and
# `run("yours", seed=1)` in a cell of your own; other things to try: `run(None, lr=0.05)`,
# `run("yours", max_norm=0.1)` or `max_norm=10`.

# %% [markdown]
# ## 5. Predict, run, explain: a recurrent matrix that shrinks
#
# The experiment after the question trains the same model with and without your clipping,
# starting from a recurrent matrix whose singular values are all 0.9 instead of 1.2: the
# argument `spectral_radius=0.9` of `run` (and of `LastStateRegressor`), which you can change in
# the cell to try others. It also runs your `hidden_grad_norms` on the two starting models, with
# PyTorch's weights turned into ours ($W_{xh}$ = `weight_ih_l0`ᵀ, $W_{hh}$ = `weight_hh_l0`ᵀ),
# to measure what share of a gradient on the last state, $H_{40}$, reaches $H_3$, the last state
# that has read one of the three numbers to add.
#
# **Before you run it**, predict the losses of the two runs with $0.9$:
#
# - **A.** both learn about as well as the clipped run with $1.2$: gradients no longer explode,
#   which was all that went wrong;
# - **B.** the run without clipping learns as well as the clipped run with $1.2$, and the
#   clipped one more slowly: now clipping only shortens steps that were safe;
# - **C.** neither gets near the clipped run with $1.2$: almost nothing of the gradient
#   reaches the first inputs, and clipping cannot make a gradient larger;
# - **D.** without clipping the loss blows up, and with clipping it learns: clipping is what
#   makes a recurrent network train.

# %% [answer] id=predict_vanishing
# Set predict_vanishing to the letter of your prediction, then run the experiment below.
predict_vanishing = None
### BEGIN SOLUTION
predict_vanishing = "C"
### END SOLUTION

# %% [test] id=test_predict_vanishing points=1
check_choice("predict_vanishing", globals().get("predict_vanishing"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "With 0.9 the gradient does not explode, but it vanishes: less than 1% of a gradient "
        "on the last state reaches H_3 at the start (your hidden_grad_norms measures it), so "
        "the model hardly learns that the target lives in the first three inputs. Without "
        "clipping its loss stays near 3, the target's variance."
    ),
    "B": (
        "Without clipping the run with 0.9 does not learn: its loss stays near 3, the "
        "target's variance, on every seed the course's tests try. The gradient that reaches "
        "the first inputs is tiny (less than 1% at H_3 at the start), so there is little to "
        "learn from, with or without clipping."
    ),
    "C": (
        "Right: from H_40 back to H_3 the gradient goes through 37 Jacobians, each of norm at "
        "most 0.9 at the start, and less than 1% of it arrives (your hidden_grad_norms). The "
        "run without clipping stays near 3, the target's variance; the clipped one ends higher "
        "than with 1.2, on most seeds near 3 too. Clipping only ever shortens a step."
    ),
    "D": (
        "The loss without clipping does not blow up with 0.9: it stays near 3, the target's "
        "variance. Nor does clipping rescue the model: it only shortens steps, and the "
        "gradient that reaches the first inputs is tiny, so the clipped run ends above the "
        "clipped run with 1.2."
    ),
}
print(f"predict_vanishing = {predict_vanishing!r}. {WHY.get(predict_vanishing, '')}")
assert predict_vanishing == "C", f"predict_vanishing is not right. {WHY.get(predict_vanishing, '')}"
### END HIDDEN TESTS
print("✓ predict_vanishing is one of A, B, C, D")


# %% [code]
def share_reaching_back(spectral_radius, seed=0):
    """hidden_grad_norms on a starting model: |dL/dH_3| / |dL/dH_40| for L = sum(H_40)."""
    torch.manual_seed(seed)
    rnn = LastStateRegressor(spectral_radius=spectral_radius).rnn
    X, _ = recall_batch(32, torch.Generator().manual_seed(seed))
    W_xh = rnn.weight_ih_l0.detach().numpy().T  # PyTorch keeps the transposes of our weights
    W_hh = rnn.weight_hh_l0.detach().numpy().T
    b_h = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy()
    norms = hidden_grad_norms(X.numpy(), np.zeros((len(X), W_hh.shape[0])), W_xh, W_hh, b_h)
    return norms[2] / norms[-1]


# %% [code]
for rho in (0.9, 1.2):
    print(
        f"spectral radius {rho}: share of the gradient reaching H_3 {share_reaching_back(rho):.4f}"
    )
print(f"(the bound with 0.9: 0.9**37 = {0.9**37:.3f})")
for label in ("yours", None):
    losses, norms = run(label, spectral_radius=0.9)
    print(
        f"{labels[label]:22s} spectral radius 0.9: mean loss over the last 50 steps "
        f"{losses[-50:].mean():6.3f}, largest gradient norm {norms.max():6.1f}"
    )
print(f"(with 1.2 and your clipping: {results['yours'][0][-50:].mean():.3f})")

# %% [markdown]
# **What you will see, and why.** At the start, less than 1% of a gradient on $H_{40}$ reaches
# $H_3$ with $0.9$, under the bound $0.9^{37}$: each of the 37 Jacobians
# $\operatorname{diag}(1 - H_t^2)\, W_{hh}^\top$ has norm at most $\sigma_{\max}(W_{hh}) = 0.9$.
# With $1.2$ the share is a hundred times larger or more. So with $0.9$ the model never learns
# that the target lives in the first inputs: the run without clipping ends near 3 again, for
# the opposite reason to the one with $1.2$, a vanishing gradient rather than an exploding
# one. Clipping only ever shortens a step, so it cannot bring back a gradient that is too
# small: the clipped run ends above where it ends with $1.2$ (on most seeds near 3 too).
# Clipping cures exploding gradients; vanishing ones need another cell, the long short-term
# memory (长短期记忆网络, LSTM) and the gated recurrent unit (门控循环单元, GRU) of
# [Exercise 7](../07_gated/gated.ipynb).
#
# Next: [Exercise 6](../06_char_rnn/char_rnn.ipynb), the capstone: a character-level language
# model.
