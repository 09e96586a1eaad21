"""Mutation test of the grader: does it fail every realistic single mistake, and name it?

Each mutant is a solution notebook with one mistake put into one graded function, as learners
make them (the slips listed in the course's mistake catalogues, the CS231n and d2l forums' usual
questions, and a few more). The mutant's functions are called on the inputs each test draws and
judged by the grader's own judges (the pure core of the engine: the sandbox only carries values
to and from the same calls, through the same wire encoding used here), so a whole sweep takes
seconds, not a sandbox start per mutant.

For each mutant the sweep records:

* **killed**: some test of the mutated function does not pass;
* **named**: a failing test names a catalogued mistake (its diagnosis);
* **described**: no catalogued mistake, but the message says what is wrong without guessing why
  (the result is the right one times a factor, or with the sign flipped, or all zeros, or wrong
  only from some time step on...);
* **diagnosed** = named or described;
* the points it keeps, on the tests of the mutated function and in all (the other tests stay
  right and keep theirs): a mutant marked ``rounding`` (the 1e-6 of norm clipping left out) is
  a difference of rounding only, and must keep every point.

Run: ``python bench/mutation.py [ASSIGNMENT ...] [--verbose] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autograder.grading import assignments  # noqa: E402
from autograder.grading import notebook as nbload  # noqa: E402
from autograder.grading import program as code  # noqa: E402
from autograder.grading.child import probes, wire  # noqa: E402
from autograder.grading.child.probes import FUNCTIONS  # noqa: E402
from autograder.grading.record import points  # noqa: E402
from autograder.grading.run import CaseOutcome, TestRun  # noqa: E402

# Sentences of autograder.comparison that describe a wrong result without naming a mistake.
DESCRIBED = (
    "Your result is all zeros",
    "Your result is the expected one with the sign flipped",
    "Your result is the expected one times",
    "Your result is the expected one divided by",
    "The error is the same in every row",
    "wrong from t = ",
    "wrong only at the last",
    "wrong only at the first",
    "in place",
    "It has the right number of entries",
    "Only the size along",
    "Your axes look like",
    "It looks transposed",
    "does not have the parameters the exercise lays out",
    "no gradient reached it",
    "step t may read inputs up to t only",
)


@dataclass(frozen=True)
class Mutant:
    function: str
    label: str
    edits: tuple[tuple[str, str], ...]  # (old, new) text replacements in the solution's code
    # A difference of rounding only (the 1e-6 of norm clipping left out): it must keep every
    # point, since partial credit follows what is right, not how far a number is off.
    rounding: bool = False


def m(function: str, label: str, *edits: tuple[str, str], rounding: bool = False) -> Mutant:
    return Mutant(function, label, tuple(edits), rounding)


CELL = "np.tanh(x @ W_xh + h_prev @ W_hh + b_h)"
BPTT_CALL = "dH[:, t] + dh_next, X[:, t], h_prev, H[:, t], W_xh, W_hh"
NORM_STEP = "dh = rnn_cell_backward(dh, X[:, t], H[:, t - 1], H[:, t], W_xh, W_hh)[1]"

MUTANTS: dict[str, list[Mutant]] = {
    "01_rnn_cell": [
        m("rnn_cell_forward", "b_h left out", (CELL, "np.tanh(x @ W_xh + h_prev @ W_hh)")),
        m("rnn_cell_forward", "no tanh", (CELL, "x @ W_xh + h_prev @ W_hh + b_h")),
        m(
            "rnn_cell_forward",
            "sigmoid instead of tanh",
            (CELL, "1 / (1 + np.exp(-(x @ W_xh + h_prev @ W_hh + b_h)))"),
        ),
        m("rnn_cell_forward", "ReLU", (CELL, "np.maximum(0, x @ W_xh + h_prev @ W_hh + b_h)")),
        m(
            "rnn_cell_forward",
            "W_hh transposed",
            (CELL, "np.tanh(x @ W_xh + h_prev @ W_hh.T + b_h)"),
        ),
        m("rnn_cell_forward", "b_h after tanh", (CELL, "np.tanh(x @ W_xh + h_prev @ W_hh) + b_h")),
        m("rnn_cell_forward", "weights swapped", (CELL, "np.tanh(x @ W_hh + h_prev @ W_xh + b_h)")),
        m("rnn_cell_forward", "h_prev left out", (CELL, "np.tanh(x @ W_xh + b_h)")),
        m(
            "rnn_cell_forward",
            "tanh of each term",
            (CELL, "np.tanh(x @ W_xh) + np.tanh(h_prev @ W_hh) + b_h"),
        ),
        m("rnn_forward", "loop over range(T-1)", ("for t in range(T):", "for t in range(T - 1):")),
        m(
            "rnn_forward",
            "loop over range(T-1), H from zeros",
            ("for t in range(T):", "for t in range(T - 1):"),
            ("np.empty(", "np.zeros("),
        ),
        m(
            "rnn_forward",
            "state not carried (reads h0)",
            ("rnn_cell_forward(X[:, t], h, ", "rnn_cell_forward(X[:, t], h0, "),
        ),
        m("rnn_forward", "h0 ignored", ("    h = h0\n", "    h = np.zeros_like(h0)\n")),
        m(
            "rnn_forward",
            "state stored before the step",
            (
                "        h = rnn_cell_forward(X[:, t], h, W_xh, W_hh, b_h)\n        H[:, t] = h",
                "        H[:, t] = h\n        h = rnn_cell_forward(X[:, t], h, W_xh, W_hh, b_h)",
            ),
        ),
        m(
            "rnn_forward",
            "loop from 1 (range(1, T))",
            ("for t in range(T):", "for t in range(1, T):"),
            ("np.empty(", "np.zeros("),
        ),
        m("output_forward", "b_q left out", ("return H @ W_hq + b_q", "return H @ W_hq")),
        m(
            "output_forward",
            "softmax applied",
            (
                "return H @ W_hq + b_q",
                "return np.exp(H @ W_hq + b_q) / np.exp(H @ W_hq + b_q).sum(-1, keepdims=True)",
            ),
        ),
        m(
            "output_forward",
            "last step only",
            ("return H @ W_hq + b_q", "return H[:, -1] @ W_hq + b_q"),
        ),
        m(
            "output_forward",
            "W_hq transposed",
            ("return H @ W_hq + b_q", "return H @ W_hq.T + b_q"),
        ),
        m(
            "output_forward",
            "tanh on the output",
            ("return H @ W_hq + b_q", "return np.tanh(H @ W_hq + b_q)"),
        ),
    ],
    "02_bptt": [
        m("rnn_cell_backward", "tanh' as (1 - h)", ("(1 - h_next**2)", "(1 - h_next)")),
        m("rnn_cell_backward", "tanh' left out", ("dh_next * (1 - h_next**2)", "dh_next")),
        m("rnn_cell_backward", "tanh' from h_prev", ("(1 - h_next**2)", "(1 - h_prev**2)")),
        m(
            "rnn_cell_backward",
            "tanh' of h again",
            ("(1 - h_next**2)", "(1 - np.tanh(h_next) ** 2)"),
        ),
        m("rnn_cell_backward", "sign of tanh' flipped", ("(1 - h_next**2)", "(h_next**2 - 1)")),
        m("rnn_cell_backward", "db_h mean over the batch", ("da.sum(axis=0)", "da.mean(axis=0)")),
        m("rnn_cell_backward", "db_h not summed", ("da.sum(axis=0)", "da")),
        m("rnn_cell_backward", "W_hh not transposed", ("da @ W_hh.T", "da @ W_hh")),
        m("rnn_cell_backward", "dW_xh transposed", ("x.T @ da", "da.T @ x")),
        m("rnn_cell_backward", "dW_hh from h_next", ("h_prev.T @ da", "h_next.T @ da")),
        m(
            "rnn_cell_backward",
            "dx from dh_next, not da",
            ("dx = da @ W_xh.T", "dx = dh_next @ W_xh.T"),
        ),
        m(
            "rnn_backward",
            "loop over range(T-1)",
            ("for t in reversed(range(T)):", "for t in reversed(range(T - 1)):"),
        ),
        m("rnn_backward", "dh_next not carried", (BPTT_CALL, BPTT_CALL.replace(" + dh_next", ""))),
        m("rnn_backward", "forwards in time", ("reversed(range(T))", "range(T)")),
        m(
            "rnn_backward",
            "h_prev taken as H[:, t]",
            ("h_prev = h0 if t == 0 else H[:, t - 1]", "h_prev = H[:, t]"),
        ),
        m(
            "rnn_backward",
            "h0 never used (H[:, t - 1] at t = 0)",
            ("h_prev = h0 if t == 0 else H[:, t - 1]", "h_prev = H[:, t - 1]"),
        ),
        m("rnn_backward", "dW_xh overwritten", ("dW_xh += dW_xh_t", "dW_xh = dW_xh_t")),
        m(
            "rnn_backward",
            "weights' gradients overwritten",
            ("dW_xh += dW_xh_t", "dW_xh = dW_xh_t"),
            ("dW_hh += dW_hh_t", "dW_hh = dW_hh_t"),
            ("db_h += db_h_t", "db_h = db_h_t"),
        ),
        m("rnn_backward", "db_h averaged over time", ("db_h += db_h_t", "db_h += db_h_t / T")),
        m(
            "rnn_backward",
            "only the last step's loss",
            (BPTT_CALL, BPTT_CALL.replace("dH[:, t]", "(dH[:, t] if t == T - 1 else 0)")),
        ),
        m(
            "numerical_gradient",
            "one-sided difference",
            ("x[i] = old - h\n", "x[i] = old\n"),
            ("/ (2 * h)", "/ h"),
        ),
        m("numerical_gradient", "divided by h", ("/ (2 * h)", "/ h")),
        m("numerical_gradient", "df left out", ("* df)", ")")),
        m(
            "numerical_gradient",
            "f(x + h) not copied",
            ("f_plus = np.array(f(x), copy=True)", "f_plus = f(x)"),
        ),
        m("numerical_gradient", "x not restored", ("        x[i] = old\n", "")),
    ],
    "03_bidirectional": [
        m(
            "birnn_forward",
            "backward run as a plain second forward RNN",
            (
                "rnn_forward(X[:, ::-1], h0_b, *params_b)[:, ::-1]",
                "rnn_forward(X, h0_b, *params_b)",
            ),
        ),
        m(
            "birnn_forward",
            "backward states not reversed back",
            (
                "rnn_forward(X[:, ::-1], h0_b, *params_b)[:, ::-1]",
                "rnn_forward(X[:, ::-1], h0_b, *params_b)",
            ),
        ),
        m(
            "birnn_forward",
            "input not reversed",
            ("rnn_forward(X[:, ::-1], h0_b, *params_b)", "rnn_forward(X, h0_b, *params_b)"),
        ),
        m("birnn_forward", "halves swapped", ("[H_f, H_b]", "[H_b, H_f]")),
        m("birnn_forward", "params_f both ways", ("h0_b, *params_b)", "h0_b, *params_f)")),
        m(
            "birnn_forward",
            "h0 swapped",
            ("H_f = rnn_forward(X, h0_f,", "H_f = rnn_forward(X, h0_b,"),
            ("H_b = rnn_forward(X[:, ::-1], h0_b,", "H_b = rnn_forward(X[:, ::-1], h0_f,"),
        ),
        m("birnn_forward", "concatenated on the time axis", ("axis=-1", "axis=1")),
        m(
            "birnn_forward",
            "directions summed",
            ("np.concatenate([H_f, H_b], axis=-1)", "H_f + H_b"),
        ),
        m(
            "birnn_backward",
            "backward run as a plain second forward RNN",
            ("X_rev = X[:, ::-1]", "X_rev = X"),
            ("dH[:, ::-1, Hdim:]", "dH[..., Hdim:]"),
            ("dX_b_rev[:, ::-1]", "dX_b_rev"),
        ),
        m("birnn_backward", "dH not reversed", ("dH[:, ::-1, Hdim:]", "dH[..., Hdim:]")),
        m("birnn_backward", "dX_b not reversed back", ("dX_b_rev[:, ::-1]", "dX_b_rev")),
        m(
            "birnn_backward",
            "dX of the forward RNN only",
            ("dX = dX_f + dX_b_rev[:, ::-1]", "dX = dX_f"),
        ),
        m(
            "birnn_backward",
            "dH halves swapped",
            ("dH[..., :Hdim]", "dH[..., Hdim:]"),
            ("dH[:, ::-1, Hdim:]", "dH[:, ::-1, :Hdim]"),
        ),
        m(
            "birnn_backward",
            "dX averaged over directions",
            ("dX = dX_f + dX_b_rev[:, ::-1]", "dX = (dX_f + dX_b_rev[:, ::-1]) / 2"),
        ),
        m(
            "birnn_backward",
            "dh0_b from the forward RNN",
            ("return dX, dh0_f, dh0_b,", "return dX, dh0_f, dh0_f,"),
        ),
    ],
    "04_sequence_types": [
        # ManyToOne
        m("ManyToOne", "classify from H[:, 0]", ("self.head(H[:, -1])", "self.head(H[:, 0])")),
        m(
            "ManyToOne",
            "batch_first missing",
            (
                "nn.RNN(input_size, hidden_size, batch_first=True)",
                "nn.RNN(input_size, hidden_size)",
            ),
        ),
        m("ManyToOne", "mean of the states", ("self.head(H[:, -1])", "self.head(H.mean(dim=1))")),
        m(
            "ManyToOne",
            "softmax on the logits",
            ("return self.head(H[:, -1])", "return torch.softmax(self.head(H[:, -1]), dim=-1)"),
        ),
        m(
            "ManyToOne",
            "final state h_n kept with its layer axis",
            ("H, _ = self.rnn(X)", "_, H = self.rnn(X)"),
            ("self.head(H[:, -1])", "self.head(H)"),
        ),
        m(
            "ManyToOne",
            "ReLU RNN",
            (
                "nn.RNN(input_size, hidden_size, batch_first=True)",
                'nn.RNN(input_size, hidden_size, nonlinearity="relu", batch_first=True)',
            ),
        ),
        m(
            "ManyToOne",
            "head without bias",
            (
                "nn.Linear(hidden_size, num_classes)",
                "nn.Linear(hidden_size, num_classes, bias=False)",
            ),
        ),
        m(
            "ManyToOne",
            "last state detached",
            ("self.head(H[:, -1])", "self.head(H[:, -1].detach())"),
        ),
        # ManyToManyAligned
        m(
            "ManyToManyAligned",
            "batch_first missing",
            (
                "nn.RNN(input_size, hidden_size, batch_first=True)",
                "nn.RNN(input_size, hidden_size)",
            ),
        ),
        m(
            "ManyToManyAligned",
            "only the last state tagged",
            ("self.head(H)", "self.head(H[:, -1])"),
        ),
        m(
            "ManyToManyAligned",
            "softmax on the logits",
            ("return self.head(H)", "return torch.softmax(self.head(H), dim=-1)"),
        ),
        m(
            "ManyToManyAligned",
            "final state h_n tagged",
            ("H, _ = self.rnn(X)", "_, H = self.rnn(X)"),
        ),
        m(
            "ManyToManyAligned",
            "bidirectional RNN",
            (
                "nn.RNN(input_size, hidden_size, batch_first=True)",
                "nn.RNN(input_size, hidden_size, batch_first=True, bidirectional=True)",
            ),
            ("nn.Linear(hidden_size, num_tags)", "nn.Linear(2 * hidden_size, num_tags)"),
        ),
        m(
            "ManyToManyAligned",
            "states reversed in time",
            ("return self.head(H)", "return self.head(H.flip(1))"),
        ),
        # OneToMany
        m(
            "OneToMany",
            "output not fed back",
            ("h = self.cell(y, h)", "h = self.cell(torch.zeros_like(y), h)"),
        ),
        m(
            "OneToMany",
            "no tanh on the initial state",
            ("torch.tanh(self.init_state(x))", "self.init_state(x)"),
        ),
        m(
            "OneToMany",
            "state not carried",
            ("h = torch.tanh(self.init_state(x))", "h0 = torch.tanh(self.init_state(x))"),
            ("h = self.cell(y, h)", "h = self.cell(y, h0)"),
        ),
        m(
            "OneToMany",
            "output taken before the step",
            (
                "            h = self.cell(y, h)\n            y = self.head(h)\n            outputs.append(y)",
                "            y = self.head(h)\n            outputs.append(y)\n            h = self.cell(y, h)",
            ),
        ),
        m(
            "OneToMany",
            "fed-back output detached",
            (
                "y = self.head(h)",
                "y = self.head(h)\n            outputs.append(y)\n            y = y.detach()",
            ),
            ("            outputs.append(y)\n        return", "        return"),
        ),
        m(
            "OneToMany",
            "outputs stacked on dim=0",
            ("torch.stack(outputs, dim=1)", "torch.stack(outputs)"),
        ),
        m(
            "OneToMany",
            "one step too few",
            ("for _ in range(self.steps):", "for _ in range(self.steps - 1):"),
        ),
        m(
            "OneToMany",
            "initial state from zeros",
            (
                "h = torch.tanh(self.init_state(x))",
                "h = x.new_zeros(x.shape[0], self.cell.hidden_size)",
            ),
        ),
        # EncoderDecoder
        m(
            "EncoderDecoder",
            "decoder started from zeros",
            ("self.decoder(self.tgt_embed(tgt_in), h)", "self.decoder(self.tgt_embed(tgt_in))"),
        ),
        m(
            "EncoderDecoder",
            "tgt_in embedded with src_embed",
            ("self.decoder(self.tgt_embed(tgt_in), h)", "self.decoder(self.src_embed(tgt_in), h)"),
        ),
        m(
            "EncoderDecoder",
            "src embedded with tgt_embed",
            ("self.encoder(self.src_embed(src))", "self.encoder(self.tgt_embed(src))"),
        ),
        m(
            "EncoderDecoder",
            "batch_first missing",
            (
                "self.encoder = nn.RNN(hidden_size, hidden_size, batch_first=True)",
                "self.encoder = nn.RNN(hidden_size, hidden_size)",
            ),
            (
                "self.decoder = nn.RNN(hidden_size, hidden_size, batch_first=True)",
                "self.decoder = nn.RNN(hidden_size, hidden_size)",
            ),
        ),
        m(
            "EncoderDecoder",
            "encoder state detached",
            (
                "self.decoder(self.tgt_embed(tgt_in), h)",
                "self.decoder(self.tgt_embed(tgt_in), h.detach())",
            ),
        ),
        m(
            "EncoderDecoder",
            "decoder reads the encoder's outputs",
            (
                "_, h = self.encoder(self.src_embed(src))",
                "E, h = self.encoder(self.src_embed(src))",
            ),
            ("self.decoder(self.tgt_embed(tgt_in), h)", "self.decoder(E, h)"),
        ),
        m(
            "EncoderDecoder",
            "one RNN for both",
            ("self.decoder(self.tgt_embed(tgt_in), h)", "self.encoder(self.tgt_embed(tgt_in), h)"),
        ),
    ],
    "05_gradient_clipping": [
        m("hidden_grad_norms", "tanh' left out", (NORM_STEP, "dh = dh @ W_hh.T")),
        m(
            "hidden_grad_norms",
            "norms reversed",
            ("    return norms\n", "    return norms[::-1]\n"),
        ),
        m(
            "hidden_grad_norms",
            "squared norms",
            ("norms[T - 1] = np.linalg.norm(dh)", "norms[T - 1] = np.sum(dh**2)"),
            ("norms[t - 1] = np.linalg.norm(dh)", "norms[t - 1] = np.sum(dh**2)"),
        ),
        m(
            "hidden_grad_norms",
            "tanh' at H[:, t-1]",
            (NORM_STEP, NORM_STEP.replace("H[:, t - 1], H[:, t]", "H[:, t - 1], H[:, t - 1]")),
        ),
        m(
            "hidden_grad_norms",
            "first step skipped",
            ("range(T - 1, 0, -1)", "range(T - 1, 1, -1)"),
        ),
        m(
            "hidden_grad_norms",
            "last state's norm never stored",
            ("    norms[T - 1] = np.linalg.norm(dh)\n", ""),
        ),
        m(
            "clip_grad_norm",
            "eps left out",
            (
                "coef = max_norm / (total_norm + 1e-6)",
                "coef = max_norm / total_norm if total_norm else np.inf",
            ),
            rounding=True,
        ),
        m(
            "clip_grad_norm",
            "each array clipped alone",
            (
                "    if coef < 1:\n        return [g * coef for g in grads], total_norm\n",
                "    return [g * min(1, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads], total_norm\n",
            ),
        ),
        m(
            "clip_grad_norm",
            "clipping by value",
            (
                "    if coef < 1:\n        return [g * coef for g in grads], total_norm\n",
                "    return [np.clip(g, -max_norm, max_norm) for g in grads], total_norm\n",
            ),
        ),
        m("clip_grad_norm", "always scaled", ("if coef < 1:", "if True:")),
        m(
            "clip_grad_norm",
            "norms of the arrays added",
            (
                "np.sqrt(sum(np.sum(np.square(g)) for g in grads))",
                "sum(np.sqrt(np.sum(np.square(g))) for g in grads)",
            ),
        ),
        m(
            "clip_grad_norm",
            "squared norm (no square root)",
            (
                "np.sqrt(sum(np.sum(np.square(g)) for g in grads))",
                "sum(np.sum(np.square(g)) for g in grads)",
            ),
        ),
        m(
            "clip_grad_norm",
            "scaled in place",
            (
                "        return [g * coef for g in grads], total_norm\n",
                "        for g in grads:\n            g *= coef\n        return grads, total_norm\n",
            ),
        ),
        m(
            "clip_grad_norm",
            "norm after clipping returned",
            (
                "        return [g * coef for g in grads], total_norm\n",
                "        return [g * coef for g in grads], total_norm * coef\n",
            ),
        ),
        m(
            "clip_grad_norm",
            "coefficient inverted",
            (
                "coef = max_norm / (total_norm + 1e-6)",
                "coef = (total_norm + 1e-6) / max_norm if max_norm else 0.0",
            ),
        ),
        m(
            "clip_grad_value",
            "upper bound only",
            ("np.clip(g, -clip_value, clip_value)", "np.minimum(g, clip_value)"),
        ),
        m(
            "clip_grad_value",
            "lower bound 0",
            ("np.clip(g, -clip_value, clip_value)", "np.clip(g, 0, clip_value)"),
        ),
        m(
            "clip_grad_value",
            "entries beyond the bound zeroed",
            ("np.clip(g, -clip_value, clip_value)", "np.where(np.abs(g) > clip_value, 0.0, g)"),
        ),
        m(
            "clip_grad_value",
            "clipped in place",
            ("np.clip(g, -clip_value, clip_value)", "np.clip(g, -clip_value, clip_value, out=g)"),
        ),
        m(
            "clip_grad_value",
            "clipping by the global norm",
            (
                "[np.clip(g, -clip_value, clip_value) for g in grads]",
                "clip_grad_norm(grads, clip_value)[0]",
            ),
        ),
    ],
    "06_char_rnn": [
        m("char_rnn_loss", "tanh' as (1 - h)", ("(1 - H[:, t] ** 2)", "(1 - H[:, t])")),
        m(
            "char_rnn_loss",
            "state not carried in the forward loop",
            ("h = np.tanh(X[:, t] @ W_xh + h @ W_hh", "h = np.tanh(X[:, t] @ W_xh + h_prev @ W_hh"),
        ),
        m(
            "char_rnn_loss",
            "loss averaged over classes",
            (
                "loss = -np.log(P[rows, steps, targets]).sum() / N",
                "loss = -np.log(P[rows, steps, targets]).sum() / (N * P.shape[-1])",
            ),
        ),
        m(
            "char_rnn_loss",
            "loss averaged over time too",
            (
                "loss = -np.log(P[rows, steps, targets]).sum() / N",
                "loss = -np.log(P[rows, steps, targets]).sum() / (N * T)",
            ),
        ),
        m("char_rnn_loss", "dO not divided by N", ("    dO /= N\n", "")),
        m(
            "char_rnn_loss",
            "dh_next not carried",
            ("dh = dO[:, t] @ W_hq.T + dh_next", "dh = dO[:, t] @ W_hq.T"),
        ),
        m(
            "char_rnn_loss",
            "h_prev taken as H[:, t]",
            ("h_before = h_prev if t == 0 else H[:, t - 1]", "h_before = H[:, t]"),
        ),
        m("char_rnn_loss", "h_prev returned as h_last", ("H[:, -1].copy()", "h_prev")),
        m("char_rnn_loss", "db_h mean over the batch", ("da.sum(axis=0)", "da.mean(axis=0)")),
        m(
            "char_rnn_loss",
            "backward loop over range(T-1)",
            ("for t in reversed(range(T)):", "for t in reversed(range(T - 1)):"),
        ),
        m(
            "char_rnn_loss",
            "window starts from zeros",
            ("    h = h_prev\n", "    h = np.zeros_like(h_prev)\n"),
        ),
        m(
            "sample",
            "output not fed back",
            ("x = one_hot([ix], V_sample)", "x = one_hot([int(seed_ix)], V_sample)"),
        ),
        m("sample", "temperature multiplied", ("o[0] / temperature", "o[0] * temperature")),
        m("sample", "temperature ignored", ("o[0] / temperature", "o[0]")),
        m("sample", "greedy", ("ix = int(rng.choice(V_sample, p=p))", "ix = int(np.argmax(p))")),
        m(
            "sample",
            "state not carried",
            (
                '        h = np.tanh(x @ params["W_xh"] + h @',
                '        h1 = np.tanh(x @ params["W_xh"] + h @',
            ),
            ('        o = h @ params["W_hq"]', '        o = h1 @ params["W_hq"]'),
        ),
    ],
    "07_gated": [
        m(
            "lstm_forward",
            "gates i and f swapped",
            ("a_i, a_f, a_g, a_o = np.split", "a_f, a_i, a_g, a_o = np.split"),
        ),
        m(
            "lstm_forward",
            "no tanh on the cell",
            ("h = sigmoid(a_o) * np.tanh(c)", "h = sigmoid(a_o) * c"),
        ),
        m("lstm_forward", "sigmoid for g", ("np.tanh(a_g)", "sigmoid(a_g)")),
        m("lstm_forward", "cell not carried", ("sigmoid(a_f) * c +", "sigmoid(a_f) * c0 +")),
        m("lstm_forward", "hidden state not carried", ("+ h @ W_h + b", "+ h0 @ W_h + b")),
        m("lstm_forward", "no forget gate", ("sigmoid(a_f) * c +", "c +")),
        m("lstm_forward", "loop over range(T-1)", ("for t in range(T):", "for t in range(T - 1):")),
        m("lstm_backward", "dc not carried through f", ("dc_next = dc * f", "dc_next = dc")),
        m("lstm_backward", "tanh' of the cell left out", ("dh * o * (1 - tanh_c**2)", "dh * o")),
        m("lstm_backward", "dh_next not carried", ("dh = dH[:, t] + dh_next", "dh = dH[:, t]")),
        m("lstm_backward", "tanh' of g as (1 - g)", ("(1 - g**2)", "(1 - g)")),
        m(
            "lstm_backward",
            "loop over range(T-1)",
            ("for t in reversed(range(T)):", "for t in reversed(range(T - 1)):"),
        ),
        m(
            "lstm_backward",
            "h_prev taken as H[:, t]",
            ("h_prev = h0 if t == 0 else H[:, t - 1]", "h_prev = H[:, t]"),
        ),
        m(
            "gru_forward",
            "z and 1 - z swapped",
            ("h = (1 - z) * n + z * h", "h = z * n + (1 - z) * h"),
        ),
        m("gru_forward", "no reset gate", ("n = np.tanh(x_n + r * h_n)", "n = np.tanh(x_n + h_n)")),
        m(
            "gru_forward",
            "state not carried",
            ("np.split(h @ W_h + b_h", "np.split(h0 @ W_h + b_h"),
        ),
        m("gru_forward", "loop over range(T-1)", ("for t in range(T):", "for t in range(T - 1):")),
    ],
}

# The assignments whose catalogues must name or describe 95 % of their mutants (tests/
# test_mutation.py): every one the sweep mutates.
GOAL = tuple(MUTANTS)

# Tests whose functions the sweep calls: the ones that call a function on given inputs, and
# those that build an nn.Module on the grader's weights (the child's generic module runner,
# called here in-process), except training runs, which take minutes for each mutant.
SLOW = {
    "train_numpy",
    "test_many_to_one_trains",
    "test_many_to_many_aligned_trains",
    "test_one_to_many_trains",
    "test_encoder_decoder_trains",
}


@dataclass
class Outcome:
    assignment: str
    mutant: Mutant
    killed: bool = False
    named: bool = False
    described: bool = False
    points: float = 0.0
    max_points: float = 0.0
    # The same, on the tests of the mutated function only (the others are untouched by it).
    own_points: float = 0.0
    own_max_points: float = 0.0
    earned: dict[str, float] = field(default_factory=dict)  # test id -> points, its tests only
    messages: list[str] = field(default_factory=list)

    @property
    def diagnosed(self) -> bool:
        return self.named or self.described

    @property
    def ok(self) -> bool:
        """Killed and diagnosed; a rounding difference: kept every point."""
        if self.mutant.rounding:
            return self.points == self.max_points
        return self.killed and self.diagnosed


def solution_code(name: str) -> str:
    """The code of the solution notebook that defines the graded names (as the engine keeps it)."""
    assignment = assignments.load(name)
    cells = nbload.read_notebook(ROOT / "solutions" / name / assignment.notebook)
    found = code.find_program(cells, assignment.required)
    return "\n\n".join(snippet.source.lstrip("\n") + "\n" for snippet in found.snippets)


def mutate(source: str, mutant: Mutant) -> str:
    """The source with the mutant's edits made inside its function (each must match once)."""
    found = [source.find(f"{kw} {mutant.function}(") for kw in ("def", "class")]
    if max(found) == -1:
        raise ValueError(f"{mutant.function} is not defined in the solution")
    start = min(i for i in found if i != -1)
    ends = [source.find(marker, start + 1) for marker in ("\ndef ", "\nclass ", "\n@")]
    end = min([e for e in ends if e != -1], default=len(source))
    body = source[start:end]
    for old, new in mutant.edits:
        count = body.count(old)
        if count != 1:
            raise ValueError(f"{mutant.label}: {old!r} occurs {count} times in {mutant.function}")
        body = body.replace(old, new)
    return source[:start] + body + source[end:]


