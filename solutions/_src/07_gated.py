# Source of solutions/07_gated/gated.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 7: gated cells, LSTM and GRU
#
# | | |
# |---|---|
# | **Follows** | chapter 10, [Gated RNNs: LSTM and GRU](../../book/chapters/10_gated_rnns.ipynb) |
# | **Time** | about 2 hours 30 minutes |
# | **Prerequisites** | [Exercise 2](../02_bptt/bptt.ipynb) (backpropagation through time, 通过时间反向传播), [Exercise 6](../06_char_rnn/char_rnn.ipynb) (its `CharRNN`, for section 5) |
# | **What you will build** | an LSTM forward and backward pass in NumPy, checked against numerical gradients; a measurement of how far a gradient travels along the cell state (细胞状态); a GRU with PyTorch's equations; and the capstone's character model with an LSTM inside |
#
# **After this exercise you can**
#
# - run a long short-term memory network (LSTM, 长短期记忆网络) over a batch of sequences (序列), with
#   its gates (门) in PyTorch's order, and load its weights into `torch.nn.LSTM`;
# - backpropagate through it by hand, carrying two gradients from step to step: one on the
#   hidden state (隐藏状态) and one on the cell state (细胞状态), and check them with the
#   gradient check (梯度检验) of Exercise 2;
# - see, in numbers, that the cell state passes its gradient back multiplied by the forget gate
#   (遗忘门) alone, and predict what raising that gate's bias does;
# - run a gated recurrent unit (GRU, 门控循环单元) with PyTorch's equations, and say where they
#   differ from the original paper's.
#
# Each technical term comes with its Chinese name the first time it appears; the
# [glossary](../../book/glossary.md) lists them all.
#
# **How to work.** Fill in every cell that contains `raise NotImplementedError(...)`, then run
# the test cell below it. Hidden tests try other shapes and values, including $N = 1$ and
# $T = 1$.
#
# **Notation** (the book's). Batch first (批量维在前), row vectors, time $t = 1, \dots, T$; in the arrays,
# `X[:, t-1]` holds $X_t$ and `H[:, t-1]` holds $H_t$.
#
# | symbol | shape | meaning |
# |---|---|---|
# | $N$, $T$, $D$, $D_h$ | | batch size, length, input size, hidden size |
# | `X` | `(N, T, D)` | input sequences |
# | `h0`, `c0` | `(N, Dh)` | initial hidden state $H_0$ and cell state $C_0$ |
# | `W_x`, `W_h`, `b` | `(D, 4Dh)`, `(Dh, 4Dh)`, `(4Dh,)` | LSTM weights, four gate blocks side by side |
# | `H`, `C` | `(N, T, Dh)` | hidden and cell states after every step |
# | `W_x`, `W_h`, `b_x`, `b_h` | `(D, 3Dh)`, `(Dh, 3Dh)`, `(3Dh,)`, `(3Dh,)` | GRU weights, three blocks |

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
import torch
import torch.nn.functional as F  # noqa: F401 - yours to use in CharLSTM below
from torch import nn

from autograder.handouts.gradcheck import gradient_check, gradient_check_table
from autograder.notebook_checks import (
    CheckFailure,
    check_array,
    check_arrays,
    check_choice,
    expected_values,
)

np.set_printoptions(precision=4, suppress=True)
torch.set_default_dtype(torch.float64)
EXPECTED = expected_values("07_gated")  # the visible tests' answers, computed once and stored


def sigmoid(a):
    """The logistic function 1 / (1 + exp(-a)), without overflow for large |a|."""
    return np.exp(-np.logaddexp(0.0, -a))


def gated_inputs(seed, N, T, D, Dh, blocks):
    """Random inputs and weights of a gated cell with `blocks` gate blocks (LSTM 4, GRU 3)."""
    rng = np.random.default_rng(seed)
    return dict(
        X=rng.standard_normal((N, T, D)),
        h0=0.5 * rng.standard_normal((N, Dh)),
        c0=rng.standard_normal((N, Dh)),
        W_x=rng.standard_normal((D, blocks * Dh)) / np.sqrt(D),
        W_h=rng.standard_normal((Dh, blocks * Dh)) / np.sqrt(Dh),
        b=0.5 * rng.standard_normal(blocks * Dh),
        b_h=0.5 * rng.standard_normal(blocks * Dh),
    )


