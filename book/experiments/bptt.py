"""The experiments of the chapter on backpropagation through time (book/chapters/05_bptt.ipynb).

The chapter calls these functions to print its numbers and draw its figures, and
tests/test_book_claims_bptt.py re-runs them over several seeds to check every claim the chapter
draws from them: one source for both. Everything is computed with the course's reference library,
``autograder.reference.numpy_rnn``, in the notation of the book: row vectors, batch first, time
steps t = 1..T stored at array index t-1, hidden size Dh.

The gradient "reaching H_0 from step s" is ``dL_s/dH_0`` for the loss ``L_s = <H_s, g>``, which
puts the gradient g on H_s and nothing anywhere else: one ``rnn_backward`` with ``dH[:, s-1] = g``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np

from autograder.reference import numpy_rnn as rnn

# --------------------------------------------------------------------------------------------
# The gradient that reaches the initial state.


def gradient_reaching_h0(X, h0, W_xh, W_hh, b_h, g) -> np.ndarray:
    """Norms of dL_s/dH_0 for s = 1..T, for the losses L_s = <H_s, g>.

    Args:
        X: (1, T, D) one input sequence; h0: (1, Dh); W_xh: (D, Dh); W_hh: (Dh, Dh); b_h: (Dh,).
        g: (Dh,) the gradient each loss puts on its state H_s.

    Returns:
        (T,) array; entry s-1 is the Frobenius norm of dL_s/dH_0.
    """
    H, cache = rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    norms = np.empty(H.shape[1])
    for s in range(1, H.shape[1] + 1):
        dH = np.zeros_like(H)
        dH[:, s - 1] = g
        norms[s - 1] = np.linalg.norm(rnn.rnn_backward(dH, cache)[1])
    return norms


def spectral_radius(W) -> float:
    return float(np.abs(np.linalg.eigvals(W)).max())


def sigma_max(W) -> float:
    return float(np.linalg.svd(W, compute_uv=False)[0])


def _unit(rng, n) -> np.ndarray:
    v = rng.standard_normal(n)
    return v / np.linalg.norm(v)


def _orthogonal(rng, n) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


# --------------------------------------------------------------------------------------------
# The spectral-radius picture: W_hh = r U with U orthogonal, a *normal* matrix, so that every
# eigenvalue and every singular value has modulus r, and rho = sigma_max = r.

RADII = {"ρ = 0.9": 0.9, "ρ = 1.0": 1.0, "ρ = 1.1": 1.1}


def normal_runs(seed: int = 0, T: int = 60, Dh: int = 32) -> dict[str, np.ndarray]:
    """dL_s/dH_0 norms for W_hh = r U (U random orthogonal) with r = 0.9, 1.0, 1.1.

    Small inputs (standard deviation 0.01) keep tanh in its linear range; the run labelled
    "ρ = 1.1, saturated" uses inputs of standard deviation 2, which saturate it.

    Returns:
        dict label -> (T,) norms, with ``g`` of norm 1.
    """
    rng = np.random.default_rng(seed)
    U = _orthogonal(rng, Dh)
    g = _unit(rng, Dh)
    small = rng.normal(scale=0.01, size=(1, T, Dh))
    large = rng.normal(scale=2.0, size=(1, T, Dh))
    h0, W_xh, b_h = np.zeros((1, Dh)), np.eye(Dh), np.zeros(Dh)
    runs = {
        label: gradient_reaching_h0(small, h0, W_xh, r * U, b_h, g) for label, r in RADII.items()
    }
    runs["ρ = 1.1, saturated"] = gradient_reaching_h0(large, h0, W_xh, 1.1 * U, b_h, g)
    return runs


# --------------------------------------------------------------------------------------------
# Where rho fails: non-normal W_hh. Three 2 x 2 matrices, four runs.

NILPOTENT_SCALE = 1.5


def nilpotent(c: float = NILPOTENT_SCALE) -> np.ndarray:
    """``c [[1, 1], [-1, -1]]``: its square is zero, so rho = 0, while sigma_max = 2c."""
    return c * np.array([[1.0, 1.0], [-1.0, -1.0]])


def saturated_nilpotent_run(T: int = 60, c: float = NILPOTENT_SCALE, drive: float = 20.0, g=None):
    """The nilpotent W_hh with unit 2 held saturated and unit 1 in tanh's linear range.

    Unit 2 receives the large input ``drive`` and sits at tanh = 1 (its slope is 0). Unit 1
    receives the input c, which cancels the push -c it gets from unit 2 through W_hh, so it stays
    at 0, where tanh' = 1. The network starts in that state, H_0 = (0, 1). Each step back then
    multiplies the gradient by diag(1, 0) W_hh^T, whose spectral radius is c: the gradient grows
    like c^s although rho(W_hh) = 0.

    Args:
        T: number of steps; c: scale of the matrix; drive: input of unit 2;
        g: (2,) gradient the loss puts on H_s; None for (1, 0).

    Returns:
        (T,) norms of dL_s/dH_0.
    """
    X = np.zeros((1, T, 2))
    X[0, :, 0] = c
    X[0, :, 1] = drive
    g = np.array([1.0, 0.0]) if g is None else np.asarray(g, dtype=float)
    return gradient_reaching_h0(X, np.array([[0.0, 1.0]]), np.eye(2), nilpotent(c), np.zeros(2), g)


def jordan_like(seed: int = 0, lam: float = 0.9, coupling: float = 2.0) -> np.ndarray:
    """``Q [[lam, coupling], [0, lam]] Q^T`` with Q a random rotation: rho = lam, sigma_max > 1."""
    Q = _orthogonal(np.random.default_rng(seed), 2)
    return Q @ np.array([[lam, coupling], [0.0, lam]]) @ Q.T


def rotation(angle: float, r: float) -> np.ndarray:
    """``r`` times the rotation by ``angle``: normal, rho = sigma_max = r."""
    return r * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def stability_cases(seed: int = 0, T: int = 60) -> dict[str, dict]:
    """The runs of the stability figure, for one seed.

    The seed draws the rotation angle, the basis of the non-normal matrix and the small inputs
    (standard deviation 1e-3: the linear regime). In the linear runs the loss puts on H_s the
    unit gradient g that one step back stretches most (the top left singular vector of
    W_hh^T); the saturated run uses g = (1, 0) at seed 0, the setup of the chapter, and a random
    g with a first entry of at least 0.5 otherwise.

    Returns:
        dict kind -> {"W_hh": (2, 2), "norms": (T,), "g_norm": float, "label": str}, for the kinds
        "normal", "non-normal", "nilpotent, linear" and "nilpotent, saturated".
    """
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0.3, 1.2)
    small = rng.normal(scale=1e-3, size=(1, T, 2))
    g = _unit(rng, 2)
    g_sat = np.array([1.0, 0.0]) if seed == 0 else np.array([rng.uniform(0.5, 1.0), g[1]])
    h0, W_xh, b_h = np.zeros((1, 2)), np.eye(2), np.zeros(2)
    matrices = {
        "normal": rotation(angle, 0.9),
        "non-normal": jordan_like(seed),
        "nilpotent, linear": nilpotent(),
    }
    cases = {}
    for kind, W in matrices.items():
        g_top = np.linalg.svd(W.T)[0][:, 0]
        norms = gradient_reaching_h0(small, h0, W_xh, W, b_h, g_top)
        cases[kind] = {"W_hh": W, "norms": norms, "g_norm": 1.0}
    cases["nilpotent, saturated"] = {
        "W_hh": nilpotent(),
        "norms": saturated_nilpotent_run(T, g=g_sat),
        "g_norm": float(np.linalg.norm(g_sat)),
    }
    for kind, case in cases.items():
        rho, sigma = spectral_radius(case["W_hh"]), sigma_max(case["W_hh"])
        regime = "unit 2 saturated" if kind.endswith("saturated") else "linear"
        name = kind.split(",")[0]
        case["label"] = f"{name}, ρ = {round(rho, 2):g}, σ_max = {round(sigma, 2):g}, {regime}"
    return cases


def stability_figure(cases: dict[str, dict]):
    """Spectrum, singular values and gradient norm of each case, side by side."""
    # Two rows, so that the figure stays legible on a phone: the two views of the matrices on
    # top, the gradient norm below, at full width.
    fig = plt.figure(figsize=(8, 7))
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.15])
    spec, sing = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    grad = fig.add_subplot(grid[1, :])
    colors = [f"C{i}" for i in range(len(cases))]
    markers = ["o", "s", "^", "D"]
    drawn = []
    circle = np.linspace(0, 2 * np.pi, 200)
    spec.plot(np.cos(circle), np.sin(circle), color="0.6", lw=1)
    for i, case in enumerate(cases.values()):
        W = case["W_hh"]
        steps = np.arange(1, len(case["norms"]) + 1)
        grad.semilogy(steps, case["norms"], color=colors[i], label=case["label"])
        if any(np.array_equal(W, other) for other in drawn):
            continue  # the same matrix in another regime: its spectrum is already drawn
        drawn.append(W)
        eig = np.linalg.eigvals(W)
        spec.plot(eig.real, eig.imag, markers[i], color=colors[i], ms=7, mfc="none", mew=1.5)
        sv = np.linalg.svd(W, compute_uv=False)
        sing.plot(np.arange(1, len(sv) + 1) + 0.08 * (i - 1), sv, markers[i], color=colors[i], ms=7)
    spec.set_aspect("equal")
    spec.set_xlim(-1.3, 1.3)
    spec.set_ylim(-1.3, 1.3)
    spec.set_xlabel("Re λ")
    spec.set_ylabel("Im λ")
    spec.set_title("eigenvalues of $W_{hh}$")
    sing.axhline(1, color="0.6", lw=1)
    sing.set_xticks([1, 2])
    sing.set_xlim(0.5, 2.5)
    sing.set_xlabel("index")
    sing.set_title("singular values")
    grad.set_xlabel("steps back, $s$")
    grad.set_ylabel(r"$\|\partial L_s / \partial H_0\|$")
    grad.set_ylim(1e-6, 1e11)
    grad.set_title("gradient reaching $H_0$")
    fig.legend(loc="lower center", ncol=2, frameon=False, fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def sigma_bound_run(seed: int, sigma: float = 0.9, T: int = 40, Dh: int = 8):
    """A random, non-normal W_hh scaled to sigma_max = ``sigma``, inputs of unit size.

    Returns:
        (norms, bound): (T,) norms of dL_s/dH_0 and (T,) the bound sigma^s |g|, with |g| = 1.
    """
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((Dh, Dh))
    W *= sigma / sigma_max(W)
    X = rng.standard_normal((1, T, Dh))
    norms = gradient_reaching_h0(X, np.zeros((1, Dh)), np.eye(Dh), W, np.zeros(Dh), _unit(rng, Dh))
    return norms, sigma ** np.arange(1, T + 1)


# --------------------------------------------------------------------------------------------
# Truncated BPTT: what it drops, and what it costs.


@contextlib.contextmanager
def counting_step_backwards() -> Iterator[dict]:
    """Count the calls of the reference's one-step backward pass inside the ``with`` block.

    Every backward function of ``numpy_rnn`` (full, per-loss truncated, chunked) runs the same
    private step ``_cell_backward``; wrapping it counts the work each one really does.
    """
    counter = {"steps": 0}
    original = rnn._cell_backward

    def counted(*args):
        counter["steps"] += 1
        return original(*args)

    rnn._cell_backward = counted
    try:
        yield counter
    finally:
        rnn._cell_backward = original


def truncation_problem(seed: int, r: float, N: int = 4, T: int = 40, D: int = 3, Dh: int = 32):
    """Inputs of unit size and W_hh = r U (U random orthogonal): (X, h0, W_xh, W_hh, b_h, dH)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, T, D))
    W_xh = rng.normal(0, 0.5, (D, Dh))
    W_hh = r * _orthogonal(rng, Dh)
    dH = rng.normal(size=(N, T, Dh))  # any upstream gradient
    return X, np.zeros((N, Dh)), W_xh, W_hh, np.zeros(Dh), dH


