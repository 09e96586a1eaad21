"""Input validation shared by the NumPy and PyTorch references.

The references are the grader's oracle, so a wrong shape must fail loudly and say which argument
is wrong, what was expected and what was given. NumPy would otherwise broadcast a (Dh,) array
against an (N, Dh) one, or multiply a transposed weight whenever D == H, and the mistake would
surface far away as a wrong number.

Dimension symbols (N, T, D, Dh, Q) are bound by the first array that carries them; every later
array is checked against the bound values. The callers order their checks so that the array that
best defines a symbol comes first (X defines N, T, D; W_hh defines H).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


class Dims:
    """Sizes bound to dimension symbols so far, and which argument bound each one.

    ``Dims()`` starts empty; ``Dims({"N": 2, "T": 3}, source="the cache")`` starts with sizes that
    come from elsewhere (a backward pass checks its upstream gradient against its cache).
    """

    def __init__(self, sizes: Mapping[str, int] | None = None, source: str | None = None):
        self.sizes: dict[str, int] = dict(sizes or {})
        self.sources: dict[str, str | None] = {sym: source for sym in self.sizes}

    def __getitem__(self, sym: str) -> int:
        return self.sizes[sym]

    def __contains__(self, sym: str) -> bool:
        return sym in self.sizes


def check_shape(name: str, arr: np.ndarray, symbols: Sequence[str], dims: Dims) -> None:
    """Check ``arr.shape`` against ``symbols``, binding the unbound symbols in ``dims``.

    Raises ValueError such as "W_xh must have shape (D, Dh) = (3, 5), got (5, 3) (D from X,
    Dh from W_hh)": the expected sizes, the given ones, and where the expected sizes came from.
    """
    pattern = "(" + ", ".join(symbols) + ")" if len(symbols) != 1 else f"({symbols[0]},)"
    if arr.ndim != len(symbols):
        raise ValueError(
            f"{name} must be a {len(symbols)}-D array of shape {pattern}, "
            f"got a {arr.ndim}-D array of shape {tuple(arr.shape)}"
        )
    # What the shape should be: bound symbols take their value, unbound ones the given size
    # (a symbol repeated within one array, as in W_hh (Dh, Dh), binds on its first occurrence).
    local = dict(dims.sizes)
    expected = []
    for sym, size in zip(symbols, arr.shape, strict=True):
        local.setdefault(sym, size)
        expected.append(local[sym])
    if tuple(expected) != tuple(arr.shape):
        origins: dict[str, list[str]] = {}
        for sym in dict.fromkeys(symbols):
            if sym in dims and dims.sources[sym]:
                origins.setdefault(dims.sources[sym], []).append(sym)
        where = ", ".join(f"{', '.join(syms)} from {src}" for src, syms in origins.items())
        raise ValueError(
            f"{name} must have shape {pattern} = {tuple(expected)}, got {tuple(arr.shape)}"
            + (f" ({where})" if where else "")
        )
    for sym in symbols:
        if sym not in dims:
            dims.sizes[sym] = local[sym]
            dims.sources[sym] = name


def take(name: str, a, symbols: Sequence[str], dims: Dims) -> np.ndarray:
    """Convert ``a`` to a float array and check its shape; return the array."""
    arr = as_float_array(name, a)
    check_shape(name, arr, symbols, dims)
    return arr


def take_targets(name: str, y, symbols: Sequence[str], dims: Dims, n_classes: int):
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


def take_cell_params(W_xh, W_hh, b_h, dims: Dims, prefix: str = ""):
    """Check the three cell parameters; return them as float arrays.

    W_hh goes first: it is square, so it defines H without ambiguity. A W_xh given transposed is
    then reported as such, even when h_prev is also of the wrong width.
    """
    W_hh = take(prefix + "W_hh", W_hh, ("Dh", "Dh"), dims)
    W_xh = take(prefix + "W_xh", W_xh, ("D", "Dh"), dims)
    b_h = take(prefix + "b_h", b_h, ("Dh",), dims)
    return W_xh, W_hh, b_h


def unpack_params(name: str, params) -> tuple:
    """Check that ``params`` is a 3-sequence (W_xh, W_hh, b_h) and return it as a tuple."""
    if not isinstance(params, (tuple, list)) or len(params) != 3:
        got = f"{len(params)} items" if isinstance(params, (tuple, list)) else type(params).__name__
        raise ValueError(f"{name} must be a tuple (W_xh, W_hh, b_h), got {got}")
    return tuple(params)


CHAR_RNN_KEYS = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")


def take_char_params(params) -> tuple[dict, dict]:
    """Check a char-RNN parameter dict; return (dict of float arrays, dims with V and H)."""
    if not isinstance(params, Mapping) or set(params) != set(CHAR_RNN_KEYS):
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(f"params must be a dict with keys {list(CHAR_RNN_KEYS)}, got {got}")
    dims = Dims()
    W_hh = take("params['W_hh']", params["W_hh"], ("Dh", "Dh"), dims)
    W_xh = take("params['W_xh']", params["W_xh"], ("V", "Dh"), dims)
    checked = {
        "W_xh": W_xh,
        "W_hh": W_hh,
        "b_h": take("params['b_h']", params["b_h"], ("Dh",), dims),
        "W_hq": take("params['W_hq']", params["W_hq"], ("Dh", "V"), dims),
        "b_q": take("params['b_q']", params["b_q"], ("V",), dims),
    }
    return checked, dims


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Check that a scalar hyper-parameter is finite and positive (or non-negative)."""
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (np.isfinite(value) and ok):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value}")
    return value


def take_gated_params(weights, biases, dims: Dims, gates: int) -> tuple:
    """Check the parameters of a gated cell (LSTM: 4 gate blocks, GRU: 3); return float arrays.

    ``weights`` are ``(("W_x", W_x), ("W_h", W_h))``, of shapes (D, gates*Dh) and
    (Dh, gates*Dh); ``biases`` are ``(name, array)`` pairs of shape (gates*Dh,). W_h goes first:
    its rows define Dh, so its columns can be checked against ``gates * Dh`` and a W_x given
    transposed is reported as such. The widths are ``4Dh`` / ``3Dh`` in the messages.
    """
    (x_name, W_x), (h_name, W_h) = weights
    wide = f"{gates}Dh"
    W_h = as_float_array(h_name, W_h)
    if W_h.ndim == 2 and "Dh" not in dims:
        # Bind Dh and the gate width from W_h's rows without naming a source, so that a W_h of
        # the wrong width reads "must have shape (Dh, 4Dh) = (5, 20), got (5, 12)".
        dims.sizes["Dh"], dims.sources["Dh"] = W_h.shape[0], None
    if "Dh" in dims and wide not in dims:
        dims.sizes[wide], dims.sources[wide] = gates * dims["Dh"], None
    check_shape(h_name, W_h, ("Dh", wide), dims)
    for sym in ("Dh", wide):
        dims.sources[sym] = dims.sources[sym] or h_name
    W_x = take(x_name, W_x, ("D", wide), dims)
    checked = [take(name, b, (wide,), dims) for name, b in biases]
    return (W_x, W_h, *checked)
