# Source of solutions/04_sequence_types/sequence_types.ipynb (see solutions/build_notebooks.py).
# ruff: noqa: E402

# %% [markdown]
# # Exercise 4: four shapes of recurrent model, in PyTorch
#
# | | |
# |---|---|
# | **Follows** | chapter 6, [Types of RNN](../../book/chapters/06_rnn_types.ipynb) |
# | **Time** | about 2 hours |
# | **Prerequisites** | [Exercise 1](../01_rnn_cell/rnn_cell.ipynb) (the RNN cell); PyTorch's `nn.Module`, `nn.RNN` and `nn.Linear` |
# | **What you will build** | the four shapes of recurrent model as PyTorch modules (many to one, many to many aligned, one to many, encoder–decoder (编码器-解码器)), each trained on a small task in seconds, and an experiment on how sequence (序列) length hurts a plain RNN |
#
# **After this exercise you can**
#
# - build each of the four classic arrangements of an RNN as a PyTorch `nn.Module`:
#   **one to many** (一对多: generate a sequence from one vector), **many to one** (多对一:
#   classify a whole sequence), **many to many, aligned** (多对多（同步）: one output per input
#   step) and **encoder–decoder** (编码器-解码器: read one sequence, write another of a
#   different length);
# - pick, for each, which hidden states (隐藏状态) feed the output layer (输出层);
# - train each one on a small synthetic task in a few seconds on a CPU.
#
# Each technical term comes with its Chinese name where it first appears; all of them are in
# the course's [glossary](../../book/glossary.md) (术语表).
#
# **How to work.** Write the four classes below, each in the cell that contains
# `raise NotImplementedError(...)`. Each class has a shape test and a training test: the
# training test trains a fresh model with the `train` function given below and checks a
# stated target. Hidden tests try other sizes, including a batch of one sequence and sequences
# of one step.
#
# Use PyTorch's own layers: `nn.RNN(input_size, hidden_size, batch_first=True)` runs a whole
# sequence and returns `(H, h_last)` with `H` of shape $(N, T, Dh)$ and `h_last` of shape
# $(1, N, Dh)$ (one layer, one direction); `nn.RNNCell` runs a single step; `nn.Linear` is the
# output layer $O_t = H_t W_{hq} + b_q$; `nn.Embedding` turns token indices into vectors.
# Everything is **batch first** (批量维在前).
#
# **How the grader tests your classes.** The weights of a trained network are random, so
# there is no single right output, unless everyone holds the same weights. The grader
# therefore builds your class, **loads its own weights into it by name**, and compares your
# outputs, your gradients and a few steps of SGD with those of its reference model. For that,
# each class below must have exactly the layers its table lists, under those attribute names
# (the names are those of `model.state_dict()`; PyTorch stores `weight_ih` $= W_{xh}^\top$ and
# `weight_hh` $= W_{hh}^\top$, and a second bias `bias_hh`). Your `forward` is free: any code
# that computes the right values with these layers passes.

# %% [code] tags=hide-input
# Course setup: make the course package `autograder` importable. In a checkout of the
# repository it is imported from there; on Colab, or any machine without it, it is first
# installed with pip from https://github.com/open-rnn-course/rnn-course
# Where it already imports, this cell changes nothing.
import importlib.util
import subprocess
import sys
from pathlib import Path

for _root in (Path.cwd(), *Path.cwd().parents):
    if (_root / "autograder" / "__init__.py").is_file():
        for _path in (str(_root / "book"), str(_root)):
            if _path not in sys.path:
                sys.path.insert(0, _path)
        break
if importlib.util.find_spec("autograder") is None:
    _spec = "rnn-course @ git+https://github.com/open-rnn-course/rnn-course@main"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", _spec], check=True)

# %% [setup] id=setup_imports
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autograder.notebook_checks import (
    CheckFailure,
    check_array,
    check_at_least,
    check_at_most,
    check_choice,
)

torch.set_num_threads(1)  # models this small train fastest on one thread


