# Source of solutions/03_bidirectional/bidirectional.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 3: a bidirectional RNN (双向循环神经网络)
#
# | | |
# |---|---|
# | **Follows** | chapter 4, [Bidirectional RNNs](../../book/chapters/04_bidirectional_rnns.ipynb) |
# | **Time** | about 1 hour 30 minutes |
# | **Prerequisites** | [Exercise 1](../01_rnn_cell/rnn_cell.ipynb) and [Exercise 2](../02_bptt/bptt.ipynb) |
# | **What you will build** | a bidirectional RNN from two ordinary ones, laid out as `nn.RNN(bidirectional=True)` lays out its states, its backward pass, checked with the gradient check (梯度检验) of Exercise 2 |
#
# **After this exercise you can**
#
# - build a bidirectional RNN from two ordinary ones, the second reading the sequence (序列) backwards;
# - lay out its states as PyTorch's `nn.RNN(bidirectional=True)` does, and match it exactly;
# - backpropagate through it, reversing time where the forward pass reversed it;
# - say which inputs each half of the state can see.
#
# Each technical term comes with its Chinese name where it first appears; all of them are in
# the course's [glossary](../../book/glossary.md) (术语表).
#
# **NumPy only.** Write every answer with NumPy. PyTorch is not available when your notebook is
# graded (the grader's sandbox does not offer it), so an answer that calls
# `torch.nn.RNN(bidirectional=True)` gets no points; this notebook does not import PyTorch
# either.
#
# **How to work.** Fill in every cell that contains `raise NotImplementedError(...)`, then run
# the test cell below it. Hidden tests try other shapes and values, including $N = 1$ and
# $T = 1$.
#
# Time runs $t = 1, \dots, T$, as in the book (in Python, `X[:, t-1]` holds $X_t$). A forward
# RNN's state $\overrightarrow{H}_t$ has read $X_1, \dots, X_t$: the past. A second RNN, with its
# own weights, reads the sequence from the end; its state $\overleftarrow{H}_t$ has read
# $X_T, \dots, X_t$: the future. The bidirectional state at step $t$ is both, side by side:
#
# $$\overrightarrow{H}_t = \tanh(X_t W_{xh}^{(f)} + \overrightarrow{H}_{t-1} W_{hh}^{(f)} + b_h^{(f)}),
#   \qquad
#   \overleftarrow{H}_t = \tanh(X_t W_{xh}^{(b)} + \overleftarrow{H}_{t+1} W_{hh}^{(b)} + b_h^{(b)}),
#   \qquad
#   H_t = [\overrightarrow{H}_t, \overleftarrow{H}_t] \in \mathbb{R}^{N \times 2D_h}$$
#
# with $D_h$ hidden units per direction (`Dh` in code). You do not need to write the
# one-directional RNN again: the cell below gives you working
# `rnn_forward` and `rnn_backward` with the signatures of Exercises 1 and 2.

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

from autograder.handouts.bidirectional import SequenceCache
from autograder.handouts.bidirectional import rnn_backward as given_rnn_backward
from autograder.handouts.bidirectional import rnn_forward as given_rnn_forward
from autograder.handouts.gradcheck import gradient_check, gradient_check_table
from autograder.notebook_checks import (
    CheckFailure,
    check_array,
    check_arrays,
    check_choice,
    expected_values,
    rnn_inputs,
)

np.set_printoptions(precision=4, suppress=True)
EXPECTED = expected_values("03_bidirectional")  # the visible tests' answers, computed once


def rnn_forward(X, h0, W_xh, W_hh, b_h):
    """Forward pass of a one-directional RNN.

    Args:
        X: (N, T, D); h0: (N, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,).

    Returns:
        H: (N, T, Dh), H[:, t] is the state after reading X[:, t].
    """
    H, _ = given_rnn_forward(X, h0, W_xh, W_hh, b_h)
    return H


def rnn_backward(dH, X, h0, H, W_xh, W_hh):
    """Full BPTT of a one-directional RNN.

    Args:
        dH: (N, T, Dh) upstream gradient on every state; X, h0, H, W_xh, W_hh as in rnn_forward
            (H is the output of rnn_forward).

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dW_xh: (D, Dh); dW_hh: (Dh, Dh); db_h: (Dh,).
    """
    b_h = np.zeros(W_hh.shape[0])  # the backward pass does not need the bias itself
    cache = SequenceCache(X, h0, W_xh, W_hh, b_h, H)
    return given_rnn_backward(dH, cache)