# %% [markdown]
# ## 1. The LSTM forward pass
#
# At each step the LSTM computes one pre-activation for its four gates at once,
#
# $$A_t = X_t W_x + H_{t-1} W_h + b \quad (N \times 4D_h),$$
#
# and splits it into four blocks of $D_h$ columns, **in PyTorch's order: input, forget, cell
# candidate, output** (the input gate, 输入门, the forget gate, the candidate, and the output
# gate, 输出门):
#
# $$I_t = \sigma(A_t^{(i)}), \quad F_t = \sigma(A_t^{(f)}), \quad
#   G_t = \tanh(A_t^{(g)}), \quad O_t = \sigma(A_t^{(o)}).$$
#
# The cell state forgets a part of the old one and writes a part of the candidate; the hidden
# state is a gated view of it:
#
# $$C_t = F_t \odot C_{t-1} + I_t \odot G_t, \qquad H_t = O_t \odot \tanh(C_t).$$
#
# `np.split(A, 4, axis=1)` cuts the blocks; `sigmoid` is given in the setup cell. Return both
# `H` and `C` (the cell state after every step): the backward pass needs them.


# %% [answer] id=lstm_forward_impl
def lstm_forward(X, h0, c0, W_x, W_h, b):
    """Run an LSTM over whole sequences (gate blocks in the order i, f, g, o).

    Args:
        X: (N, T, D) input sequences.
        h0: (N, Dh) initial hidden state; c0: (N, Dh) initial cell state.
        W_x: (D, 4Dh); W_h: (Dh, 4Dh); b: (4Dh,).

    Returns:
        H: (N, T, Dh) hidden states; C: (N, T, Dh) cell states (H[:, t-1] is H_t).
    """
    # Loop over time; at each step one pre-activation, four gates, then C_t and H_t.
    ### BEGIN SOLUTION
    N, T, _ = X.shape
    H = np.empty((N, T, W_h.shape[0]))
    C = np.empty_like(H)
    h, c = h0, c0
    for t in range(T):
        a_i, a_f, a_g, a_o = np.split(X[:, t] @ W_x + h @ W_h + b, 4, axis=1)
        c = sigmoid(a_f) * c + sigmoid(a_i) * np.tanh(a_g)
        h = sigmoid(a_o) * np.tanh(c)
        H[:, t], C[:, t] = h, c
    return H, C
    ### END SOLUTION


# %% [markdown]
# The tests compare your states with the course's NumPy reference and with `torch.nn.LSTM`.
# PyTorch stores every weight transposed with respect to ours and has two biases that are
# simply added, so the mapping is `weight_ih_l0 = W_x.T`, `weight_hh_l0 = W_h.T`,
# `bias_ih_l0 + bias_hh_l0 = b`. Read the helper below: it is the whole bridge between the
# equations and the library.


