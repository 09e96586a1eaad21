"""What the grader checks in 05_gradient_clipping: clipping by the global norm and by value.

Test ids are the grade ids of the graded cells of gradient_clipping.ipynb. Results are
compared with the NumPy reference, and the gradients passed in must come back unchanged. The
functions are NumPy only: neither the sandbox nor the grader imports PyTorch (the reference's
agreement with torch.nn.utils.clip_grad_norm_ / clip_grad_value_ is tests/test_reference_torch.py's
to check).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from autograder.grading import judges, mistakes
from autograder.grading.inputs import normal
from autograder.grading.spec import Assignment, Case, ListOf, Mistake, Scalar, Test, Tolerance
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
        title="Exercise 5: gradient clipping",
        numpy_only=True,
        tests=(
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
        ),
    )
