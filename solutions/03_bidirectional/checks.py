"""What the grader checks in 03_bidirectional: the forward and backward passes of a
bidirectional RNN.

Test ids are the grade ids of the graded cells of bidirectional.ipynb. Outputs are compared
with the NumPy reference. The exercise is NumPy only: neither the sandbox nor the grader imports
PyTorch (the reference's agreement with torch.nn.RNN(bidirectional=True) and autograd is
tests/test_reference_torch.py's to check).
The notebook gives the learner rnn_forward and rnn_backward, built on the reference, so the
sandbox may import those (and SequenceCache, which the given rnn_backward uses).
predict_last_input, the prediction made before the experiment of section 3, is a multiple choice
read from the notebook (autograder.grading.choices); explain_last_input, the written explanation
after it, is marked by hand (read from the notebook into Assignment.hand_marked).
"""

from __future__ import annotations

from functools import partial

from autograder.grading import choices, judges, mistakes
from autograder.grading.inputs import label, normal, rnn_inputs
from autograder.grading.spec import Array, Assignment, Case, Mistake, Test
from autograder.reference import numpy_rnn

SIZES = [(2, 5, 3, 4), (1, 1, 1, 1), (1, 7, 2, 3), (4, 1, 3, 2), (3, 8, 2, 5)]  # N, T, D, H

H_BI = Array("H", ("N", "T", "2Dh"))
GRADS = (
    Array("dX", ("N", "T", "D")),
    Array("dh0_f", ("N", "Dh")),
    Array("dh0_b", ("N", "Dh")),
    (Array("dW_xh_f", ("D", "Dh")), Array("dW_hh_f", ("Dh", "Dh")), Array("db_h_f", ("Dh",))),
    (Array("dW_xh_b", ("D", "Dh")), Array("dW_hh_b", ("Dh", "Dh")), Array("db_h_b", ("Dh",))),
)


def _birnn_inputs(rng, N, T, D, H, as_lists):
    X, h0_f, *params_f = rnn_inputs(rng, N, T, D, H, scale=1.1)
    _, h0_b, *params_b = rnn_inputs(rng, N, T, D, H, scale=1.1)
    kind = list if as_lists else tuple
    return X, h0_f, h0_b, kind(params_f), kind(params_b)


def forward_cases(rng):
    return [
        Case(_birnn_inputs(rng, N, T, D, H, i % 2 == 1), label=label(N=N, T=T, D=D, Dh=H))
        for i, (N, T, D, H) in enumerate(SIZES)
    ]


def backward_cases(rng):
    cases = []
    for i, (N, T, D, H) in enumerate(SIZES):
        inputs = _birnn_inputs(rng, N, T, D, H, i % 2 == 1)
        cases.append(Case((normal(rng, N, T, 2 * H), *inputs), label=label(N=N, T=T, D=D, Dh=H)))
    return cases


def forward_reference(module):
    return lambda *args: module.birnn_forward(*args)[0]


def backward_reference(module):
    def ref(dH, X, h0_f, h0_b, params_f, params_b):
        _, cache = module.birnn_forward(X, h0_f, h0_b, params_f, params_b)
        return module.birnn_backward(dH, cache)

    return ref


def _backward_pass(dH, X, h0_f, h0_b, params_f, params_b, *, reverse_dH=True, dh0_b="backward"):
    """birnn_backward with a slip: ``reverse_dH=False``, the backward RNN's part of dH given in
    the original time order while its input and dX are reversed; ``dh0_b`` "forward" (the
    forward RNN's dh0 returned for both)."""
    Dh = dH.shape[-1] // 2
    H_f = mistakes.sequence(X, h0_f, *params_f)
    dX_f, dh0_f, *g_f = mistakes.sequence_backward(dH[..., :Dh], X, h0_f, H_f, *params_f[:2])
    X_rev = X[:, ::-1]
    H_b = mistakes.sequence(X_rev, h0_b, *params_b)
    dH_b = dH[:, ::-1, Dh:] if reverse_dH else dH[..., Dh:]
    dX_b, dh0_back, *g_b = mistakes.sequence_backward(dH_b, X_rev, h0_b, H_b, *params_b[:2])
    dh0 = dh0_back if dh0_b == "backward" else dh0_f
    return dX_f + dX_b[:, ::-1], dh0_f, dh0, tuple(g_f), tuple(g_b)