def truncation_errors(seed: int, r: float, ks=(1, 2, 5, 10, 20)) -> dict:
    """Relative error of dW_hh against full BPTT, and the cost, of three truncations.

    Returns:
        dict with "ks", the mean slope "tanh'" (mean of 1 - H_t**2), and for each method
        ("per-loss k", "chunks k1 = k2 = k", "chunks k1 = k, k2 = 2k") a list of errors and a list
        of counted step-backwards, one per k; and "full cost", the count of full BPTT.
    """
    X, h0, W_xh, W_hh, b_h, dH = truncation_problem(seed, r)
    H, cache = rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    with counting_step_backwards() as count:
        full = rnn.rnn_backward(dH, cache)[3]
    out = {"ks": list(ks), "tanh'": float(np.mean(1 - H**2)), "full cost": count["steps"]}
    methods = {
        "per-loss k": lambda k: rnn.rnn_backward(dH, cache, k=k)[3],
        "chunks k1 = k2 = k": lambda k: rnn.rnn_tbptt(X, h0, W_xh, W_hh, b_h, dH, k, k).dW_hh,
        "chunks k1 = k, k2 = 2k": lambda k: (
            rnn.rnn_tbptt(X, h0, W_xh, W_hh, b_h, dH, k, 2 * k).dW_hh
        ),
    }
    for name, method in methods.items():
        errors, costs = [], []
        for k in ks:
            with counting_step_backwards() as count:
                approx = method(k)
            errors.append(rnn.rel_error(approx, full))
            costs.append(count["steps"])
        out[name] = {"errors": errors, "costs": costs}
    return out