def _through_wire(value, *, tagged: bool):
    tree, blobs = wire.encode(value)
    return wire.load(tree, blobs, tagged=tagged, functions=None if tagged else FUNCTIONS)


def run_test(namespace: dict, test, cases) -> TestRun:
    """Call the test's function on every case as the sandbox's child would, in this process
    (for a "module" test: build the class and run the parent's request with the child's own
    generic runner)."""
    outcomes = []
    function = namespace.get(test.name)
    for case in cases:
        if function is None:
            outcomes.append(CaseOutcome(missing=True))
            continue
        if test.kind == "module":
            init = _through_wire(tuple(case.args[0]), tagged=False)
            request = _through_wire(dict(case.extra["options"]), tagged=False)
            try:
                report = probes.run_module(function, init, request)
            except Exception as err:  # noqa: BLE001 - as in the child: the case's error
                outcomes.append(
                    CaseOutcome(
                        error={"type": type(err).__name__, "message": str(err), "where": None}
                    )
                )
                continue
            outcomes.append(CaseOutcome(result=_through_wire(report, tagged=True)))
            continue
        args = _through_wire(tuple(case.args), tagged=False)
        try:
            with np.errstate(all="ignore"):
                result = function(*args)
        except Exception as err:  # noqa: BLE001 - as in the child: the case's error
            outcomes.append(
                CaseOutcome(error={"type": type(err).__name__, "message": str(err), "where": None})
            )
            continue
        outcomes.append(
            CaseOutcome(
                result=_through_wire(result, tagged=True),
                args_after=_through_wire(args, tagged=True) if test.keep_args else None,
            )
        )
    return TestRun(outcomes, "ok")


