# Source of solutions/01_rnn_cell/rnn_cell.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 1: the RNN cell, step by step
#
# | | |
# |---|---|
# | **Follows** | chapter 3, [The structure of an RNN](../../book/chapters/03_rnn_structure.ipynb) |
# | **Time** | about 45 minutes |
# | **Prerequisites** | NumPy arrays and matrix products |
# | **What you will build** | one RNN step for a whole batch, the same cell run over a sequence (序列), and the output layer (输出层), in NumPy, matched with the weights of PyTorch's `nn.RNNCell` and `nn.RNN` (stored transposed) |
#
# **After this exercise you can**
#
# - compute one step of a vanilla RNN, $H_t = \tanh(X_t W_{xh} + H_{t-1} W_{hh} + b_h)$,
#   for a whole batch at once;
# - run the same cell over a sequence, carrying the hidden state (隐藏状态) from step to step;
# - add the output layer $O_t = H_t W_{hq} + b_q$ at every step;
# - know how PyTorch's `nn.RNNCell` and `nn.RNN` store the same weights (transposed), so that
#   you can move between the equations, papers and library code.
#
# Each technical term comes with its Chinese name where it first appears; all of them are in
# the course's [glossary](../../book/glossary.md) (术语表).
#
# **NumPy only.** Write every answer with NumPy. PyTorch is not available when your notebook is
# graded (the grader's sandbox does not offer it), so an answer that calls `torch.nn.RNNCell`
# gets no points; this notebook does not import PyTorch either.
#
# **How to work.** Fill in every cell that contains `raise NotImplementedError(...)`: replace
# that line with your code. Then run the test cell below it. A test prints a line starting
# with ✓ when it passes, and otherwise tells you what it expected, what it got and where.
# Your grade comes from these tests and from hidden ones that try other shapes and values,
# including a batch of one sequence ($N = 1$) and sequences of one step ($T = 1$).
#
# **Notation** (the same as in the book, see its notation page). Everything is *batch first* (批量维在前)
# and uses *row vectors* (the row-vector convention). Time runs $t = 1, \dots, T$ in the
# equations and from 0 in Python, so the array slice `X[:, t-1]` holds $X_t$.
#
# | symbol | shape | meaning |
# |---|---|---|
# | $N$, $T$ | | batch size, sequence length |
# | $D$, $D_h$, $Q$ | | input size, hidden size (`Dh` in code), output size |
# | `X` | `(N, T, D)` | a batch of input sequences; `X[:, t-1]` is $X_t$ |
# | `h0` | `(N, Dh)` | the initial state $H_0$, before the first step |
# | `W_xh`, `W_hh`, `b_h` | `(D, Dh)`, `(Dh, Dh)`, `(Dh,)` | the cell's parameters |
# | `H` | `(N, T, Dh)` | the hidden states $H_1, \dots, H_T$; `H[:, t-1]` is $H_t$ |
# | `W_hq`, `b_q` | `(Dh, Q)`, `(Q,)` | the output layer's parameters |
# | `O` | `(N, T, Q)` | the outputs $O_1, \dots, O_T$; `O[:, t-1]` is $O_t$ |

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

from autograder.notebook_checks import check_array, check_choice, expected_values, rnn_inputs

np.set_printoptions(precision=4, suppress=True)
EXPECTED = expected_values("01_rnn_cell")  # the visible tests' answers, computed once and stored

# %% [markdown]
# ## 1. One step of the cell
#
# At step $t$ the cell mixes the new input with what it remembers:
#
# $$H_t = \tanh\left(X_t W_{xh} + H_{t-1} W_{hh} + b_h\right)$$
#
# With row vectors, a whole batch is one matrix product: `x` has one row per sequence, so
# `x @ W_xh` has shape `(N, Dh)`, and so has `h_prev @ W_hh`. The bias `b_h` of shape `(Dh,)` is
# added to every row by NumPy's broadcasting.
#
# Write `rnn_cell_forward`. Return only the new hidden state (an array), nothing else.


