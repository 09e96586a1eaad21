"""What the grader checks in 02_bptt: the backward pass of a step, BPTT, finite differences
and the prediction made before the finite-difference experiment.

Test ids are the grade ids of the graded cells of bptt.ipynb. Gradients are compared with
the NumPy reference; numerical_gradient with the reference's central differences and with the
exact gradient (the derivative written out). The exercise is NumPy only: neither the sandbox nor
the grader imports PyTorch (the reference's agreement with autograd is
tests/test_reference_torch.py's to check). The forward pass is given to the learner in
the notebook's setup cell, so the sandbox may import numpy_rnn.rnn_forward, and nothing else.
predict_step is a multiple choice read from the notebook (autograder.grading.choices). The
notebook's truncated BPTT is an optional challenge, not graded: nothing here asks for it.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autograder.grading import choices, judges, mistakes
from autograder.grading.child.probes import FUNCTIONS
from autograder.grading.child.wire import Fn
from autograder.grading.inputs import label, normal, rnn_inputs
from autograder.grading.spec import Array, Assignment, Case, Mistake, Test, Tolerance
from autograder.reference import numpy_rnn
from autograder.reference.numpy_rnn import CellCache, SequenceCache

CELL = (
    Array("dx", ("N", "D")),
    Array("dh_prev", ("N", "Dh")),
    Array("dW_xh", ("D", "Dh")),
    Array("dW_hh", ("Dh", "Dh")),
    Array("db_h", ("Dh",)),
)
SEQ = (
    Array("dX", ("N", "T", "D")),
    Array("dh0", ("N", "Dh")),
    Array("dW_xh", ("D", "Dh")),
    Array("dW_hh", ("Dh", "Dh")),
    Array("db_h", ("Dh",)),
)


# --------------------------------------------------------------------------------------------
# Inputs


def step_cases(rng):
    cases = []
    for N, D, H in [(2, 3, 4), (1, 1, 1), (1, 4, 2), (5, 2, 3), (3, 4, 4)]:
        X, h_prev, W_xh, W_hh, b_h = rnn_inputs(rng, N, 1, D, H)
        x = X[:, 0]
        h_next, _ = numpy_rnn.rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h)
        args = (normal(rng, N, H), x, h_prev, h_next, W_xh, W_hh)
        cases.append(Case(args, {"b_h": b_h}, label(N=N, D=D, Dh=H)))
    return cases


def _sequence(rng, N, T, D, H, scale=0.9):
    X, h0, W_xh, W_hh, b_h = rnn_inputs(rng, N, T, D, H, scale=scale)
    H_states, _ = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    return (normal(rng, N, T, H), X, h0, H_states, W_xh, W_hh), b_h


def sequence_cases(rng):
    cases = []
    for N, T, D, H in [(2, 5, 3, 4), (1, 1, 1, 1), (1, 9, 2, 3), (4, 1, 3, 2), (3, 6, 4, 4)]:
        args, b_h = _sequence(rng, N, T, D, H)
        cases.append(Case(args, {"b_h": b_h}, label(N=N, T=T, D=D, Dh=H)))
    return cases


def numerical_cases(rng):
    cases = []
    W, b = normal(rng, 3, 4), normal(rng, 4, scale=0.3)
    cases.append(
        Case(
            (Fn("tanh_affine", (W, b)), normal(rng, 2, 3), normal(rng, 2, 4)),
            label="f(x) = tanh(x W + b), x of shape (2, 3)",
        )
    )
    for shape in [(1,), (3,), (2, 1, 3)]:
        cases.append(
            Case(
                (Fn("sin_times_square", ()), normal(rng, *shape), normal(rng, *shape)),
                label=f"f(x) = sin(x) x**2, x of shape {shape}",
            )
        )
    cases.append(
        Case((Fn("sum_of_cubes", ()), normal(rng, 2, 3), 1.0), label="f(x) = sum(x**3), a number")
    )
    x = normal(rng, 2, 2)
    cases.append(
        Case((Fn("identity", ()), x, np.ones_like(x)), label="f(x) = x, which returns x itself")
    )
    return cases


# --------------------------------------------------------------------------------------------
# References


def cell_reference(module):
    def ref(dh_next, x, h_prev, h_next, W_xh, W_hh, *, b_h):
        return module.rnn_cell_backward(dh_next, CellCache(x, h_prev, W_xh, W_hh, b_h, h_next))

    return ref


def sequence_reference(module):
    def ref(dH, X, h0, H, W_xh, W_hh, *, b_h):
        return module.rnn_backward(dH, SequenceCache(X, h0, W_xh, W_hh, b_h, H))

    return ref


def numpy_numerical(f, x, df):
    return numpy_rnn.numerical_gradient(FUNCTIONS[f.name](*f.params), x.copy(), df)


def _tanh_affine_gradient(x, df, W, b):
    y = np.tanh(x @ W + b)
    return (df * (1 - y**2)) @ W.T


DERIVATIVES = {
    "tanh_affine": _tanh_affine_gradient,
    "sin_times_square": lambda x, df: df * (np.cos(x) * x**2 + 2 * x * np.sin(x)),
    "sum_of_cubes": lambda x, df: df * 3 * x**2,
    "identity": lambda x, df: df * np.ones_like(x),
}


def exact_gradient(f, x, df):
    """The exact gradient of sum(df * f(x)), from each function's derivative written out."""
    return DERIVATIVES[f.name](np.asarray(x, dtype=float), np.asarray(df, dtype=float), *f.params)


