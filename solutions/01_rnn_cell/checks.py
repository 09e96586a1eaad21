"""What the grader checks in 01_rnn_cell: one step, a whole sequence, the output layer.

Test ids are the grade ids of the graded cells of rnn_cell.ipynb (the grader refuses to run
if they disagree). Every function is compared with the NumPy reference on fresh random inputs,
edge sizes included (N = 1, T = 1, D = H so that a transposed weight still multiplies). The
exercise is NumPy only: neither its sandbox nor the grader imports PyTorch (the reference's
agreement with nn.RNNCell, nn.RNN and nn.Linear is tests/test_reference_torch.py's to check).
predict_saturation, the prediction made before the experiment with a larger W_hh, is a multiple
choice read from the notebook (autograder.grading.choices): the feedback explains the option
chosen.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autograder.grading import choices, judges, mistakes
from autograder.grading.inputs import label, normal, rnn_inputs
from autograder.grading.spec import Array, Assignment, Case, Mistake, Test
from autograder.reference import numpy_rnn

CELL_SIZES = [(3, 4, 5), (1, 1, 1), (1, 5, 2), (4, 3, 3), (2, 6, 4)]  # (N, D, H)
SEQUENCE_SIZES = [(2, 5, 3, 4), (1, 1, 1, 1), (1, 7, 2, 3), (3, 1, 4, 2), (2, 6, 3, 3)]  # N,T,D,H
OUTPUT_SIZES = [(2, 5, 4, 3), (1, 1, 1, 1), (3, 1, 2, 5), (2, 4, 3, 3)]  # (N, T, H, Q)


def cell_cases(rng):
    cases = []
    for N, D, H in CELL_SIZES:
        X, h0, W_xh, W_hh, b_h = rnn_inputs(rng, N, 1, D, H, scale=1.5)
        cases.append(Case((X[:, 0], h0, W_xh, W_hh, b_h), label=label(N=N, D=D, Dh=H)))
    return cases


def sequence_cases(rng):
    return [
        Case(rnn_inputs(rng, N, T, D, H, scale=1.2), label=label(N=N, T=T, D=D, Dh=H))
        for N, T, D, H in SEQUENCE_SIZES
    ]


def output_cases(rng):
    cases = []
    for N, T, H, Q in OUTPUT_SIZES:
        states = normal(rng, N, T, H).clip(-3, 3) / 3
        cases.append(
            Case((states, normal(rng, H, Q), normal(rng, Q)), label=label(N=N, T=T, Dh=H, Q=Q))
        )
    return cases


def _each_term_tanh(x, h_prev, W_xh, W_hh, b_h):
    return np.tanh(x @ W_xh) + np.tanh(h_prev @ W_hh) + b_h


def _steps(X, h0, W_xh, W_hh, b_h, steps, cell=mistakes.cell):
    """The states when the loop visits only ``steps`` (array indices), reading X[:, t] and
    carrying the state; the steps never visited are undefined (NaN: np.empty's leftovers)."""
    N, T, _ = X.shape
    H = np.full((N, T, W_hh.shape[0]), np.nan)
    h = h0
    for t in steps(T):
        h = cell(X[:, t], h, W_xh, W_hh, b_h)
        H[:, t] = h
    return H


def first(fn):
    """A reference that returns (out, cache), reduced to out."""
    return lambda *args: fn(*args)[0]


CELL_MISTAKES = (
    Mistake("the bias b_h left out", "add b_h inside the tanh", partial(mistakes.cell, bias=False)),
    Mistake(
        "no tanh (the pre-activation is returned)",
        "apply np.tanh to x W_xh + h_prev W_hh + b_h",
        partial(mistakes.cell, act=mistakes.identity),
    ),
    Mistake(
        "a sigmoid instead of tanh",
        "the vanilla RNN of the course uses np.tanh",
        partial(mistakes.cell, act=mistakes.sigmoid),
    ),
    Mistake(
        "a ReLU instead of tanh",
        "the vanilla RNN of the course uses np.tanh",
        partial(mistakes.cell, act=mistakes.relu),
    ),
    Mistake(
        "b_h added after the tanh",
        "add b_h to the pre-activation, inside the tanh",
        partial(mistakes.cell, bias_outside=True),
    ),
    Mistake(
        "h_prev left out",
        "the new state mixes the input and the previous state: add h_prev @ W_hh",
        partial(mistakes.cell, use_h=False),
    ),
    Mistake(
        "x left out",
        "the new state mixes the input and the previous state: add x @ W_xh",
        partial(mistakes.cell, use_x=False),
    ),
    Mistake(
        "W_hh transposed (h_prev @ W_hh.T)",
        "with row vectors the product is h_prev @ W_hh, without .T",
        partial(mistakes.cell, transpose_W_hh=True),
    ),
    Mistake(
        "W_xh transposed (x @ W_xh.T)",
        "W_xh has shape (D, Dh): the product is x @ W_xh, without .T",
        partial(mistakes.cell, transpose_W_xh=True),
    ),
    Mistake(
        "W_xh and W_hh swapped",
        "x goes with W_xh, h_prev with W_hh",
        partial(mistakes.cell, swap_weights=True),
    ),
    Mistake(
        "tanh applied to each product on its own",
        "add x @ W_xh, h_prev @ W_hh and b_h first, then apply one np.tanh to the sum",
        _each_term_tanh,
    ),
)

SEQUENCE_MISTAKES = (
    Mistake(
        "the state never carried: every step reads h0",
        "inside the loop, pass the state the previous step computed as h_prev",
        partial(mistakes.sequence, carry=False),
    ),
    Mistake(
        "h0 ignored (the sequence starts from zeros)",
        "start the loop from the h0 you are given",
        partial(mistakes.sequence, zero_h0=True),
    ),
    Mistake(
        "the states shifted by one step (H[:, t] holds the state before X[:, t])",
        "store the new state, after reading X[:, t], in H[:, t]",
        partial(mistakes.sequence, shift=True),
    ),
    Mistake(
        "a loop that stops one step early (range(T - 1)): the last state is never computed",
        "loop over every step, for t in range(T)",
        lambda *args: _steps(*args, steps=lambda T: range(T - 1)),
    ),
    Mistake(
        "a loop that starts at the second step (range(1, T)): H[:, 0] is never computed and "
        "h0 is applied to X[:, 1]",
        "loop over every step, for t in range(T): the first step reads X[:, 0] and h0",
        lambda *args: _steps(*args, steps=lambda T: range(1, T)),
    ),
    *(
        Mistake(m.says, m.hint, partial(mistakes.sequence, **m.compute.keywords))
        for m in CELL_MISTAKES
        if isinstance(m.compute, partial)
    ),
    Mistake(
        "tanh applied to each product on its own",
        "add x @ W_xh, h_prev @ W_hh and b_h first, then apply one np.tanh to the sum",
        lambda *args: _steps(*args, steps=range, cell=_each_term_tanh),
    ),
)

OUTPUT_MISTAKES = (
    Mistake("the bias b_q left out", "add b_q", partial(mistakes.output, bias=False)),
    Mistake(
        "W_hq transposed",
        "W_hq has shape (Dh, Q): the product is H @ W_hq",
        partial(mistakes.output, transpose=True),
    ),
    Mistake(
        "a softmax applied",
        "the output layer is affine only: return the logits H @ W_hq + b_q",
        partial(mistakes.output, softmax=True),
    ),
    Mistake(
        "a tanh applied to the outputs",
        "the output layer is affine only: return H @ W_hq + b_q, without np.tanh",
        lambda H, W_hq, b_q: np.tanh(H @ W_hq + b_q),
    ),
    Mistake(
        "only the last step kept",
        "apply the layer at every step: H @ W_hq keeps the N and T axes",
        partial(mistakes.output, last_only=True),
    ),
)

CELL = {"NumPy reference": first(numpy_rnn.rnn_cell_forward)}
SEQUENCE = {"NumPy reference": first(numpy_rnn.rnn_forward)}
OUTPUT = {"NumPy reference": first(numpy_rnn.output_forward)}
H_NEXT = Array("h_next", ("N", "Dh"))
H_ALL = Array("H", ("N", "T", "Dh"))
O_ALL = Array("O", ("N", "T", "Q"))


def build(folder):
    return Assignment(
        name="01_rnn_cell",
        notebook="rnn_cell.ipynb",
        title="Exercise 1: the RNN cell, step by step",
        numpy_only=True,
        tests=(
            Test(
                "test_rnn_cell_forward_shape",
                "rnn_cell_forward",
                None,
                cell_cases,
                judges.references(H_NEXT, CELL, shape_only=True),
                about="rnn_cell_forward returns an (N, Dh) array",
            ),
            Test(
                "test_rnn_cell_forward_values",
                "rnn_cell_forward",
                None,
                cell_cases,
                judges.references(H_NEXT, CELL, CELL_MISTAKES),
                about="rnn_cell_forward matches the NumPy reference",
            ),
            Test(
                "test_rnn_forward_shape",
                "rnn_forward",
                None,
                sequence_cases,
                judges.references(H_ALL, SEQUENCE, shape_only=True),
                about="rnn_forward returns an (N, T, Dh) array",
            ),
            Test(
                "test_rnn_forward_values",
                "rnn_forward",
                None,
                sequence_cases,
                judges.references(H_ALL, SEQUENCE, SEQUENCE_MISTAKES),
                about="rnn_forward matches the NumPy reference",
            ),
            Test(
                "test_output_forward",
                "output_forward",
                None,
                output_cases,
                judges.references(O_ALL, OUTPUT, OUTPUT_MISTAKES),
                about="output_forward matches the NumPy reference",
            ),
            *choices.tests(folder / "rnn_cell.ipynb", r"predict_\w+"),
        ),
    )
