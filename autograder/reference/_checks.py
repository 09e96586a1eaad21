"""Input validation shared by the NumPy and PyTorch references.

The references are the grader's oracle, so a wrong shape must fail loudly and say which argument
is wrong, what was expected and what was given. NumPy would otherwise broadcast a (H,) array
against an (N, H) one, or multiply a transposed weight whenever D == H, and the mistake would
surface far away as a wrong number.

Dimension symbols (N, T, D, H, Q) are bound by the first array that carries them; every later
array is checked against the bound values. The callers order their checks so that the array that
best defines a symbol comes first (X defines N, T, D; W_hh defines H).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_float_array(name: str, a) -> np.ndarray:
    """Return ``a`` as a floating-point ndarray without copying when possible.

    Float arrays keep their dtype (float32 stays float32); integer arrays become float64.
    Booleans, complex numbers and objects are rejected.
    """
    arr = np.asarray(a)
    if arr.dtype.kind == "f":
        return arr
    if arr.dtype.kind in "iu":
        return arr.astype(np.float64)
    raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def check_shape(name: str, arr: np.ndarray, symbols: Sequence[str], dims: dict[str, int]) -> None:
    """Check ``arr.shape`` against ``symbols``, binding unbound symbols in ``dims`` (in place).

    Raises ValueError such as "W_xh must have shape (D, H) = (3, 5), got (5, 3)".
    """
    pattern = "(" + ", ".join(symbols) + ")" if len(symbols) != 1 else f"({symbols[0]},)"
    if arr.ndim != len(symbols):
        raise ValueError(
            f"{name} must be a {len(symbols)}-D array of shape {pattern}, "
            f"got a {arr.ndim}-D array of shape {tuple(arr.shape)}"
        )
    # What the shape should be: bound symbols take their value, unbound ones the given size
    # (a symbol repeated within one array, as in W_hh (H, H), binds on its first occurrence).
    expected = []
    local = dict(dims)
    for sym, size in zip(symbols, arr.shape, strict=True):
        local.setdefault(sym, size)
        expected.append(local[sym])
    if tuple(expected) != tuple(arr.shape):
        raise ValueError(
            f"{name} must have shape {pattern} = {tuple(expected)}, got {tuple(arr.shape)}"
        )
    dims.update(local)


def take(name: str, a, symbols: Sequence[str], dims: dict[str, int]) -> np.ndarray:
    """Convert ``a`` to a float array and check its shape; return the array."""
    arr = as_float_array(name, a)
    check_shape(name, arr, symbols, dims)
    return arr


def take_targets(name: str, y, symbols: Sequence[str], dims: dict[str, int], n_classes: int):
    """Check integer class targets: integer dtype, shape, and every value in [0, n_classes)."""
    arr = np.asarray(y)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    check_shape(name, arr, symbols, dims)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} must hold class indices in [0, {n_classes}), "
            f"got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def take_cell_params(W_xh, W_hh, b_h, dims: dict[str, int], prefix: str = ""):
    """Check the three cell parameters; return them as float arrays.

    W_hh goes first: it is square, so it defines H without ambiguity. A W_xh given transposed is
    then reported as such, even when h_prev is also of the wrong width.
    """
    W_hh = take(prefix + "W_hh", W_hh, ("H", "H"), dims)
    W_xh = take(prefix + "W_xh", W_xh, ("D", "H"), dims)
    b_h = take(prefix + "b_h", b_h, ("H",), dims)
    return W_xh, W_hh, b_h


def unpack_params(name: str, params) -> tuple:
    """Check that ``params`` is a 3-sequence (W_xh, W_hh, b_h) and return it as a tuple."""
    if not isinstance(params, (tuple, list)) or len(params) != 3:
        got = f"{len(params)} items" if isinstance(params, (tuple, list)) else type(params).__name__
        raise ValueError(f"{name} must be a tuple (W_xh, W_hh, b_h), got {got}")
    return tuple(params)


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Check that a scalar hyper-parameter is finite and positive (or non-negative)."""
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (np.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
    return value
