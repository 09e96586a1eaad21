"""What the grader checks in 07_gated: the LSTM forward and backward passes, the GRU forward,
and CharLSTM, the capstone's character model with an nn.LSTM.

Test ids are the grade ids of the graded cells of gated.ipynb. Every output is compared with
the NumPy reference and with PyTorch (nn.LSTM, nn.GRU and autograd through them) on inputs drawn
here, in the parent; CharLSTM holds weights chosen here, loaded by the names the notebook lays
out, and its report is compared with the reference module's (autograder.grading.module_checks).
predict_forget_bias, the prediction made before the cell-state experiment, is a multiple choice
read from the notebook (autograder.grading.choices): the feedback explains the option chosen.
The mistakes of this assignment are written out below as wrong versions of
the cells, each a flag away from the right computation, so that the catalogue reads as a list of
the slips learners make with gates.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autograder.grading import choices, judges
from autograder.grading import module_checks as mc
from autograder.grading.inputs import label, normal
from autograder.grading.spec import Array, Assignment, Case, Mistake, Test
from autograder.reference import numpy_rnn, torch_rnn
from autograder.reference.numpy_rnn import LSTMCache

STATES = (Array("H", ("N", "T", "Dh")), Array("C", ("N", "T", "Dh")))
GRADS = (
    Array("dX", ("N", "T", "D")),
    Array("dh0", ("N", "Dh")),
    Array("dc0", ("N", "Dh")),
    Array("dW_x", ("D", "4Dh")),
    Array("dW_h", ("Dh", "4Dh")),
    Array("db", ("4Dh",)),
)
GRU_STATES = Array("H", ("N", "T", "Dh"))

FORWARD_SIZES = [(2, 5, 3, 4), (1, 1, 1, 1), (1, 7, 2, 3), (4, 1, 3, 5), (3, 6, 4, 2)]
BACKWARD_SIZES = [(2, 4, 3, 4), (1, 1, 1, 1), (1, 6, 2, 3), (3, 1, 4, 2), (2, 5, 3, 5)]


# --------------------------------------------------------------------------------------------
# Inputs: gates away from saturation, so that every slip changes the output visibly; c0 and h0
# of different scales, so that one cannot stand in for the other.


def _gated(rng, N, T, D, Dh, blocks):
    return (
        normal(rng, N, T, D),
        normal(rng, N, Dh, scale=0.5),
        normal(rng, D, blocks * Dh, scale=1 / np.sqrt(D)),
        normal(rng, Dh, blocks * Dh, scale=1 / np.sqrt(Dh)),
        normal(rng, blocks * Dh, scale=0.5),
    )


def lstm_args(rng, N, T, D, Dh):
    X, h0, W_x, W_h, b = _gated(rng, N, T, D, Dh, 4)
    return X, h0, normal(rng, N, Dh), W_x, W_h, b


def forward_cases(rng):
    return [
        Case(lstm_args(rng, N, T, D, Dh), label=label(N=N, T=T, D=D, Dh=Dh))
        for N, T, D, Dh in FORWARD_SIZES
    ]


def backward_cases(rng):
    cases = []
    for N, T, D, Dh in BACKWARD_SIZES:
        X, h0, c0, W_x, W_h, b = lstm_args(rng, N, T, D, Dh)
        H, cache = numpy_rnn.lstm_forward(X, h0, c0, W_x, W_h, b)
        args = (normal(rng, N, T, Dh), X, h0, c0, H, cache.C, W_x, W_h, b)
        cases.append(Case(args, label=label(N=N, T=T, D=D, Dh=Dh)))
    return cases


def gru_cases(rng):
    cases = []
    for N, T, D, Dh in FORWARD_SIZES:
        X, h0, W_x, W_h, b_x = _gated(rng, N, T, D, Dh, 3)
        args = (X, h0, W_x, W_h, b_x, normal(rng, 3 * Dh, scale=0.5))
        cases.append(Case(args, label=label(N=N, T=T, D=D, Dh=Dh)))
    return cases


# --------------------------------------------------------------------------------------------
# References, in the layout the learner returns.


def lstm_states(module):
    def ref(X, h0, c0, W_x, W_h, b):
        H, cache = module.lstm_forward(X, h0, c0, W_x, W_h, b)
        return H, cache.C

    return ref


def lstm_grads(module):
    def ref(dH, X, h0, c0, H, C, W_x, W_h, b):
        return module.lstm_backward(dH, LSTMCache(X, h0, c0, W_x, W_h, b, H, C))

    return ref


def gru_states(module):
    return lambda *args: module.gru_forward(*args)[0]


# --------------------------------------------------------------------------------------------
# The mistakes: the cells written wrong, one flag at a time.


def _sigmoid(a):
    return np.exp(-np.logaddexp(0.0, -a))


def lstm_variant(
    X,
    h0,
    c0,
    W_x,
    W_h,
    b,
    *,
    order=(0, 1, 2, 3),
    forget=True,
    recurrent="h",
    tanh_c=True,
    returns_c_as_h=False,
    g_act=np.tanh,
    carry_c=True,
    steps=0,
):
    """lstm_forward with a slip. ``order[k]`` is the block read as gate k (i, f, g, o);
    ``recurrent`` "c" (C_{t-1} @ W_h) or "h0" (h0 @ W_h at every step); ``g_act`` the
    candidate's non-linearity; ``carry_c=False``: every step forgets from c0; ``steps`` -1: the
    loop stops one step early (the last step's entries are np.empty's leftovers: NaN here,
    "anything" to the diagnosis)."""
    N, T, _ = X.shape
    H, C = np.full((N, T, W_h.shape[0]), np.nan), np.full((N, T, W_h.shape[0]), np.nan)
    h, c = h0, c0
    for t in range(T + steps):
        state = {"h": h, "c": c, "h0": h0}[recurrent]
        blocks = np.split(X[:, t] @ W_x + state @ W_h + b, 4, axis=1)
        a_i, a_f, a_g, a_o = (blocks[k] for k in order)
        c_prev = c if carry_c else c0
        c = (_sigmoid(a_f) * c_prev if forget else c_prev) + _sigmoid(a_i) * g_act(a_g)
        h = _sigmoid(a_o) * (np.tanh(c) if tanh_c else c)
        H[:, t], C[:, t] = h, c
    return (C if returns_c_as_h else H), C


def lstm_backward_variant(
    dH,
    X,
    h0,
    c0,
    H,
    C,
    W_x,
    W_h,
    b,
    *,
    carry_c=True,
    forget_path=True,
    tanh_grad=True,
    carry_h=True,
    g_grad="1 - g**2",
    steps=0,
    h_prev_at="H[:, t-1]",
):
    """lstm_backward with a slip: on the cell-state path (``carry_c``, ``forget_path``,
    ``tanh_grad``), ``carry_h=False`` (dh_next dropped), ``g_grad`` "1 - g" (tanh' of the
    candidate without the square), ``steps`` -1 (the loop over reversed(range(T - 1))), or
    ``h_prev_at`` "H[:, t]" (the step's own state used as h_prev, for the gates and dW_h)."""
    dX = np.zeros_like(X)
    dW_x, dW_h, db = np.zeros_like(W_x), np.zeros_like(W_h), np.zeros_like(b)
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(X.shape[1] + steps)):
        h_prev = H[:, t] if h_prev_at == "H[:, t]" else h0 if t == 0 else H[:, t - 1]
        c_prev = c0 if t == 0 else C[:, t - 1]
        a_i, a_f, a_g, a_o = np.split(X[:, t] @ W_x + h_prev @ W_h + b, 4, axis=1)
        i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
        tanh_c = np.tanh(C[:, t])
        dh = dH[:, t] + (dh_next if carry_h else 0)
        dc = (dc_next if carry_c else 0) + dh * o * ((1 - tanh_c**2) if tanh_grad else 1)
        dA = np.concatenate(
            [
                dc * g * i * (1 - i),
                dc * c_prev * f * (1 - f),
                dc * i * ((1 - g**2) if g_grad == "1 - g**2" else (1 - g)),
                dh * tanh_c * o * (1 - o),
            ],
            axis=1,
        )
        dX[:, t] = dA @ W_x.T
        dW_x += X[:, t].T @ dA
        dW_h += h_prev.T @ dA
        db += dA.sum(axis=0)
        dh_next = dA @ W_h.T
        dc_next = dc * f if forget_path else dc
    return dX, dh_next, dc_next, dW_x, dW_h, db


