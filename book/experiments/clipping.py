"""The experiments of the chapter on loss oscillation and gradient clipping.

Two pieces, both used by the chapter and by ``tests/test_book_claims_clipping.py``:

* the cliff of a one-unit RNN, ``h_t = tanh(w h_{t-1} + b)``, computed with the NumPy reference;
* a controlled study of clipping on the recall task (read the first of T symbols): full-batch
  gradient descent for every combination of clipping method, learning rate and seed, all runs
  advanced together. ``loss_and_grads`` is the reference RNN's forward and backward pass with a
  leading axis of runs (checked against ``numpy_rnn`` in the tests), so a whole study costs
  about as much as a handful of runs one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import autograder.reference.numpy_rnn as rnn

PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")

# --------------------------------------------------------------------------------------------
# The cliff of a one-unit RNN.


@dataclass(frozen=True)
class Cliff:
    """L(w) = (h_T - target)^2 for h_t = tanh(w h_{t-1} + b), h_0 = h_start: a loss of the recurrent weight."""

    T: int = 20
    b: float = 0.3
    h_start: float = -0.5
    target: float = 0.8

    def loss_and_grad(self, w):
        """Loss and dL/dw for each value in ``w``, by the reference forward pass and BPTT."""
        w = np.atleast_1d(np.asarray(w, dtype=float))
        X = np.full((1, self.T, 1), self.b)  # the bias enters as a constant input x_t = b
        h0 = np.full((1, 1), self.h_start)
        W_xh, no_bias = np.ones((1, 1)), np.zeros(1)
        loss, grad = np.empty_like(w), np.empty_like(w)
        for i, w_i in enumerate(w):
            H, cache = rnn.rnn_forward(X, h0, W_xh, np.full((1, 1), w_i), no_bias)
            dH = np.zeros_like(H)
            dH[0, -1, 0] = 2 * (H[0, -1, 0] - self.target)
            dW_hh = rnn.rnn_backward(dH, cache)[3]
            loss[i], grad[i] = (H[0, -1, 0] - self.target) ** 2, dW_hh[0, 0]
        return loss, grad


@dataclass(frozen=True)
class CliffStep:
    w: float
    loss: float
    grad: float
    w_plain: float
    loss_plain: float
    w_clipped: float
    loss_clipped: float


def cliff_step(cliff: Cliff, w: float, lr: float, clip: float) -> CliffStep:
    """One gradient step from ``w``, unclipped and clipped at ``clip`` (one parameter: value = norm)."""
    loss, grad = (float(v[0]) for v in cliff.loss_and_grad(w))
    clipped = float(np.clip(grad, -clip, clip))
    w_plain, w_clipped = w - lr * grad, w - lr * clipped
    loss_plain = float(cliff.loss_and_grad(w_plain)[0][0])
    loss_clipped = float(cliff.loss_and_grad(w_clipped)[0][0])
    return CliffStep(w, loss, grad, w_plain, loss_plain, w_clipped, loss_clipped)


def steepest_low_point(w_grid, loss, grad, low: float = 0.05) -> float:
    """The grid point with loss below ``low`` and the largest gradient: low ground on the wall."""
    candidates = np.flatnonzero(loss < low)
    return float(w_grid[candidates[np.argmax(np.abs(grad[candidates]))]])


# --------------------------------------------------------------------------------------------
# The clipping study.


@dataclass(frozen=True)
class Task:
    """The recall task: K symbols, sequences of length T, N of them, an RNN of Dh units."""

    K: int = 4
    T: int = 20
    N: int = 256
    Dh: int = 32

    @property
    def n_params(self) -> int:
        """P, the number of trainable numbers: W_xh, W_hh, b_h, W_hq, b_q."""
        K, Dh = self.K, self.Dh
        return K * Dh + Dh * Dh + Dh + Dh * K + K


def make_data(task: Task, seed: int):
    """X (N, T, K) one-hot symbols and y (N,) the first symbol of each sequence."""
    symbols = np.random.default_rng(seed).integers(0, task.K, (task.N, task.T))
    return rnn.one_hot(symbols, task.K), symbols[:, 0]


def init_params(task: Task, seed: int) -> dict:
    """W_hh orthogonal (all singular values 1), W_xh ~ N(0, 0.5^2), W_hq ~ N(0, 0.1^2), biases 0."""
    r = np.random.default_rng(seed)
    K, Dh = task.K, task.Dh
    return {
        "W_xh": r.normal(0, 0.5, (K, Dh)),
        "W_hh": np.linalg.qr(r.normal(size=(Dh, Dh)))[0],
        "b_h": np.zeros(Dh),
        "W_hq": r.normal(0, 0.1, (Dh, K)),
        "b_q": np.zeros(K),
    }


def loss_and_grads(params: dict, X, y):
    """Loss on the last step and its gradients, for R runs at once.

    Args:
        params: dict of arrays with a leading run axis: W_xh (R, K, Dh), W_hh (R, Dh, Dh),
            b_h (R, Dh), W_hq (R, Dh, K), b_q (R, K).
        X: (R, N, T, K) one-hot inputs; y: (R, N) targets of the last step.

    Returns:
        loss: (R,) mean cross-entropy of each run; grads: dict shaped like ``params``.
    """
    W_xh, W_hh, b_h, W_hq, b_q = (params[k] for k in PARAM_NAMES)
    R, N, T, _ = X.shape
    h = np.zeros((R, N, W_hh.shape[-1]))
    states = [h]
    for t in range(T):  # H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)
        h = np.tanh(X[:, :, t] @ W_xh + h @ W_hh + b_h[:, None])
        states.append(h)
    O = h @ W_hq + b_q[:, None]  # (R, N, K): the output of the last step only
    O = O - O.max(axis=-1, keepdims=True)
    log_p = O - np.log(np.exp(O).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    loss = -picked.mean(axis=1)
    dO = np.exp(log_p)
    np.put_along_axis(dO, y[..., None], np.take_along_axis(dO, y[..., None], -1) - 1, -1)
    dO /= N
    grads = {
        "W_hq": np.swapaxes(h, 1, 2) @ dO,
        "b_q": dO.sum(axis=1),
        "W_xh": np.zeros_like(W_xh),
        "W_hh": np.zeros_like(W_hh),
        "b_h": np.zeros_like(b_h),
    }
    dh = dO @ np.swapaxes(W_hq, 1, 2)
    W_hh_T = np.swapaxes(W_hh, 1, 2)
    for t in range(T, 0, -1):  # dL/dH_{t-1} = (dL/dH_t * (1 - H_t^2)) W_hh^T
        da = dh * (1 - states[t] ** 2)
        grads["W_xh"] += np.swapaxes(X[:, :, t - 1], 1, 2) @ da
        grads["W_hh"] += np.swapaxes(states[t - 1], 1, 2) @ da
        grads["b_h"] += da.sum(axis=1)
        dh = da @ W_hh_T
    return loss, grads


def global_norm(grads: dict) -> np.ndarray:
    """(R,) the norm of all gradients of each run taken together, as ``clip_grad_norm`` uses."""
    return np.sqrt(sum((g.reshape(len(g), -1) ** 2).sum(axis=1) for g in grads.values()))


@dataclass(frozen=True)
class Method:
    """A clipping rule: ``kind`` is "none", "value" (threshold c) or "norm" (threshold θ)."""

    label: str
    kind: str
    threshold: float = np.inf


def methods(task: Task, theta: float = 1.0) -> tuple[Method, ...]:
    """The four rules compared: none; norm at θ; value at c = θ/sqrt(P); value at c = θ.

    c = θ/sqrt(P) is the value threshold *matched* to θ: a gradient with every entry clamped to
    ±c has norm c·sqrt(P) = θ, so value clipping never allows a longer step than norm clipping.
    c = θ uses the same number for both rules, which allows steps sqrt(P) times longer.
    """
    c = theta / np.sqrt(task.n_params)
    return (
        Method("none", "none"),
        Method(f"norm θ={theta:g}", "norm", theta),
        Method(f"value c=θ/√P={c:.3f}", "value", c),
        Method(f"value c={theta:g}", "value", theta),
    )


def clip(grads: dict, kind: np.ndarray, threshold: np.ndarray):
    """Clip each run's gradients by its own rule. Returns the clipped grads and (R,) whether it acted."""
    acted = np.zeros(len(kind), dtype=bool)
    by_value, by_norm = kind == "value", kind == "norm"
    out = {}
    for name, g in grads.items():
        c = threshold.reshape((-1,) + (1,) * (g.ndim - 1))
        clamped = np.where(by_value.reshape(c.shape), np.clip(g, -c, c), g)
        acted |= by_value & (np.abs(g) > c).reshape(len(g), -1).any(axis=1)
        out[name] = clamped
    norm = global_norm(out)
    acted |= by_norm & (norm > threshold)
    # The same factor as clip_grad_norm: θ / (‖g‖ + 1e-6), never above 1.
    scale = np.where(by_norm, np.minimum(1.0, threshold / (norm + 1e-6)), 1.0)
    for name, g in out.items():
        out[name] = g * scale.reshape((-1,) + (1,) * (g.ndim - 1))
    return out, acted