def grade(name: str, source: str, seed: int = 0):
    """(test, verdict) for every test of the assignment, on the program ``source``."""
    assignment = assignments.load(name)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    rng = np.random.default_rng(seed)
    out = []
    for test in assignment.tests:
        cases = test.cases(rng)
        if test.kind not in ("call", "module") or test.id in SLOW or test.name in SLOW:
            continue
        out.append((test, test.judge(test, cases, run_test(namespace, test, cases))))
    return out


def is_described(text: str) -> bool:
    return any(marker in text for marker in DESCRIBED)


def sweep(name: str, seed: int = 0) -> list[Outcome]:
    source = solution_code(name)
    for test, verdict in grade(name, source, seed):
        if verdict.status != "passed":
            raise AssertionError(f"the solution of {name} fails {test.id}: {verdict.message}")
    results = []
    for mutant in MUTANTS[name]:
        outcome = Outcome(name, mutant)
        try:
            graded = grade(name, mutate(source, mutant), seed)
        except (ValueError, SyntaxError):
            outcome.messages.append("mutant could not be built: " + traceback.format_exc(limit=1))
            results.append(outcome)
            continue
        for test, verdict in graded:
            outcome.max_points += test.points
            outcome.points += points(test.points, verdict)
            if test.name == mutant.function:
                outcome.own_max_points += test.points
                outcome.own_points += points(test.points, verdict)
                outcome.earned[test.id] = points(test.points, verdict)
            if test.name != mutant.function or verdict.status == "passed":
                continue
            outcome.killed = True
            outcome.messages.append(f"{test.id}: {verdict.message}")
            if verdict.details:
                outcome.named = True
            elif is_described(verdict.message):
                outcome.described = True
        results.append(outcome)
    return results


