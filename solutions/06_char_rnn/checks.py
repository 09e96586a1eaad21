"""What the grader checks in 06_char_rnn: the char-RNN's loss and gradients, training it,
sampling from it, and the same model in PyTorch.

Test ids are the grade ids of the graded cells of char_rnn.ipynb.

* char_rnn_loss is compared with the NumPy reference and with autograd through the reference's
  PyTorch CharRNN holding the same weights;
* "learns": the notebook's own train_numpy (a locked setup cell) trains with the learner's
  char_rnn_loss in the sandbox; the parameters it returns are scored here, by the reference's
  loss on held-out text that the sandbox never sees;
* sample must draw the same characters as the reference from the same generator (the notebook
  asks for one rng.choice per step), and the second opinion draws from probabilities computed
  by PyTorch; a near-zero temperature must give the greedy path;
* CharRNN holds weights chosen here, loaded by the names the notebook lays out; its logits and
  state (on the whole sequence, on every prefix, from a given state, and on the second piece of
  a sequence from the reference's state after the first), its gradients and its weights after
  three SGD steps are compared with the reference's CharRNN holding the same weights (see
  autograder.grading.module_checks). It is then trained in the sandbox on windows sent from
  here, and the trained weights, loaded into the reference, are scored here by their
  perplexity on held-out text.

* predict_gru, the prediction made before the GRU experiment, is a multiple choice read from
  the notebook (autograder.grading.choices): the feedback explains the option chosen.

The notebook's stage checks (the starting loss, the gradient-check table, one window learnt by
heart) are the learner's own tools and are not graded: the graded test of char_rnn_loss covers
what they check.

The notebook's setup cells use char_data (the text), and char_rnn_init, clip_grad_norm and
adagrad_step of the NumPy reference in train_numpy: the sandbox may import those.
"""

from __future__ import annotations

import functools
import math
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from autograder import i18n
from autograder.grading import choices, judges, mistakes
from autograder.grading import module_checks as mc
from autograder.grading.child.wire import Rng
from autograder.grading.compare import as_array
from autograder.grading.inputs import label
from autograder.grading.spec import Array, Assignment, Case, Mistake, Scalar, Test, Tolerance
from autograder.reference import char_data, numpy_rnn, torch_rnn

KEYS = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")
LOSS = (
    Scalar("loss"),
    {k: Array(f"grads['{k}']") for k in KEYS},
    Array("h_last", ("N", "Dh")),
)


#: Characters of training text sent to train_numpy: more than its 300 steps read (7 501).
TRAIN_SENT = 10_000
#: The held-out text, as the notebook cuts it: this many characters after the training text.
HELD_OUT = 20_000
#: The part of it the NumPy model is scored on (NumPy reads it one character at a time).
NUMPY_HELD_OUT = 5_000


@functools.cache
def _text():
    """V, the training text and the held-out text of the notebook's setup cell."""
    text = char_data.load_text("python")
    chars, char_to_ix = char_data.build_vocab(text)
    data = char_data.encode(text, char_to_ix)
    split = int(0.9 * len(data))
    return len(chars), data[:split], data[split : split + HELD_OUT]


def _params(rng, V, H, scale):
    return {
        "W_xh": scale * rng.standard_normal((V, H)),
        "W_hh": scale * rng.standard_normal((H, H)),
        "b_h": scale * rng.standard_normal(H),
        "W_hq": scale * rng.standard_normal((H, V)),
        "b_q": scale * rng.standard_normal(V),
    }


# --------------------------------------------------------------------------------------------
# char_rnn_loss


def loss_cases(rng):
    cases = []
    params = _params(rng, 5, 4, 0.3)
    inputs, targets = rng.integers(0, 5, (2, 3)), rng.integers(0, 5, (2, 3))
    cases.append(Case((params, inputs, targets, rng.standard_normal((2, 4))), label="N=2, T=3"))
    window = [int(i) for i in rng.integers(0, 5, 5)]
    cases.append(
        Case(
            (params, window[:4], window[1:], np.zeros(4)),
            label="a single window given as lists, h_prev of shape (H,)",
        )
    )
    for N, T, V, H in [(1, 1, 2, 1), (3, 1, 4, 5), (1, 9, 6, 2), (4, 12, 8, 6)]:
        args = (
            _params(rng, V, H, 0.6),
            rng.integers(0, V, (N, T)),
            rng.integers(0, V, (N, T)),
            rng.standard_normal((N, H)),
        )
        cases.append(Case(args, label=label(N=N, T=T, V=V, Dh=H)))
    return cases