@dataclass
class Study:
    """Per-step records of every run; run r has method ``kind[r]``, ``lr[r]`` and ``seed[r]``."""

    task: Task
    labels: list
    lrs: list
    seeds: list
    label: np.ndarray
    lr: np.ndarray
    seed: np.ndarray
    losses: np.ndarray  # (steps, R) loss before each update
    norms: np.ndarray  # (steps, R) gradient norm before clipping
    step_norms: np.ndarray  # (steps, R) norm of the gradient actually applied
    acted: np.ndarray  # (steps, R) whether the clip changed the gradient
    summary: list = field(default_factory=list)

    def runs(self, label: str, lr: float) -> np.ndarray:
        return np.flatnonzero((self.label == label) & (self.lr == lr))


def run_study(task: Task, rules, lrs, seeds, steps: int) -> Study:
    """Train every (rule, learning rate, seed) by full-batch gradient descent from the same start.

    Seed s fixes both the data (``make_data(task, s)``) and the initial weights
    (``init_params(task, 1000 + s)``), so the rules are compared on identical problems. A run whose
    loss becomes non-finite stops moving and keeps a loss of inf.
    """
    combos = [(m, lr, s) for m in rules for lr in lrs for s in seeds]
    kind = np.array([m.kind for m, _, _ in combos])
    threshold = np.array([m.threshold for m, _, _ in combos], dtype=float)
    lr = np.array([lr for _, lr, _ in combos], dtype=float)
    data = {s: make_data(task, s) for s in seeds}
    X = np.stack([data[s][0] for _, _, s in combos])
    y = np.stack([data[s][1] for _, _, s in combos])
    start = {s: init_params(task, 1000 + s) for s in seeds}
    params = {k: np.stack([start[s][k] for _, _, s in combos]) for k in PARAM_NAMES}
    R = len(combos)
    rec = {k: np.empty((steps, R)) for k in ("losses", "norms", "step_norms")}
    acted_all = np.zeros((steps, R), dtype=bool)
    alive = np.ones(R, dtype=bool)
    for step in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):
            loss, grads = loss_and_grads(params, X, y)
            norm = global_norm(grads)
            alive &= np.isfinite(loss) & np.isfinite(norm)
            clipped, acted = clip(grads, kind, threshold)
        rec["losses"][step] = np.where(alive, loss, np.inf)
        rec["norms"][step] = np.where(alive, norm, np.inf)
        rec["step_norms"][step] = np.where(alive, global_norm(clipped), 0.0)
        acted_all[step] = acted & alive
        move = (lr * alive).reshape(-1, 1)
        for k in PARAM_NAMES:
            g = np.nan_to_num(clipped[k], nan=0.0, posinf=0.0, neginf=0.0)
            params[k] = params[k] - move.reshape((-1,) + (1,) * (g.ndim - 1)) * g
    return Study(
        task=task,
        labels=[m.label for m in rules],
        lrs=list(lrs),
        seeds=list(seeds),
        label=np.array([m.label for m, _, _ in combos]),
        lr=lr,
        seed=np.array([s for _, _, s in combos]),
        acted=acted_all,
        **rec,
    )