def table(results: list[Outcome]) -> str:
    """Per assignment: mutants, killed, named, diagnosed (rounding differences apart)."""
    head = f"{'assignment':22} {'mutants':>7} {'killed':>6} {'named':>5} {'diagnosed':>9}"
    lines = [head + f" {'rounding (pass)':>15}"]
    by: dict[str, list[Outcome]] = {}
    for r in results:
        by.setdefault(r.assignment, []).append(r)
    total = [0, 0, 0, 0, 0, 0]
    for name, rs in by.items():
        real = [r for r in rs if not r.mutant.rounding]
        rounding = [r for r in rs if r.mutant.rounding]
        row = [len(real), sum(r.killed for r in real), sum(r.named for r in real)]
        row += [sum(r.diagnosed for r in real), len(rounding), sum(r.ok for r in rounding)]
        total = [a + b for a, b in zip(total, row, strict=True)]
        lines.append(f"{name:22} {row[0]:7} {row[1]:6} {row[2]:5} {row[3]:9} {row[5]:>11}/{row[4]}")
    lines.append(
        f"{'all':22} {total[0]:7} {total[1]:6} {total[2]:5} {total[3]:9} {total[5]:>11}/{total[4]}"
    )
    if total[0]:
        lines.append(
            f"killed {100 * total[1] / total[0]:.0f}%, diagnosed {100 * total[3] / total[0]:.0f}%"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=list(MUTANTS))
    parser.add_argument("--verbose", action="store_true", help="print every mutant's messages")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    unknown = [name for name in args.assignments if name not in MUTANTS]
    if unknown:
        parser.error(
            f"no mutants catalogued for {', '.join(unknown)}: choose from {', '.join(MUTANTS)} "
            "(00_concepts is multiple choice: its answers are checked by the prediction tests)"
        )
    results = []
    for name in args.assignments:
        results += sweep(name, args.seed)
    for r in results:
        if args.verbose or not r.ok:
            mark = "ok   " if r.ok else "MISS " if not r.killed else "VAGUE"
            if r.mutant.rounding and not r.ok:
                mark = "COSTS"
            print(
                f"{mark} {r.assignment} {r.mutant.function}: {r.mutant.label} "
                f"({r.own_points:g}/{r.own_max_points:g} points on its tests, "
                f"{r.points:g}/{r.max_points:g} in all)"
            )
            for message in r.messages:
                print(f"       {message}")
    print(table(results))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "assignment": r.assignment,
                        "function": r.mutant.function,
                        "mutant": r.mutant.label,
                        "killed": r.killed,
                        "named": r.named,
                        "described": r.described,
                        "points": r.points,
                        "max_points": r.max_points,
                        "own_points": r.own_points,
                        "own_max_points": r.own_max_points,
                    }
                    for r in results
                ],
                indent=1,
            )
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