def gru_variant(
    X,
    h0,
    W_x,
    W_h,
    b_x,
    b_h,
    *,
    order=(0, 1, 2),
    reset="after",
    swap_z=False,
    reset_bias=True,
    recurrent="h",
    steps=0,
):
    """gru_forward with a slip. ``reset``: "after" (PyTorch), "before" (Cho et al. 2014,
    (R * H_{t-1}) W_hn), "all" (R times the whole pre-activation of N) or "none" (no reset
    gate); ``recurrent`` "h0" (h0 @ W_h at every step, the update still mixing in the carried
    state); ``steps`` -1: the loop stops one step early (NaN: np.empty's leftovers)."""
    N, T, _ = X.shape
    Dh = W_h.shape[0]
    H = np.full((N, T, Dh), np.nan)
    h = h0
    for t in range(T + steps):
        xs = np.split(X[:, t] @ W_x + b_x, 3, axis=1)
        hs = np.split((h if recurrent == "h" else h0) @ W_h + b_h, 3, axis=1)
        (x_r, x_z, x_n), (h_r, h_z, h_n) = ([p[k] for k in order] for p in (xs, hs))
        r, z = _sigmoid(x_r + h_r), _sigmoid(x_z + h_z)
        b_hn = np.split(b_h, 3)[order[2]]
        if reset == "before":
            W_hn = np.split(W_h, 3, axis=1)[order[2]]
            n = np.tanh(x_n + (r * h) @ W_hn + b_hn)
        elif reset == "all":
            n = np.tanh(r * (x_n + h_n))
        elif reset == "none":
            n = np.tanh(x_n + h_n)
        elif not reset_bias:  # b_hn outside the product: the two biases merged
            n = np.tanh(x_n + b_hn + r * (h_n - b_hn))
        else:
            n = np.tanh(x_n + r * h_n)
        h = z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h
        H[:, t] = h
    return H