# %% [setup] id=setup_torch_helpers
def torch_lstm(X, h0, c0, W_x, W_h, b):
    """H computed by torch.nn.LSTM(batch_first=True) holding our weights."""
    lstm = torch.nn.LSTM(W_x.shape[0], W_h.shape[0], batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(W_x.T))
        lstm.weight_hh_l0.copy_(torch.from_numpy(W_h.T))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
        H, _ = lstm(torch.from_numpy(X), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
    return H.numpy()


def torch_gru(X, h0, W_x, W_h, b_x, b_h):
    """H computed by torch.nn.GRU(batch_first=True) holding our weights and biases."""
    gru = torch.nn.GRU(W_x.shape[0], W_h.shape[0], batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.from_numpy(W_x.T))
        gru.weight_hh_l0.copy_(torch.from_numpy(W_h.T))
        gru.bias_ih_l0.copy_(torch.from_numpy(b_x))
        gru.bias_hh_l0.copy_(torch.from_numpy(b_h))
        H, _ = gru(torch.from_numpy(X), torch.from_numpy(h0)[None])
    return H.numpy()


def lstm_case(seed, N, T, D, Dh):
    p = gated_inputs(seed, N, T, D, Dh, 4)
    return p["X"], p["h0"], p["c0"], p["W_x"], p["W_h"], p["b"]


def reorder(M, order):
    """M with its four gate blocks (columns, or entries of a bias) taken in another order."""
    return np.concatenate([np.split(M, 4, axis=-1)[k] for k in order], axis=-1)


STATE_AXES = ("N", "T", "Dh")

# %% [test] id=test_lstm_forward_shape points=1
X, h0, c0, W_x, W_h, b = lstm_case(seed=0, N=2, T=4, D=3, Dh=5)
result = lstm_forward(X, h0, c0, W_x, W_h, b)
check_arrays(
    "lstm_forward(...)",
    result,
    {"H": np.zeros((2, 4, 5)), "C": np.zeros((2, 4, 5))},
    atol=np.inf,
    axes={"H": STATE_AXES, "C": STATE_AXES},
)
### BEGIN HIDDEN TESTS
for seed, (N, T, D, Dh) in enumerate([(1, 1, 1, 1), (3, 2, 4, 2), (1, 6, 2, 3)], start=101):
    zeros = np.zeros((N, T, Dh))
    check_arrays(
        f"lstm_forward with N={N}, T={T}, D={D}, Dh={Dh}",
        lstm_forward(*lstm_case(seed, N, T, D, Dh)),
        {"H": zeros, "C": zeros},
        atol=np.inf,
    )
### END HIDDEN TESTS
print("✓ lstm_forward returns H and C, both (N, T, Dh)")

# %% [test] id=test_lstm_forward_values points=3
X, h0, c0, W_x, W_h, b = lstm_case(seed=1, N=2, T=5, D=3, Dh=4)
H, C = lstm_forward(X, h0, c0, W_x, W_h, b)
b_no_forget = b.copy()
b_no_forget[4:8] = np.inf  # sigmoid(inf) = 1: the forget gate always open
i_f_o_g = [0, 1, 3, 2]
suspects = {
    "the LSTM with its gates read in the order i, f, o, g": torch_lstm(
        X, h0, c0, reorder(W_x, i_f_o_g), reorder(W_h, i_f_o_g), reorder(b, i_f_o_g)
    ),
    "the LSTM without a forget gate (C_t = C_{t-1} + I_t G_t)": torch_lstm(
        X, h0, c0, W_x, W_h, b_no_forget
    ),
    "the cell states C": EXPECTED["lstm_C"],
}
check_array(
    "H from lstm_forward compared with torch.nn.LSTM",
    H,
    torch_lstm(X, h0, c0, W_x, W_h, b),
    axes=STATE_AXES,
    suspects=suspects,
)
check_array(
    "C from lstm_forward",
    C,
    EXPECTED["lstm_C"],
    axes=STATE_AXES,
    hint="C_t = F_t * C_{t-1} + I_t * G_t, with C_0 = c0.",
)
### BEGIN HIDDEN TESTS
from autograder.reference import torch_rnn  # noqa: E402 - hidden tests only

shapes = [(1, 1, 1, 1), (1, 7, 2, 3), (4, 1, 3, 5), (3, 6, 4, 2)]
for seed, (N, T, D, Dh) in enumerate(shapes, start=201):
    args = lstm_case(seed, N, T, D, Dh)
    name = f"lstm_forward with N={N}, T={T}, D={D}, Dh={Dh}"
    H, C = lstm_forward(*args)
    H_ref, cache = torch_rnn.lstm_forward(*args)
    check_array(name + ": H", H, H_ref, axes=STATE_AXES)
    check_array(name + ": C", C, cache.C, axes=STATE_AXES)
### END HIDDEN TESTS
print("✓ lstm_forward matches torch.nn.LSTM, and its cell states are the expected ones")

# %% [markdown]
# ## 2. The LSTM backward pass
#
# Going back through step $t$, two gradients arrive from the future: `dh_next` on $H_t$ (from
# step $t+1$'s matrix products, as in the vanilla RNN) and `dc_next` on $C_t$ (along the cell
# state). Add the upstream `dH[:, t-1]` to `dh_next`, and call the sum `dh`. Then:
#
# 1. $H_t = O_t \odot \tanh(C_t)$ gives $\partial L/\partial O_t = dh \odot \tanh(C_t)$, and a
#    second contribution to the cell state: `dc = dc_next + dh * O_t * (1 - tanh(C_t)**2)`.
# 2. $C_t = F_t \odot C_{t-1} + I_t \odot G_t$ gives the gradients on $F_t$, $I_t$, $G_t$ and,
#    the heart of the LSTM, **`dc_prev = dc * F_t`**: nothing else happens to the gradient
#    on this path.
# 3. Through the non-linearities: $\sigma' = \sigma(1 - \sigma)$ and $\tanh' = 1 - \tanh^2$,
#    giving `dA` $(N, 4D_h)$, the blocks in the order i, f, g, o again.
# 4. From `dA` on, it is the vanilla RNN's step backward: `dA @ W_x.T`, `dA @ W_h.T`, and the
#    weight gradients summed over the steps.
#
# The gates are not among the inputs: recompute them at each step from `X[:, t-1]` and
# $H_{t-1}$ (that is `h0` at the first step, `H[:, t-2]` later), exactly as the forward pass
# did. The cell state $C_{t-1}$ comes from `c0` or `C`.


# %% [answer] id=lstm_backward_impl
def lstm_backward(dH, X, h0, c0, H, C, W_x, W_h, b):
    """Backpropagation through time for lstm_forward.

    Args:
        dH: (N, T, Dh) gradient of the loss with respect to every hidden state.
        X, h0, c0, W_x, W_h, b: the inputs of lstm_forward.
        H, C: (N, T, Dh) its outputs.

    Returns:
        dX: (N, T, D); dh0: (N, Dh); dc0: (N, Dh); dW_x: (D, 4Dh); dW_h: (Dh, 4Dh); db: (4Dh,).
    """
    # Walk backwards in time carrying dh_next and dc_next (both zero after the last step).
    ### BEGIN SOLUTION
    T = X.shape[1]
    dX = np.zeros_like(X)
    dW_x, dW_h, db = np.zeros_like(W_x), np.zeros_like(W_h), np.zeros_like(b)
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(T)):
        h_prev = h0 if t == 0 else H[:, t - 1]
        c_prev = c0 if t == 0 else C[:, t - 1]
        a_i, a_f, a_g, a_o = np.split(X[:, t] @ W_x + h_prev @ W_h + b, 4, axis=1)
        i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
        tanh_c = np.tanh(C[:, t])
        dh = dH[:, t] + dh_next
        dc = dc_next + dh * o * (1 - tanh_c**2)
        dA = np.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * (1 - g**2),
                dh * tanh_c * o * (1 - o),
            ],
            axis=1,
        )
        dX[:, t] = dA @ W_x.T
        dW_x += X[:, t].T @ dA
        dW_h += h_prev.T @ dA
        db += dA.sum(axis=0)
        dh_next = dA @ W_h.T
        dc_next = dc * f
    return dX, dh_next, dc_next, dW_x, dW_h, db
    ### END SOLUTION