def train(model, make_batch, compute_loss, steps, lr=1e-2, batch_size=64, seed=0):
    """Train `model` with Adam on fresh synthetic batches; return the losses.

    Args:
        model: the nn.Module to train (in place).
        make_batch: function (batch_size, generator) -> tuple of tensors.
        compute_loss: function (model, *batch) -> scalar loss tensor.
        steps: number of updates; lr: Adam's learning rate; seed: seed of the data.

    Returns:
        list of the losses, one per step.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = compute_loss(model, *make_batch(batch_size, generator))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # see Exercise 5
        optimizer.step()
        losses.append(loss.item())
    return losses


def check_module(name, model):
    if not isinstance(model, nn.Module):
        raise CheckFailure(f"{name} must be an nn.Module, got {type(model).__name__}.")
    if not list(model.parameters()):
        raise CheckFailure(
            f"{name} has no parameters: create its layers in __init__ as attributes "
            "(self.rnn = nn.RNN(...)), after calling super().__init__()."
        )


# %% [markdown]
# ## 1. Many to one: classify a sequence
#
# **Task.** Each input is a sequence of $T = 12$ random numbers; the label is 1 if their sum is
# positive, 0 otherwise. The network must accumulate the whole sequence in its state.
#
# **Model.** Run an `nn.RNN` over the sequence and feed only its **last** hidden state to a
# linear layer that produces one score (a logit) per class.
#
# | attribute | layer | parameters (`state_dict` keys and shapes) |
# |---|---|---|
# | `self.rnn` | `nn.RNN(input_size, hidden_size, batch_first=True)` | `rnn.weight_ih_l0` $(D_h, D)$, `rnn.weight_hh_l0` $(D_h, D_h)$, `rnn.bias_ih_l0` $(D_h,)$, `rnn.bias_hh_l0` $(D_h,)$ |
# | `self.head` | `nn.Linear(hidden_size, num_classes)` | `head.weight` $(C, D_h)$, `head.bias` $(C,)$ |


# %% [setup] id=setup_sum_task
def sum_sign_batch(batch_size, generator, T=12):
    """X (N, T, 1) standard normal; y (N,) = 1 where the sequence's sum is positive."""
    X = torch.randn(batch_size, T, 1, generator=generator)
    return X, (X.sum(dim=(1, 2)) > 0).long()


def classification_loss(model, X, y):
    return F.cross_entropy(model(X), y)


def sequence_accuracy(model, seed):
    X, y = sum_sign_batch(2000, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return (model(X).argmax(dim=-1) == y).float().mean().item()


# %% [answer] id=many_to_one_impl
class ManyToOne(nn.Module):
    """Many to one: an RNN reads the sequence; a linear layer classifies its last state.

    Args:
        input_size: D, the size of each input vector.
        hidden_size: Dh.
        num_classes: C.
    """

    def __init__(self, input_size, hidden_size, num_classes):
        super().__init__()
        # self.rnn: an nn.RNN (batch_first=True); self.head: an nn.Linear from H to C.
        ### BEGIN SOLUTION
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)
        ### END SOLUTION

    def forward(self, X):
        """X: (N, T, D) float tensor. Returns logits (N, C)."""
        # Which of the RNN's states has read the whole sequence?
        ### BEGIN SOLUTION
        H, _ = self.rnn(X)
        return self.head(H[:, -1])
        ### END SOLUTION


# %% [test] id=test_many_to_one_shape points=1
torch.manual_seed(0)
model = ManyToOne(input_size=3, hidden_size=5, num_classes=4)
check_module("ManyToOne(3, 5, 4)", model)
check_array(
    "ManyToOne(3, 5, 4)(X) for X of shape (2, 7, 3)",
    model(torch.randn(2, 7, 3)),
    np.zeros((2, 4)),
    axes=("N", "C"),
    atol=np.inf,
    hint="one row of C logits per sequence: use the last state only, H[:, -1].",
)
### BEGIN HIDDEN TESTS
for N, T, D, H, C in [(1, 1, 1, 1, 2), (1, 9, 2, 3, 3), (5, 1, 4, 2, 6)]:
    model = ManyToOne(D, H, C)
    check_module(f"ManyToOne({D}, {H}, {C})", model)
    check_array(
        f"ManyToOne({D}, {H}, {C}) on X of shape ({N}, {T}, {D})",
        model(torch.randn(N, T, D)),
        np.zeros((N, C)),
        atol=np.inf,
    )
### END HIDDEN TESTS
print("✓ ManyToOne returns (N, C) logits")

