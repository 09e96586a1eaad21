"""What the grader checks in 04_sequence_types: four PyTorch models of different shapes.

Test ids are the grade ids of the graded cells of sequence_types.ipynb. The notebook lays
out each class's parameters (``self.rnn = nn.RNN(...)``, ``self.head = nn.Linear(...)``...), so
the grader can choose the weights (see :mod:`autograder.grading.module_checks`):

* "shape" tests: for several sizes (N = 1 and T = 1 included), the learner's class is built in
  the sandbox, the parent's weights are loaded into it by name, and its outputs (on the whole
  sequence and on every prefix), its gradients with respect to the input and to every weight,
  and its weights after three SGD steps are compared with the reference models of
  ``autograder.reference.torch_rnn`` holding the same weights;
* "trains" tests: the learner's class is trained in the sandbox on batches sent from here
  (Adam, norm clipping, as the notebook's ``train``); the trained weights are loaded into the
  reference model and scored here on held-out inputs that never leave this process.

predict_long_sequences, the prediction made before the experiment with longer sequences, is a
multiple choice read from the notebook (autograder.grading.choices).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from autograder.grading import choices
from autograder.grading import module_checks as mc
from autograder.grading.inputs import label
from autograder.grading.spec import Array, Assignment, Mistake, Test
from autograder.reference import torch_rnn

EVAL = 1000  # held-out examples per trains test
BATCH = 64


def _floats(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Reference models with the notebook's constructors, and typical wrong versions of them


class OneToManyReference(torch_rnn.OneToMany):
    """The reference generator with the exercise's constructor: the length is fixed there."""

    def __init__(self, input_size, hidden_size, output_size, steps):
        super().__init__(input_size, hidden_size, output_size)
        self.steps = steps

    def forward(self, x):
        return super().forward(x, self.steps)


class EncoderDecoderReference(torch_rnn.EncoderDecoder):
    """The reference encoder-decoder with the exercise's constructor (embeddings of size H)."""

    def __init__(self, src_vocab, tgt_vocab, hidden_size):
        super().__init__(src_vocab, tgt_vocab, hidden_size, hidden_size)


def _time_first(cls):
    """``cls`` with its recurrent layers created without batch_first=True."""

    class TimeFirst(cls):
        def __init__(self, *args):
            super().__init__(*args)
            for module in self.modules():
                if isinstance(module, torch.nn.RNN):
                    module.batch_first = False

    return TimeFirst


def _relu(cls):
    """``cls`` with its recurrent layers created with nonlinearity="relu"."""

    class ReLU(cls):
        def __init__(self, *args):
            super().__init__(*args)
            for module in self.modules():
                if isinstance(module, torch.nn.RNN):
                    module.nonlinearity, module.mode = "relu", "RNN_RELU"

    return ReLU


class FirstState(torch_rnn.ManyToOne):
    def forward(self, X):
        H, _ = self.rnn(X)
        return self.head(H[:, 0])


class MeanState(torch_rnn.ManyToOne):
    def forward(self, X):
        H, _ = self.rnn(X)
        return self.head(H.mean(dim=1))


class ManyToOneSoftmax(torch_rnn.ManyToOne):
    def forward(self, X):
        return torch.softmax(super().forward(X), dim=-1)


class AlignedLastOnly(torch_rnn.ManyToManyAligned):
    def forward(self, X):
        H, _ = self.rnn(X)
        return self.head(H[:, -1])


class AlignedSoftmax(torch_rnn.ManyToManyAligned):
    def forward(self, X):
        return torch.softmax(super().forward(X), dim=-1)


class NoFeedback(OneToManyReference):
    def forward(self, x):
        h = torch.tanh(self.init_state(x))
        zeros = x.new_zeros(x.shape[0], self.head.out_features)
        outputs = []
        for _ in range(self.steps):
            h = self.cell(zeros, h)
            outputs.append(self.head(h))
        return torch.stack(outputs, dim=1)


class NoTanh(OneToManyReference):
    def forward(self, x):
        h = self.init_state(x)
        y = x.new_zeros(x.shape[0], self.head.out_features)
        outputs = []
        for _ in range(self.steps):
            h = self.cell(y, h)
            y = self.head(h)
            outputs.append(y)
        return torch.stack(outputs, dim=1)


class StateNotCarried(OneToManyReference):
    def forward(self, x):
        h0 = torch.tanh(self.init_state(x))
        y = x.new_zeros(x.shape[0], self.head.out_features)
        outputs = []
        for _ in range(self.steps):
            y = self.head(self.cell(y, h0))
            outputs.append(y)
        return torch.stack(outputs, dim=1)


