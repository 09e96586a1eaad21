"""The experiments of the chapter on gated RNNs (book/chapters/10_gated_rnns.ipynb).

The chapter calls these functions to print its numbers and draw its figures, and
tests/test_book_claims_gated.py re-runs them over other seeds to check every claim the chapter
draws from them. Training uses PyTorch's stock modules (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``);
every gradient the chapter measures is computed by the course's NumPy reference
(``autograder.reference.numpy_rnn``) on the trained or initial weights, moved into the course's
row-vector layout (``W_x = weight_ih_l0.T``, ``W_h = weight_hh_l0.T``).

The long-range task is the adding problem (Hochreiter & Schmidhuber 1997): at every step the
input is a pair (value, marker); values are uniform on [0, 1], exactly two markers are 1, one
in the first tenth of the sequence and one in the last tenth, and the target is the sum of the
two marked values. Two reference levels of the mean squared error:

* ``BASELINE_MEAN = 1/6``: always predict 1, the mean of the target;
* ``BASELINE_RECENT = 1/12``: know the late marked value exactly and guess the early one's mean,
  0.5. A network that cannot carry information across the sequence ends up here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from autograder.reference import numpy_rnn as rnn

KINDS = ("RNN", "LSTM", "GRU")
BASELINE_MEAN = 1 / 6
BASELINE_RECENT = 1 / 12


@dataclass(frozen=True)
class Setup:
    """The settings of one training run of the adding problem."""

    length: int = 30
    hidden: int = 64
    steps: int = 800
    batch: int = 64
    lr: float = 1e-2
    clip: float = 1.0
    every: int = 100  # evaluate the test error every this many updates
    test_size: int = 500
    forget_bias: float = 1.0  # LSTM only: b_f at initialisation (PyTorch's default gives 0)


def adding_problem(rng: np.random.Generator, N: int, L: int):
    """A batch of the adding problem: X (N, L, 2) float32, y (N,) float32."""
    values = rng.random((N, L))
    window = max(L // 10, 1)
    markers = np.zeros((N, L))
    markers[np.arange(N), rng.integers(0, window, N)] = 1.0
    markers[np.arange(N), rng.integers(L - window, L, N)] = 1.0
    X = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values * markers).sum(axis=1).astype(np.float32)
    return torch.from_numpy(X), torch.from_numpy(y)


class AddingModel(nn.Module):
    """A recurrent layer of the given kind, and a linear read-out of its last hidden state."""

    def __init__(self, kind: str, hidden: int, forget_bias: float = 1.0):
        super().__init__()
        self.kind = kind
        self.rnn = getattr(nn, kind)(2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)
        if kind == "LSTM":
            set_forget_bias(self.rnn, forget_bias)

    def forward(self, X):
        H, _ = self.rnn(X)
        return self.head(H[:, -1])[:, 0]


def set_forget_bias(lstm: nn.LSTM, value: float) -> None:
    """Make b_f = value: PyTorch's two biases enter as a sum, so one holds it, the other 0."""
    Dh = lstm.hidden_size
    with torch.no_grad():
        lstm.bias_ih_l0[Dh : 2 * Dh].fill_(value)
        lstm.bias_hh_l0[Dh : 2 * Dh].zero_()


@dataclass
class Run:
    kind: str
    seed: int
    curve: np.ndarray  # test error after every `every` updates
    model: AddingModel

    @property
    def test_mse(self) -> float:
        return float(self.curve[-1])


def train_adding(kind: str, seed: int, setup: Setup = Setup()) -> Run:
    """Train one model on fresh batches with Adam and gradient clipping; one CPU thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model = AddingModel(kind, setup.hidden, setup.forget_bias)
        optimizer = torch.optim.Adam(model.parameters(), lr=setup.lr)
        X_test, y_test = adding_problem(
            np.random.default_rng(10_000 + seed), setup.test_size, setup.length
        )
        curve = []
        for step in range(1, setup.steps + 1):
            X, y = adding_problem(rng, setup.batch, setup.length)
            loss = ((model(X) - y) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), setup.clip)
            optimizer.step()
            if step % setup.every == 0:
                with torch.no_grad():
                    curve.append(((model(X_test) - y_test) ** 2).mean().item())
    finally:
        torch.set_num_threads(threads)
    return Run(kind, seed, np.array(curve), model)


def adding_study(seeds, setup: Setup = Setup(), kinds=KINDS) -> dict[str, list[Run]]:
    """Every kind trained once per seed."""
    return {kind: [train_adding(kind, seed, setup) for seed in seeds] for kind in kinds}


def solved(mse: float) -> bool:
    """Carried the early value: an error far below the 'late value only' level of 1/12."""
    return mse < 0.1 * BASELINE_RECENT


# --------------------------------------------------------------------------------------------
# Gradients over distance, by the NumPy reference on the model's weights.


def course_weights(layer: nn.Module) -> tuple:
    """The recurrent layer's parameters in the course's layout (float64), in the order of the
    reference's forward function after (X, h0[, c0])."""
    get = {name: p.detach().double().numpy() for name, p in layer.named_parameters()}
    W_x, W_h = get["weight_ih_l0"].T, get["weight_hh_l0"].T
    if isinstance(layer, nn.GRU):
        return W_x, W_h, get["bias_ih_l0"], get["bias_hh_l0"]
    return W_x, W_h, get["bias_ih_l0"] + get["bias_hh_l0"]  # RNN and LSTM: one bias