def numpy_loss(params, inputs, targets, h_prev):
    batch = np.atleast_2d(inputs), np.atleast_2d(targets), np.atleast_2d(h_prev)
    return numpy_rnn.char_rnn_loss(params, *batch)


def torch_loss(params, inputs, targets, h_prev):
    """The loss by F.cross_entropy and the gradients by autograd, through torch_rnn.CharRNN."""
    inputs, targets = np.atleast_2d(inputs), np.atleast_2d(targets)
    h_prev = np.atleast_2d(np.asarray(h_prev, dtype=np.float64))
    model = torch_rnn.char_rnn_from_numpy(params)
    logits, h_last = model(torch.as_tensor(inputs), torch.as_tensor(h_prev)[None])
    V = logits.shape[-1]
    total = F.cross_entropy(
        logits.reshape(-1, V), torch.as_tensor(targets).reshape(-1), reduction="sum"
    )
    loss = total / inputs.shape[0]
    loss.backward()
    rnn, head = model.rnn, model.head
    grads = {
        "W_xh": rnn.weight_ih_l0.grad.T.numpy(),
        "W_hh": rnn.weight_hh_l0.grad.T.numpy(),
        "b_h": rnn.bias_ih_l0.grad.numpy(),
        "W_hq": head.weight.grad.T.numpy(),
        "b_q": head.bias.grad.numpy(),
    }
    return loss.item(), grads, h_last[0].detach().numpy()


def _loss(
    params,
    inputs,
    targets,
    h_prev,
    *,
    state="carried",
    loss_over="N",
    factor="1 - h**2",
    h_before="H[:, t-1]",
    steps_back="T",
    db="sum",
):
    """char_rnn_loss written out step by step, with a slip: ``state`` "h_prev" (every step of
    the forward loop reads h_prev, not the state of the step before); ``loss_over`` "N * V"
    (the loss, only, also divided by the V classes); ``factor`` "1 - h" (tanh' without the
    square); ``h_before`` "H[:, t]" (dW_hh from the step's own state); ``steps_back`` "T - 1"
    (the backward loop over reversed(range(T - 1)): the last step never visited); ``db``
    "mean" (db_h averaged over the batch)."""
    inputs, targets, h_prev = np.atleast_2d(inputs), np.atleast_2d(targets), np.atleast_2d(h_prev)
    W_xh, W_hh, b_h, W_hq, b_q = (params[k] for k in KEYS)
    N, T = inputs.shape
    V = W_xh.shape[0]
    X = (inputs[..., None] == np.arange(V)).astype(float)
    H = np.zeros((N, T, W_hh.shape[0]))
    h = h_prev
    for t in range(T):
        h = np.tanh(X[:, t] @ W_xh + (h if state == "carried" else h_prev) @ W_hh + b_h)
        H[:, t] = h
    O = H @ W_hq + b_q
    P = np.exp(O - O.max(axis=-1, keepdims=True))
    P /= P.sum(axis=-1, keepdims=True)
    rows, steps = np.indices(targets.shape)
    loss = -np.log(P[rows, steps, targets]).sum() / (N * V if loss_over == "N * V" else N)
    dO = P.copy()
    dO[rows, steps, targets] -= 1
    dO /= N
    grads = {k: np.zeros(np.shape(params[k])) for k in KEYS}
    grads["W_hq"] = H.reshape(N * T, -1).T @ dO.reshape(N * T, -1)
    grads["b_q"] = dO.sum(axis=(0, 1))
    dh_next = np.zeros(h_prev.shape)
    for t in reversed(range(T if steps_back == "T" else T - 1)):
        dh = dO[:, t] @ W_hq.T + dh_next
        da = dh * ((1 - H[:, t] ** 2) if factor == "1 - h**2" else (1 - H[:, t]))
        before = H[:, t] if h_before == "H[:, t]" else h_prev if t == 0 else H[:, t - 1]
        grads["W_xh"] += X[:, t].T @ da
        grads["W_hh"] += before.T @ da
        grads["b_h"] += da.sum(axis=0) if db == "sum" else da.mean(axis=0)
        dh_next = da @ W_hh.T
    return float(loss), grads, H[:, -1].copy()