# %% [test] id=test_many_to_one_trains points=2
torch.manual_seed(0)
model = ManyToOne(input_size=1, hidden_size=32, num_classes=2)
losses = train(model, sum_sign_batch, classification_loss, steps=300)
accuracy = sequence_accuracy(model, seed=1)
print(
    f"loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f}, accuracy on new sequences {accuracy:.1%}"
)
check_at_least(
    "ManyToOne's accuracy on the sum-sign task",
    accuracy,
    0.90,
    hint="the prediction must come from the state after the *last* step, which has read everything.",
)
### BEGIN HIDDEN TESTS
check_at_least(
    "ManyToOne's accuracy on other sequences", sequence_accuracy(model, seed=12345), 0.88
)
### END HIDDEN TESTS
print("✓ ManyToOne reaches 90% accuracy")

# %% [markdown]
# ## 2. Many to many, aligned: tag every step
#
# **Task.** Tag each step of a sequence of random numbers with 1 if the number went **up**
# ($x_t > x_{t-1}$), 0 otherwise (the first step, which has no predecessor, is tagged 0). Each
# tag depends on the current input and on the one before: the state must remember one step.
#
# **Model.** The same `nn.RNN`, but now **every** hidden state goes through the linear layer:
# `nn.Linear` applies to the last axis, so it maps $(N, T, Dh)$ to $(N, T, C)$ in one call. The
# layers are those of `ManyToOne` (with `num_tags` in place of `num_classes`): `self.rnn`, then
# `self.head`, with the same parameters.


# %% [setup] id=setup_rise_task
def rise_batch(batch_size, generator, T=15):
    """X (N, T, 1) standard normal; tags (N, T) = 1 where X went up since the previous step."""
    X = torch.randn(batch_size, T, 1, generator=generator)
    tags = torch.zeros(batch_size, T, dtype=torch.long)
    tags[:, 1:] = (X[:, 1:, 0] > X[:, :-1, 0]).long()
    return X, tags


def tagging_loss(model, X, tags):
    logits = model(X)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tags.reshape(-1))


def tagging_accuracy(model, seed):
    X, tags = rise_batch(2000, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return (model(X).argmax(dim=-1) == tags).float().mean().item()


# %% [answer] id=many_to_many_aligned_impl
class ManyToManyAligned(nn.Module):
    """Many to many, aligned: one output (a tag) per input step.

    Args:
        input_size: D.
        hidden_size: Dh.
        num_tags: C.
    """

    def __init__(self, input_size, hidden_size, num_tags):
        super().__init__()
        # self.rnn: an nn.RNN (batch_first=True); self.head: an nn.Linear from H to C.
        ### BEGIN SOLUTION
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_tags)
        ### END SOLUTION

    def forward(self, X):
        """X: (N, T, D) float tensor. Returns logits (N, T, C), one row of C per step."""
        # Which states feed the linear layer this time?
        ### BEGIN SOLUTION
        H, _ = self.rnn(X)
        return self.head(H)
        ### END SOLUTION


# %% [test] id=test_many_to_many_aligned_shape points=1
torch.manual_seed(0)
model = ManyToManyAligned(input_size=3, hidden_size=5, num_tags=4)
check_module("ManyToManyAligned(3, 5, 4)", model)
check_array(
    "ManyToManyAligned(3, 5, 4)(X) for X of shape (2, 7, 3)",
    model(torch.randn(2, 7, 3)),
    np.zeros((2, 7, 4)),
    axes=("N", "T", "C"),
    atol=np.inf,
    hint="one row of C logits per sequence and per step: apply the linear layer to all of H.",
)
### BEGIN HIDDEN TESTS
for N, T, D, H, C in [(1, 1, 1, 1, 2), (1, 9, 2, 3, 3), (5, 1, 4, 2, 6)]:
    model = ManyToManyAligned(D, H, C)
    check_module(f"ManyToManyAligned({D}, {H}, {C})", model)
    check_array(
        f"ManyToManyAligned({D}, {H}, {C}) on X of shape ({N}, {T}, {D})",
        model(torch.randn(N, T, D)),
        np.zeros((N, T, C)),
        atol=np.inf,
    )
### END HIDDEN TESTS
print("✓ ManyToManyAligned returns (N, T, C) logits")