# %% [answer] id=rnn_cell_forward_impl
def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):
    """One step of a vanilla RNN: h_next = tanh(x W_xh + h_prev W_hh + b_h).

    Args:
        x: (N, D) inputs at this step.
        h_prev: (N, Dh) hidden state from the previous step.
        W_xh: (D, Dh) input-to-hidden weights.
        W_hh: (Dh, Dh) hidden-to-hidden weights.
        b_h: (Dh,) hidden bias.

    Returns:
        h_next: (N, Dh) the new hidden state.
    """
    # One line of NumPy is enough: no loop over the batch.
    ### BEGIN SOLUTION
    return np.tanh(x @ W_xh + h_prev @ W_hh + b_h)
    ### END SOLUTION


# %% [markdown]
# The first test checks the shape of the result, the second its values, against answers the
# course's NumPy reference computed once on the same inputs and stored with the course (the
# course's own tests check that reference against PyTorch's `nn.RNNCell` and `nn.RNN`).
#
# PyTorch's `nn.RNNCell` uses the same row-vector formula,
# $h' = \tanh(x\, W_{ih}^\top + b_{ih} + h\, W_{hh}^\top + b_{hh})$, but it stores each weight
# matrix transposed, one row per hidden unit: its `weight_ih` is our $W_{xh}^\top$
# (`weight_ih = W_xh.T`) and its `weight_hh` is our $W_{hh}^\top$ (`weight_hh = W_hh.T`).
# So the matrix PyTorch calls $W_{hh}$ is the transpose of ours, and it has two biases where we
# have one. Copying our weights into a PyTorch cell reads (not run here: this exercise is NumPy
# only)
#
# ```python
# cell = torch.nn.RNNCell(D, Dh, dtype=torch.float64)
# with torch.no_grad():
#     cell.weight_ih.copy_(torch.from_numpy(W_xh.T))  # weight_ih = W_xh.T
#     cell.weight_hh.copy_(torch.from_numpy(W_hh.T))  # weight_hh = W_hh.T
#     cell.bias_ih.copy_(torch.from_numpy(b_h))
#     cell.bias_hh.zero_()                             # the second bias, which we do not have
# ```
#
# and `cell(x, h_prev)` then gives your `rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h)`. You will
# meet this mapping again whenever you move between papers and code.


# %% [test] id=test_rnn_cell_forward_shape points=1
X, h0, W_xh, W_hh, b_h = rnn_inputs(seed=0, N=2, T=1, D=3, Dh=4)
h_next = rnn_cell_forward(X[:, 0], h0, W_xh, W_hh, b_h)
check_array(
    "rnn_cell_forward(...)",
    h_next,
    np.zeros((2, 4)),
    axes=("N", "Dh"),
    atol=np.inf,
    hint="the new state has one row per sequence and one column per hidden unit.",
)
### BEGIN HIDDEN TESTS
for seed, (N, D, Dh) in enumerate([(1, 1, 1), (1, 5, 2), (4, 2, 6), (3, 7, 3)], start=101):
    X, h0, W_xh, W_hh, b_h = rnn_inputs(seed, N, 1, D, Dh)
    check_array(
        f"rnn_cell_forward with N={N}, D={D}, Dh={Dh}",
        rnn_cell_forward(X[:, 0], h0, W_xh, W_hh, b_h),
        np.zeros((N, Dh)),
        axes=("N", "Dh"),
        atol=np.inf,
    )
### END HIDDEN TESTS
print("✓ rnn_cell_forward returns an (N, Dh) array")

