"""Train the char-RNN checkpoint that chapter 9 loads: longer than a book build can afford.

The model is ``torch_rnn.CharRNN`` (one-hot input, one ``nn.RNN`` tanh layer, linear output),
trained on the first 90 % of the shipped "python" corpus (``char_data.load_text("python")``)
with Adam, gradient clipping by norm, and truncated BPTT over consecutive windows of
``--seq-length`` characters in ``--batch`` parallel streams. One CPU thread, fixed seeds: the same
arguments give the same file on the same PyTorch build.

The result is a compressed ``.npz`` of plain arrays in the course's notation (no pickle):
W_xh (V, Dh), W_hh (Dh, Dh), b_h (Dh,), W_hq (Dh, V), b_q (V,) stored as float16, the vocabulary
``chars`` (V,) and the training settings, including the number of updates done so far (the file
is rewritten every ``--save-every`` updates). Load it with ``char_model.load_checkpoint``.

    python book/experiments/train_char_checkpoint.py --steps 6000 --out autograder/data/char_rnn_python.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from autograder.reference import char_data  # noqa: E402
from autograder.reference.torch_rnn import CharRNN  # noqa: E402

VALIDATION_SHARE = 0.1


def stream_batches(data: torch.Tensor, batch: int, seq_length: int):
    """Yield (inputs, targets, reset) windows of ``batch`` parallel streams, forever.

    The training text is cut into ``batch`` equal parts, one stream each; every call moves all
    streams on by ``seq_length``. ``reset`` is True when the streams wrap around to their starts.
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


def save(model: CharRNN, chars, path: Path, settings: dict) -> None:
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
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, chars=np.array(list(chars)), **arrays, **meta)
    tmp.replace(path)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-length", type=int, default=100)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--clip-norm", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-every", type=int, default=250)
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    text = char_data.load_text("python")
    chars, char_to_ix = char_data.build_vocab(text)
    data = torch.from_numpy(char_data.encode(text, char_to_ix))
    train = data[: int((1 - VALIDATION_SHARE) * len(data))]

    model = CharRNN(len(chars), args.hidden)
    with torch.no_grad():
        model.rnn.bias_hh_l0.zero_()  # one bias, b_h, as in the course's model
    model.rnn.bias_hh_l0.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.steps, args.lr / 20)

    h, clipped, start, recent = None, 0, time.perf_counter(), []
    batches = stream_batches(train, args.batch, args.seq_length)
    for step in range(1, args.steps + 1):
        inputs, targets, reset = next(batches)
        if reset:
            h = None
        logits, h = model(inputs, h)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(trainable, args.clip_norm)
        clipped += int(norm > args.clip_norm)
        optimizer.step()
        schedule.step()
        h = h.detach()
        recent.append(loss.item())
        if step % args.save_every == 0 or step == args.steps:
            settings = dict(vars(args), out=str(args.out.name), steps_done=step, clipped=clipped)
            settings["train_loss_recent"] = float(np.mean(recent))
            save(model, chars, args.out, settings)
            minutes = (time.perf_counter() - start) / 60
            print(f"step {step}: loss {np.mean(recent):.3f}, clipped {clipped}, {minutes:.1f} min")
            sys.stdout.flush()
            recent = []


if __name__ == "__main__":
    main()