def jumps(losses: np.ndarray, factor: float = 2.0, floor: float = 0.05) -> np.ndarray:
    """Per run: how many updates at least doubled the loss, to above ``floor``."""
    before, after = losses[:-1], losses[1:]
    return ((after > factor * before) & (after > floor)).sum(axis=0)


def summarise(study: Study, tail: int = 50) -> list[dict]:
    """One row per (rule, learning rate): statistics over the seeds.

    ``final`` is each run's mean loss over its last ``tail`` updates (inf if it diverged).
    """
    rows = []
    final = study.losses[-tail:].mean(axis=0)
    n_jumps = jumps(study.losses)
    for lr in study.lrs:
        for label in study.labels:
            r = study.runs(label, lr)
            f = final[r]
            rows.append(
                {
                    "lr": lr,
                    "rule": label,
                    "final": f,
                    "mean": float(f.mean()),
                    "std": float(f.std()),
                    "min": float(f.min()),
                    "max": float(f.max()),
                    "diverged": int((~np.isfinite(f)).sum()),
                    "jumps": float(n_jumps[r].mean()),
                    "acted": float(study.acted[:, r].mean()),
                    "median_step": float(np.median(study.step_norms[:, r])),
                }
            )
    return rows


def format_table(rows: list[dict]) -> str:
    """The summary as a fixed-width text table (80 columns): final loss over the seeds (mean,
    standard deviation, smallest, largest), jumps per run, share of updates clipped, and the
    median norm of the gradient applied."""
    head = (
        f"{'lr':>4} {'rule':<19} {'mean':>8} {'sd':>7} {'min':>7} {'max':>7}"
        f" {'jumps':>5} {'clipped':>7} {'|ĝ|':>6}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(
            f"{row['lr']:>4g} {row['rule']:<19} {row['mean']:>8.2e} {row['std']:>7.1e}"
            f" {row['min']:>7.1e} {row['max']:>7.1e} {row['jumps']:>5.1f}"
            f" {row['acted']:>7.0%} {row['median_step']:>6.3f}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The study as the chapter runs it, and the claims the chapter draws from it.

TASK = Task(N=128)
THETA = 1.0
LEARNING_RATES = (0.1, 0.3, 1.0)
SEEDS = (0, 1, 2, 3, 4)
STEPS = 400
CONVERGED = 0.1  # a final loss below this counts as converged; a uniform guess scores log K


def chapter_study(seeds=SEEDS) -> Study:
    """The chapter's study: every rule of ``methods(TASK, THETA)`` at every learning rate."""
    return run_study(TASK, methods(TASK, THETA), LEARNING_RATES, seeds, STEPS)


def claims(study: Study) -> dict[str, bool]:
    """The chapter's conclusions, each True when the study's numbers support it.

    "Mean" is the mean over seeds of the final loss (``summarise``); "most" is a strict majority
    of the seeds.
    """
    rows = {(r["lr"], r["rule"]): r for r in summarise(study)}
    none, norm, matched, same = study.labels
    low, high = min(study.lrs), max(study.lrs)
    uniform = np.log(study.task.K)

    def most(values) -> bool:
        return 2 * int(np.sum(values)) > len(values)

    return {
        # At the lowest rate every rule converges on most seeds, the unclipped runs included...
        "all rules converge at the lowest rate": all(
            most(rows[(low, rule)]["final"] < CONVERGED) for rule in study.labels
        ),
        # ...but spread more over the seeds than either matched rule.
        "unclipped runs spread more at the lowest rate": rows[(low, none)]["std"]
        > max(rows[(low, norm)]["std"], rows[(low, matched)]["std"]),
        # At the highest rate most unclipped runs end worse than a uniform guess...
        "unclipped runs blow up at the highest rate": most(rows[(high, none)]["final"] > uniform),
        # ...while both matched rules converge on most seeds, with a mean 10x lower.
        "matched clipping converges at the highest rate": all(
            most(rows[(high, rule)]["final"] < CONVERGED)
            and rows[(high, rule)]["mean"] < rows[(high, none)]["mean"] / 10
            for rule in (norm, matched)
        ),
        # Value clipping at c = θ hardly ever acts, and ends where no clipping ends.
        "value clipping at c = θ acts like no clipping": all(
            rows[(lr, same)]["acted"] < 0.05 for lr in study.lrs
        )
        and rows[(high, same)]["mean"] > rows[(high, none)]["mean"] / 2,
        # Matched value clipping applies shorter gradients than norm clipping at the highest rate,
        # and ends no worse than norm clipping, at every rate.
        "matched value clipping takes shorter steps": rows[(high, matched)]["median_step"]
        < rows[(high, norm)]["median_step"],
        "matched value clipping is no worse than norm clipping": all(
            rows[(lr, matched)]["mean"] <= rows[(lr, norm)]["mean"] for lr in study.lrs
        ),
    }