# %% [test] id=test_many_to_many_aligned_trains points=2
torch.manual_seed(0)
model = ManyToManyAligned(input_size=1, hidden_size=32, num_tags=2)
losses = train(model, rise_batch, tagging_loss, steps=300)
accuracy = tagging_accuracy(model, seed=1)
print(f"loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f}, accuracy per step {accuracy:.1%}")
check_at_least(
    "ManyToManyAligned's accuracy per step on the went-up task",
    accuracy,
    0.90,
    hint="each step's tag must come from that step's hidden state, H[:, t].",
)
### BEGIN HIDDEN TESTS
check_at_least(
    "ManyToManyAligned's accuracy on other sequences", tagging_accuracy(model, seed=12345), 0.88
)
### END HIDDEN TESTS
print("✓ ManyToManyAligned reaches 90% accuracy per step")

# %% [markdown]
# ## 3. One to many: generate a sequence from one vector
#
# **Task.** From a start value $a$ and a step $d$, given as the vector $x = (a, d)$, generate
# the arithmetic sequence $a, a + d, a + 2d, \dots$ of `steps` = 8 numbers.
#
# **Model.** The input arrives once, so it sets the initial state:
# $h_0 = \tanh(x W_{init} + b_{init})$ (an `nn.Linear` followed by `torch.tanh`). Then an
# `nn.RNNCell` runs `steps` times; at each step its input is the network's **own previous
# output** (zeros at the first step) and a linear layer reads out the next element. Feeding
# outputs back in is how a one-to-many (一对多) network generates: it sees what it has said so far.
#
# Note the loop: an `nn.RNNCell` runs one step, `cell(input, h)`, and you collect the outputs in
# a list, then `torch.stack(outputs, dim=1)` makes the $(N, \text{steps}, Q)$ tensor.
#
# | attribute | layer | parameters (`state_dict` keys and shapes) |
# |---|---|---|
# | `self.init_state` | `nn.Linear(input_size, hidden_size)` | `init_state.weight` $(D_h, D)$, `init_state.bias` $(D_h,)$ |
# | `self.cell` | `nn.RNNCell(output_size, hidden_size)` | `cell.weight_ih` $(D_h, Q)$, `cell.weight_hh` $(D_h, D_h)$, `cell.bias_ih` $(D_h,)$, `cell.bias_hh` $(D_h,)$ |
# | `self.head` | `nn.Linear(hidden_size, output_size)` | `head.weight` $(Q, D_h)$, `head.bias` $(Q,)$ |

# %% [setup] id=setup_arithmetic_task
STEPS = 8


def arithmetic_batch(batch_size, generator, steps=STEPS):
    """x (N, 2) = (a, d) with a in [-1, 1], d in [-0.3, 0.3]; Y (N, steps, 1) = a + t d."""
    a = 2 * torch.rand(batch_size, 1, generator=generator) - 1
    d = 0.3 * (2 * torch.rand(batch_size, 1, generator=generator) - 1)
    Y = a + d * torch.arange(steps)
    return torch.cat([a, d], dim=1), Y[..., None]


def regression_loss(model, x, Y):
    return F.mse_loss(model(x), Y)