FORWARD_MISTAKES = (
    Mistake(
        "the gate blocks read in the order i, f, o, g (the order of some course notes), "
        "not PyTorch's i, f, g, o",
        "split A_t into [input | forget | cell candidate | output], in that order",
        partial(lstm_variant, order=(0, 1, 3, 2)),
    ),
    Mistake(
        "the input and forget gate blocks swapped",
        "the first block of A_t is the input gate, the second the forget gate",
        partial(lstm_variant, order=(1, 0, 2, 3)),
    ),
    Mistake(
        "no forget gate (C_t = C_{t-1} + I_t G_t)",
        "multiply the old cell state by the forget gate: C_t = F_t * C_{t-1} + I_t * G_t",
        partial(lstm_variant, forget=False),
    ),
    Mistake(
        "C_{t-1} used where H_{t-1} belongs (C_{t-1} @ W_h in the pre-activation)",
        "the gates read the hidden state: A_t = X_t W_x + H_{t-1} W_h + b",
        partial(lstm_variant, recurrent="c"),
    ),
    Mistake(
        "the cell states returned as the hidden states (H holds C_t)",
        "store H_t = O_t * tanh(C_t) in H, and C_t in C",
        partial(lstm_variant, returns_c_as_h=True),
    ),
    Mistake(
        "tanh of the cell state forgotten (H_t = O_t C_t)",
        "squash the cell state before the output gate: H_t = O_t * tanh(C_t)",
        partial(lstm_variant, tanh_c=False),
    ),
    Mistake(
        "a sigmoid for the cell candidate G_t",
        "the candidate is the one block squashed by tanh: G_t = tanh(A_t^(g)); I_t, F_t and "
        "O_t are sigmoids",
        partial(lstm_variant, g_act=_sigmoid),
    ),
    Mistake(
        "the cell state not carried (every step computes F_t * c0, not F_t * C_{t-1})",
        "C_t = F_t * C_{t-1} + I_t * G_t: update c in the loop and read it at the next step",
        partial(lstm_variant, carry_c=False),
    ),
    Mistake(
        "the hidden state not carried (every step reads h0 @ W_h, not H_{t-1} @ W_h)",
        "A_t = X_t W_x + H_{t-1} W_h + b: update h in the loop and read it at the next step",
        partial(lstm_variant, recurrent="h0"),
    ),
    Mistake(
        "a loop that skips the last step (range(T - 1)): H[:, T-1] and C[:, T-1] are never "
        "computed",
        "visit every array index, for t in range(T)",
        partial(lstm_variant, steps=-1),
    ),
)

