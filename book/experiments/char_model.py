"""The experiments of the char-RNN chapter: corpus split, n-gram baselines, PyTorch training,
the shipped checkpoint, sampling and what single hidden units track.

The chapter, ``train_char_checkpoint.py`` and ``tests/test_book_claims_char_rnn.py`` all call
this module, so the numbers in the chapter and the claims tested come from one piece of code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from autograder.reference import char_data
from autograder.reference.torch_rnn import CharRNN

VALIDATION_SHARE = 0.1
CHECKPOINT = char_data.DATA_DIR / "char_rnn_python.npz"
#: The PyTorch run the chapter can afford during a book build (``train`` arguments and D_h).
BUILD = {"hidden": 128, "steps": 500, "batch": 32, "seq_length": 64, "lr": 3e-3}


# --------------------------------------------------------------------------------------------
# Corpus.


@dataclass(frozen=True)
class Corpus:
    text: str
    chars: list
    char_to_ix: dict
    train: np.ndarray  # (L_train,) int64
    val: np.ndarray  # (L_val,) int64

    @property
    def V(self) -> int:
        return len(self.chars)


def load_corpus(name: str = "python") -> Corpus:
    """The shipped text, its vocabulary, and the split: the first 90 % trains, the rest validates."""
    text = char_data.load_text(name)
    chars, char_to_ix = char_data.build_vocab(text)
    data = char_data.encode(text, char_to_ix)
    cut = int((1 - VALIDATION_SHARE) * len(data))
    return Corpus(text, chars, char_to_ix, data[:cut], data[cut:])


# --------------------------------------------------------------------------------------------
# n-gram baselines.


@dataclass(frozen=True)
class NGram:
    """Add-k smoothed n-gram model: P(x | c) = (count(c, x) + k) / (count(c) + k V), c = n - 1 chars."""

    order: int
    V: int
    k: float
    keys: np.ndarray  # sorted codes of the (context, next) pairs seen in training
    pair_counts: np.ndarray
    context_keys: np.ndarray  # sorted codes of the contexts seen
    context_counts: np.ndarray

    def log_probs(self, seq: np.ndarray) -> np.ndarray:
        """log P(seq[t] | seq[t-n+1 : t]) for t = n-1 .. len(seq)-1."""
        pairs, contexts = _codes(seq, self.order, self.V)
        pair_n = _lookup(self.keys, self.pair_counts, pairs)
        context_n = _lookup(self.context_keys, self.context_counts, contexts)
        return np.log(pair_n + self.k) - np.log(context_n + self.k * self.V)

    def perplexity(self, seq: np.ndarray) -> float:
        return float(np.exp(-self.log_probs(seq).mean()))


def _codes(seq: np.ndarray, order: int, V: int):
    """Integer codes of every (context, next) window of ``order`` characters, and of its context."""
    seq = np.asarray(seq, dtype=np.int64)
    n = len(seq) - order + 1
    pairs = np.zeros(n, dtype=np.int64)
    for i in range(order):
        pairs = pairs * V + seq[i : i + n]
    return pairs, pairs // V


def _lookup(keys: np.ndarray, counts: np.ndarray, codes: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.zeros(len(codes))
    i = np.clip(np.searchsorted(keys, codes), 0, len(keys) - 1)
    return np.where(keys[i] == codes, counts[i], 0).astype(float)


def fit_ngram(train: np.ndarray, order: int, V: int, k: float) -> NGram:
    """Count the n-grams of ``train``; order 1 is the unigram model (empty context)."""
    pairs, contexts = _codes(train, order, V)
    keys, pair_counts = np.unique(pairs, return_counts=True)
    context_keys, context_counts = np.unique(contexts, return_counts=True)
    return NGram(order, V, k, keys, pair_counts, context_keys, context_counts)


K_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def tuned_ngram(train: np.ndarray, order: int, V: int, ks=K_GRID) -> NGram:
    """Choose k on the last tenth of the training text (counts from the rest), then refit on all."""
    cut = int(0.9 * len(train))
    dev = [fit_ngram(train[:cut], order, V, k).perplexity(train[cut:]) for k in ks]
    return fit_ngram(train, order, V, ks[int(np.argmin(dev))])


# --------------------------------------------------------------------------------------------
# The PyTorch model: training, evaluation, the checkpoint.


def stream_batches(data: torch.Tensor, batch: int, seq_length: int):
    """Yield (inputs, targets, reset) windows of ``batch`` parallel streams, forever.

    The training text is cut into ``batch`` equal parts, one stream each; every call moves all
    streams on by ``seq_length``. ``reset`` is True when the streams start over from their starts.
    """
    part = (len(data) - 1) // batch
    starts = torch.arange(batch) * part
    offset = 0
    while True:
        if offset + seq_length > part:
            offset = 0
        idx = starts[:, None] + offset + torch.arange(seq_length)[None]
        yield data[idx], data[idx + 1], offset == 0
        offset += seq_length


def new_model(V: int, hidden: int, seed: int) -> CharRNN:
    """A one-hot CharRNN with PyTorch's initialisation under ``seed`` and a single bias b_h.

    ``nn.RNN`` has two biases; the second (``bias_hh``) is fixed at zero so that the model has
    exactly the parameters of the course's RNN (W_xh = weight_ihᵀ, W_hh = weight_hhᵀ).
    """
    torch.manual_seed(seed)
    model = CharRNN(V, hidden)
    with torch.no_grad():
        model.rnn.bias_hh_l0.zero_()
    model.rnn.bias_hh_l0.requires_grad_(False)
    return model


def train(
    model: CharRNN,
    train_data: np.ndarray,
    *,
    steps: int,
    batch: int = 32,
    seq_length: int = 100,
    lr: float = 2e-3,
    clip_norm: float = 1.0,
    schedule_steps: int | None = None,
    on_step=None,
):
    """Adam with a cosine-decaying rate, gradient clipping by norm, truncated BPTT by windows.

    The hidden state of each stream is carried from window to window, detached, and reset when
    the streams start over. The rate decays from ``lr`` to ``lr / 20`` over ``schedule_steps``
    updates (default ``steps``); a run may stop before the end of its schedule.
    ``on_step(step, loss, clipped_so_far)`` is called after every update.

    Returns:
        losses: (steps,) mean loss per character of each window, before its update.
        clipped: how many updates clipping shortened.
    """
    V = model.vocab_size
    data = torch.from_numpy(np.asarray(train_data, dtype=np.int64))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, schedule_steps or steps, lr / 20
    )
    h, clipped, losses = None, 0, np.empty(steps)
    batches = stream_batches(data, batch, seq_length)
    for step in range(1, steps + 1):
        inputs, targets, reset = next(batches)
        if reset:
            h = None
        logits, h = model(inputs, h)
        loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(trainable, clip_norm)
        clipped += int(norm > clip_norm)
        optimizer.step()
        schedule.step()
        h = h.detach()
        losses[step - 1] = loss.item()
        if on_step is not None:
            on_step(step, losses[step - 1], clipped)
    return losses, clipped


@torch.no_grad()
def hidden_states(model: CharRNN, seq: np.ndarray):
    """Run the model over ``seq`` from a zero state. Returns H (L, Dh) and the logits (L, V)."""
    idx = torch.from_numpy(np.asarray(seq, dtype=np.int64))[None]
    H, _ = model.rnn(model.embed(idx))
    return H[0].numpy(), model.head(H)[0]


def perplexity(model: CharRNN, seq: np.ndarray) -> float:
    """exp of the mean cross-entropy of seq[1:] given the prefixes, one pass from a zero state."""
    _, logits = hidden_states(model, seq[:-1])
    target = torch.from_numpy(np.asarray(seq[1:], dtype=np.int64))
    return float(torch.exp(F.cross_entropy(logits.double(), target)))


WEIGHTS = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")


def save_checkpoint(model: CharRNN, chars, path: Path, settings: dict) -> None:
    """Write the weights in the course's notation as float16, the vocabulary and ``settings``.

    A compressed .npz of plain arrays: no pickle, so loading runs no code.
    """
    rnn = model.rnn
    arrays = {
        "W_xh": rnn.weight_ih_l0.detach().T,  # PyTorch's weight_ih is W_xh transposed
        "W_hh": rnn.weight_hh_l0.detach().T,  # and weight_hh is W_hh transposed
        "b_h": (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach(),
        "W_hq": model.head.weight.detach().T,
        "b_q": model.head.bias.detach(),
    }
    arrays = {k: v.numpy().astype(np.float16) for k, v in arrays.items()}
    meta = {k: np.asarray(v) for k, v in settings.items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, chars=np.array(list(chars)), **arrays, **meta)
    tmp.replace(path)


def load_checkpoint(path: Path = CHECKPOINT):
    """The model (float32 CharRNN), its vocabulary, and the training settings stored with it."""
    with np.load(path, allow_pickle=False) as f:
        chars = [str(c) for c in f["chars"]]
        weights = {k: torch.from_numpy(f[k].astype(np.float32)) for k in WEIGHTS}
        settings = {k: f[k].item() for k in f.files if k not in WEIGHTS and k != "chars"}
    model = CharRNN(len(chars), weights["W_hh"].shape[0])
    with torch.no_grad():
        model.rnn.weight_ih_l0.copy_(weights["W_xh"].T)
        model.rnn.weight_hh_l0.copy_(weights["W_hh"].T)
        model.rnn.bias_ih_l0.copy_(weights["b_h"])
        model.rnn.bias_hh_l0.zero_()
        model.head.weight.copy_(weights["W_hq"].T)
        model.head.bias.copy_(weights["b_q"])
    model.eval()
    return model, chars, settings


def sample(model: CharRNN, chars, prompt: str, n: int, temperature: float, seed: int) -> str:
    """Read ``prompt``, then draw ``n`` characters at ``temperature``; returns prompt + sample."""
    char_to_ix = {c: i for i, c in enumerate(chars)}
    idx = torch.tensor([[char_to_ix[c] for c in prompt]])
    h = None
    if len(prompt) > 1:
        with torch.no_grad():
            _, h = model(idx[:, :-1])
    generator = torch.Generator().manual_seed(seed)
    out = model.sample(int(idx[0, -1]), n, temperature=temperature, h=h, generator=generator)
    return prompt + "".join(chars[i] for i in out)


# --------------------------------------------------------------------------------------------
# What single units track.


def python_features(text: str) -> dict[str, np.ndarray]:
    """Per character of ``text``, 0/1 indicators of where it stands in Python source.

    A small scanner (no parser): strings in single, double and triple quotes with backslash
    escapes, comments from ``#`` to the end of the line, and the depth of (), [] and {} outside
    strings and comments. The text may start in the middle of a file, so the first lines can be
    misread; that noise is the same for every unit compared.

    Returns:
        "in a string", "in a comment", "inside brackets": each (len(text),) float arrays of 0/1.
    """
    n = len(text)
    string, comment, brackets = np.zeros(n), np.zeros(n), np.zeros(n)
    quote, depth, i = None, 0, 0
    while i < n:
        ch, j = text[i], i + 1  # j: where the next token starts
        if quote is not None:
            if ch == "\\":
                j = i + 2
            elif text.startswith(quote, i):
                j, quote = i + len(quote), None
            elif ch == "\n" and len(quote) == 1:
                quote = None  # an unterminated one-line string: give up at the line end
            string[i:j] = 1
        elif ch == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            comment[i:j] = 1
        elif ch in "'\"":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            j = i + len(quote)
            string[i:j] = 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        brackets[i:j] = (
            depth > 0
        )  # after this token: an opening bracket is inside, a closing one not
        i = j
    return {"in a string": string, "in a comment": comment, "inside brackets": brackets}


def best_units(H: np.ndarray, features: dict[str, np.ndarray]) -> dict[str, tuple[int, float]]:
    """For each feature, the hidden unit whose activation correlates most with it (in absolute value).

    Returns:
        feature name -> (unit index, Pearson correlation of that unit with the feature).
    """
    Hc = (H - H.mean(axis=0)) / (H.std(axis=0) + 1e-12)
    found = {}
    for name, f in features.items():
        fc = (f - f.mean()) / (f.std() + 1e-12)
        corr = Hc.T @ fc / len(f)
        unit = int(np.argmax(np.abs(corr)))
        found[name] = (unit, float(corr[unit]))
    return found