# %% [setup] id=setup_backward_helpers
GRAD_AXES = {
    "dX": ("N", "T", "D"),
    "dh0": ("N", "Dh"),
    "dc0": ("N", "Dh"),
    "dW_x": ("D", "4Dh"),
    "dW_h": ("Dh", "4Dh"),
    "db": ("4Dh",),
}


# %% [markdown]
# **Check your gradients first.** Your `numerical_gradient` from Exercise 2 is given back in
# `gradient_check`: for the scalar loss $L = \sum dH \odot H$, it nudges every entry of every
# input of `lstm_forward` and compares the change of $L$ with your gradients, one row per
# input. A correct backward pass agrees to about $10^{-9}$; a row above $10^{-6}$ names the
# gradient to look at.

# %% [code]
X, h0, c0, W_x, W_h, b = lstm_case(seed=11, N=2, T=3, D=3, Dh=2)
inputs = {"X": X, "h0": h0, "c0": c0, "W_x": W_x, "W_h": W_h, "b": b}
dH = np.random.default_rng(12).standard_normal((2, 3, 2))
H, C = lstm_forward(**inputs)
grads = dict(
    zip(["X", "h0", "c0", "W_x", "W_h", "b"], lstm_backward(dH, **inputs, H=H, C=C), strict=True)
)
errors = gradient_check(lambda: np.sum(dH * lstm_forward(**inputs)[0]), inputs, grads)
print(gradient_check_table(errors))
wrong = [name for name, error in errors.items() if not error <= 1e-6]
if wrong:
    raise CheckFailure(
        f"the gradients on {', '.join(wrong)} disagree with numerical ones. If only c0 and the "
        "weights are wrong, look at what the cell state passes back; if h0 is wrong too, at "
        "dh_next; if everything is, at the gates' derivatives."
    )
print("✓ every gradient of lstm_backward agrees with central differences")

