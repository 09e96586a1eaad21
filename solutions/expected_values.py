"""Write the answers of the exercises' visible tests: autograder/data/expected/<assignment>.npz.

A released notebook must not reach the references (tests/test_answer_key.py), so a visible test
that needs the answer compares with arrays computed here, once, by the NumPy reference, on the
same inputs as the test cell builds. Run after changing a visible test's inputs or a reference:

    .venv/bin/python solutions/expected_values.py

tests/test_answer_key.py checks that the stored arrays are what this computes now.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.grading import mistakes  # noqa: E402
from autograder.notebook_checks import EXPECTED_DIR, rnn_inputs  # noqa: E402
from autograder.reference import numpy_rnn  # noqa: E402

CELL = ("dx", "dh_prev", "dW_xh", "dW_hh", "db_h")
SEQUENCE = ("dX", "dh0", "dW_xh", "dW_hh", "db_h")


def _sequence(seed, N, T, D, Dh, scale=0.8):
    """The inputs of 02_bptt's `sequence` helper, with the reference's cache."""
    X, h0, W_xh, W_hh, b_h = rnn_inputs(seed, N, T, D, Dh, scale=scale)
    _, cache = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    dH = np.random.default_rng(seed + 1).standard_normal((N, T, Dh))
    return dH, cache


def _grad_norms(X, h0, W_xh, W_hh, b_h):
    """dL/dH_t for L = sum of H_T: the gradient on the initial state of the rest of the sequence."""
    H_states, _ = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)
    N, T, Dh = H_states.shape
    norms = [np.sqrt(N * Dh)]
    for t in range(T - 2, -1, -1):
        _, rest = numpy_rnn.rnn_forward(X[:, t + 1 :], H_states[:, t], W_xh, W_hh, b_h)
        dH_rest = np.zeros(rest.H.shape)
        dH_rest[:, -1] = 1.0
        norms.append(np.linalg.norm(numpy_rnn.rnn_backward(dH_rest, rest)[1]))
    return np.array(norms[::-1])


def rnn_cell() -> dict[str, np.ndarray]:
    values = {}
    # test_rnn_cell_forward_values: rnn_inputs(seed=0, N=2, T=1, D=3, Dh=4)
    X, h0, W_xh, W_hh, b_h = rnn_inputs(0, 2, 1, 3, 4)
    values["cell_h_next"] = numpy_rnn.rnn_cell_forward(X[:, 0], h0, W_xh, W_hh, b_h)[0]
    # ... and what the usual slips give there (the test's suspects: the answer's formula stays
    # out of the visible test's source)
    x = X[:, 0]
    values["cell_no_tanh"] = x @ W_xh + h0 @ W_hh + b_h
    values["cell_no_bias"] = np.tanh(x @ W_xh + h0 @ W_hh)
    values["cell_no_h_prev"] = np.tanh(x @ W_xh + b_h)
    values["cell_W_hh_transposed"] = np.tanh(x @ W_xh + h0 @ W_hh.T + b_h)
    # test_rnn_forward_values: rnn_inputs(seed=1, N=2, T=5, D=3, Dh=4), and from h0 = 0
    X, h0, W_xh, W_hh, b_h = rnn_inputs(1, 2, 5, 3, 4)
    values["sequence_H"] = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)[0]
    values["sequence_H_zero_h0"] = numpy_rnn.rnn_forward(X, 0 * h0, W_xh, W_hh, b_h)[0]
    values["sequence_H_not_carried"] = np.tanh(X @ W_xh + (h0 @ W_hh)[:, None] + b_h)
    # test_output_forward: the states and weights drawn by default_rng(2)
    rng = np.random.default_rng(2)
    H_states = np.tanh(rng.standard_normal((2, 5, 4)))
    W_hq, b_q = rng.standard_normal((4, 3)), rng.standard_normal(3)
    values["output_O"] = numpy_rnn.output_forward(H_states, W_hq, b_q)[0]
    values["output_O_no_bias"] = H_states @ W_hq
    return values


def bptt() -> dict[str, np.ndarray]:
    values = {}
    # test_rnn_cell_backward_*: one_step(seed=0, N=2, D=3, Dh=4)
    X, h_prev, W_xh, W_hh, b_h = rnn_inputs(0, 2, 1, 3, 4, scale=1.0)
    _, cache = numpy_rnn.rnn_cell_forward(X[:, 0], h_prev, W_xh, W_hh, b_h)
    dh_next = np.random.default_rng(1).standard_normal((2, 4))
    grads = numpy_rnn.rnn_cell_backward(dh_next, cache)
    values.update({f"cell_{n}": g for n, g in zip(CELL, grads, strict=True)})
    # ... and what leaving tanh's derivative out gives there (the test's suspect)
    slip = mistakes.cell_backward(
        dh_next, cache.x, cache.h_prev, cache.h_next, W_xh, W_hh, tanh_grad="none"
    )
    values.update({f"cell_no_derivative_{n}": g for n, g in zip(CELL, slip, strict=True)})
    # test_rnn_backward: sequence(seed=0, N=2, T=5, D=3, Dh=4), and BPTT cut after one step
    dH, cache = _sequence(0, 2, 5, 3, 4)
    for prefix, k in (("bptt", None), ("local", 1)):
        grads = numpy_rnn.rnn_backward(dH, cache, k=k)
        values.update({f"{prefix}_{n}": g for n, g in zip(SEQUENCE, grads, strict=True)})
    # test_numerical_gradient: f(x) = tanh(x W)
    rng = np.random.default_rng(0)
    W, x, df = rng.standard_normal((3, 4)), rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    values["numerical_tanh"] = numpy_rnn.numerical_gradient(lambda v: np.tanh(v @ W), x, df)
    # the optional challenge's self-check: sequence(seed=0, N=2, T=6, D=3, Dh=4), k = 1, 2, 4, T
    dH, cache = _sequence(0, 2, 6, 3, 4)
    for k in (1, 2, 4, 6):
        grads = numpy_rnn.rnn_backward(dH, cache, k=k)
        values.update({f"truncated_{k}_{n}": g for n, g in zip(SEQUENCE, grads, strict=True)})
    return values


BI = ("dX", "dh0_f", "dh0_b", "dW_xh_f", "dW_hh_f", "db_h_f", "dW_xh_b", "dW_hh_b", "db_h_b")


def bidirectional() -> dict[str, np.ndarray]:
    # 03_bidirectional's birnn_inputs(seed=0, N=2, T=5, D=3, Dh=4)
    X, h0_f, *params_f = rnn_inputs(0, 2, 5, 3, 4, scale=0.8)
    _, h0_b, *params_b = rnn_inputs(1000, 2, 5, 3, 4, scale=0.8)
    H, cache = numpy_rnn.birnn_forward(X, h0_f, h0_b, tuple(params_f), tuple(params_b))
    dH = np.random.default_rng(1).standard_normal((2, 5, 8))
    dX, dh0_f, dh0_b, dparams_f, dparams_b = numpy_rnn.birnn_backward(dH, cache)
    grads = (dX, dh0_f, dh0_b, *dparams_f, *dparams_b)
    # ... and what the usual slips of birnn_forward give there (the test's suspects)
    H_f = numpy_rnn.rnn_forward(X, h0_f, *params_f)[0]
    H_b_reversed = numpy_rnn.rnn_forward(X[:, ::-1], h0_b, *params_b)[0]
    slips = {
        "birnn_H_unreversed": np.concatenate([H_f, H_b_reversed], axis=-1),
        "birnn_H_reads_forwards": np.concatenate(
            [H_f, numpy_rnn.rnn_forward(X, h0_b, *params_b)[0]], axis=-1
        ),
        "birnn_H_swapped": np.concatenate([H_b_reversed[:, ::-1], H_f], axis=-1),
    }
    return {"birnn_H": H} | {f"birnn_{n}": g for n, g in zip(BI, grads, strict=True)} | slips


def _random_grads(seed, shapes, scale):
    """05_gradient_clipping's random_grads."""
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(shape) for shape in shapes]