class OutputBeforeStep(OneToManyReference):
    def forward(self, x):
        h = torch.tanh(self.init_state(x))
        outputs = []
        for _ in range(self.steps):
            y = self.head(h)
            outputs.append(y)
            h = self.cell(y, h)
        return torch.stack(outputs, dim=1)


class FeedbackDetached(OneToManyReference):
    def forward(self, x):
        h = torch.tanh(self.init_state(x))
        y = x.new_zeros(x.shape[0], self.head.out_features)
        outputs = []
        for _ in range(self.steps):
            h = self.cell(y, h)
            y = self.head(h)
            outputs.append(y)
            y = y.detach()
        return torch.stack(outputs, dim=1)


class InitialStateZeros(OneToManyReference):
    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.cell.hidden_size)
        y = x.new_zeros(x.shape[0], self.head.out_features)
        outputs = []
        for _ in range(self.steps):
            h = self.cell(y, h)
            y = self.head(h)
            outputs.append(y)
        return torch.stack(outputs, dim=1)


class TargetEmbeddingForSource(EncoderDecoderReference):
    def forward(self, src, tgt_in):
        _, h = self.encoder(self.tgt_embed(src))
        H, _ = self.decoder(self.tgt_embed(tgt_in), h)
        return self.head(H)


class EncoderAsDecoder(EncoderDecoderReference):
    def forward(self, src, tgt_in):
        H, _ = self.encoder(self.tgt_embed(tgt_in), self.encode(src))
        return self.head(H)


class DecoderFromZeros(EncoderDecoderReference):
    def forward(self, src, tgt_in):
        H, _ = self.decoder(self.tgt_embed(tgt_in))
        return self.head(H)


class SourceEmbeddedTwice(EncoderDecoderReference):
    def forward(self, src, tgt_in):
        H, _ = self.decoder(self.src_embed(tgt_in), self.encode(src))
        return self.head(H)


RNN_LAYOUT = (
    "in __init__, create self.rnn = nn.RNN(input_size, hidden_size, batch_first=True) and "
    "self.head = nn.Linear(hidden_size, {out}), and no other layer with parameters"
)

MANY_TO_ONE = mc.ModuleSpec(
    torch_rnn.ManyToOne,
    (Array("logits", ("N", "C")),),
    ("X",),
    RNN_LAYOUT.format(out="num_classes"),
)
ALIGNED = mc.ModuleSpec(
    torch_rnn.ManyToManyAligned,
    (Array("logits", ("N", "T", "C")),),
    ("X",),
    RNN_LAYOUT.format(out="num_tags"),
)
ONE_TO_MANY = mc.ModuleSpec(
    OneToManyReference,
    (Array("outputs", ("N", "T", "Q")),),
    ("x",),
    "in __init__, create self.init_state = nn.Linear(input_size, hidden_size), self.cell = "
    "nn.RNNCell(output_size, hidden_size) and self.head = nn.Linear(hidden_size, output_size)",
    sequence=None,
)
ENCODER_DECODER = mc.ModuleSpec(
    EncoderDecoderReference,
    (Array("logits", ("N", "T", "tgt_vocab")),),
    ("src", "tgt_in"),
    "in __init__, create self.src_embed = nn.Embedding(src_vocab, hidden_size), self.tgt_embed "
    "= nn.Embedding(tgt_vocab, hidden_size), self.encoder and self.decoder = nn.RNN(hidden_size, "
    "hidden_size, batch_first=True) and self.head = nn.Linear(hidden_size, tgt_vocab)",
    sequence=1,
)


def _mistake(spec, says, hint, model_class):
    return Mistake(says, hint, mc.wrong_module(spec, model_class))


BATCH_FIRST = "create the nn.RNN with batch_first=True: the input is (N, T, D)"
LOGITS = "return the raw scores (logits): F.cross_entropy applies the softmax itself"
RELU = 'keep the default nonlinearity of nn.RNN, tanh (leave out nonlinearity="relu")'

