"""Train the char-RNN checkpoint that chapter 9 loads: longer than a book build can afford.

The model is ``torch_rnn.CharRNN`` (one-hot input, one ``nn.RNN`` tanh layer, linear output),
trained on the first 90 % of the shipped "python" corpus (``char_data.load_text("python")``)
by ``char_model.train``: Adam with a cosine-decaying rate, gradient clipping by norm, and
truncated BPTT over consecutive windows of ``--seq-length`` characters in ``--batch`` parallel
streams. One CPU thread and fixed seeds: the same arguments give the same file on the same
PyTorch build.

The result is a compressed ``.npz`` of plain arrays in the course's notation (no pickle):
W_xh (V, Dh), W_hh (Dh, Dh), b_h (Dh,), W_hq (Dh, V), b_q (V,) stored as float16, the vocabulary
``chars`` (V,) and the training settings, with the number of updates done (the file is
rewritten every ``--save-every`` updates). ``--stop-after`` ends a run before the end of its
learning-rate schedule. Load the file with ``char_model.load_checkpoint``. The shipped file was
made with

    python book/experiments/train_char_checkpoint.py --steps 30000 --stop-after STEPS_DONE \\
        --out autograder/data/char_rnn_python.npz

where STEPS_DONE is the ``steps_done`` stored in it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]

from experiments import char_model  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-length", type=int, default=100)
    ap.add_argument("--steps", type=int, default=30000, help="length of the rate schedule")
    ap.add_argument("--stop-after", type=int, default=None, help="updates to run (default: all)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip-norm", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-every", type=int, default=1000)
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    corpus = char_model.load_corpus("python")
    model = char_model.new_model(corpus.V, args.hidden, args.seed)
    updates = min(args.steps, args.stop_after or args.steps)
    start, recent = time.perf_counter(), []

    def on_step(step, loss, clipped):
        recent.append(loss)
        if step % args.save_every == 0 or step == updates:
            settings = {
                **{k: v for k, v in vars(args).items() if k not in ("out", "stop_after")},
                "steps_done": step,
                "clipped": clipped,
                "train_loss_recent": float(np.mean(recent)),
            }
            char_model.save_checkpoint(model, corpus.chars, args.out, settings)
            minutes = (time.perf_counter() - start) / 60
            print(f"step {step}: loss {np.mean(recent):.3f}, clipped {clipped}, {minutes:.1f} min")
            sys.stdout.flush()
            recent.clear()

    char_model.train(
        model,
        corpus.train,
        steps=updates,
        schedule_steps=args.steps,
        batch=args.batch,
        seq_length=args.seq_length,
        lr=args.lr,
        clip_norm=args.clip_norm,
        on_step=on_step,
    )


if __name__ == "__main__":
    main()