def clipping() -> dict[str, np.ndarray]:
    values = {}
    # test_hidden_grad_norms: rnn_inputs(seed=0, N=2, T=6, D=3, Dh=4)
    values["grad_norms"] = _grad_norms(*rnn_inputs(0, 2, 6, 3, 4, scale=1.0))
    # test_clip_grad_norm: three arrays of global norm about 11, clipped at 1
    clipped, total = numpy_rnn.clip_grad_norm(_random_grads(0, [(3, 4), (4, 4), (4,)], 2.0), 1.0)
    values["norm_total"] = np.asarray(total)
    values.update({f"norm_clipped_{i}": g for i, g in enumerate(clipped)})
    # ... and what clipping each array by its own norm gives there (the test's suspect)
    own, _ = mistakes.clip_grad_norm(
        _random_grads(0, [(3, 4), (4, 4), (4,)], 2.0), 1.0, scope="array"
    )
    values.update({f"norm_clipped_each_{i}": g for i, g in enumerate(own)})
    # test_clip_grad_value: two arrays clamped at 1.5
    clipped = numpy_rnn.clip_grad_value(_random_grads(0, [(3, 4), (4,)], 2.0), 1.5)
    values.update({f"value_clipped_{i}": g for i, g in enumerate(clipped)})
    return values