MANY_TO_ONE_MISTAKES = (
    _mistake(
        MANY_TO_ONE,
        "the first state H[:, 0] classified",
        "classify from the state after the last step, H[:, -1], which has read the whole sequence",
        FirstState,
    ),
    _mistake(
        MANY_TO_ONE,
        "the states averaged over the steps",
        "classify from the state after the last step, H[:, -1]",
        MeanState,
    ),
    _mistake(
        MANY_TO_ONE,
        "the RNN reading the batch axis as time",
        BATCH_FIRST,
        _time_first(torch_rnn.ManyToOne),
    ),
    _mistake(MANY_TO_ONE, "a softmax on the logits", LOGITS, ManyToOneSoftmax),
    _mistake(MANY_TO_ONE, "a ReLU RNN", RELU, _relu(torch_rnn.ManyToOne)),
)
ALIGNED_MISTAKES = (
    _mistake(
        ALIGNED,
        "only the last state mapped to logits",
        "apply the head to every state: self.head(H) gives (N, T, C)",
        AlignedLastOnly,
    ),
    _mistake(
        ALIGNED,
        "the RNN reading the batch axis as time",
        BATCH_FIRST,
        _time_first(torch_rnn.ManyToManyAligned),
    ),
    _mistake(ALIGNED, "a softmax on the logits", LOGITS, AlignedSoftmax),
    _mistake(ALIGNED, "a ReLU RNN", RELU, _relu(torch_rnn.ManyToManyAligned)),
)
ONE_TO_MANY_MISTAKES = (
    _mistake(
        ONE_TO_MANY,
        "zeros fed to the cell at every step",
        "feed the previous output back in: h = cell(y, h), then y = head(h)",
        NoFeedback,
    ),
    _mistake(
        ONE_TO_MANY,
        "the initial state without its tanh",
        "h0 = tanh(init_state(x))",
        NoTanh,
    ),
    _mistake(
        ONE_TO_MANY,
        "the state restarted from h0 at every step",
        "carry the state: h = cell(y, h) with the h of the previous step",
        StateNotCarried,
    ),
    _mistake(
        ONE_TO_MANY,
        "each output taken from the state before the step",
        "step first, then read out: h = cell(y, h), then y = head(h), and keep that y",
        OutputBeforeStep,
    ),
    _mistake(
        ONE_TO_MANY,
        "the fed-back output detached",
        "feed y back as it is: the gradient must flow through it to the earlier steps",
        FeedbackDetached,
    ),
    _mistake(
        ONE_TO_MANY,
        "the initial state set to zeros instead of read from x",
        "h0 = tanh(init_state(x))",
        InitialStateZeros,
    ),
)
ENCODER_DECODER_MISTAKES = (
    _mistake(
        ENCODER_DECODER,
        "the decoder started from zeros",
        "pass the encoder's final state to the decoder as its initial state: "
        "decoder(tgt_embed(tgt_in), h)",
        DecoderFromZeros,
    ),
    _mistake(
        ENCODER_DECODER,
        "tgt_in embedded with the source embedding",
        "embed tgt_in with self.tgt_embed",
        SourceEmbeddedTwice,
    ),
    _mistake(
        ENCODER_DECODER,
        "the RNNs reading the batch axis as time",
        "create both nn.RNN with batch_first=True",
        _time_first(EncoderDecoderReference),
    ),
    _mistake(
        ENCODER_DECODER,
        "src embedded with the target embedding",
        "embed src with self.src_embed",
        TargetEmbeddingForSource,
    ),
    _mistake(
        ENCODER_DECODER,
        "the encoder used to decode as well",
        "decode with self.decoder, which has its own weights",
        EncoderAsDecoder,
    ),
)


# --------------------------------------------------------------------------------------------
# Values on the grader's weights


def many_to_one_cases(rng, spec=MANY_TO_ONE):
    cases = []
    for N, T, D, H, C in [(2, 7, 3, 5, 4), (1, 1, 1, 1, 2), (1, 9, 2, 3, 3), (5, 1, 4, 2, 6)]:
        cases.append(
            mc.values_case(
                spec, (D, H, C), [_floats(rng, N, T, D)], rng, label(N=N, T=T, D=D, Dh=H, C=C)
            )
        )
    return cases


def aligned_cases(rng):
    return many_to_one_cases(rng, ALIGNED)


def one_to_many_cases(rng):
    cases = []
    for N, D, H, Q, T in [(4, 3, 5, 2, 6), (1, 1, 1, 1, 1), (1, 4, 3, 2, 9), (5, 2, 6, 3, 1)]:
        cases.append(
            mc.values_case(
                ONE_TO_MANY,
                (D, H, Q, T),
                [_floats(rng, N, D)],
                rng,
                label(N=N, D=D, Dh=H, Q=Q, steps=T),
            )
        )
    return cases