LOSS_MISTAKES = (
    Mistake(
        "tanh' written as 1 - H_t (the square is missing)",
        "tanh'(a) = 1 - tanh(a)**2: da = dh * (1 - H_t**2)",
        partial(_loss, factor="1 - h"),
    ),
    Mistake(
        "the state not carried in the forward loop (every step reads h_prev, not the state "
        "of the step before)",
        "H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h): update h in the loop and read it at the "
        "next step",
        partial(_loss, state="h_prev"),
    ),
    Mistake(
        "the loss averaged over the V classes too (divided by N * V)",
        "each step adds one term, -log P[target]: sum them over the steps, divide by N only",
        partial(_loss, loss_over="N * V"),
    ),
    Mistake(
        "dW_hh computed from the step's own state H_t instead of the state it read, H_{t-1}",
        "W_hh multiplies the state before the step: h_prev at the first step, then the "
        "previous step's state",
        partial(_loss, h_before="H[:, t]"),
    ),
    Mistake(
        "db_h averaged over the batch (a mean instead of a sum)",
        "the loss adds up the N windows' terms: db_h gets da.sum(axis=0) at every step",
        partial(_loss, db="mean"),
    ),
    Mistake(
        "a backward loop that skips the last step (reversed(range(T - 1))): the loss of the "
        "last character never flows back",
        "visit every array index, for t in reversed(range(T))",
        partial(_loss, steps_back="T - 1"),
    ),
    Mistake(
        "the loss averaged over the time steps too",
        "sum the loss over the T steps of a window; average over the N windows only",
        partial(mistakes.char_rnn_loss, mean_over_time=True),
    ),
    Mistake(
        "the loss summed over the windows instead of averaged",
        "divide the loss (and dO) by N, the number of windows",
        partial(mistakes.char_rnn_loss, mean_over_batch=False),
    ),
    Mistake(
        "h_prev ignored (the window starts from zeros)",
        "the first step reads h_prev",
        partial(mistakes.char_rnn_loss, use_h_prev=False),
    ),
    Mistake(
        "h_prev returned as h_last",
        "h_last is the state after the last step, H[:, -1]",
        partial(mistakes.char_rnn_loss, h_last="prev"),
    ),
    Mistake(
        "dh_next not carried back",
        "at step t, dh = dO_t W_hq^T + dh_next, where dh_next = da W_hh^T of step t+1",
        partial(mistakes.char_rnn_loss, carry=False),
    ),
    Mistake(
        "dW_hq and db_q taken from the last step only",
        "the output layer is used at every step: sum H_t^T dO_t over the steps",
        partial(mistakes.char_rnn_loss, output_grad_last_only=True),
    ),
)


# --------------------------------------------------------------------------------------------
# Training with train_numpy


def training_cases(rng):
    V, train, val = _text()
    return [
        Case(
            (train[:TRAIN_SENT], 300, 32),
            {"val": val[:NUMPY_HELD_OUT]},
            f"train_numpy(train_data[:{TRAIN_SENT}], 300, hidden_size=32)",
        )
    ]


#: The loss per character on the first NUMPY_HELD_OUT held-out characters that train_numpy's
#: parameters must reach (the reference: 2.58 to 2.61 over seeds; a model that knows nothing:
#: ln 96 = 4.56; one that knows only how often each character comes: 3.02).
HELD_OUT_LOSS = 2.8


