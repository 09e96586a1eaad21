"""The experiments of the chapter from encoder–decoder to attention
(book/chapters/11_attention.ipynb), shared with tests/test_book_claims_gated.py.

The task is to reverse a sequence of S random tokens: the decoder must emit the last source
token first, so every output depends on one particular input, at a distance that grows with S.
Two models with the same encoder, that of chapter 6's ``torch_rnn.EncoderDecoder`` (an embedding
and a vanilla ``nn.RNN``), are trained on it:

* :func:`Seq2Seq`: chapter 6's encoder–decoder itself; the decoder starts from the encoder's
  final state and sees nothing else of the source (the fixed-size bottleneck);
* :class:`AttentionSeq2Seq`: at every step the decoder also reads a context vector, a weighted
  average of all the encoder's states with weights from additive attention (Bahdanau et al.
  2015): ``e_{t,s} = v · tanh(S_{t-1} W_q + H_s W_k)``, ``α_t = softmax(e_t)``,
  ``context_t = Σ_s α_{t,s} H_s``.

Both are judged by their teacher-forced accuracy: the fraction of target tokens predicted right
when the decoder is fed the correct previous tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autograder.reference.torch_rnn import EncoderDecoder

BOS = 0  # the decoder's first input; source and target tokens are 1..V-1


@dataclass(frozen=True)
class Setup:
    vocab: int = 10
    embed: int = 16
    hidden: int = 32
    steps: int = 400
    batch: int = 64
    lr: float = 1e-2
    test_size: int = 256


def reversal_batch(rng: np.random.Generator, N: int, S: int, vocab: int):
    """src (N, S), decoder input (N, S) = [BOS, reversed src[:-1]], target (N, S) = reversed."""
    src = rng.integers(1, vocab, (N, S))
    tgt = src[:, ::-1].copy()
    tgt_in = np.concatenate([np.full((N, 1), BOS), tgt[:, :-1]], axis=1)
    return tuple(torch.from_numpy(a) for a in (src, tgt_in, tgt))


def Seq2Seq(setup: Setup) -> EncoderDecoder:
    """Chapter 6's encoder–decoder: its only bridge is the encoder's final state."""
    return EncoderDecoder(setup.vocab, setup.vocab, setup.embed, setup.hidden)


class AttentionSeq2Seq(EncoderDecoder):
    """The same encoder; a decoder cell that also reads an attention context at every step."""

    def __init__(self, setup: Setup):
        super().__init__(setup.vocab, setup.vocab, setup.embed, setup.hidden)
        Dh = setup.hidden
        self.decoder = nn.RNNCell(setup.embed + Dh, Dh)
        self.W_q = nn.Linear(Dh, Dh, bias=False)
        self.W_k = nn.Linear(Dh, Dh, bias=False)
        self.v = nn.Linear(Dh, 1, bias=False)
        self.head = nn.Linear(2 * Dh, setup.vocab)

    def attend(self, s_prev, H, keys):
        """Additive attention: weights (N, S) over the encoder states H (N, S, Dh), and the
        context (N, Dh) they average to."""
        scores = self.v(torch.tanh(self.W_q(s_prev)[:, None] + keys))[..., 0]
        alpha = torch.softmax(scores, dim=1)
        return alpha, (alpha[..., None] * H).sum(dim=1)

    def forward(self, src, tgt_in, return_weights: bool = False):
        H, h = self.encoder(self.src_embed(src))
        keys = self.W_k(H)  # computed once: they do not depend on the decoder step
        s, logits, weights = h[0], [], []
        for y_prev in self.tgt_embed(tgt_in).unbind(dim=1):
            alpha, context = self.attend(s, H, keys)
            s = self.decoder(torch.cat([y_prev, context], dim=1), s)
            logits.append(self.head(torch.cat([s, context], dim=1)))
            weights.append(alpha)
        logits = torch.stack(logits, dim=1)
        return (logits, torch.stack(weights, dim=1)) if return_weights else logits


@dataclass
class Result:
    model: EncoderDecoder
    length: int
    seed: int
    accuracy: float


def train(kind: str, length: int, seed: int, setup: Setup = Setup()) -> Result:
    """Train ``kind`` ("plain" or "attention") on reversal of ``length`` tokens; one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model = (AttentionSeq2Seq if kind == "attention" else Seq2Seq)(setup)
        optimizer = torch.optim.Adam(model.parameters(), lr=setup.lr)
        for _ in range(setup.steps):
            src, tgt_in, tgt = reversal_batch(rng, setup.batch, length, setup.vocab)
            loss = F.cross_entropy(model(src, tgt_in).flatten(0, 1), tgt.flatten())
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        src, tgt_in, tgt = reversal_batch(
            np.random.default_rng(30_000 + seed), setup.test_size, length, setup.vocab
        )
        with torch.no_grad():
            accuracy = (model(src, tgt_in).argmax(-1) == tgt).double().mean().item()
    finally:
        torch.set_num_threads(threads)
    return Result(model, length, seed, accuracy)


def chance(setup: Setup = Setup()) -> float:
    """The accuracy of a uniform guess among the V - 1 tokens."""
    return 1 / (setup.vocab - 1)


def attention_weights(model: AttentionSeq2Seq, length: int, seed: int = 0):
    """One test sequence and the attention weights (T, S) the trained model puts on it."""
    src, tgt_in, _ = reversal_batch(np.random.default_rng(40_000 + seed), 1, length, Setup().vocab)
    with torch.no_grad():
        _, weights = model(src, tgt_in, return_weights=True)
    return src[0].numpy(), weights[0].numpy()


def near_alignment(weights: np.ndarray, width: int = 1) -> float:
    """The mean weight that output step t puts within ``width`` positions of source position
    S-1-t, the token it must copy (array indices from 0). Uniform weights give about
    (2 width + 1) / S."""
    T, S = weights.shape
    return float(
        np.mean([weights[t, max(S - 1 - t - width, 0) : S - t + width].sum() for t in range(T)])
    )