def encoder_decoder_cases(rng):
    cases = []
    sizes = [(2, 4, 6, 7, 9, 5), (1, 1, 1, 2, 3, 1), (1, 5, 2, 4, 6, 3), (3, 2, 7, 5, 2, 4)]
    for N, S, T, sv, tv, H in sizes:
        inputs = [rng.integers(0, sv, (N, S)), rng.integers(0, tv, (N, T))]
        text = label(N=N, S=S, T=T, src_vocab=sv, tgt_vocab=tv, Dh=H)
        cases.append(mc.values_case(ENCODER_DECODER, (sv, tv, H), inputs, rng, text))
    return cases


# --------------------------------------------------------------------------------------------
# Training: the tasks of the notebook, drawn here


PAD, BOS, EOS = 10, 11, 12  # the digit-reversal task's special tokens


def sum_sign_batch(rng, batch: int, T: int = 12):
    """X (N, T, 1) standard normal; y (N,) = 1 where the sequence's sum is positive."""
    X = rng.standard_normal((batch, T, 1)).astype(np.float32)
    return [X], (X.sum(axis=(1, 2)) > 0).astype(np.uint8)


def rise_batch(rng, batch: int, T: int = 15):
    """X (N, T, 1); tags (N, T) = 1 where X went up since the previous step (0 at t = 1)."""
    X = rng.standard_normal((batch, T, 1)).astype(np.float32)
    tags = np.zeros((batch, T), dtype=np.uint8)
    tags[:, 1:] = X[:, 1:, 0] > X[:, :-1, 0]
    return [X], tags


def arithmetic_batch(rng, batch: int, steps: int = 8):
    """x (N, 2) = (a, d), a in [-1, 1], d in [-0.3, 0.3]; Y (N, steps, 1) = a + t d."""
    a = rng.uniform(-1, 1, (batch, 1))
    d = rng.uniform(-0.3, 0.3, (batch, 1))
    Y = (a + d * np.arange(steps))[..., None]
    return [np.concatenate([a, d], axis=1).astype(np.float32)], Y.astype(np.float32)


def reverse_batch(rng, batch: int, min_digits: int = 2, max_digits: int = 4):
    """src (N, max) left-padded digits; tgt_in = BOS + tgt[:, :-1]; tgt = reversed, EOS, PAD."""
    lengths = rng.integers(min_digits, max_digits + 1, batch)
    digits = rng.integers(0, 10, (batch, max_digits))
    src = np.full((batch, max_digits), PAD, dtype=np.uint8)
    tgt = np.full((batch, max_digits + 1), PAD, dtype=np.uint8)
    for i, length in enumerate(lengths):
        src[i, max_digits - length :] = digits[i, :length]
        tgt[i, :length] = digits[i, :length][::-1]
        tgt[i, length] = EOS
    tgt_in = np.concatenate([np.full((batch, 1), BOS, dtype=np.uint8), tgt[:, :-1]], axis=1)
    return [src, tgt_in], tgt


TASKS = {
    "sum_sign": sum_sign_batch,
    "rise": rise_batch,
    "arithmetic": arithmetic_batch,
    "reverse": reverse_batch,
}


@functools.cache
def training_batches(task: str, steps: int) -> list:
    """The training batches of a task. The same in every run: they are inputs of the learner's
    training, not answers (the initial weights and the held-out data are drawn per
    submission), and one copy then serves a whole class."""
    rng = np.random.default_rng(np.random.SeedSequence([len(task), steps, *task.encode()]))
    return [list(TASKS[task](rng, BATCH)) for _ in range(steps)]


def _training(spec, init, task, steps, lr, rng, loss="cross_entropy", **options):
    inputs, answers = TASKS[task](rng, EVAL)
    return [
        mc.training_case(
            spec,
            init,
            training_batches(task, steps),
            rng,
            loss=loss,
            lr=lr,
            label=f"trained {steps} steps",
            extra={"inputs": inputs, "answers": answers},
            **options,
        )
    ]


def _outputs(case, model):
    tensors = [
        torch.as_tensor(np.asarray(a, dtype=np.int64 if a.dtype.kind in "iu" else None))
        for a in case.extra["inputs"]
    ]
    tensors = [t.double() if t.is_floating_point() else t for t in tensors]
    return model(*tensors)


def _accuracy(case, model, ignore=None):
    answers = torch.as_tensor(case.extra["answers"].astype(np.int64))
    predicted = _outputs(case, model).argmax(dim=-1)
    mask = answers != ignore if ignore is not None else torch.ones_like(answers, dtype=torch.bool)
    return float((predicted[mask] == answers[mask]).double().mean())


def _mean_abs_error(case, model):
    answers = torch.as_tensor(case.extra["answers"], dtype=torch.float64)
    return float(F.l1_loss(_outputs(case, model), answers))