def _char_params(seed, V, H, scale=0.3):
    """06_char_rnn's random_char_params."""
    rng = np.random.default_rng(seed)
    return {
        "W_xh": scale * rng.standard_normal((V, H)),
        "W_hh": scale * rng.standard_normal((H, H)),
        "b_h": scale * rng.standard_normal(H),
        "W_hq": scale * rng.standard_normal((H, V)),
        "b_q": scale * rng.standard_normal(V),
    }


def char_rnn() -> dict[str, np.ndarray]:
    values = {}
    # test_char_rnn_loss: a batch of two windows, then one window given as lists
    params = _char_params(0, V=5, H=4)
    cases = [
        (
            np.array([[0, 3, 1], [2, 2, 4]]),
            np.array([[3, 1, 4], [2, 4, 0]]),
            np.random.default_rng(1).standard_normal((2, 4)),
        ),
        ([0, 3, 1, 1], [3, 1, 1, 2], np.zeros(4)),
    ]
    for case, (inputs, targets, h_prev) in enumerate(cases):
        batch = np.atleast_2d(inputs), np.atleast_2d(targets), np.atleast_2d(h_prev)
        loss, grads, h_last = numpy_rnn.char_rnn_loss(params, *batch)
        values[f"loss_{case}"] = np.asarray(loss)
        values.update({f"loss_{case}_d{k}": g for k, g in grads.items()})
        values[f"loss_{case}_h_last"] = h_last
    # test_sample: the same draws at temperatures 1 and 0.3
    params = _char_params(2, V=6, H=5, scale=0.8)
    h = np.random.default_rng(3).standard_normal(5)
    for name, temperature in (("warm", 1.0), ("cold", 0.3)):
        drawn = numpy_rnn.sample(params, h, 2, 20, temperature, np.random.default_rng(0))
        values[f"sample_{name}"] = drawn
    return values


def _lstm_case(seed, N, T, D, Dh):
    """07_gated's lstm_case (gated_inputs with four gate blocks)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, T, D))
    h0 = 0.5 * rng.standard_normal((N, Dh))
    c0 = rng.standard_normal((N, Dh))
    W_x = rng.standard_normal((D, 4 * Dh)) / np.sqrt(D)
    W_h = rng.standard_normal((Dh, 4 * Dh)) / np.sqrt(Dh)
    b = 0.5 * rng.standard_normal(4 * Dh)
    return X, h0, c0, W_x, W_h, b


def gated() -> dict[str, np.ndarray]:
    # test_lstm_forward_values: the cell states (nn.LSTM gives only the last one)
    _, cache = numpy_rnn.lstm_forward(*_lstm_case(1, 2, 5, 3, 4))
    values = {"lstm_C": cache.C}
    # test_lstm_backward: the forward pass's H and C, and the gradients
    H, cache = numpy_rnn.lstm_forward(*_lstm_case(2, 2, 4, 3, 4))
    dH = np.random.default_rng(3).standard_normal(H.shape)
    grads = numpy_rnn.lstm_backward(dH, cache)
    names = ("dX", "dh0", "dc0", "dW_x", "dW_h", "db")
    values.update({"backward_H": H, "backward_C": cache.C})
    values.update({f"backward_{n}": g for n, g in zip(names, grads, strict=True)})
    return values


EXPECTED = {
    "01_rnn_cell": rnn_cell,
    "02_bptt": bptt,
    "03_bidirectional": bidirectional,
    "05_gradient_clipping": clipping,
    "06_char_rnn": char_rnn,
    "07_gated": gated,
}


def main() -> None:
    EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
    for assignment, compute in EXPECTED.items():
        path = EXPECTED_DIR / f"{assignment}.npz"
        np.savez(path, **compute())
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