# %% [test] id=test_lstm_backward points=4
X, h0, c0, W_x, W_h, b = lstm_case(seed=2, N=2, T=4, D=3, Dh=4)
H, C = EXPECTED["backward_H"], EXPECTED["backward_C"]  # what lstm_forward gives
dH = np.random.default_rng(3).standard_normal(H.shape)
got = lstm_backward(dH, X, h0, c0, H, C, W_x, W_h, b)
check_arrays(
    "lstm_backward(...)",
    got,
    {name: EXPECTED[f"backward_{name}"] for name in GRAD_AXES},
    axes=GRAD_AXES,
    hints={
        "dc0": "along the cell state the gradient is only multiplied by the forget gate: "
        "dc_prev = dc * F_t.",
        "db": "the bias is added to every row at every step: sum dA over the batch, add over t.",
    },
)
### BEGIN HIDDEN TESTS
from autograder.reference import numpy_rnn  # noqa: E402 - hidden tests only


def backward_case(seed, N, T, D, Dh):
    """The inputs of lstm_backward, and the reference's gradients by name."""
    X, h0, c0, W_x, W_h, b = lstm_case(seed, N, T, D, Dh)
    H, cache = numpy_rnn.lstm_forward(X, h0, c0, W_x, W_h, b)
    dH = np.random.default_rng(seed + 1).standard_normal(H.shape)
    expected = dict(zip(GRAD_AXES, numpy_rnn.lstm_backward(dH, cache), strict=True))
    return (dH, X, h0, c0, H, cache.C, W_x, W_h, b), expected, cache


for seed, (N, T, D, Dh) in enumerate([(1, 1, 1, 1), (1, 6, 2, 3), (3, 1, 4, 2), (2, 5, 3, 5)]):
    args, expected, _ = backward_case(300 + seed, N, T, D, Dh)
    check_arrays(
        f"lstm_backward with N={N}, T={T}, D={D}, Dh={Dh}",
        lstm_backward(*args),
        expected,
        axes=GRAD_AXES,
    )
### END HIDDEN TESTS
print("✓ lstm_backward gives the expected gradients")

# %% [markdown]
# ### Predict, run, explain: the cell state in numbers
#
# Set $W_h = 0$, so that the only road from $C_0$ to $H_T$ is the cell state itself, and put a
# gradient on $H_T$ only. Your backward pass should then give
# $\partial L / \partial C_0 = \partial L / \partial C_T \odot F_T \odot \cdots \odot F_1$: a
# product of forget gates, with no weight matrix and no $\tanh'$ in it. The function below
# measures the largest entry of $\partial L / \partial C_0$ after $T = 30$ steps, with your
# `lstm_forward` and `lstm_backward`, for a given bias of the forget gate (`b[Dh:2*Dh]`, set to
# the same value in every unit).
#
# **Before you run it**, predict what raising the forget gate's bias from 0 to 3 does to the
# largest $|\partial L / \partial C_0|$:
#
# - **A.** nothing: a bias is not multiplied by anything, so it drops out of the gradient;
# - **B.** it grows by a factor of a thousand or more, and stays below $|\partial L / \partial C_T|$;
# - **C.** it explodes: the gradient ends far larger than $|\partial L / \partial C_T|$;
# - **D.** it shrinks: a larger bias saturates the sigmoid, and a saturated sigmoid passes no
#   gradient.

# %% [answer] id=predict_forget_bias
# Set predict_forget_bias to the letter of your prediction, then run the experiment below.
predict_forget_bias = None
### BEGIN SOLUTION
predict_forget_bias = "B"
### END SOLUTION

# %% [test] id=test_predict_forget_bias points=1
check_choice("predict_forget_bias", globals().get("predict_forget_bias"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "The bias does not appear in the chain itself, but it sets the forget gates F_t = "
        "sigma(... + b_f) that the chain multiplies together: every factor moves from about 0.5 "
        "towards sigma(3) = 0.95, and over 30 steps that changes the product by orders of "
        "magnitude."
    ),
    "B": (
        "Right: dL/dC_0 is dL/dC_T times 30 forget gates. With the bias at 0 they are near 0.5, "
        "and 0.5**30 is about 1e-9; at 3 they are near 0.95, and 0.95**30 is about 0.2. Each "
        "gate is below 1, so the product can never exceed dL/dC_T: the cell state keeps the "
        "gradient alive without letting it explode."
    ),
    "C": (
        "Every forget gate is a sigmoid, strictly between 0 and 1, so the product of 30 of them "
        "is below 1: the gradient on C_0 can only be smaller than the one on C_T. Explosion "
        "needs factors above 1, like a recurrent matrix with a large singular value."
    ),
    "D": (
        "What the chain passes back is the gate's value F_t, not its derivative: a sigmoid "
        "saturated near 1 passes the gradient on almost unchanged. Saturation would stop the "
        "gradient of the loss with respect to the bias itself, not the one along the cell state."
    ),
}
print(f"predict_forget_bias = {predict_forget_bias!r}. {WHY.get(predict_forget_bias, '')}")
assert predict_forget_bias == "B", (
    f"predict_forget_bias is not right. {WHY.get(predict_forget_bias, '')}"
)
### END HIDDEN TESTS
print("✓ predict_forget_bias is one of A, B, C, D")