MANY_TO_ONE_TRAINS = mc.Training(
    MANY_TO_ONE,
    _accuracy,
    0.8,
    "higher",
    "classifies {value:.0%} of new sequences right after the grader's training, below "
    "{threshold:.0%}: the prediction must come from the state after the last step, which has "
    "read everything",
)
ALIGNED_TRAINS = mc.Training(
    ALIGNED,
    _accuracy,
    0.85,
    "higher",
    "tags {value:.0%} of the steps right after the grader's training, below {threshold:.0%}: "
    "each step's tag must come from that step's hidden state",
)
ONE_TO_MANY_TRAINS = mc.Training(
    ONE_TO_MANY,
    _mean_abs_error,
    0.2,
    "lower",
    "is off by {value:.3f} on average on new sequences after the grader's training, more than "
    "{threshold:.2f}: the input must set the initial state, and each step must read the "
    "previous output",
)
ENCODER_DECODER_TRAINS = mc.Training(
    ENCODER_DECODER,
    lambda case, model: _accuracy(case, model, ignore=PAD),
    0.7,
    "higher",
    "predicts {value:.0%} of the reversed digits right (teacher forcing) after the grader's "
    "training, below {threshold:.0%}: the decoder must start from the encoder's final state and "
    "read tgt_in",
)


def many_to_one_training(rng):
    return _training(MANY_TO_ONE, (1, 32, 2), "sum_sign", 150, 1e-2, rng)


def aligned_training(rng):
    return _training(ALIGNED, (1, 32, 2), "rise", 100, 1e-2, rng)


def one_to_many_training(rng):
    return _training(ONE_TO_MANY, (2, 32, 1, 8), "arithmetic", 300, 1e-2, rng, loss="mse")


def encoder_decoder_training(rng):
    init = (EOS + 1, EOS + 1, 32)
    return _training(ENCODER_DECODER, init, "reverse", 300, 5e-3, rng, ignore_index=PAD)


def build(folder):
    def test(test_id, name, cases, judge, about):
        # The points are the graded cell's, read from the notebook (its source states them).
        return Test(test_id, name, None, cases, judge, kind="module", about=about)

    return Assignment(
        name="04_sequence_types",
        notebook="sequence_types.ipynb",
        title="Exercise 4: one to many, many to one, many to many",
        tests=(
            test(
                "test_many_to_one_shape",
                "ManyToOne",
                many_to_one_cases,
                mc.values(MANY_TO_ONE, MANY_TO_ONE_MISTAKES),
                "ManyToOne, holding the grader's weights, gives the reference's logits, "
                "gradients and SGD steps",
            ),
            test(
                "test_many_to_one_trains",
                "ManyToOne",
                many_to_one_training,
                mc.trained(MANY_TO_ONE_TRAINS),
                "ManyToOne learns the sum-sign task",
            ),
            test(
                "test_many_to_many_aligned_shape",
                "ManyToManyAligned",
                aligned_cases,
                mc.values(ALIGNED, ALIGNED_MISTAKES),
                "ManyToManyAligned, holding the grader's weights, gives the reference's logits "
                "at every step, on every prefix, and its gradients",
            ),
            test(
                "test_many_to_many_aligned_trains",
                "ManyToManyAligned",
                aligned_training,
                mc.trained(ALIGNED_TRAINS),
                "ManyToManyAligned learns the went-up task",
            ),
            test(
                "test_one_to_many_shape",
                "OneToMany",
                one_to_many_cases,
                mc.values(ONE_TO_MANY, ONE_TO_MANY_MISTAKES),
                "OneToMany, holding the grader's weights, generates the reference's sequences",
            ),
            test(
                "test_one_to_many_trains",
                "OneToMany",
                one_to_many_training,
                mc.trained(ONE_TO_MANY_TRAINS),
                "OneToMany learns arithmetic sequences",
            ),
            test(
                "test_encoder_decoder_shape",
                "EncoderDecoder",
                encoder_decoder_cases,
                mc.values(ENCODER_DECODER, ENCODER_DECODER_MISTAKES),
                "EncoderDecoder, holding the grader's weights, gives the reference's logits",
            ),
            test(
                "test_encoder_decoder_trains",
                "EncoderDecoder",
                encoder_decoder_training,
                mc.trained(ENCODER_DECODER_TRAINS),
                "EncoderDecoder learns to reverse digits",
            ),
            *choices.tests(folder / "sequence_types.ipynb", r"predict_\w+"),
        ),
    )
