"""What the grader checks in 04_sequence_types: four PyTorch models of different shapes.

Test ids and points are those of the graded cells of sequence_types.ipynb. The weights are
random, so there is no single right output. Instead the learner's class is built in the sandbox
with sizes chosen here and probed:

* "shape" tests: the output's shape and dtype for several sizes (N = 1, T = 1 included), and
  what it depends on, by changing one place of the input: a many-to-one model must read the
  whole sequence, an aligned tagger's step t must not see later inputs, an encoder-decoder must
  depend on its source; sequences of a batch must not mix; every parameter must get a gradient;
* "trains" tests: the model is trained in the sandbox with the grader's own short recipe (Adam,
  norm clipping) on the notebook's task, then run on held-out inputs whose answers never leave
  this process; the score is computed here.
"""

from __future__ import annotations

import numpy as np

from autograder.grading import judges
from autograder.grading import module_checks as mc
from autograder.grading.child import probes
from autograder.grading.inputs import label
from autograder.grading.spec import Assignment, Test

EVAL = 1000  # held-out examples per trains test


def _seed(rng) -> int:
    return int(rng.integers(2**31))


def _floats(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _rows(case):
    return np.s_[1:] if case.extra["N"] > 1 else None


def _train_case(rng, init, task_name, steps, lr, extra_task=None, task_options=None):
    task_options = task_options or {}
    task = {
        "name": task_name,
        "steps": steps,
        "lr": lr,
        "batch": 64,
        "seed": _seed(rng),
        "loss": "cross_entropy",
        "options": task_options,
        **(extra_task or {}),
    }
    inputs, answers = probes.TASKS[task_name](rng, EVAL, **task_options)
    return judges.module_case(
        init, [inputs], f"trained {steps} steps", _seed(rng), {"answers": answers}, train=task
    )


def _accuracy(case, out, ignore=None):
    answers = case.extra["answers"]
    if out.shape[: answers.ndim] != answers.shape:
        return 0.0
    mask = answers != ignore if ignore is not None else np.ones(answers.shape, bool)
    return float((out.argmax(axis=-1)[mask] == answers[mask]).mean())


# --------------------------------------------------------------------------------------------
# Many to one


def many_to_one_cases(rng):
    cases = []
    for N, T, D, H, C in [(2, 7, 3, 5, 4), (1, 1, 1, 1, 2), (1, 9, 2, 3, 3), (5, 1, 4, 2, 6)]:
        X = _floats(rng, N, T, D)
        # Earlier steps are changed all together: the effect of the first step alone can fade
        # below float32's resolution after a few random tanh steps.
        inputs = [
            [X],
            mc.perturbed(rng, [X], 0, np.s_[:, -1]),
            mc.perturbed(rng, [X], 0, np.s_[:, :-1]),
            mc.perturbed(rng, [X], 0, 0),
        ]
        cases.append(
            judges.module_case(
                (D, H, C),
                inputs,
                label(N=N, T=T, D=D, Dh=H, C=C),
                _seed(rng),
                {"N": N, "T": T, "C": C, "grads": T > 1},
            )
        )
    return cases


MANY_TO_ONE = judges.properties(
    [
        ("shape", mc.shape(lambda c: (c.extra["N"], c.extra["C"]), ("N", "C"))),
        (
            "reads the last step",
            mc.differs(
                1,
                lambda c: np.s_[:],
                "does not change when the last step of the sequence changes: classify from the "
                "state after the last step, H[:, -1], which has read the whole sequence",
            ),
        ),
        (
            "reads the earlier steps",
            mc.differs(
                2,
                lambda c: np.s_[:] if c.extra["T"] > 1 else None,
                "does not change when the steps before the last one change: the state after "
                "the last step, H[:, -1], has read them all; classify from it",
            ),
        ),
        (
            "keeps the sequences apart",
            mc.same(
                3,
                _rows,
                "mixes the sequences of a batch (changing sequence 0 changed the others): "
                "create the nn.RNN with batch_first=True",
            ),
        ),
        ("gradients", mc.gradients),
    ],
    preconditions=[mc.is_module],
)


def many_to_one_training(rng):
    return [_train_case(rng, (1, 32, 2), "sum_sign", 150, 1e-2)]


MANY_TO_ONE_TRAINS = judges.properties(
    [
        (
            "learns",
            mc.trained(
                _accuracy,
                0.8,
                "higher",
                "classifies {value:.0%} of new sequences right after the grader's training, "
                "below {threshold:.0%}: the prediction must come from the state after the "
                "last step, which has read everything",
            ),
        ),
    ],
    preconditions=[mc.is_module],
)


# --------------------------------------------------------------------------------------------
# Many to many, aligned


def aligned_cases(rng):
    cases = []
    for N, T, D, H, C in [(2, 7, 3, 5, 4), (1, 1, 1, 1, 2), (1, 9, 2, 3, 3), (5, 1, 4, 2, 6)]:
        X = _floats(rng, N, T, D)
        inputs = [
            [X],
            mc.perturbed(rng, [X], 0, np.s_[:, -1]),
            mc.perturbed(rng, [X], 0, np.s_[:, 0]),
            mc.perturbed(rng, [X], 0, 0),
        ]
        cases.append(
            judges.module_case(
                (D, H, C),
                inputs,
                label(N=N, T=T, D=D, Dh=H, C=C),
                _seed(rng),
                {"N": N, "T": T, "C": C, "grads": T > 1},
            )
        )
    return cases


ALIGNED = judges.properties(
    [
        ("shape", mc.shape(lambda c: (c.extra["N"], c.extra["T"], c.extra["C"]), ("N", "T", "C"))),
        (
            "each step reads its own input",
            mc.differs(
                1,
                lambda c: np.s_[:, -1],
                "gives a last output that does not change with the last input: tag each step "
                "from its own hidden state, H[:, t]",
            ),
        ),
        (
            "no step sees later inputs",
            mc.same(
                1,
                lambda c: np.s_[:, :-1] if c.extra["T"] > 1 else None,
                "changes its earlier outputs when only the last input changes: the tag of step "
                "t must come from H[:, t], which has read the sequence up to t only",
            ),
        ),
        (
            "remembers",
            mc.differs(
                2,
                lambda c: np.s_[:, 1:] if c.extra["T"] > 1 else None,
                "gives outputs after the first step that do not depend on the first input: the "
                "hidden state must carry it forward (map the RNN's states H, not the inputs)",
            ),
        ),
        (
            "keeps the sequences apart",
            mc.same(
                3,
                _rows,
                "mixes the sequences of a batch (changing sequence 0 changed the others): "
                "create the nn.RNN with batch_first=True",
            ),
        ),
        ("gradients", mc.gradients),
    ],
    preconditions=[mc.is_module],
)


def aligned_training(rng):
    return [_train_case(rng, (1, 32, 2), "rise", 100, 1e-2)]


ALIGNED_TRAINS = judges.properties(
    [
        (
            "learns",
            mc.trained(
                _accuracy,
                0.85,
                "higher",
                "tags {value:.0%} of the steps right after the grader's training, below "
                "{threshold:.0%}: each step's tag must come from that step's hidden state",
            ),
        ),
    ],
    preconditions=[mc.is_module],
)


# --------------------------------------------------------------------------------------------
# One to many


def one_to_many_cases(rng):
    cases = []
    for N, D, H, Q, T in [(4, 3, 5, 2, 6), (1, 1, 1, 1, 1), (1, 4, 3, 2, 9), (5, 2, 6, 3, 1)]:
        x = _floats(rng, N, D)
        inputs = [[x], mc.perturbed(rng, [x], 0, 0), mc.perturbed(rng, [x], 0, np.s_[:])]
        cases.append(
            judges.module_case(
                (D, H, Q, T),
                inputs,
                label(N=N, D=D, Dh=H, Q=Q, steps=T),
                _seed(rng),
                {"N": N, "T": T, "Q": Q, "grads": T > 1},
            )
        )
    return cases


def _steps_differ(case, result):
    out = mc.output(result, 0)
    if case.extra["T"] < 2 or out is None:
        raise judges.NotApplicable
    if np.allclose(out[:, :1], out[:, 1:], atol=1e-6):
        return (
            "gives the same output at every step: run the cell once per step, feeding it the "
            "previous output and its own state"
        )
    return None


ONE_TO_MANY = judges.properties(
    [
        ("shape", mc.shape(lambda c: (c.extra["N"], c.extra["T"], c.extra["Q"]), ("N", "T", "Q"))),
        (
            "depends on x",
            mc.differs(
                2,
                lambda c: np.s_[:],
                "gives outputs that do not depend on x: x must set the initial state, "
                "h0 = tanh(init_state(x))",
            ),
        ),
        ("generates", _steps_differ),
        (
            "keeps the sequences apart",
            mc.same(1, _rows, "mixes the examples of a batch (changing x[0] changed the others)"),
        ),
        ("gradients", mc.gradients),
    ],
    preconditions=[mc.is_module],
)


def one_to_many_training(rng):
    return [_train_case(rng, (2, 32, 1, 8), "arithmetic", 300, 1e-2, {"loss": "mse"}, {"steps": 8})]


def _mean_abs_error(case, out):
    answers = case.extra["answers"]
    return float(np.abs(out - answers).mean()) if out.shape == answers.shape else np.inf


ONE_TO_MANY_TRAINS = judges.properties(
    [
        (
            "learns",
            mc.trained(
                _mean_abs_error,
                0.2,
                "lower",
                "is off by {value:.3f} on average on new sequences after the grader's training, "
                "more than {threshold:.2f}: the input must set the initial state, and each step "
                "must read the previous output",
            ),
        ),
    ],
    preconditions=[mc.is_module],
)


# --------------------------------------------------------------------------------------------
# Encoder-decoder


def encoder_decoder_cases(rng):
    cases = []
    sizes = [(2, 4, 6, 7, 9, 5), (1, 1, 1, 2, 3, 1), (1, 5, 2, 4, 6, 3), (3, 2, 7, 5, 2, 4)]
    for N, S, T, sv, tv, H in sizes:
        src = rng.integers(0, sv, (N, S))
        tgt_in = rng.integers(0, tv, (N, T))
        pair = [src, tgt_in]
        inputs = [
            pair,
            mc.perturbed(rng, pair, 0, np.s_[:], vocab=sv),
            mc.perturbed(rng, pair, 0, np.s_[:, -1], vocab=sv),
            mc.perturbed(rng, pair, 1, np.s_[:, -1], vocab=tv),
            mc.perturbed(rng, mc.perturbed(rng, pair, 0, 0, vocab=sv), 1, 0, vocab=tv),
        ]
        cases.append(
            judges.module_case(
                (sv, tv, H),
                inputs,
                label(N=N, S=S, T=T, src_vocab=sv, tgt_vocab=tv, Dh=H),
                _seed(rng),
                {"N": N, "T": T, "V": tv, "grads": S > 1 and T > 1},
            )
        )
    return cases


ENCODER_DECODER = judges.properties(
    [
        (
            "shape",
            mc.shape(lambda c: (c.extra["N"], c.extra["T"], c.extra["V"]), ("N", "T", "tgt_vocab")),
        ),
        (
            "depends on the source",
            mc.differs(
                1,
                lambda c: np.s_[:],
                "does not depend on src: pass the encoder's final state to the decoder as its "
                "initial state, decoder(embedded tgt_in, h)",
            ),
        ),
        (
            "reads the whole source",
            mc.differs(
                2,
                lambda c: np.s_[:],
                "does not change when the last source token changes: the decoder must start "
                "from the encoder's state after the last source token",
            ),
        ),
        (
            "teacher forcing",
            mc.differs(
                3,
                lambda c: np.s_[:, -1],
                "gives a last output that does not change with the last decoder input: the "
                "decoder must read tgt_in, one token per step",
            ),
        ),
        (
            "no step sees later targets",
            mc.same(
                3,
                lambda c: np.s_[:, :-1] if c.extra["T"] > 1 else None,
                "changes its earlier outputs when only the last decoder input changes: step t "
                "may read tgt_in[:, :t+1] only",
            ),
        ),
        (
            "keeps the sequences apart",
            mc.same(
                4,
                _rows,
                "mixes the sequences of a batch (changing sequence 0 changed the others): "
                "create both nn.RNN with batch_first=True",
            ),
        ),
        ("gradients", mc.gradients),
    ],
    preconditions=[mc.is_module],
)


def encoder_decoder_training(rng):
    return [
        _train_case(
            rng,
            (probes.EOS + 1, probes.EOS + 1, 32),
            "reverse",
            300,
            5e-3,
            {"ignore_index": probes.PAD},
            {"min_digits": 2, "max_digits": 4},
        )
    ]


ENCODER_DECODER_TRAINS = judges.properties(
    [
        (
            "learns",
            mc.trained(
                lambda case, out: _accuracy(case, out, ignore=probes.PAD),
                0.7,
                "higher",
                "predicts {value:.0%} of the reversed digits right (teacher forcing) after the "
                "grader's training, below {threshold:.0%}: the decoder must start from the "
                "encoder's final state and read tgt_in",
            ),
        ),
    ],
    preconditions=[mc.is_module],
)


def build(folder):
    def test(test_id, name, points, cases, judge, about):
        return Test(test_id, name, points, cases, judge, kind="module", about=about)

    return Assignment(
        name="04_sequence_types",
        notebook="sequence_types.ipynb",
        title="Exercise 4: one to many, many to one, many to many",
        tests=(
            test(
                "test_many_to_one_shape",
                "ManyToOne",
                1,
                many_to_one_cases,
                MANY_TO_ONE,
                "ManyToOne returns (N, C) logits that depend on the whole sequence",
            ),
            test(
                "test_many_to_one_trains",
                "ManyToOne",
                2,
                many_to_one_training,
                MANY_TO_ONE_TRAINS,
                "ManyToOne learns the sum-sign task",
            ),
            test(
                "test_many_to_many_aligned_shape",
                "ManyToManyAligned",
                1,
                aligned_cases,
                ALIGNED,
                "ManyToManyAligned returns (N, T, C) logits, step t reading inputs up to t",
            ),
            test(
                "test_many_to_many_aligned_trains",
                "ManyToManyAligned",
                2,
                aligned_training,
                ALIGNED_TRAINS,
                "ManyToManyAligned learns the went-up task",
            ),
            test(
                "test_one_to_many_shape",
                "OneToMany",
                1,
                one_to_many_cases,
                ONE_TO_MANY,
                "OneToMany returns (N, steps, Q) sequences generated from x",
            ),
            test(
                "test_one_to_many_trains",
                "OneToMany",
                2,
                one_to_many_training,
                ONE_TO_MANY_TRAINS,
                "OneToMany learns arithmetic sequences",
            ),
            test(
                "test_encoder_decoder_shape",
                "EncoderDecoder",
                1,
                encoder_decoder_cases,
                ENCODER_DECODER,
                "EncoderDecoder returns (N, T, tgt_vocab) logits that depend on the source",
            ),
            test(
                "test_encoder_decoder_trains",
                "EncoderDecoder",
                3,
                encoder_decoder_training,
                ENCODER_DECODER_TRAINS,
                "EncoderDecoder learns to reverse digits",
            ),
        ),
    )