def input_gradient_norms(layer: nn.Module, X: np.ndarray, seed: int = 0) -> np.ndarray:
    """Mean over the batch of ‖∂⟨g, H_L⟩/∂X_t‖ for t = 1..L (entry t-1): how strongly the last
    state responds to each input; g is a random unit vector per sequence. The gradient is the
    ``dX`` of the reference's backward pass with the upstream gradient g on H_L only."""
    N, L, _ = X.shape
    params = course_weights(layer)
    Dh = params[1].shape[0]
    h0 = np.zeros((N, Dh))
    g = np.random.default_rng(seed).standard_normal((N, Dh))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    if isinstance(layer, nn.LSTM):
        H, cache = rnn.lstm_forward(X, h0, np.zeros((N, Dh)), *params)
        backward = rnn.lstm_backward
    elif isinstance(layer, nn.GRU):
        H, cache = rnn.gru_forward(X, h0, *params)
        backward = rnn.gru_backward
    else:
        H, cache = rnn.rnn_forward(X, h0, *params)
        backward = rnn.rnn_backward
    dH = np.zeros_like(H)
    dH[:, -1] = g
    dX = backward(dH, cache)[0]
    return np.linalg.norm(dX, axis=2).mean(axis=0)


def gradient_over_distance(layer: nn.Module, L: int, seed: int = 0, N: int = 32) -> np.ndarray:
    """``norms[d]`` = mean ‖∂⟨g, H_L⟩/∂X_{L-d}‖ for d = 0..L-1, on adding-problem inputs."""
    X, _ = adding_problem(np.random.default_rng(20_000 + seed), N, L)
    return input_gradient_norms(layer, X.double().numpy(), seed)[::-1]


def initial_layer(kind: str, seed: int, hidden: int = 64, forget_bias: float = 1.0) -> nn.Module:
    """The recurrent layer of a freshly initialised :class:`AddingModel`."""
    torch.manual_seed(seed)
    return AddingModel(kind, hidden, forget_bias).rnn


def decay_ratio(norms: np.ndarray) -> float:
    """How much of the gradient reaches the first input, relative to the last: norms[-1]/norms[0]."""
    return float(norms[-1] / norms[0])


# --------------------------------------------------------------------------------------------
# The cell state: one step's Jacobian, by finite differences.


def cell_state_jacobian(seed: int, D: int = 3, Dh: int = 4):
    """∂C_1/∂C_0 of one LSTM step, by central differences, and diag(F_1) of the same step.

    Returns (numeric Jacobian (Dh, Dh), diag(F_1) (Dh, Dh)), for one sequence (N = 1).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((1, 1, D))
    h0, c0 = rng.standard_normal((1, Dh)), rng.standard_normal((1, Dh))
    W_x = rng.standard_normal((D, 4 * Dh)) / np.sqrt(D)
    W_h = rng.standard_normal((Dh, 4 * Dh)) / np.sqrt(Dh)
    b = rng.standard_normal(4 * Dh)
    jacobian = np.empty((Dh, Dh))
    for k in range(Dh):  # row k: the gradient of C_1[k] with respect to C_0
        dC = np.zeros((1, 1, Dh))
        dC[0, 0, k] = 1.0

        def c1(_):
            return rnn.lstm_forward(X, h0, c0, W_x, W_h, b)[1].C

        jacobian[k] = rnn.numerical_gradient(c1, c0, dC)[0]
    A = X[:, 0] @ W_x + h0 @ W_h + b
    forget = 1 / (1 + np.exp(-A[0, Dh : 2 * Dh]))
    return jacobian, np.diag(forget)


# --------------------------------------------------------------------------------------------
# The GRU of Cho et al. (2014), beside PyTorch's.


def cho_gru_forward(X, h0, W_x, W_h, b_x, b_h):
    """A GRU whose reset gate acts before the recurrent product, (R_t ⊙ H_{t-1}) W_hn, as in
    Cho et al. (2014); same weights and gate order as ``numpy_rnn.gru_forward``. Returns H."""
    Dh = W_h.shape[0]
    W_hr_hz, W_hn = W_h[:, : 2 * Dh], W_h[:, 2 * Dh :]
    H = np.empty((X.shape[0], X.shape[1], Dh))
    h = h0
    for t in range(X.shape[1]):
        x_r, x_z, x_n = np.split(X[:, t] @ W_x + b_x, 3, axis=1)
        h_r, h_z = np.split(h @ W_hr_hz + b_h[: 2 * Dh], 2, axis=1)
        r = 1 / (1 + np.exp(-(x_r + h_r)))
        z = 1 / (1 + np.exp(-(x_z + h_z)))
        n = np.tanh(x_n + (r * h) @ W_hn + b_h[2 * Dh :])
        h = (1 - z) * n + z * h
        H[:, t] = h
    return H


def parameter_counts(D: int, Dh: int) -> dict[str, tuple[int, int]]:
    """(PyTorch's count, the formula blocks * (D Dh + Dh Dh + 2 Dh)) for each kind."""
    blocks = {"RNN": 1, "GRU": 3, "LSTM": 4}
    return {
        kind: (
            sum(p.numel() for p in getattr(nn, kind)(D, Dh).parameters()),
            blocks[kind] * (D * Dh + Dh * Dh + 2 * Dh),
        )
        for kind in KINDS
    }