def generation_error(model, seed):
    x, Y = arithmetic_batch(2000, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return (model(x) - Y).abs().mean().item()


# %% [answer] id=one_to_many_impl
class OneToMany(nn.Module):
    """One to many: one input vector sets the initial state; the network then generates
    `steps` outputs, reading its own previous output at each step.

    Args:
        input_size: D, the size of the input vector.
        hidden_size: Dh.
        output_size: Q, the size of each generated element.
        steps: T, how many elements to generate.
    """

    def __init__(self, input_size, hidden_size, output_size, steps):
        super().__init__()
        # Store steps; create self.init_state, an nn.Linear (D -> H) for the initial state,
        # self.cell, an nn.RNNCell reading Q-sized inputs, and self.head, an nn.Linear (H -> Q).
        ### BEGIN SOLUTION
        self.steps = steps
        self.init_state = nn.Linear(input_size, hidden_size)
        self.cell = nn.RNNCell(output_size, hidden_size)
        self.head = nn.Linear(hidden_size, output_size)
        ### END SOLUTION

    def forward(self, x):
        """x: (N, D) float tensor. Returns the generated sequence (N, steps, Q)."""
        # The Model paragraph above says where x enters and what each step reads.
        ### BEGIN SOLUTION
        h = torch.tanh(self.init_state(x))
        y = x.new_zeros(x.shape[0], self.head.out_features)
        outputs = []
        for _ in range(self.steps):
            h = self.cell(y, h)
            y = self.head(h)
            outputs.append(y)
        return torch.stack(outputs, dim=1)
        ### END SOLUTION


# %% [test] id=test_one_to_many_shape points=1
torch.manual_seed(0)
model = OneToMany(input_size=3, hidden_size=5, output_size=2, steps=6)
check_module("OneToMany(3, 5, 2, steps=6)", model)
check_array(
    "OneToMany(3, 5, 2, steps=6)(x) for x of shape (4, 3)",
    model(torch.randn(4, 3)),
    np.zeros((4, 6, 2)),
    axes=("N", "T", "Q"),
    atol=np.inf,
    hint="collect one (N, Q) output per step and stack them on dim=1.",
)
### BEGIN HIDDEN TESTS
for N, D, H, Q, T in [(1, 1, 1, 1, 1), (1, 4, 3, 2, 9), (5, 2, 6, 3, 1)]:
    model = OneToMany(D, H, Q, T)
    check_module(f"OneToMany({D}, {H}, {Q}, {T})", model)
    check_array(
        f"OneToMany({D}, {H}, {Q}, steps={T}) on x of shape ({N}, {D})",
        model(torch.randn(N, D)),
        np.zeros((N, T, Q)),
        atol=np.inf,
    )
### END HIDDEN TESTS
print("✓ OneToMany returns (N, steps, Q) sequences")

# %% [test] id=test_one_to_many_trains points=2
torch.manual_seed(0)
model = OneToMany(input_size=2, hidden_size=32, output_size=1, steps=STEPS)
losses = train(model, arithmetic_batch, regression_loss, steps=600)
error = generation_error(model, seed=1)
print(f"loss {losses[0]:.4f} -> {np.mean(losses[-20:]):.4f}, mean absolute error {error:.4f}")
check_at_most(
    "OneToMany's mean absolute error on the arithmetic task",
    error,
    0.1,
    hint="the input must set the initial state, and each step must read the previous output.",
)
### BEGIN HIDDEN TESTS
check_at_most("OneToMany's error on other start values", generation_error(model, seed=12345), 0.12)
### END HIDDEN TESTS
with torch.no_grad():
    print("a = 0.5, d = -0.2 ->", model(torch.tensor([[0.5, -0.2]]))[0, :, 0].numpy().round(2))
print("✓ OneToMany generates arithmetic sequences within 0.1")

# %% [markdown]
# ## 4. Encoder–decoder: a sequence in, a different sequence out
#
# **Task.** Reverse a sequence of 2 to 6 digits: `3 1 4` → `4 1 3`. Inputs and outputs are
# *tokens* (integers), and sequences in a batch have different lengths, so the data uses three
# special tokens:
#
# - `PAD` fills the unused places. The source is padded on the **left**, so that the encoder
#   reads the padding first and ends on the last real digit.
# - `EOS` ("end of sequence") ends every target: the decoder says when it is done.
# - `BOS` ("beginning of sequence") is the decoder's first input.
#
# **Model.** An *encoder* RNN reads the source; its final state, which summarises the whole
# source, becomes the initial state of a *decoder* RNN that writes the target. During training
# the decoder reads the true previous target token at each step (`tgt_in`, the target shifted
# right behind `BOS`): this is *teacher forcing* (教师强制). At test time, `greedy_decode` below feeds the
# decoder its own predictions instead.
#
# Use two `nn.Embedding(vocab, hidden_size)` (source and target tokens to vectors), two
# `nn.RNN(hidden_size, hidden_size, batch_first=True)` and an `nn.Linear(hidden_size,
# tgt_vocab)`. `nn.RNN` accepts an initial state as its second argument, shaped $(1, N, Dh)$,
# exactly what the encoder returns as its final state.
#
# | attribute | layer | parameters (`state_dict` keys and shapes) |
# |---|---|---|
# | `self.src_embed` | `nn.Embedding(src_vocab, hidden_size)` | `src_embed.weight` $(\text{src\_vocab}, D_h)$ |
# | `self.tgt_embed` | `nn.Embedding(tgt_vocab, hidden_size)` | `tgt_embed.weight` $(\text{tgt\_vocab}, D_h)$ |
# | `self.encoder` | `nn.RNN(hidden_size, hidden_size, batch_first=True)` | `encoder.weight_ih_l0`, `encoder.weight_hh_l0` $(D_h, D_h)$, `encoder.bias_ih_l0`, `encoder.bias_hh_l0` $(D_h,)$ |
# | `self.decoder` | `nn.RNN(hidden_size, hidden_size, batch_first=True)` | `decoder.weight_ih_l0`, `decoder.weight_hh_l0` $(D_h, D_h)$, `decoder.bias_ih_l0`, `decoder.bias_hh_l0` $(D_h,)$ |
# | `self.head` | `nn.Linear(hidden_size, tgt_vocab)` | `head.weight` $(\text{tgt\_vocab}, D_h)$, `head.bias` $(\text{tgt\_vocab},)$ |

# %% [setup] id=setup_reverse_task
PAD, BOS, EOS = 10, 11, 12
VOCAB = 13  # the digits 0-9 and the three special tokens
MAX_DIGITS = 6


def reverse_batch(batch_size, generator, min_digits=2, max_digits=MAX_DIGITS):
    """src (N, max_digits), left-padded; tgt_in (N, max_digits+1) = BOS + tgt[:, :-1];
    tgt (N, max_digits+1) = the reversed digits, EOS, then PAD."""
    lengths = torch.randint(min_digits, max_digits + 1, (batch_size,), generator=generator)
    digits = torch.randint(0, 10, (batch_size, max_digits), generator=generator)
    src = torch.full((batch_size, max_digits), PAD)
    tgt = torch.full((batch_size, max_digits + 1), PAD)
    for i, length in enumerate(lengths.tolist()):
        src[i, max_digits - length :] = digits[i, :length]
        tgt[i, :length] = digits[i, :length].flip(0)
        tgt[i, length] = EOS
    tgt_in = torch.cat([torch.full((batch_size, 1), BOS), tgt[:, :-1]], dim=1)
    return src, tgt_in, tgt


def seq2seq_loss(model, src, tgt_in, tgt):
    logits = model(src, tgt_in)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=PAD)