# %% [setup] id=setup_cell_state_experiment
def cell_state_gradient(forget_bias=0.0, T=30, seed=5, Dh=4):
    """Largest |dL/dC_0| and |dL/dC_T| when W_h = 0 and the loss is the sum of H_T, from your
    lstm_backward, and how far it is from the product of the forget gates."""
    X, h0, c0, W_x, W_h, b = lstm_case(seed=seed, N=1, T=T, D=3, Dh=Dh)
    W_h = np.zeros_like(W_h)
    b[Dh : 2 * Dh] = forget_bias
    H, C = lstm_forward(X, h0, c0, W_x, W_h, b)
    dH = np.zeros_like(H)
    dH[:, -1] = 1.0
    dc0 = lstm_backward(dH, X, h0, c0, H, C, W_x, W_h, b)[2]
    gates = X @ W_x + b  # (N, T, 4Dh): no recurrent part when W_h = 0
    forget = sigmoid(gates[..., Dh : 2 * Dh])
    output = sigmoid(gates[..., 3 * Dh :])
    dC_T = dH[:, -1] * output[:, -1] * (1 - np.tanh(C[:, -1]) ** 2)
    chain = dC_T * forget.prod(axis=1)
    return {
        "dC_0": float(np.abs(dc0).max()),
        "dC_T": float(np.abs(dC_T).max()),
        "chain error": float(np.abs(dc0 - chain).max()),
    }


# %% [code]
for forget_bias in (0.0, 3.0):
    result = cell_state_gradient(forget_bias)
    print(
        f"forget bias {forget_bias:3.1f}: largest |dL/dC_0| {result['dC_0']:.2e}, "
        f"|dL/dC_T| {result['dC_T']:.2e}, "
        f"differs from dC_T * F_T ... F_1 by {result['chain error']:.1e}"
    )

# %% [markdown]
# **What you will see, and why.** With the bias at 0 the forget gates hover around one half,
# and thirty of them multiplied together leave almost nothing of the gradient (below
# $10^{-8}$). At 3 they sit near $\sigma(3) \approx 0.95$, and a good part of the gradient
# reaches $C_0$: a factor of a million or more above the first run, and still below
# $|\partial L / \partial C_T|$, because every factor is below 1. The last column shows that your
# backward pass computes exactly this product. This is why LSTMs are often initialised with a
# forget-gate bias of 1 or more (Jozefowicz et al., 2015): the cell starts out remembering, and
# learns to forget. Try `cell_state_gradient(forget_bias=1.0)` or `T=100`.

# %% [markdown]
# ## 3. The GRU forward pass
#
# The GRU has no separate cell state, two gates and a candidate, **in PyTorch's order: reset,
# update, new**. PyTorch keeps two biases, because the reset gate (重置门) multiplies the recurrent part
# of the candidate *after* its matrix product, bias included:
#
# $$\begin{aligned}
# R_t &= \sigma(X_t W_{xr} + b_{xr} + H_{t-1} W_{hr} + b_{hr}), \\
# Z_t &= \sigma(X_t W_{xz} + b_{xz} + H_{t-1} W_{hz} + b_{hz}), \\
# N_t &= \tanh\big(X_t W_{xn} + b_{xn} + R_t \odot (H_{t-1} W_{hn} + b_{hn})\big), \\
# H_t &= (1 - Z_t) \odot N_t + Z_t \odot H_{t-1}.
# \end{aligned}$$
#
# Compute `X_t @ W_x + b_x` and `H_{t-1} @ W_h + b_h` once per step and split each into its three
# blocks. Note the last line: where $Z_t$ is close to 1, the state is *kept*. (Cho et al., 2014,
# who introduced the cell, reset $H_{t-1}$ before the product, $(R_t \odot H_{t-1}) W_{hn}$; the
# chapter compares the two.)


