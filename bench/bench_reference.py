"""Time the NumPy reference RNN against PyTorch on the CPU.

One forward pass plus full BPTT, for a batch of N=32 sequences of T=100 steps, D=64 inputs and
H=128 hidden units, in float32 and float64:

* numpy: ``numpy_rnn.rnn_forward`` then ``numpy_rnn.rnn_backward``;
* torch: ``nn.RNN(batch_first=True)`` forward then ``backward`` through autograd, with the module
  and tensors built once outside the timed region (PyTorch at its best).

Each case is warmed up, then timed REPEATS times, NumPy and PyTorch taking turns; the table shows the medians and the ratio
numpy / torch (the goal is a ratio below 2). Run: ``python bench/bench_reference.py``.

Both libraries use several threads by default, which on a busy machine makes timings erratic; for
a single-core comparison run
``OPENBLAS_NUM_THREADS=1 python bench/bench_reference.py --torch-threads 1``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.reference import numpy_rnn  # noqa: E402

N, T, D, H = 32, 100, 64, 128


def median_seconds(fns, repeats: int, warmup: int) -> list[float]:
    """Median wall time of each function. The functions are run in turn within every repeat, so
    that a change in machine load during the run affects them alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def numpy_case(dtype, rng):
    X = rng.standard_normal((N, T, D)).astype(dtype)
    h0 = np.zeros((N, H), dtype)
    W_xh = (rng.standard_normal((D, H)) / np.sqrt(D)).astype(dtype)
    W_hh = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    b_h = np.zeros(H, dtype)
    dH = rng.standard_normal((N, T, H)).astype(dtype)

    def run():
        H_all, cache = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
        return numpy_rnn.rnn_backward(dH, cache)

    return run


def torch_case(dtype, rng):
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    rnn = torch.nn.RNN(D, H, batch_first=True, dtype=tdtype)
    X = torch.from_numpy(rng.standard_normal((N, T, D))).to(tdtype).requires_grad_(True)
    h0 = torch.zeros(1, N, H, dtype=tdtype, requires_grad=True)
    dH = torch.from_numpy(rng.standard_normal((N, T, H))).to(tdtype)

    def run():
        for t in (X, h0, *rnn.parameters()):
            t.grad = None
        H_all, _ = rnn(X, h0)
        H_all.backward(dH)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads before timing (default: PyTorch's own choice)",
    )
    args = parser.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    rng = np.random.default_rng(0)
    print(f"N={N} T={T} D={D} H={H}; median of {args.repeats} runs after {args.warmup} warm-up")
    print(
        f"numpy {np.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {platform.processor() or platform.machine()}"
    )
    print()
    print(f"{'dtype':<8} {'numpy (ms)':>11} {'torch (ms)':>11} {'numpy/torch':>12}")
    for dtype in (np.float32, np.float64):
        t_np, t_torch = median_seconds(
            [numpy_case(dtype, rng), torch_case(dtype, rng)], args.repeats, args.warmup
        )
        name = np.dtype(dtype).name
        print(f"{name:<8} {t_np * 1e3:>11.2f} {t_torch * 1e3:>11.2f} {t_np / t_torch:>12.2f}")


if __name__ == "__main__":
    main()