# %% [markdown]
# ## 1. Forward
#
# Reading "from the end" is just reading a reversed sequence: `X[:, ::-1]` reverses the time
# axis. Run the backward RNN on it, and the state it computes at its $s$-th step belongs to
# the original time step (时间步) $T + 1 - s$ (in the arrays, its index `s` belongs to index `T-1-s`):
# reverse its output in time too before you put it next to the forward states. Then concatenate along the last axis (`np.concatenate(..., axis=-1)`), forward
# half first, as PyTorch does.
#
# The parameters arrive as tuples `params_f = (W_xh, W_hh, b_h)` for the forward direction and
# `params_b` for the backward one.


# %% [answer] id=birnn_forward_impl
def birnn_forward(X, h0_f, h0_b, params_f, params_b):
    """Bidirectional RNN: a forward RNN on X and a backward RNN on X reversed in time.

    Args:
        X: (N, T, D) input sequences.
        h0_f: (N, Dh) initial state of the forward RNN (before it reads X[:, 0]).
        h0_b: (N, Dh) initial state of the backward RNN (before it reads X[:, T-1], its first).
        params_f: (W_xh (D, Dh), W_hh (Dh, Dh), b_h (Dh,)) of the forward RNN.
        params_b: (W_xh (D, Dh), W_hh (Dh, Dh), b_h (Dh,)) of the backward RNN.

    Returns:
        H: (N, T, 2Dh); H[:, t, :Dh] is the forward state after X[:, t], H[:, t, Dh:] the
            backward one.
    """
    # Use rnn_forward twice; reverse time on the way into and out of the backward RNN.
    ### BEGIN SOLUTION
    H_f = rnn_forward(X, h0_f, *params_f)
    H_b = rnn_forward(X[:, ::-1], h0_b, *params_b)[:, ::-1]
    return np.concatenate([H_f, H_b], axis=-1)
    ### END SOLUTION


# %% [setup] id=setup_birnn_helpers
def birnn_inputs(seed, N, T, D, Dh, scale=0.8):
    """Random inputs and the parameters of both directions."""
    X, h0_f, *params_f = rnn_inputs(seed, N, T, D, Dh, scale=scale)
    _, h0_b, *params_b = rnn_inputs(seed + 1000, N, T, D, Dh, scale=scale)
    return X, h0_f, h0_b, tuple(params_f), tuple(params_b)


# %% [test] id=test_birnn_forward_shape points=1
X, h0_f, h0_b, params_f, params_b = birnn_inputs(seed=0, N=2, T=5, D=3, Dh=4)
check_array(
    "birnn_forward(...)",
    birnn_forward(X, h0_f, h0_b, params_f, params_b),
    np.zeros((2, 5, 8)),
    axes=("N", "T", "2Dh"),
    atol=np.inf,
    hint="concatenate the two directions' states along the last axis.",
)
### BEGIN HIDDEN TESTS
for seed, (N, T, D, Dh) in enumerate([(1, 1, 1, 1), (1, 6, 2, 3), (4, 1, 3, 2)], start=101):
    X, h0_f, h0_b, params_f, params_b = birnn_inputs(seed, N, T, D, Dh)
    check_array(
        f"birnn_forward with N={N}, T={T}, D={D}, Dh={Dh}",
        birnn_forward(X, h0_f, h0_b, params_f, params_b),
        np.zeros((N, T, 2 * Dh)),
        axes=("N", "T", "2Dh"),
        atol=np.inf,
    )
### END HIDDEN TESTS
print("✓ birnn_forward returns an (N, T, 2Dh) array")