# --------------------------------------------------------------------------------------------
# Mistakes


def _cell(dh_next, x, h_prev, h_next, W_xh, W_hh, *, factor="1 - h**2", db="sum", dW_hh="h_prev"):
    """One step back with a slip: ``factor`` "1 - h" (tanh' without the square); ``db``
    "mean" (averaged over the batch); ``dW_hh`` "h_next" (the step's output instead of its
    input)."""
    da = dh_next * ((1 - h_next**2) if factor == "1 - h**2" else (1 - h_next))
    state = h_prev if dW_hh == "h_prev" else h_next
    db_h = da.sum(axis=0) if db == "sum" else da.mean(axis=0)
    return da @ W_xh.T, da @ W_hh.T, x.T @ da, state.T @ da, db_h


def _bptt(dH, X, h0, H, W_xh, W_hh, *, last=None, first_reads="h0"):
    """Full BPTT with a slip: ``last`` the array index the loop starts from (T - 2: a loop over
    range(T - 1)); ``first_reads`` "H[:, -1]" (h_prev = H[:, t - 1] even at t = 0)."""
    N, T, D = X.shape
    dX, dh_next = np.zeros((N, T, D)), np.zeros(h0.shape)
    grads = [np.zeros(W_xh.shape), np.zeros(W_hh.shape), np.zeros(W_hh.shape[0])]
    for t in reversed(range(T if last is None else last + 1)):
        h_prev = H[:, t - 1] if t or first_reads != "h0" else h0
        dx, dh_next, *g = mistakes.cell_backward(
            dH[:, t] + dh_next, X[:, t], h_prev, H[:, t], W_xh, W_hh
        )
        dX[:, t] = dx
        grads = [a + b for a, b in zip(grads, g, strict=True)]
    return dX, dh_next, *grads


CELL_MISTAKES = (
    Mistake(
        "the derivative of tanh left out",
        "first compute da = dh_next * (1 - h_next**2), then every gradient from da",
        partial(mistakes.cell_backward, tanh_grad="none"),
    ),
    Mistake(
        "tanh' computed from h_prev (1 - h_prev**2)",
        "tanh'(a) = 1 - tanh(a)**2 = 1 - h_next**2: use the step's output",
        partial(mistakes.cell_backward, tanh_grad="h_prev"),
    ),
    Mistake(
        "tanh' computed as 1 - tanh(h_next)**2",
        "h_next is already tanh(a): tanh'(a) = 1 - h_next**2",
        partial(mistakes.cell_backward, tanh_grad="tanh"),
    ),
    Mistake(
        "the weights not transposed on the way back (da @ W_xh, da @ W_hh)",
        "dx = da @ W_xh.T and dh_prev = da @ W_hh.T",
        partial(mistakes.cell_backward, transpose_back=False),
    ),
    Mistake(
        "db_h not summed over the batch",
        "the bias is added to every row: db_h = da.sum(axis=0)",
        partial(mistakes.cell_backward, sum_db=False),
    ),
    Mistake(
        "tanh' written as 1 - h_next (the square is missing)",
        "tanh'(a) = 1 - tanh(a)**2: da = dh_next * (1 - h_next**2)",
        partial(_cell, factor="1 - h"),
    ),
    Mistake(
        "db_h averaged over the batch (a mean instead of a sum)",
        "the loss adds up the batch's rows: db_h = da.sum(axis=0)",
        partial(_cell, db="mean"),
    ),
    Mistake(
        "dW_hh computed from h_next (h_next.T @ da)",
        "W_hh multiplies the state the step read: dW_hh = h_prev.T @ da",
        partial(_cell, dW_hh="h_next"),
    ),
    Mistake(
        "the weight gradients transposed (da.T @ x)",
        "each weight's gradient is (its input).T @ da: dW_xh = x.T @ da, dW_hh = h_prev.T @ da",
        partial(mistakes.cell_backward, dW_order="da.T @ x"),
    ),
)