def _held_out(case, result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise judges.StopChecks("train_numpy should return (params, losses)")
    params = result[0]
    if not isinstance(params, dict) or set(params) != set(KEYS):
        raise judges.StopChecks("train_numpy returned params that are not a dict of the 5 arrays")
    arrays = {k: as_array(params[k]) for k in KEYS}
    if any(a is None or a.dtype.kind != "f" for a in arrays.values()):
        raise judges.StopChecks("train_numpy returned parameters that are not float arrays")
    if not all(np.all(np.isfinite(a)) for a in arrays.values()):
        return "training produced NaN or infinite parameters: check your gradients"
    val = case.extra["val"]
    try:
        loss, _, _ = numpy_rnn.char_rnn_loss(
            arrays, val[None, :-1], val[None, 1:], np.zeros((1, arrays["W_hh"].shape[0]))
        )
    except ValueError as err:
        return f"trained parameters of the wrong shapes ({err})"
    per_char = loss / (len(val) - 1)
    if per_char > HELD_OUT_LOSS:
        return i18n._(
            "trained with your char_rnn_loss, reaches a loss per character of {loss:.2f} on "
            "held-out text, above {limit:g} (the reference reaches about {reference:g}): if the "
            "loss does not go down, compare your gradients with numerical ones (Exercise 2)"
        ).format(loss=per_char, limit=HELD_OUT_LOSS, reference=2.6)
    return None


# --------------------------------------------------------------------------------------------
# sample


def sample_cases(rng):
    cases = []
    for V, H, n, temperature, scale in [
        (6, 5, 20, 1.0, 0.8),
        (6, 5, 20, 0.3, 0.8),
        (2, 1, 1, 1.0, 0.8),
        (7, 3, 0, 1.0, 0.8),
        (5, 4, 15, 2.0, 0.8),
        (9, 6, 30, 0.5, 0.8),
        (8, 5, 25, 1e-3, 0.15),
    ]:
        args = (
            _params(rng, V, H, scale),
            rng.standard_normal(H),
            int(rng.integers(V)),
            n,
            temperature,
            Rng(int(rng.integers(2**31))),
        )
        cases.append(Case(args, label=label(V=V, Dh=H, n=n, temperature=temperature)))
    return cases


def numpy_sample(params, h, seed_ix, n, temperature, rng):
    return numpy_rnn.sample(params, h, seed_ix, n, temperature, np.random.default_rng(rng.seed))


def torch_sample(params, h, seed_ix, n, temperature, rng):
    """The same draws, from probabilities computed by the reference's PyTorch CharRNN."""
    generator = np.random.default_rng(rng.seed)
    model = torch_rnn.char_rnn_from_numpy(params)
    state = torch.as_tensor(np.asarray(h, dtype=np.float64)).reshape(1, 1, -1)
    ix, out = int(seed_ix), []
    with torch.no_grad():
        for _ in range(int(n)):
            logits, state = model(torch.tensor([[ix]]), state)
            p = torch.softmax(logits[0, -1].double() / temperature, dim=-1).numpy()
            ix = int(generator.choice(len(p), p=p / p.sum()))
            out.append(ix)
    return np.array(out, dtype=np.int64)


def _sample_mistake(**slip):
    def wrong(params, h, seed_ix, n, temperature, rng):
        generator = np.random.default_rng(rng.seed)
        return mistakes.sample(params, h, seed_ix, n, temperature, generator, **slip)

    return wrong


SAMPLE_MISTAKES = (
    Mistake(
        "the seed character read at every step",
        "feed each sampled character back in as the next input",
        _sample_mistake(feed_back=False),
    ),
    Mistake(
        "the temperature ignored",
        "divide the scores by the temperature before the softmax",
        _sample_mistake(temper="ignore"),
    ),
    Mistake(
        "the scores multiplied by the temperature",
        "divide the scores by the temperature: softmax(o / temperature)",
        _sample_mistake(temper="multiply"),
    ),
    Mistake(
        "the state restarted from h at every step",
        "carry the state from one step to the next",
        _sample_mistake(carry=False),
    ),
    Mistake(
        "the most likely character taken instead of a draw",
        "draw with rng.choice(V, p=p), once per step",
        _sample_mistake(greedy=True),
    ),
)


# --------------------------------------------------------------------------------------------
# CharRNN in PyTorch: the grader's weights, loaded by name (the notebook lays them out)


class CharRNNReference(torch_rnn.CharRNN):
    """The reference CharRNN (one-hot inputs) with the exercise's constructor."""

    def __init__(self, vocab_size, hidden_size):
        super().__init__(vocab_size, hidden_size)


class IgnoresState(CharRNNReference):
    def forward(self, idx, h=None):
        return super().forward(idx, None)


class CharSoftmax(CharRNNReference):
    def forward(self, idx, h=None):
        logits, h_last = super().forward(idx, h)
        return torch.softmax(logits, dim=-1), h_last


class CharTimeFirst(CharRNNReference):
    def __init__(self, vocab_size, hidden_size):
        super().__init__(vocab_size, hidden_size)
        self.rnn.batch_first = False


CHAR_SPEC = mc.ModuleSpec(
    CharRNNReference,
    (Array("logits", ("N", "T", "V")), Array("h_last", ("layers", "N", "Dh"))),
    ("idx", "h"),
    "in __init__, create self.rnn = nn.RNN(vocab_size, hidden_size, batch_first=True) and "
    "self.head = nn.Linear(hidden_size, vocab_size), and no other layer with parameters",
)

CHAR_MISTAKES = (
    Mistake(
        "the initial state h ignored",
        "pass h to the nn.RNN as its initial state: self.rnn(x, h)",
        mc.wrong_module(CHAR_SPEC, IgnoresState),
    ),
    Mistake(
        "a softmax on the logits",
        "return the raw scores (logits): F.cross_entropy applies the softmax itself",
        mc.wrong_module(CHAR_SPEC, CharSoftmax),
    ),
    Mistake(
        "the RNN reading the batch axis as time",
        "create the nn.RNN with batch_first=True: idx is (N, T)",
        mc.wrong_module(CHAR_SPEC, CharTimeFirst),
    ),
)


def module_cases(rng):
    cases = []
    for N, T, V, H in [(2, 6, 7, 5), (1, 1, 2, 1), (1, 8, 5, 3), (4, 1, 6, 2)]:
        idx = rng.integers(0, V, (N, T))
        init = (V, H)
        weights = mc.default_weights(CHAR_SPEC, init, rng)
        h0 = rng.uniform(-1, 1, (1, N, H))
        k = T // 2
        states = [("from a given h", [idx, h0])]
        if k:
            # The state the reference reaches after idx[:, :k], carried into the rest.
            h_mid = mc.forward(CHAR_SPEC, init, weights, [idx[:, :k], None])[1]
            states.append(
                (f"on idx[:, {k}:] from the state after idx[:, :{k}]", [idx[:, k:], h_mid])
            )
        text = label(N=N, T=T, V=V, Dh=H)
        cases.append(mc.values_case(CHAR_SPEC, init, [idx, None], rng, text, states, weights))
    return cases


#: The held-out perplexity CharRNN must reach after the grader's 200 steps (the reference: 9.8 to
#: 10.5 over the grader's weights; counts of character pairs: 13.3; uniform: 96).
PERPLEXITY = 12.0
WINDOWS = 32


@functools.cache
def _training_windows(steps: int, length: int = 64) -> list:
    """Windows of the training text at random places, as the notebook's train_torch draws
    them. The same in every run: they feed the learner's training, they are not answers."""
    V, train, _ = _text()
    rng = np.random.default_rng(6)
    batches = []
    for _ in range(steps):
        starts = rng.integers(0, len(train) - length - 1, WINDOWS)
        x = np.stack([train[s : s + length] for s in starts]).astype(np.uint8)
        y = np.stack([train[s + 1 : s + length + 1] for s in starts]).astype(np.uint8)
        batches.append([[x], y])
    return batches


def perplexity_cases(rng):
    V, _, val = _text()
    return [
        mc.training_case(
            CHAR_SPEC,
            (V, 64),
            _training_windows(200),
            rng,
            loss="cross_entropy",
            lr=1e-2,
            label="trained 200 steps",
            extra={"val": val},
        )
    ]


def _perplexity(case, model):
    val = torch.as_tensor(case.extra["val"].astype(np.int64))
    logits, _ = model(val[None, :-1])
    return math.exp(F.cross_entropy(logits[0], val[1:]).item())


CHAR_PERPLEXITY = mc.Training(
    CHAR_SPEC,
    _perplexity,
    PERPLEXITY,
    "lower",
    "reaches a perplexity of {value:.1f} on held-out text after the grader's training, above "
    "{threshold:g}: the logits at step t must score the character at t + 1",
)


def build(folder):
    loss_refs = {"NumPy reference": numpy_loss, "PyTorch autograd": torch_loss}
    sample_refs = {"NumPy reference": numpy_sample, "PyTorch probabilities": torch_sample}
    return Assignment(
        name="06_char_rnn",
        notebook="char_rnn.ipynb",
        title="Exercise 6: a character-level language model",
        givens={
            "autograder.reference.char_data": (),
            "autograder.reference.numpy_rnn": ("char_rnn_init", "clip_grad_norm", "adagrad_step"),
        },
        tests=(
            Test(
                "test_char_rnn_loss",
                "char_rnn_loss",
                None,
                loss_cases,
                judges.references(LOSS, loss_refs, LOSS_MISTAKES),
                about="char_rnn_loss: the loss, all five gradients and h_last",
            ),
            Test(
                "test_numpy_char_rnn_learns",
                "train_numpy",
                None,
                training_cases,
                judges.properties([("held-out loss", _held_out)]),
                about="trained with your char_rnn_loss, the model predicts held-out text",
            ),
            Test(
                "test_sample",
                "sample",
                None,
                sample_cases,
                judges.references(
                    Array("samples", ("n",), kind="i"),
                    sample_refs,
                    SAMPLE_MISTAKES,
                    tol=Tolerance(rtol=0, atol=0),
                ),
                about="sample draws the reference's characters from the same generator",
            ),
            Test(
                "test_char_rnn_module_shapes",
                "CharRNN",
                None,
                module_cases,
                mc.values(CHAR_SPEC, CHAR_MISTAKES),
                kind="module",
                about="CharRNN, holding the grader's weights, gives the reference's logits and "
                "state, from any initial state, and its gradients",
            ),
            Test(
                "test_char_rnn_perplexity",
                "CharRNN",
                None,
                perplexity_cases,
                mc.trained(CHAR_PERPLEXITY),
                kind="module",
                about="CharRNN, trained by the grader, predicts held-out text",
            ),
            *choices.tests(folder / "char_rnn.ipynb", r"predict_\w+"),
        ),
    )