# %% [test] id=test_birnn_forward_values points=2
X, h0_f, h0_b, params_f, params_b = birnn_inputs(seed=0, N=2, T=5, D=3, Dh=4)
got = birnn_forward(X, h0_f, h0_b, params_f, params_b)
suspects = {  # what the usual slips give on these inputs, stored with the answers
    "the backward states left in reversed time order (reverse them back)": EXPECTED[
        "birnn_H_unreversed"
    ],
    "a backward RNN that reads X forwards": EXPECTED["birnn_H_reads_forwards"],
    "the two halves swapped (the backward half first)": EXPECTED["birnn_H_swapped"],
}
check_array(
    "birnn_forward(...)",
    got,
    EXPECTED["birnn_H"],
    axes=("N", "T", "2Dh"),
    suspects=suspects,
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

for seed, (N, T, D, Dh) in enumerate(
    [(1, 1, 1, 1), (1, 7, 2, 3), (4, 1, 3, 2), (3, 9, 2, 5)], start=201
):
    X, h0_f, h0_b, params_f, params_b = birnn_inputs(seed, N, T, D, Dh, scale=1.2)
    got = birnn_forward(X, h0_f, h0_b, list(params_f), list(params_b))
    name = f"birnn_forward with N={N}, T={T}, D={D}, Dh={Dh}"
    check_array(
        name,
        got,
        numpy_rnn.birnn_forward(X, h0_f, h0_b, params_f, params_b)[0],
        axes=("N", "T", "2Dh"),
    )
### END HIDDEN TESTS
print("✓ birnn_forward gives the expected states")

# %% [markdown]
# ## 2. Backward
#
# The two directions share nothing but the input, so the backward pass splits in two:
#
# - the forward half of `dH`, `dH[..., :Dh]`, goes into `rnn_backward` of the forward RNN as is;
# - the backward RNN saw time reversed, so its half, `dH[..., Dh:]`, must be reversed in time
#   before it goes in, and the `dX` that comes out must be reversed back;
# - `X` feeds both directions, so `dX` is the **sum** of the two directions' input gradients.
#
# `rnn_backward` needs each direction's states as that direction computed them (for the
# backward RNN, in reversed order): recompute them with `rnn_forward`.


# %% [answer] id=birnn_backward_impl
def birnn_backward(dH, X, h0_f, h0_b, params_f, params_b):
    """Backward pass of birnn_forward (full BPTT in both directions).

    Args:
        dH: (N, T, 2Dh) upstream gradient on the concatenated states.
        X, h0_f, h0_b, params_f, params_b: the inputs of birnn_forward.

    Returns:
        dX: (N, T, D), the sum of both directions' input gradients.
        dh0_f: (N, Dh); dh0_b: (N, Dh).
        dparams_f: (dW_xh (D, Dh), dW_hh (Dh, Dh), db_h (Dh,)) of the forward RNN.
        dparams_b: (dW_xh (D, Dh), dW_hh (Dh, Dh), db_h (Dh,)) of the backward RNN.
    """
    # Split dH; run rnn_backward per direction (reversing time for the backward one); add dX.
    ### BEGIN SOLUTION
    Hdim = dH.shape[-1] // 2
    W_xh_f, W_hh_f, b_h_f = params_f
    W_xh_b, W_hh_b, b_h_b = params_b
    X_rev = X[:, ::-1]
    H_f = rnn_forward(X, h0_f, W_xh_f, W_hh_f, b_h_f)
    H_b_rev = rnn_forward(X_rev, h0_b, W_xh_b, W_hh_b, b_h_b)
    dX_f, dh0_f, *dparams_f = rnn_backward(dH[..., :Hdim], X, h0_f, H_f, W_xh_f, W_hh_f)
    dX_b_rev, dh0_b, *dparams_b = rnn_backward(
        dH[:, ::-1, Hdim:], X_rev, h0_b, H_b_rev, W_xh_b, W_hh_b
    )
    dX = dX_f + dX_b_rev[:, ::-1]
    return dX, dh0_f, dh0_b, tuple(dparams_f), tuple(dparams_b)
    ### END SOLUTION


# %% [setup] id=setup_birnn_backward_helpers
def flatten_birnn_grads(grads):
    """(dX, dh0_f, dh0_b, (3 arrays), (3 arrays)) -> a dict of 9 named arrays, for the checks."""
    if not isinstance(grads, (tuple, list)) or len(grads) != 5:
        return grads
    dX, dh0_f, dh0_b, dparams_f, dparams_b = grads
    flat = {"dX": dX, "dh0_f": dh0_f, "dh0_b": dh0_b}
    for suffix, dparams in (("f", dparams_f), ("b", dparams_b)):
        if not isinstance(dparams, (tuple, list)) or len(dparams) != 3:
            raise CheckFailure(
                f"dparams_{suffix} must be a tuple (dW_xh, dW_hh, db_h), got {type(dparams).__name__}"
            )
        for name, value in zip(("dW_xh", "dW_hh", "db_h"), dparams, strict=True):
            flat[f"{name}_{suffix}"] = value
    return tuple(flat.values())


BI_AXES = {
    "dX": ("N", "T", "D"),
    "dh0_f": ("N", "Dh"),
    "dh0_b": ("N", "Dh"),
    "dW_xh_f": ("D", "Dh"),
    "dW_hh_f": ("Dh", "Dh"),
    "db_h_f": ("Dh",),
    "dW_xh_b": ("D", "Dh"),
    "dW_hh_b": ("Dh", "Dh"),
    "db_h_b": ("Dh",),
}


# %% [markdown]
# **Check your gradients first.** Your `numerical_gradient` from Exercise 2 is given back in
# `gradient_check`: for the scalar loss $L = \sum dH \odot H$, it nudges every entry of every
# input of `birnn_forward` and compares the change of $L$ with your gradients, one row per
# input. A correct backward pass agrees to about $10^{-9}$; a row above $10^{-6}$ names the
# gradient to look at.

# %% [code]
X, h0_f, h0_b, (W_xh_f, W_hh_f, b_h_f), (W_xh_b, W_hh_b, b_h_b) = birnn_inputs(
    seed=11, N=2, T=3, D=2, Dh=2
)
inputs = {
    "X": X, "h0_f": h0_f, "h0_b": h0_b,
    "W_xh_f": W_xh_f, "W_hh_f": W_hh_f, "b_h_f": b_h_f,
    "W_xh_b": W_xh_b, "W_hh_b": W_hh_b, "b_h_b": b_h_b,
}  # fmt: skip
dH = np.random.default_rng(12).standard_normal((2, 3, 4))


def birnn_loss():
    params_f = (inputs["W_xh_f"], inputs["W_hh_f"], inputs["b_h_f"])
    params_b = (inputs["W_xh_b"], inputs["W_hh_b"], inputs["b_h_b"])
    return np.sum(
        dH * birnn_forward(inputs["X"], inputs["h0_f"], inputs["h0_b"], params_f, params_b)
    )


got = flatten_birnn_grads(
    birnn_backward(dH, X, h0_f, h0_b, (W_xh_f, W_hh_f, b_h_f), (W_xh_b, W_hh_b, b_h_b))
)
grads = dict(zip(inputs, got, strict=True))
errors = gradient_check(birnn_loss, inputs, grads)
print(gradient_check_table(errors))
wrong = [name for name, error in errors.items() if not error <= 1e-6]
if wrong:
    raise CheckFailure(
        f"the gradients on {', '.join(wrong)} disagree with numerical ones. If only the _b rows "
        "are wrong, look at how dH's second half goes back through the reversed sequence; if "
        "dX is wrong too, at how the two directions' dX are added."
    )
print("✓ every gradient of birnn_backward agrees with central differences")

# %% [test] id=test_birnn_backward points=3
X, h0_f, h0_b, params_f, params_b = birnn_inputs(seed=0, N=2, T=5, D=3, Dh=4)
dH = np.random.default_rng(1).standard_normal((2, 5, 8))
got = flatten_birnn_grads(birnn_backward(dH, X, h0_f, h0_b, params_f, params_b))
hints = {
    "dX": "dX is the forward direction's dX plus the backward direction's, reversed back in time.",
    "dh0_b": "the backward RNN's upstream gradient is dH[:, ::-1, Dh:] (reversed in time).",
    "dW_hh_b": "the backward RNN's upstream gradient is dH[:, ::-1, Dh:] (reversed in time).",
}
check_arrays(
    "birnn_backward(...)",
    got,
    {name: EXPECTED[f"birnn_{name}"] for name in BI_AXES},
    axes=BI_AXES,
    hints=hints,
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only

for seed, (N, T, D, Dh) in enumerate(
    [(1, 1, 1, 1), (1, 7, 2, 3), (4, 1, 3, 2), (3, 8, 2, 5)], start=301
):
    X, h0_f, h0_b, params_f, params_b = birnn_inputs(seed, N, T, D, Dh, scale=1.1)
    dH = np.random.default_rng(seed + 7).standard_normal((N, T, 2 * Dh))
    got = flatten_birnn_grads(birnn_backward(dH, X, h0_f, h0_b, params_f, params_b))
    _, cache = numpy_rnn.birnn_forward(X, h0_f, h0_b, params_f, params_b)
    expected = flatten_birnn_grads(numpy_rnn.birnn_backward(dH, cache))
    name = f"birnn_backward with N={N}, T={T}, D={D}, Dh={Dh}"
    check_arrays(name, got, dict(zip(BI_AXES, expected, strict=True)), axes=BI_AXES)
### END HIDDEN TESTS
print("✓ birnn_backward gives the expected gradients")

# %% [markdown]
# ## 3. Predict, run, explain: what each half can see
#
# The cell after the question changes only the *last* input, $X_T$ (`X[:, -1]`), of one
# sequence of $T = 6$ steps, runs your `birnn_forward` before and after the change, and prints
# the largest change of each half of the state, step by step.
#
# **Before you run it**, predict which entries of
# $H_t = [\overrightarrow{H}_t, \overleftarrow{H}_t]$ change:
#
# - **A.** all of them: both halves, at every step;
# - **B.** the backward half at every step, and the forward half only at the last step;
# - **C.** only the state at the last step, both halves: the other steps came before $X_T$;
# - **D.** the backward half at every step, and the forward half at no step.

# %% [answer] id=predict_last_input
# Set predict_last_input to the letter of your prediction, then run the experiment below.
predict_last_input = None
### BEGIN SOLUTION
predict_last_input = "B"
### END SOLUTION

# %% [test] id=test_predict_last_input points=1
check_choice("predict_last_input", globals().get("predict_last_input"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "The forward half at a step t < T has read X_1, ..., X_t only, and X_T is not among "
        "them: its states there are computed from exactly the same numbers as before, and the "
        "printed change is exactly 0."
    ),
    "B": (
        "Right: the forward RNN meets X_T at its last step only, so its state changes at t = T "
        "and nowhere else; the backward RNN reads X_T first, and every later state it computes "
        "(every earlier t) is built on that one, so its half changes at every step."
    ),
    "C": (
        "The backward half runs the other way: X_T is the first input it reads, so its states "
        "at all the earlier steps are built on it and all change. Only the forward half is "
        "limited to the last step."
    ),
    "D": (
        "The forward RNN does read X_T, at its very last step: its state at t = T changes (the "
        "printed change there is not 0), while its states at t < T, computed before, do not."
    ),
}
print(f"predict_last_input = {predict_last_input!r}. {WHY.get(predict_last_input, '')}")
assert predict_last_input == "B", (
    f"predict_last_input is not right. {WHY.get(predict_last_input, '')}"
)
### END HIDDEN TESTS
print("✓ predict_last_input is one of A, B, C, D")


# %% [setup] id=setup_last_input_experiment
def change_of_each_half(seed=5, T=6, Dh=4, nudge=1.0):
    """Largest change of each half of your birnn_forward's states, per step, when only the
    last input X_T of one sequence is moved by `nudge`: (forward half (T,), backward half (T,))."""
    X, h0_f, h0_b, params_f, params_b = birnn_inputs(seed=seed, N=1, T=T, D=3, Dh=Dh)
    X_changed = X.copy()
    X_changed[:, -1] += nudge
    change = np.abs(
        birnn_forward(X_changed, h0_f, h0_b, params_f, params_b)
        - birnn_forward(X, h0_f, h0_b, params_f, params_b)
    )[0]
    return change[:, :Dh].max(axis=1), change[:, Dh:].max(axis=1)


# %% [code]
forward_half, backward_half = change_of_each_half()
print("largest change per step t = 1..T, forward half: ", forward_half)
print("largest change per step t = 1..T, backward half:", backward_half)

# %% [markdown]
# **What you will see.** The forward half's change is exactly 0 at every step but the last; the
# backward half's is above 0 at every step.
#
# **Explain**, in two or three sentences: why does the forward half not move before the last
# step, and what does this mean for using a bidirectional RNN to predict the next element of
# a stream (the next word as someone types) while it arrives?

# %% [markdown] id=explain_last_input points=2
# The forward half at step $t$ is computed from $X_1, \dots, X_t$ and $H_0$ only; for $t < T$
# that does not include $X_T$, so those states are the same numbers as before. The backward
# half reads the sequence from its end, so $X_T$ is in every one of its states. A bidirectional
# state at step $t$ therefore depends on inputs that come *after* $t$: to predict the next
# element of a stream we would need inputs that have not arrived yet. It suits tasks where the
# whole sequence is known before any output is needed (tagging the words of a sentence), not
# step-by-step prediction.

# %% [markdown]
# Next: [Exercise 4](../04_sequence_types/sequence_types.ipynb) trains recurrent models of
# four shapes (one to many, many to one, many to many, encoder–decoder (编码器-解码器)) in PyTorch.