# %% [answer] id=gru_forward_impl
def gru_forward(X, h0, W_x, W_h, b_x, b_h):
    """Run a GRU over whole sequences (PyTorch's equations, blocks in the order r, z, n).

    Args:
        X: (N, T, D) input sequences; h0: (N, Dh) initial hidden state.
        W_x: (D, 3Dh); W_h: (Dh, 3Dh); b_x: (3Dh,); b_h: (3Dh,).

    Returns:
        H: (N, T, Dh) hidden states.
    """
    # Per step: the input part and the recurrent part, three blocks each; then r, z, n and H_t.
    ### BEGIN SOLUTION
    N, T, _ = X.shape
    H = np.empty((N, T, W_h.shape[0]))
    h = h0
    for t in range(T):
        x_r, x_z, x_n = np.split(X[:, t] @ W_x + b_x, 3, axis=1)
        h_r, h_z, h_n = np.split(h @ W_h + b_h, 3, axis=1)
        r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
        n = np.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        H[:, t] = h
    return H
    ### END SOLUTION


# %% [setup] id=setup_gru_helpers
def gru_case(seed, N, T, D, Dh):
    p = gated_inputs(seed, N, T, D, Dh, 3)
    return p["X"], p["h0"], p["W_x"], p["W_h"], p["b"], p["b_h"]


# %% [test] id=test_gru_forward points=3
X, h0, W_x, W_h, b_x, b_h = gru_case(seed=3, N=2, T=5, D=3, Dh=4)
expected = torch_gru(X, h0, W_x, W_h, b_x, b_h)
got = gru_forward(X, h0, W_x, W_h, b_x, b_h)
z_swapped, h = [], h0
for t in range(X.shape[1]):  # the update with Z and 1 - Z exchanged, for the message below
    x_r, x_z, x_n = np.split(X[:, t] @ W_x + b_x, 3, axis=1)
    h_r, h_z, h_n = np.split(h @ W_h + b_h, 3, axis=1)
    z = sigmoid(x_z + h_z)
    n = np.tanh(x_n + sigmoid(x_r + h_r) * h_n)
    h = z * n + (1 - z) * h
    z_swapped.append(h)
check_array(
    "gru_forward(...) compared with torch.nn.GRU",
    got,
    expected,
    axes=STATE_AXES,
    suspects={"the states of a GRU with Z and 1 - Z swapped": np.stack(z_swapped, axis=1)},
    hint="H_t = (1 - Z_t) * N_t + Z_t * H_{t-1}, and R_t multiplies (H_{t-1} W_hn + b_hn).",
)
### BEGIN HIDDEN TESTS
from autograder.reference import torch_rnn  # noqa: E402 - hidden tests only

for seed, (N, T, D, Dh) in enumerate([(1, 1, 1, 1), (1, 8, 2, 3), (4, 1, 3, 5), (3, 6, 4, 2)]):
    args = gru_case(400 + seed, N, T, D, Dh)
    check_array(
        f"gru_forward with N={N}, T={T}, D={D}, Dh={Dh}",
        gru_forward(*args),
        torch_rnn.gru_forward(*args)[0],
        axes=STATE_AXES,
    )
### END HIDDEN TESTS
print("✓ gru_forward matches torch.nn.GRU")

# %% [markdown]
# ## 4. Counting parameters
#
# For the same hidden size, an LSTM has four blocks of weights and a GRU three, against one for
# the vanilla RNN. The cell prints the counts of PyTorch's modules for $D = 32$, $D_h = 64$
# (PyTorch counts its two biases separately). Predict them before you run it.

# %% [code]
for module in (torch.nn.RNN, torch.nn.GRU, torch.nn.LSTM):
    count = sum(p.numel() for p in module(32, 64).parameters())
    print(f"{module.__name__:5s} {count:6d} parameters")