# %% [test] id=test_rnn_cell_forward_values points=2
X, h0, W_xh, W_hh, b_h = rnn_inputs(seed=0, N=2, T=1, D=3, Dh=4)
suspects = {  # what the usual slips give on these inputs, stored with the answers
    "the pre-activation, without tanh": EXPECTED["cell_no_tanh"],
    "tanh of the pre-activation without the bias b_h": EXPECTED["cell_no_bias"],
    "a step that ignores h_prev": EXPECTED["cell_no_h_prev"],
    "a step that uses W_hh.T instead of W_hh": EXPECTED["cell_W_hh_transposed"],
}
got = rnn_cell_forward(X[:, 0], h0, W_xh, W_hh, b_h)
check_array(
    "rnn_cell_forward(...)",
    got,
    EXPECTED["cell_h_next"],
    axes=("N", "Dh"),
    suspects=suspects,
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

for seed, (N, D, Dh) in enumerate(
    [(1, 1, 1), (1, 5, 2), (4, 2, 6), (3, 7, 3), (5, 4, 4)], start=201
):
    X, h0, W_xh, W_hh, b_h = rnn_inputs(seed, N, 1, D, Dh, scale=1.5)
    got = rnn_cell_forward(X[:, 0], h0, W_xh, W_hh, b_h)
    name = f"rnn_cell_forward with N={N}, D={D}, Dh={Dh}"
    check_array(name, got, numpy_rnn.rnn_cell_forward(X[:, 0], h0, W_xh, W_hh, b_h)[0])
### END HIDDEN TESTS
print("✓ rnn_cell_forward gives the expected states")

# %% [markdown]
# ## 2. A whole sequence
#
# A recurrent network applies *the same* cell, with the same weights, at every step, feeding the
# state it just computed back in as `h_prev`:
#
# $$H_1 = \tanh(X_1 W_{xh} + H_0 W_{hh} + b_h), \quad
#   H_2 = \tanh(X_2 W_{xh} + H_1 W_{hh} + b_h), \quad \dots, \quad
#   H_T = \tanh(X_T W_{xh} + H_{T-1} W_{hh} + b_h),$$
#
# starting from the initial state $H_0$, the argument `h0`. Write `rnn_forward` with a loop over
# the steps that calls your `rnn_cell_forward` and stores each new state. Python counts from 0:
# step $t$ reads `X[:, t-1]` and its state $H_t$ goes into `H[:, t-1]`, so a loop
# `for t in range(T)` reads `X[:, t]` and writes `H[:, t]`, the state *after* reading `X[:, t]`.
# `h0` is not part of `H`.


# %% [answer] id=rnn_forward_impl
def rnn_forward(X, h0, W_xh, W_hh, b_h):
    """Run a vanilla RNN over whole sequences.

    Args:
        X: (N, T, D) input sequences, batch first.
        h0: (N, Dh) initial hidden state.
        W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,) the cell's parameters.

    Returns:
        H: (N, T, Dh) the hidden state after every step; H[:, t] is the state after X[:, t].
    """
    # Allocate H, then loop over time, carrying the state from one step to the next.
    ### BEGIN SOLUTION
    N, T, _ = X.shape
    H = np.empty((N, T, W_hh.shape[0]))
    h = h0
    for t in range(T):
        h = rnn_cell_forward(X[:, t], h, W_xh, W_hh, b_h)
        H[:, t] = h
    return H
    ### END SOLUTION


# %% [test] id=test_rnn_forward_shape points=1
X, h0, W_xh, W_hh, b_h = rnn_inputs(seed=1, N=2, T=5, D=3, Dh=4)
check_array(
    "rnn_forward(...)",
    rnn_forward(X, h0, W_xh, W_hh, b_h),
    np.zeros((2, 5, 4)),
    axes=("N", "T", "Dh"),
    atol=np.inf,
    hint="one hidden state per sequence and per step: H[:, t] holds the state after X[:, t].",
)
### BEGIN HIDDEN TESTS
for seed, (N, T, D, Dh) in enumerate(
    [(1, 1, 1, 1), (1, 6, 2, 3), (3, 1, 4, 2), (2, 3, 1, 5)], start=301
):
    X, h0, W_xh, W_hh, b_h = rnn_inputs(seed, N, T, D, Dh)
    check_array(
        f"rnn_forward with N={N}, T={T}, D={D}, Dh={Dh}",
        rnn_forward(X, h0, W_xh, W_hh, b_h),
        np.zeros((N, T, Dh)),
        axes=("N", "T", "Dh"),
        atol=np.inf,
    )
### END HIDDEN TESTS
print("✓ rnn_forward returns an (N, T, Dh) array")

# %% [test] id=test_rnn_forward_values points=2
X, h0, W_xh, W_hh, b_h = rnn_inputs(seed=1, N=2, T=5, D=3, Dh=4)
expected = EXPECTED["sequence_H"]
got = rnn_forward(X, h0, W_xh, W_hh, b_h)
suspects = {
    "the states computed with h0 = 0": EXPECTED["sequence_H_zero_h0"],
    "the states computed with h0 at every step (the state is never carried)": EXPECTED[
        "sequence_H_not_carried"
    ],
    "the states shifted by one step (H[:, t] holds the state before X[:, t])": np.concatenate(
        [h0[:, None], expected[:, :-1]], axis=1
    ),
}
check_array(
    "rnn_forward(...)",
    got,
    expected,
    axes=("N", "T", "Dh"),
    suspects=suspects,
    hint="the first step reads h0; every later step reads the state the previous step computed.",
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

shapes = [(1, 1, 1, 1), (1, 9, 2, 3), (4, 1, 3, 5), (3, 6, 4, 2), (2, 12, 3, 6)]
for seed, (N, T, D, Dh) in enumerate(shapes, start=401):
    X, h0, W_xh, W_hh, b_h = rnn_inputs(seed, N, T, D, Dh, scale=1.2)
    got = rnn_forward(X, h0, W_xh, W_hh, b_h)
    name = f"rnn_forward with N={N}, T={T}, D={D}, Dh={Dh}"
    check_array(name, got, numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)[0], axes=("N", "T", "Dh"))
### END HIDDEN TESTS
print("✓ rnn_forward gives the expected states")

# %% [markdown]
# ## 3. The output layer
#
# The hidden states are the network's memory (记忆); what it *says* at each step is an affine map of
# them, with one more set of shared weights:
#
# $$O_t = H_t W_{hq} + b_q$$
#
# `H` has three axes, but `@` multiplies the last axis of `H` with the first of `W_hq` and keeps
# the others, so `H @ W_hq` has shape $(N, T, Q)$ without any loop. Write `output_forward`.
# (PyTorch's `nn.Linear` is the same map, and stores the transpose again: `weight = W_hq.T`.)


# %% [answer] id=output_forward_impl
def output_forward(H, W_hq, b_q):
    """The output layer applied at every step: O_t = H_t W_hq + b_q.

    Args:
        H: (N, T, Dh) hidden states.
        W_hq: (Dh, Q) hidden-to-output weights.
        b_q: (Q,) output bias.

    Returns:
        O: (N, T, Q) the outputs at every step.
    """
    # One matrix product and one broadcast addition; no loop is needed.
    ### BEGIN SOLUTION
    return H @ W_hq + b_q
    ### END SOLUTION


# %% [test] id=test_output_forward points=1
rng = np.random.default_rng(2)
H_states = np.tanh(rng.standard_normal((2, 5, 4)))
W_hq, b_q = rng.standard_normal((4, 3)), rng.standard_normal(3)
got = output_forward(H_states, W_hq, b_q)
check_array(
    "output_forward(...)",
    got,
    EXPECTED["output_O"],
    axes=("N", "T", "Q"),
    suspects={"H W_hq without the bias b_q": EXPECTED["output_O_no_bias"]},
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

for seed, (N, T, Dh, Q) in enumerate(
    [(1, 1, 1, 1), (1, 4, 3, 2), (3, 1, 2, 5), (2, 6, 5, 3)], start=501
):
    rng = np.random.default_rng(seed)
    H_states = np.tanh(rng.standard_normal((N, T, Dh)))
    W_hq, b_q = rng.standard_normal((Dh, Q)), rng.standard_normal(Q)
    check_array(
        f"output_forward with N={N}, T={T}, Dh={Dh}, Q={Q}",
        output_forward(H_states, W_hq, b_q),
        numpy_rnn.output_forward(H_states, W_hq, b_q)[0],
        axes=("N", "T", "Q"),
    )
### END HIDDEN TESTS
print("✓ output_forward gives the expected outputs")

# %% [markdown]
# ## 4. Putting it together
#
# Your three functions make a complete (untrained) RNN. The cell below runs it on a batch of two
# sequences and prints the shapes at each stage, and how far the two sequences' states have
# drifted apart: they start from the same $H_0$, and differ only because they read different
# inputs. Try other sizes.

# %% [code]
X, h0, W_xh, W_hh, b_h = rnn_inputs(seed=3, N=2, T=6, D=3, Dh=5)
h0 = np.zeros_like(h0)
H_states = rnn_forward(X, h0, W_xh, W_hh, b_h)
O = output_forward(H_states, np.ones((5, 2)), np.zeros(2))
print("X:", X.shape, " H:", H_states.shape, " O:", O.shape)
print("distance between the two sequences' states at each step:")
print(np.linalg.norm(H_states[0] - H_states[1], axis=-1))

# %% [markdown]
# ### Predict, run, explain: a larger $W_{hh}$
#
# The cell after the question runs your `rnn_forward` twice on the same inputs (two sequences
# of $T = 20$ steps, $D_h = 5$): once with $W_{hh}$ as drawn, once with $W_{hh}$ multiplied by
# 10. It prints the largest $|H_t|$ entry, the mean $|H_t|$ and the share of entries beyond
# $0.9$ in absolute value.
#
# **Before you run it**, predict what multiplying $W_{hh}$ by 10 does to the hidden states:
#
# - **A.** they grow about ten times larger, well beyond 1: the state explodes;
# - **B.** most entries end up close to $-1$ or $+1$, and none goes beyond them;
# - **C.** they shrink towards 0: a large $W_{hh}$ adds large terms of both signs that cancel;
# - **D.** nothing changes: $\tanh$ rescales whatever it is given, so the scale of $W_{hh}$
#   drops out.

# %% [answer] id=predict_saturation
# Set predict_saturation to the letter of your prediction, then run the experiment below.
predict_saturation = None
### BEGIN SOLUTION
predict_saturation = "B"
### END SOLUTION

# %% [test] id=test_predict_saturation points=1
check_choice("predict_saturation", globals().get("predict_saturation"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "Each entry of H_t is a tanh, and tanh never leaves (-1, 1), whatever its input: the "
        "largest |H_t| printed stays at most 1 (it prints as 1.0 once tanh rounds to 1). A larger "
        "W_hh makes the pre-activation large, not the state."
    ),
    "B": (
        "Right: with W_hh ten times larger, H_{t-1} W_hh dominates the pre-activation, which is "
        "then far from 0, where tanh is flat at -1 or +1. Most entries saturate (on every seed "
        "the course's tests try, more than half end beyond 0.9, against a quarter or fewer "
        "with W_hh as drawn), and none can pass 1."
    ),
    "C": (
        "Large terms of both signs do not cancel into a small pre-activation: they make it large "
        "in absolute value, and tanh of a large number is close to -1 or +1, not to 0. The mean "
        "|H_t| printed grows with the scale."
    ),
    "D": (
        "tanh is applied entry by entry and does not normalise anything: tanh(10 a) is not "
        "tanh(a). The printed mean |H_t| and the share of entries beyond 0.9 both change."
    ),
}
print(f"predict_saturation = {predict_saturation!r}. {WHY.get(predict_saturation, '')}")
assert predict_saturation == "B", (
    f"predict_saturation is not right. {WHY.get(predict_saturation, '')}"
)
### END HIDDEN TESTS
print("✓ predict_saturation is one of A, B, C, D")


# %% [setup] id=setup_saturation_experiment
def state_sizes(scale, seed=3, T=20):
    """The largest and mean |H_t|, and the share of entries beyond 0.9, of your rnn_forward on
    two random sequences from H_0 = 0, with W_hh multiplied by `scale`."""
    X, h0, W_xh, W_hh, b_h = rnn_inputs(seed=seed, N=2, T=T, D=3, Dh=5)
    size = np.abs(rnn_forward(X, np.zeros_like(h0), W_xh, scale * W_hh, b_h))
    return {"largest": size.max(), "mean": size.mean(), "beyond 0.9": (size > 0.9).mean()}


# %% [code]
for scale in (1.0, 10.0):
    sizes = state_sizes(scale)
    print(
        f"W_hh x {scale:4.1f}: largest |H_t| {sizes['largest']:.4f}, mean {sizes['mean']:.2f}, "
        f"entries beyond 0.9: {sizes['beyond 0.9']:.0%}"
    )

# %% [markdown]
# **What you will see.** With $W_{hh}$ ten times larger, most entries of the states sit beyond
# $0.9$ in absolute value, and the largest is still at most 1: the states *saturate*. Where
# $\tanh$ is flat, a small change of its input hardly changes its output; you will meet the
# consequence for training in [Exercise 2](../02_bptt/bptt.ipynb), where gradients pass
# through $1 - H_t^2$, close to 0 for a saturated state.

# %% [markdown]
# Next: [Exercise 2](../02_bptt/bptt.ipynb) runs this network backwards in time to compute
# its gradients.