BACKWARD_MISTAKES = (
    Mistake(
        "the cell-state gradient not carried back (dc_next dropped)",
        "carry dc_prev = dc * F_t to the previous step and add it to that step's dc",
        partial(lstm_backward_variant, carry_c=False),
    ),
    Mistake(
        "the forget gate left out of the cell path (dc_prev = dc)",
        "C_t = F_t * C_{t-1} + ..., so dc_prev = dc * F_t",
        partial(lstm_backward_variant, forget_path=False),
    ),
    Mistake(
        "tanh' of the cell state left out (dc = dc_next + dh * O_t)",
        "H_t = O_t * tanh(C_t): dc = dc_next + dh * O_t * (1 - tanh(C_t)**2)",
        partial(lstm_backward_variant, tanh_grad=False),
    ),
    Mistake(
        "the hidden-state gradient not carried back (dh_next dropped)",
        "H_{t-1} feeds step t through W_h: dh = dH[:, t] + dh_next, with dh_next = dA @ W_h.T "
        "of the step after",
        partial(lstm_backward_variant, carry_h=False),
    ),
    Mistake(
        "tanh' of the candidate written as 1 - G_t (the square is missing)",
        "G_t = tanh(A_t^(g)), so its block of dA is dc * I_t * (1 - G_t**2)",
        partial(lstm_backward_variant, g_grad="1 - g"),
    ),
    Mistake(
        "a backward loop that skips the last step (reversed(range(T - 1))): the gradient at "
        "the last state never flows back",
        "visit every array index, for t in reversed(range(T))",
        partial(lstm_backward_variant, steps=-1),
    ),
    Mistake(
        "the step's own state H_t used as h_prev (for the gates and dW_h) instead of H_{t-1}",
        "recompute step t from the state it read: h0 at the first step, then the previous "
        "step's state",
        partial(lstm_backward_variant, h_prev_at="H[:, t]"),
    ),
)

GRU_MISTAKES = (
    Mistake(
        "the reset gate applied before the matmul, to H_{t-1} (Cho et al.'s GRU), not to "
        "H_{t-1} W_hn + b_hn",
        "PyTorch's candidate is tanh(X_t W_xn + b_xn + R_t * (H_{t-1} W_hn + b_hn))",
        partial(gru_variant, reset="before"),
    ),
    Mistake(
        "the reset gate applied to the whole pre-activation of the candidate",
        "R_t multiplies only the recurrent part, H_{t-1} W_hn + b_hn",
        partial(gru_variant, reset="all"),
    ),
    Mistake(
        "b_hn added outside the reset gate's product (the two biases merged)",
        "b_hn belongs inside: R_t * (H_{t-1} W_hn + b_hn)",
        partial(gru_variant, reset_bias=False),
    ),
    Mistake(
        "z and 1 - z swapped (H_t = Z_t N_t + (1 - Z_t) H_{t-1})",
        "H_t = (1 - Z_t) * N_t + Z_t * H_{t-1}: where Z_t is near 1 the old state is kept",
        partial(gru_variant, swap_z=True),
    ),
    Mistake(
        "the reset and update blocks swapped",
        "the blocks are in PyTorch's order: reset, update, new",
        partial(gru_variant, order=(1, 0, 2)),
    ),
    Mistake(
        "no reset gate in the candidate (N_t = tanh(X_t W_xn + b_xn + H_{t-1} W_hn + b_hn))",
        "R_t multiplies the recurrent part: N_t = tanh(X_t W_xn + b_xn + R_t * (H_{t-1} W_hn + "
        "b_hn))",
        partial(gru_variant, reset="none"),
    ),
    Mistake(
        "the gates and candidate computed from h0 at every step (h0 @ W_h), not from H_{t-1}",
        "compute H_{t-1} @ W_h + b_h from the state of the step before: update h in the loop",
        partial(gru_variant, recurrent="h0"),
    ),
    Mistake(
        "a loop that skips the last step (range(T - 1)): H[:, T-1] is never computed",
        "visit every array index, for t in range(T)",
        partial(gru_variant, steps=-1),
    ),
)


def build(folder):
    states = {
        "NumPy reference": lstm_states(numpy_rnn),
        "PyTorch nn.LSTM": lstm_states(torch_rnn),
    }
    grads = {
        "NumPy reference": lstm_grads(numpy_rnn),
        "PyTorch autograd": lstm_grads(torch_rnn),
    }
    gru = {"NumPy reference": gru_states(numpy_rnn), "PyTorch nn.GRU": gru_states(torch_rnn)}
    return Assignment(
        name="07_gated",
        notebook="gated.ipynb",
        title="Exercise 7: gated cells, LSTM and GRU",
        tests=(
            Test(
                "test_lstm_forward_shape",
                "lstm_forward",
                None,
                forward_cases,
                judges.references(STATES, states, shape_only=True),
                about="lstm_forward returns H and C, both (N, T, Dh)",
            ),
            Test(
                "test_lstm_forward_values",
                "lstm_forward",
                None,
                forward_cases,
                judges.references(STATES, states, FORWARD_MISTAKES),
                about="lstm_forward matches the NumPy reference and nn.LSTM",
            ),
            Test(
                "test_lstm_backward",
                "lstm_backward",
                None,
                backward_cases,
                judges.references(GRADS, grads, BACKWARD_MISTAKES),
                about="lstm_backward matches the NumPy reference and autograd through nn.LSTM",
            ),
            Test(
                "test_gru_forward",
                "gru_forward",
                None,
                gru_cases,
                judges.references(GRU_STATES, gru, GRU_MISTAKES),
                about="gru_forward matches the NumPy reference and nn.GRU",
            ),
            CHAR_LSTM_TEST,
            *choices.tests(folder / "gated.ipynb", r"predict_\w+"),
        ),
    )