SEQUENCE_MISTAKES = (
    Mistake(
        "dh_next not carried back (each step gets only dH[:, t])",
        "pass dH[:, t] + dh_next to the step, where dh_next is the dh_prev of step t+1",
        partial(mistakes.sequence_backward, carry=False),
    ),
    Mistake(
        "the gradient taken from the last step only (dH[:, -1])",
        "every step has its own upstream gradient dH[:, t]: add it at each step",
        partial(mistakes.sequence_backward, last_only=True),
    ),
    Mistake(
        "the weight gradients not summed over time (only step 0's is left)",
        "the same weights are used at every step: add each step's gradients (+=)",
        partial(mistakes.sequence_backward, accumulate=False),
    ),
    Mistake(
        "the steps visited forwards in time",
        "walk backwards, t = T-1, ..., 0: step t needs what step t+1 sends back",
        partial(mistakes.sequence_backward, reverse=False),
    ),
    Mistake(
        "H[:, t] used as the step's h_prev",
        "step t read h_prev = H[:, t-1] (h0 at t = 0)",
        partial(mistakes.sequence_backward, h_prev_from_H=False),
    ),
    Mistake(
        "the derivative of tanh left out",
        "multiply by 1 - H[:, t]**2 at every step",
        partial(mistakes.sequence_backward, tanh_grad="none"),
    ),
    Mistake(
        "a loop that skips the last step (range(T - 1)): the loss at H[:, T-1] never flows back",
        "visit every array index, for t in reversed(range(T))",
        lambda dH, X, *rest: _bptt(dH, X, *rest, last=X.shape[1] - 2),
    ),
    Mistake(
        "h_prev = H[:, t - 1] at t = 0 too, which is H[:, -1], the last state, instead of h0",
        "the first step read h0: h_prev = h0 if t == 0 else H[:, t - 1]",
        partial(_bptt, first_reads="H[:, -1]"),
    ),
)


NUMERICAL_MISTAKES = (
    Mistake(
        "a one-sided difference (f(x + h) - f(x)) / h",
        "use the central difference (f(x + h) - f(x - h)) / (2 h)",
        lambda f, x, df: mistakes.numerical_gradient(_built(f), x, df, scheme="forward"),
    ),
    Mistake(
        "a one-sided difference divided by 2 h, (f(x + h) - f(x)) / (2 h)",
        "evaluate f on both sides: (f(x + h) - f(x - h)) / (2 h)",
        lambda f, x, df: mistakes.numerical_gradient(_built(f), x, df, scheme="forward", divisor=2),
    ),
    Mistake(
        "a central difference divided by h instead of 2 h",
        "the two points are 2 h apart: divide by 2 * h",
        lambda f, x, df: mistakes.numerical_gradient(_built(f), x, df, divisor=1),
    ),
    Mistake(
        "df left out (the gradient of sum(f(x)))",
        "contract the difference with the upstream gradient: np.sum((f_plus - f_minus) * df)",
        lambda f, x, df: mistakes.numerical_gradient(_built(f), x, df, use_df=False),
    ),
    Mistake(
        "f(x + h) not copied before x is changed again",
        "f may return a view of x: keep np.array(f(x), copy=True)",
        lambda f, x, df: mistakes.numerical_gradient(_built(f), x, df, copy=False),
    ),
)


def _built(f: Fn):
    return FUNCTIONS[f.name](*f.params)


NUMERICAL_TOLERANCE = Tolerance(rtol=1e-6, atol=1e-8)


def build(folder):
    cell_refs = {"NumPy reference": cell_reference(numpy_rnn)}
    seq_refs = {"NumPy reference": sequence_reference(numpy_rnn)}
    return Assignment(
        name="02_bptt",
        notebook="bptt.ipynb",
        title="Exercise 2: backpropagation through time",
        numpy_only=True,
        givens={"autograder.reference.numpy_rnn": ("rnn_forward", "rel_error")},
        tests=(
            Test(
                "test_rnn_cell_backward_shapes",
                "rnn_cell_backward",
                None,
                step_cases,
                judges.references(CELL, cell_refs, shape_only=True),
                about="rnn_cell_backward returns five gradients of the right shapes",
            ),
            Test(
                "test_rnn_cell_backward_values",
                "rnn_cell_backward",
                None,
                step_cases,
                judges.references(CELL, cell_refs, CELL_MISTAKES),
                about="rnn_cell_backward matches the NumPy reference",
            ),
            Test(
                "test_rnn_backward",
                "rnn_backward",
                None,
                sequence_cases,
                judges.references(SEQ, seq_refs, SEQUENCE_MISTAKES),
                about="rnn_backward matches the NumPy reference",
            ),
            Test(
                "test_numerical_gradient",
                "numerical_gradient",
                None,
                numerical_cases,
                judges.references(
                    Array("grad"),
                    {"NumPy reference": numpy_numerical, "exact gradient": exact_gradient},
                    NUMERICAL_MISTAKES,
                    tol=NUMERICAL_TOLERANCE,
                    unchanged_args=(1,),
                ),
                keep_args=True,
                about="numerical_gradient matches central differences and the exact gradient, "
                "and leaves x as it was",
            ),
            *choices.tests(folder / "bptt.ipynb", r"predict_\w+"),
        ),
    )