@torch.no_grad()
def greedy_decode(model, src, max_len=MAX_DIGITS + 1):
    """Decode by feeding back the most likely token. Returns (N, max_len) tokens (no BOS)."""
    tokens = torch.full((src.shape[0], 1), BOS)
    for _ in range(max_len):
        next_token = model(src, tokens)[:, -1].argmax(dim=-1, keepdim=True)
        tokens = torch.cat([tokens, next_token], dim=1)
    return tokens[:, 1:]


def exact_match(model, seed, batch_size=1000):
    """Fraction of sources whose reversal is decoded exactly, up to and including EOS."""
    src, _, tgt = reverse_batch(batch_size, torch.Generator().manual_seed(seed))
    decoded = greedy_decode(model, src).tolist()
    hits = 0
    for prediction, target in zip(decoded, tgt.tolist(), strict=True):
        end = target.index(EOS) + 1
        hits += prediction[:end] == target[:end]
    return hits / batch_size


def show(tokens):
    """Tokens as text, up to and including the first EOS."""
    if EOS in tokens:
        tokens = tokens[: tokens.index(EOS) + 1]
    return " ".join({PAD: "_", BOS: "<bos>", EOS: "<eos>"}.get(t, str(t)) for t in tokens)


src, tgt_in, tgt = reverse_batch(3, torch.Generator().manual_seed(0))
for i in range(3):
    print(
        f"src {show(src[i].tolist()):16s} tgt_in {show(tgt_in[i].tolist()):24s} tgt {show(tgt[i].tolist())}"
    )