def costs(T: int, k: int, seed: int = 0, Dh: int = 8) -> dict[str, int]:
    """Step-backwards executed by each way of computing a gradient over T steps, counted.

    Returns:
        dict method -> count, for full BPTT, the per-loss truncation ``rnn_backward(..., k)``, and
        the chunked TBPTT(k, k) and TBPTT(k, 2k).
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(1, T, 2))
    h0, W_xh, W_hh, b_h = (
        np.zeros((1, Dh)),
        rng.normal(size=(2, Dh)),
        np.eye(Dh) * 0.5,
        np.zeros(Dh),
    )
    dH = rng.normal(size=(1, T, Dh))
    _, cache = rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    calls = {
        "full BPTT": lambda: rnn.rnn_backward(dH, cache),
        f"per-loss truncation, k = {k}": lambda: rnn.rnn_backward(dH, cache, k=k),
        f"chunks, k1 = k2 = {k}": lambda: rnn.rnn_tbptt(X, h0, W_xh, W_hh, b_h, dH, k, k),
        f"chunks, k1 = {k}, k2 = {2 * k}": lambda: rnn.rnn_tbptt(
            X, h0, W_xh, W_hh, b_h, dH, k, 2 * k
        ),
    }
    counted = {}
    for name, call in calls.items():
        with counting_step_backwards() as count:
            call()
        counted[name] = count["steps"]
    return counted


def per_loss_cost(T: int, k: int) -> int:
    """Step-backwards of the per-loss truncation: the loss of step t goes back min(k, t) steps."""
    return sum(min(k, t) for t in range(1, T + 1))


def chunked_cost_bound(T: int, k1: int, k2: int) -> int:
    """At most k2 step-backwards per chunk of k1 steps."""
    return math.ceil(T / k1) * k2