FORWARD_MISTAKES = (
    Mistake(
        "the backward direction run as a plain second forward RNN (X read forwards, its states "
        "kept in that order)",
        "the backward RNN reads X[:, ::-1]; reverse its states back, [:, ::-1], before "
        "concatenating",
        partial(mistakes.birnn_forward, reverse_input=False, reverse_output=False),
    ),
    Mistake(
        "a backward RNN that reads X forwards",
        "give the backward RNN the time-reversed input, X[:, ::-1]",
        partial(mistakes.birnn_forward, reverse_input=False),
    ),
    Mistake(
        "the backward states left in reversed time order",
        "reverse the backward RNN's states back in time, [:, ::-1], before concatenating",
        partial(mistakes.birnn_forward, reverse_output=False),
    ),
    Mistake(
        "the two halves swapped (the backward half first)",
        "concatenate [forward states, backward states] along the last axis, as PyTorch does",
        partial(mistakes.birnn_forward, order="bf"),
    ),
    Mistake(
        "the forward parameters used in both directions",
        "the backward RNN has its own parameters, params_b",
        partial(mistakes.birnn_forward, same_params=True),
    ),
    Mistake(
        "h0_f and h0_b swapped",
        "the forward RNN starts from h0_f, the backward one from h0_b",
        partial(mistakes.birnn_forward, swap_h0=True),
    ),
)

BACKWARD_MISTAKES = (
    Mistake(
        "the backward direction not reversed (treated as a forward RNN)",
        "the backward RNN read X[:, ::-1]: reverse its input, its upstream gradient "
        "dH[:, ::-1, Dh:] and the dX it returns",
        partial(mistakes.birnn_backward, reverse=False),
    ),
    Mistake(
        "the backward direction's dX not reversed back in time",
        "the backward RNN's dX is in reversed time order: add dX_b[:, ::-1]",
        partial(mistakes.birnn_backward, reverse_dX=False),
    ),
    Mistake(
        "dX from the forward direction only",
        "X feeds both directions: dX is the sum of both directions' input gradients",
        partial(mistakes.birnn_backward, sum_dX=False),
    ),
    Mistake(
        "the backward direction's dH not reversed in time (its input and dX are)",
        "the backward RNN's step t read X[:, T-1-t]: give it dH[:, ::-1, Dh:]",
        partial(_backward_pass, reverse_dH=False),
    ),
    Mistake(
        "dh0_b taken from the forward direction",
        "each direction has its own initial state: dh0_b is what the backward RNN's BPTT returns",
        partial(_backward_pass, dh0_b="forward"),
    ),
    Mistake(
        "the two halves of dH swapped",
        "dH[..., :Dh] belongs to the forward RNN, dH[..., Dh:] to the backward one",
        partial(mistakes.birnn_backward, swap_halves=True),
    ),
)


def build(folder):
    forward = {"NumPy reference": forward_reference(numpy_rnn)}
    backward = {"NumPy reference": backward_reference(numpy_rnn)}
    return Assignment(
        name="03_bidirectional",
        notebook="bidirectional.ipynb",
        title="Exercise 3: bidirectional RNNs",
        numpy_only=True,
        givens={"autograder.reference.numpy_rnn": ("rnn_forward", "rnn_backward", "SequenceCache")},
        tests=(
            Test(
                "test_birnn_forward_shape",
                "birnn_forward",
                None,
                forward_cases,
                judges.references(H_BI, forward, shape_only=True),
                about="birnn_forward returns an (N, T, 2Dh) array",
            ),
            Test(
                "test_birnn_forward_values",
                "birnn_forward",
                None,
                forward_cases,
                judges.references(H_BI, forward, FORWARD_MISTAKES),
                about="birnn_forward matches the NumPy reference",
            ),
            Test(
                "test_birnn_backward",
                "birnn_backward",
                None,
                backward_cases,
                judges.references(GRADS, backward, BACKWARD_MISTAKES),
                about="birnn_backward matches the NumPy reference",
            ),
            *choices.tests(folder / "bidirectional.ipynb", r"predict_\w+"),
        ),
    )
