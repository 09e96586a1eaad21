"""Random inputs for the course's functions, drawn from the generator the engine hands out.

Scales are chosen so that every typical mistake changes the output visibly: biases are far from
zero (a forgotten bias shows), weights keep tanh away from saturation (a wrong derivative
shows), and sizes differ from each other (a transposed or swapped matrix fails or shows).
"""

from __future__ import annotations

import numpy as np


def normal(rng: np.random.Generator, *shape, scale: float = 1.0) -> np.ndarray:
    return scale * rng.standard_normal(shape)


def cell_params(rng: np.random.Generator, D: int, H: int, scale: float = 1.0):
    """(W_xh (D, H), W_hh (H, H), b_h (H,))."""
    return (
        normal(rng, D, H, scale=scale / np.sqrt(D)),
        normal(rng, H, H, scale=scale / np.sqrt(H)),
        normal(rng, H, scale=0.5),
    )


def rnn_inputs(rng: np.random.Generator, N: int, T: int, D: int, H: int, scale: float = 1.0):
    """(X (N, T, D), h0 (N, H), W_xh (D, H), W_hh (H, H), b_h (H,))."""
    X = normal(rng, N, T, D)
    h0 = normal(rng, N, H, scale=0.5)
    return (X, h0, *cell_params(rng, D, H, scale))


def label(**sizes) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items())