# --------------------------------------------------------------------------------------------
# CharLSTM in PyTorch: the grader's weights, loaded by the names the notebook lays out.


class CharLSTMReference(nn.Module):
    """The documented CharLSTM: one-hot -> nn.LSTM(batch_first=True) -> nn.Linear."""

    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = nn.LSTM(vocab_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx, h=None, c=None):
        x = F.one_hot(idx, self.vocab_size).to(self.head.weight.dtype)
        H, (h_last, c_last) = self.rnn(x, None if h is None else (h, c))
        return self.head(H), h_last, c_last


class IgnoresState(CharLSTMReference):
    def forward(self, idx, h=None, c=None):
        return super().forward(idx)


class SwapsHC(CharLSTMReference):
    def forward(self, idx, h=None, c=None):
        return super().forward(idx, c, h)


class ReturnsHTwice(CharLSTMReference):
    def forward(self, idx, h=None, c=None):
        logits, h_last, _ = super().forward(idx, h, c)
        return logits, h_last, h_last


class LSTMSoftmax(CharLSTMReference):
    def forward(self, idx, h=None, c=None):
        logits, h_last, c_last = super().forward(idx, h, c)
        return torch.softmax(logits, dim=-1), h_last, c_last


CHAR_LSTM_SPEC = mc.ModuleSpec(
    CharLSTMReference,
    (
        Array("logits", ("N", "T", "V")),
        Array("h_last", ("layers", "N", "Dh")),
        Array("c_last", ("layers", "N", "Dh")),
    ),
    ("idx", "h", "c"),
    "in __init__, create self.rnn = nn.LSTM(vocab_size, hidden_size, batch_first=True) and "
    "self.head = nn.Linear(hidden_size, vocab_size), and no other layer with parameters",
)

CHAR_LSTM_MISTAKES = (
    Mistake(
        "the initial state (h, c) ignored",
        "pass the state to the LSTM: self.rnn(x, (h, c)) when h and c are given",
        mc.wrong_module(CHAR_LSTM_SPEC, IgnoresState),
    ),
    Mistake(
        "h and c swapped (the state passed as (c, h))",
        "nn.LSTM takes and returns its state as (h, c), hidden state first",
        mc.wrong_module(CHAR_LSTM_SPEC, SwapsHC),
    ),
    Mistake(
        "the hidden state returned in place of the cell state",
        "nn.LSTM returns H, (h_last, c_last): return c_last as the third output",
        mc.wrong_module(CHAR_LSTM_SPEC, ReturnsHTwice),
    ),
    Mistake(
        "a softmax on the logits",
        "return the raw scores (logits): F.cross_entropy applies the softmax itself",
        mc.wrong_module(CHAR_LSTM_SPEC, LSTMSoftmax),
    ),
)


def char_lstm_cases(rng):
    cases = []
    for N, T, V, Dh in [(2, 6, 7, 5), (1, 1, 2, 1), (1, 8, 5, 3), (4, 1, 6, 2)]:
        idx = rng.integers(0, V, (N, T))
        init = (V, Dh)
        weights = mc.default_weights(CHAR_LSTM_SPEC, init, rng)
        h0, c0 = rng.uniform(-1, 1, (1, N, Dh)), rng.standard_normal((1, N, Dh))
        states = [("from a given (h, c)", [idx, h0, c0])]
        text = label(N=N, T=T, V=V, Dh=Dh)
        cases.append(
            mc.values_case(CHAR_LSTM_SPEC, init, [idx, None, None], rng, text, states, weights)
        )
    return cases


CHAR_LSTM_TEST = Test(
    "test_char_lstm",
    "CharLSTM",
    None,
    char_lstm_cases,
    mc.values(CHAR_LSTM_SPEC, CHAR_LSTM_MISTAKES),
    kind="module",
    about="CharLSTM, holding the grader's weights, gives the reference's logits and states, "
    "gradients and SGD steps",
)