# %% [answer] id=encoder_decoder_impl
class EncoderDecoder(nn.Module):
    """Encoder-decoder: an encoder RNN reads the source tokens; its final state is the initial
    state of a decoder RNN that outputs the target tokens' logits.

    Args:
        src_vocab: number of distinct source tokens.
        tgt_vocab: number of distinct target tokens.
        hidden_size: H, also the size of the token embeddings.
    """

    def __init__(self, src_vocab, tgt_vocab, hidden_size):
        super().__init__()
        # self.src_embed and self.tgt_embed (src_vocab -> H, tgt_vocab -> H), self.encoder and
        # self.decoder, two nn.RNN (H -> H, batch_first=True), self.head (H -> tgt_vocab).
        ### BEGIN SOLUTION
        self.src_embed = nn.Embedding(src_vocab, hidden_size)
        self.tgt_embed = nn.Embedding(tgt_vocab, hidden_size)
        self.encoder = nn.RNN(hidden_size, hidden_size, batch_first=True)
        self.decoder = nn.RNN(hidden_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, tgt_vocab)
        ### END SOLUTION

    def forward(self, src, tgt_in):
        """src: (N, S) int64 source tokens; tgt_in: (N, T) int64 decoder inputs.
        Returns logits (N, T, tgt_vocab): at step t, the scores of the target token t."""
        # What the encoder hands the decoder is the point of the model (see Model above).
        ### BEGIN SOLUTION
        _, h = self.encoder(self.src_embed(src))
        H, _ = self.decoder(self.tgt_embed(tgt_in), h)
        return self.head(H)
        ### END SOLUTION


# %% [test] id=test_encoder_decoder_shape points=1
torch.manual_seed(0)
model = EncoderDecoder(src_vocab=7, tgt_vocab=9, hidden_size=5)
check_module("EncoderDecoder(7, 9, 5)", model)
src = torch.randint(0, 7, (2, 4))
tgt_in = torch.randint(0, 9, (2, 6))
logits = model(src, tgt_in)
check_array(
    "EncoderDecoder(7, 9, 5)(src, tgt_in) for src (2, 4) and tgt_in (2, 6)",
    logits,
    np.zeros((2, 6, 9)),
    axes=("N", "T", "tgt_vocab"),
    atol=np.inf,
    hint="one row of tgt_vocab logits per decoder step: the length comes from tgt_in, not src.",
)
other_src = torch.randint(0, 7, (2, 4))
if torch.allclose(model(other_src, tgt_in), logits):
    raise CheckFailure(
        "EncoderDecoder's output does not depend on src: pass the encoder's final state to the "
        "decoder as its initial state, decoder(embedded_tgt_in, h)."
    )
### BEGIN HIDDEN TESTS
for N, S, T, sv, tv, H in [(1, 1, 1, 2, 3, 1), (1, 5, 2, 4, 6, 3), (3, 2, 7, 5, 2, 4)]:
    model = EncoderDecoder(sv, tv, H)
    check_module(f"EncoderDecoder({sv}, {tv}, {H})", model)
    check_array(
        f"EncoderDecoder({sv}, {tv}, {H}) on src ({N}, {S}) and tgt_in ({N}, {T})",
        model(torch.randint(0, sv, (N, S)), torch.randint(0, tv, (N, T))),
        np.zeros((N, T, tv)),
        atol=np.inf,
    )
### END HIDDEN TESTS
print("✓ EncoderDecoder returns (N, T, tgt_vocab) logits that depend on the source")

# %% [test] id=test_encoder_decoder_trains points=3
torch.manual_seed(0)
model = EncoderDecoder(src_vocab=VOCAB, tgt_vocab=VOCAB, hidden_size=64)
losses = train(model, reverse_batch, seq2seq_loss, steps=1500, lr=5e-3)
accuracy = exact_match(model, seed=1)
print(
    f"loss {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f}, sequences reversed exactly {accuracy:.1%}"
)
check_at_least(
    "EncoderDecoder's exact-match accuracy on reversing digits",
    accuracy,
    0.80,
    hint="the decoder must start from the encoder's final state and read tgt_in (teacher forcing).",
)
### BEGIN HIDDEN TESTS
check_at_least(
    "EncoderDecoder's accuracy on other digit sequences", exact_match(model, seed=12345), 0.75
)
### END HIDDEN TESTS
src, _, tgt = reverse_batch(4, torch.Generator().manual_seed(7))
for s, d in zip(src.tolist(), greedy_decode(model, src).tolist(), strict=True):
    print(f"{show(s):14s} -> {show(d)}")
print("✓ EncoderDecoder reverses at least 80% of the digit sequences exactly")