# %% [markdown]
# ## 5. In PyTorch: the capstone with an LSTM
#
# The character model of [Exercise 6](../06_char_rnn/char_rnn.ipynb), `CharRNN`, reads one-hot
# characters with an `nn.RNN` and scores the next character with an `nn.Linear`. Swap its RNN
# for an LSTM. Two things change: the layer, and the state, which is now a pair: `nn.LSTM`
# takes and returns `(h, c)`, both of shape `(1, N, Dh)`.
#
# Write `CharLSTM` with exactly two layers with parameters, `self.rnn = nn.LSTM(vocab_size,
# hidden_size, batch_first=True)` and `self.head = nn.Linear(hidden_size, vocab_size)`: the
# grader loads its own weights into them by these names and compares your outputs, gradients
# and a few SGD steps with its reference. `forward(idx, h=None, c=None)` takes the state as two
# arguments (both None: start from zeros) and returns `(logits, h_last, c_last)`.
#
# The parameters the grader loads, with PyTorch's shapes (the transposes of ours, the four gate
# blocks stacked along the rows): `rnn.weight_ih_l0` `(4Dh, V)`, `rnn.weight_hh_l0`
# `(4Dh, Dh)`, `rnn.bias_ih_l0` and `rnn.bias_hh_l0` `(4Dh,)`, `head.weight` `(V, Dh)`,
# `head.bias` `(V,)`.


# %% [answer] id=char_lstm_impl
class CharLSTM(nn.Module):
    """Character language model: one-hot characters -> nn.LSTM -> nn.Linear scores.

    Args:
        vocab_size: V.
        hidden_size: Dh.
    """

    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        # Keep vocab_size; create self.rnn (an nn.LSTM, batch first) and self.head.
        ### BEGIN SOLUTION
        self.vocab_size = vocab_size
        self.rnn = nn.LSTM(vocab_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)
        ### END SOLUTION

    def forward(self, idx, h=None, c=None):
        """idx: (N, T) int64; h, c: optional (1, N, Dh) initial states (both or neither).

        Returns:
            logits: (N, T, V); h_last: (1, N, Dh); c_last: (1, N, Dh).
        """
        # Scores of the next character at every step, and the two states after the last one.
        ### BEGIN SOLUTION
        x = F.one_hot(idx, self.vocab_size).to(self.head.weight.dtype)
        H, (h_last, c_last) = self.rnn(x, None if h is None else (h, c))
        return self.head(H), h_last, c_last
        ### END SOLUTION


# %% [test] id=test_char_lstm points=2
torch.manual_seed(0)
model = CharLSTM(vocab_size=7, hidden_size=5)
layers = {name: tuple(p.shape) for name, p in model.named_parameters()}
expected_layers = {
    "rnn.weight_ih_l0": (20, 7),
    "rnn.weight_hh_l0": (20, 5),
    "rnn.bias_ih_l0": (20,),
    "rnn.bias_hh_l0": (20,),
    "head.weight": (7, 5),
    "head.bias": (7,),
}
if layers != expected_layers:
    raise CheckFailure(f"CharLSTM's parameters are {layers}, expected {expected_layers}.")
idx = torch.randint(0, 7, (2, 6))
h0, c0 = torch.randn(1, 2, 5), torch.randn(1, 2, 5)
with torch.no_grad():
    result = model(idx, h0, c0)
if not isinstance(result, tuple) or len(result) != 3:
    raise CheckFailure("CharLSTM.forward must return a tuple (logits, h_last, c_last).")
# The same model computed by a plain nn.LSTM and nn.Linear holding CharLSTM's weights.
weights = dict(model.named_parameters())
lstm = nn.LSTM(7, 5, batch_first=True, dtype=torch.float64)
head = nn.Linear(5, 7, dtype=torch.float64)
with torch.no_grad():
    for name, p in lstm.named_parameters():
        p.copy_(weights[f"rnn.{name}"].double())
    head.weight.copy_(weights["head.weight"].double())
    head.bias.copy_(weights["head.bias"].double())
    H, (h_ref, c_ref) = lstm(F.one_hot(idx, 7).to(torch.float64), (h0.double(), c0.double()))
    logits_ref = head(H)
logits, h_last, c_last = (t.numpy() for t in result)
check_array("logits", logits, logits_ref.numpy(), atol=1e-5)
check_array("h_last", h_last, h_ref.numpy(), atol=1e-5, hint="h_last is (1, N, Dh).")
check_array("c_last", c_last, c_ref.numpy(), atol=1e-5, hint="return the cell state nn.LSTM gives.")
print("✓ CharLSTM computes the LSTM of section 1 and returns (logits, h_last, c_last)")

# %% [markdown]
# Next: the chapter's [long-range experiment](../../book/chapters/10_gated_rnns.ipynb) trains
# all three cells on the adding problem (加法问题) and measures how far back their gradients reach.
