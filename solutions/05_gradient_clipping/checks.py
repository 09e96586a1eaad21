"""What the grader checks in 05_gradient_clipping: the norms of the hidden-state gradients,
clipping by the global norm and by value, and the two predictions made before the experiments.

Test ids are the grade ids of the graded cells of gradient_clipping.ipynb. Results are
compared with the NumPy reference, and the gradients passed in must come back unchanged. The
functions are NumPy only: neither the sandbox nor the grader imports PyTorch (the reference's
agreement with torch.nn.utils.clip_grad_norm_ / clip_grad_value_ is tests/test_reference_torch.py's
to check). The forward pass and the backward step are given to the learner in the notebook's
setup cell (the answers of Exercises 1 and 2), so the sandbox may import numpy_rnn.rnn_forward,
rnn_cell_backward and CellCache, and nothing else. predict_norms and predict_vanishing are
multiple choices read from the notebook (autograder.grading.choices).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autograder.grading import choices, judges, mistakes
from autograder.grading.inputs import label, normal, rnn_inputs
from autograder.grading.spec import (
    Array,
    Assignment,
    Case,
    ListOf,
    Mistake,
    Scalar,
    Test,
    Tolerance,
)
from autograder.reference import numpy_rnn

# (shapes, scale, max_norm or clip_value): the first clips, the others include a no-op, a single
# array, many arrays of assorted ranks, a zero bound and all-zero gradients.
NORM_CASES = [
    ([(3, 4), (4, 4), (4,)], 2.0, 1.0),
    ([(2, 3), (5,)], 0.1, 10.0),
    ([(1,)], 3.0, 0.5),
    ([(7, 2), (1, 1), (3,), (2, 2, 2)], 1.0, 0.7),
    ([(3, 3), (3,)], 1.0, 0.0),
    ([(2, 2), (3,)], 0.0, 1.0),
]
VALUE_CASES = [
    ([(3, 4), (4,)], 2.0, 1.5),
    ([(1,)], 3.0, 0.5),
    ([(2, 1, 3), (5,)], 1.0, 0.0),
    ([(6, 2)], 0.1, 10.0),
]


def _cases(rng, table, what):
    cases = []
    for shapes, scale, bound in table:
        grads = [normal(rng, *shape, scale=scale) for shape in shapes]
        cases.append(Case((grads, bound), label=f"shapes {shapes}, {what}={bound:g}"))
    return cases


def norm_cases(rng):
    return _cases(rng, NORM_CASES, "max_norm")


def value_cases(rng):
    return _cases(rng, VALUE_CASES, "clip_value")


def hidden_norm_cases(rng):
    return [
        Case(rnn_inputs(rng, N, T, D, H, scale=1.2), label=label(N=N, T=T, D=D, Dh=H))
        for N, T, D, H in [(2, 6, 3, 4), (1, 1, 1, 1), (1, 5, 2, 3), (3, 1, 2, 2), (2, 12, 3, 5)]
    ]


def numpy_norms(X, h0, W_xh, W_hh, b_h):
    """dL/dH_t as the gradient on the initial state of the rest of the sequence."""
    H_states, _ = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    N, T, Hn = H_states.shape
    norms = [np.sqrt(N * Hn)]
    for t in range(T - 2, -1, -1):
        _, rest = numpy_rnn.rnn_forward(X[:, t + 1 :], H_states[:, t], W_xh, W_hh, b_h)
        dH_rest = np.zeros(rest.H.shape)
        dH_rest[:, -1] = 1.0
        norms.append(np.linalg.norm(numpy_rnn.rnn_backward(dH_rest, rest)[1]))
    return np.array(norms[::-1])


def bptt_norms(X, h0, W_xh, W_hh, b_h):
    """dL/dH_t by one backward sweep of the chain rule, dL/dH_{t-1} = (dL/dH_t) J_t."""
    H_states, _ = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    dh = np.ones(H_states[:, -1].shape)
    norms = [np.linalg.norm(dh)]
    for t in range(H_states.shape[1] - 1, 0, -1):
        dh = (dh * (1 - H_states[:, t] ** 2)) @ W_hh.T
        norms.append(np.linalg.norm(dh))
    return np.array(norms[::-1])


def _norms(X, h0, W_xh, W_hh, b_h, *, tanh_at="H[:, t]", stop=0, store_last=True):
    """hidden_grad_norms with a slip: ``tanh_at`` "H[:, t-1]" (tanh' of the earlier state);
    ``stop`` 1: the loop ends one step early and norms[0] stays 0; ``store_last`` False: the
    last state's own norm, sqrt(N * Dh), is never stored and norms[T-1] stays 0."""
    H = mistakes.sequence(X, h0, W_xh, W_hh, b_h)
    T = X.shape[1]
    norms = np.zeros(T)
    dh = np.ones(H[:, -1].shape)
    norms[-1] = np.linalg.norm(dh) if store_last else 0.0
    for t in range(T - 1, stop, -1):
        h = H[:, t] if tanh_at == "H[:, t]" else H[:, t - 1]
        dh = (dh * (1 - h**2)) @ W_hh.T
        norms[t - 1] = np.linalg.norm(dh)
    return norms


HIDDEN_NORM_MISTAKES = (
    Mistake(
        "the derivative of tanh left out",
        "each step back goes through tanh: pass the step's own output as h_next",
        partial(mistakes.hidden_grad_norms, tanh_grad=False),
    ),
    Mistake(
        "the norms in reversed order",
        "norms[t-1] belongs to H_t, so norms[T-1] is the last state's, sqrt(N * Dh)",
        partial(mistakes.hidden_grad_norms, reverse_order=True),
    ),
    Mistake(
        "squared norms",
        "np.linalg.norm gives the norm itself, without squaring",
        partial(mistakes.hidden_grad_norms, squared=True),
    ),
    Mistake(
        "tanh' taken at the earlier state H[:, t-1]",
        "going back through the step that computed H_t, its output h_next is H_t, the array "
        "H[:, t]",
        partial(_norms, tanh_at="H[:, t-1]"),
    ),
    Mistake(
        "a loop that stops one step early: norms[0] is never computed",
        "carry the gradient back to the first state, H_1 (the array H[:, 0])",
        partial(_norms, stop=1),
    ),
    Mistake(
        "norms[T-1] left at 0: the last state's own norm never stored",
        "the gradient of L on H_T is the all-ones array: store its norm, sqrt(N * Dh), in "
        "norms[T-1] before you go back",
        partial(_norms, store_last=False),
    ),
    Mistake(
        "the gradient not carried back through the steps",
        "dL/dH_t reaches H_t through every later step: feed each step's dh_prev to the next "
        "step back",
        partial(mistakes.hidden_grad_norms, carry=False),
    ),
)

NORM_MISTAKES = (
    Mistake(
        "every entry clamped to [-max_norm, max_norm] (clipping by value)",
        "global-norm clipping scales all the arrays by one factor, max_norm / (norm + 1e-6)",
        partial(mistakes.clip_grad_norm, scope="element"),
    ),
    Mistake(
        "each array clipped to max_norm on its own",
        "use one norm over all the arrays together, and one factor for all of them",
        partial(mistakes.clip_grad_norm, scope="array"),
    ),
    Mistake(
        "the gradients scaled even when their norm is below max_norm",
        "multiply by the factor only when it is below 1",
        partial(mistakes.clip_grad_norm, always_scale=True),
    ),
    Mistake(
        "the norm measured after clipping",
        "return the norm of the gradients before clipping",
        partial(mistakes.clip_grad_norm, norm_after=True),
    ),
    Mistake(
        "the arrays' norms added up",
        "the global norm is the square root of the sum of all squared entries",
        partial(mistakes.clip_grad_norm, norm="sum"),
    ),
)

VALUE_MISTAKES = (
    Mistake(
        "only the upper bound applied",
        "clamp to both sides: np.clip(g, -clip_value, clip_value)",
        partial(mistakes.clip_grad_value, scheme="upper"),
    ),
    Mistake(
        "clipping by the global norm",
        "clipping by value clamps each entry: np.clip(g, -clip_value, clip_value)",
        partial(mistakes.clip_grad_value, scheme="norm"),
    ),
    Mistake(
        "the lower bound set to 0 (np.clip(g, 0, clip_value))",
        "negative entries are clamped at -clip_value: np.clip(g, -clip_value, clip_value)",
        lambda grads, clip_value: [np.clip(np.asarray(g, float), 0, clip_value) for g in grads],
    ),
    Mistake(
        "entries beyond the bound set to zero",
        "clamp them to the bound instead: np.clip(g, -clip_value, clip_value)",
        partial(mistakes.clip_grad_value, scheme="zero"),
    ),
)

EXACT = Tolerance(rtol=1e-9, atol=1e-12)
# Norm clipping divides by total_norm + 1e-6, as PyTorch does: leaving the 1e-6 out changes the
# result by about 1e-6 / total_norm relatively, a rounding matter that must not cost points.
NORM = Tolerance()


def build(folder):
    norm_refs = {"NumPy reference": numpy_rnn.clip_grad_norm}
    value_refs = {"NumPy reference": numpy_rnn.clip_grad_value}
    return Assignment(
        name="05_gradient_clipping",
        notebook="gradient_clipping.ipynb",
        title="Exercise 5: exploding and vanishing gradients, and gradient clipping",
        numpy_only=True,
        givens={
            "autograder.reference.numpy_rnn": ("rnn_forward", "rnn_cell_backward", "CellCache")
        },
        tests=(
            Test(
                "test_hidden_grad_norms",
                "hidden_grad_norms",
                None,
                hidden_norm_cases,
                judges.references(
                    Array("norms", ("T",)),
                    {"NumPy reference": numpy_norms, "one backward sweep": bptt_norms},
                    HIDDEN_NORM_MISTAKES,
                ),
                about="hidden_grad_norms matches the norms of dL/dH_t",
            ),
            *choices.tests(folder / "gradient_clipping.ipynb", r"predict_norms"),
            Test(
                "test_clip_grad_norm",
                "clip_grad_norm",
                None,
                norm_cases,
                judges.references(
                    (ListOf("clipped"), Scalar("total_norm")),
                    norm_refs,
                    NORM_MISTAKES,
                    tol=NORM,
                    unchanged_args=(0,),
                ),
                keep_args=True,
                about="clip_grad_norm matches the reference (as clip_grad_norm_), inputs unchanged",
            ),
            Test(
                "test_clip_grad_value",
                "clip_grad_value",
                None,
                value_cases,
                judges.references(
                    ListOf("clipped"), value_refs, VALUE_MISTAKES, tol=EXACT, unchanged_args=(0,)
                ),
                keep_args=True,
                about="clip_grad_value matches the reference (as clip_grad_value_), inputs unchanged",
            ),
            *choices.tests(folder / "gradient_clipping.ipynb", r"predict_vanishing"),
        ),
    )