# %% [markdown]
# ## What changed between the four models?
#
# The recurrent layer is the same everywhere; what differs is **where the inputs enter and which
# states are read out**: all states (aligned tagging), the last one (classification), a state set
# from one input and then fed its own outputs (generation), or a final state handed from one RNN
# to another (encoder–decoder).
#
# ### Predict, run, explain: longer sequences
#
# The cell after the question trains a fresh `ManyToOne` on the sum-sign task of section 1
# with sequences of `T` steps, with the budget of section 1 (300 steps of Adam), and returns
# its accuracy on new sequences. Section 1's test printed the accuracy for $T = 12$; the cell
# runs $T = 12$ again and then $T = 50$. Change the arguments to try other lengths (each run
# takes a few seconds per 10 steps of length).
#
# **Before you run it**, predict the accuracy at $T = 50$ compared with $T = 12$:
#
# - **A.** about the same (within 3 points): the task is the same, only the sums are longer;
# - **B.** lower, by 5 points or more: the last state must carry something from inputs 50
#   steps back;
# - **C.** higher: 50 numbers give the model more evidence than 12;
# - **D.** it cannot be trained: an `nn.RNN` built for sequences of 12 steps cannot read 50.

# %% [answer] id=predict_long_sequences
# Set predict_long_sequences to the letter of your prediction, then run the experiment below.
predict_long_sequences = None
### BEGIN SOLUTION
predict_long_sequences = "B"
### END SOLUTION

# %% [test] id=test_predict_long_sequences points=1
check_choice("predict_long_sequences", globals().get("predict_long_sequences"))
### BEGIN HIDDEN TESTS
WHY = {
    "A": (
        "The label depends on every input equally, so the gradient from the last state must "
        "reach inputs 50 steps back, and through a plain RNN it shrinks on the way: with the "
        "same 300 steps, the accuracy at T = 50 ends 5 points or more below the one at T = 12, "
        "on every seed the course's tests try."
    ),
    "B": (
        "Right: the label depends on every input equally, so the gradient from the last state "
        "must reach inputs 50 steps back. Through a plain RNN it is multiplied by one Jacobian "
        "per step and shrinks on the way, so the early inputs are learnt slowly: with the same "
        "300 steps the accuracy ends 5 points or more below the one at T = 12."
    ),
    "C": (
        "More numbers do not make the sign of their sum easier to tell: the label is still "
        "decided by all of them, and the model must now carry 50 of them in one state. The "
        "accuracy at T = 50 is lower, not higher."
    ),
    "D": (
        "An nn.RNN's weights do not depend on the length: the same W_xh and W_hh are applied at "
        "every step, so a model runs on sequences of any T. The cell trains and scores a "
        "ManyToOne at T = 50 without changing the class."
    ),
}
print(f"predict_long_sequences = {predict_long_sequences!r}. {WHY.get(predict_long_sequences, '')}")
assert predict_long_sequences == "B", (
    f"predict_long_sequences is not right. {WHY.get(predict_long_sequences, '')}"
)
### END HIDDEN TESTS
print("✓ predict_long_sequences is one of A, B, C, D")


# %% [setup] id=setup_length_experiment
def many_to_one_at_length(T, steps=300, seed=0):
    """Accuracy on new sequences of a fresh ManyToOne trained on sum-sign sequences of T steps."""
    torch.manual_seed(seed)
    model = ManyToOne(input_size=1, hidden_size=32, num_classes=2)
    train(model, lambda n, g: sum_sign_batch(n, g, T=T), classification_loss, steps, seed=seed)
    X, y = sum_sign_batch(2000, torch.Generator().manual_seed(seed + 1), T=T)
    with torch.no_grad():
        return (model(X).argmax(dim=-1) == y).float().mean().item()


# %% [code]
for T in (12, 50):
    print(f"ManyToOne on sequences of T = {T} steps: accuracy {many_to_one_at_length(T=T):.1%}")

# %% [markdown]
# **What you will see:** the accuracy at $T = 50$ is below the one at $T = 12$, by 5 points or
# more (how many depends on the seed). The label depends on every input equally, so the
# gradient from the last state must reach inputs 50 steps back, and through a plain RNN it
# shrinks on the way: [Exercise 5](../05_gradient_clipping/gradient_clipping.ipynb) looks at
# why, and the gated cells of [Exercise 7](../07_gated/gated.ipynb) are built to keep it.

# %% [markdown]
# Next: [Exercise 5](../05_gradient_clipping/gradient_clipping.ipynb).
