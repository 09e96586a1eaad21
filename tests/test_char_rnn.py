"""The character-level language model: data, loss and gradients, optimiser, training, sampling,
in NumPy and in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder.reference import char_data
from autograder.reference import numpy_rnn as nr
from autograder.reference import torch_rnn as tr

# The training claim, shared by both references (see the two training tests).
TRAIN_STEPS = 600
HIDDEN = 64
MARGIN = 0.1


# Tiny tensors: a second intra-op thread only adds synchronisation (fixture in conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus():
    text = char_data.load_text()
    chars, char_to_ix = char_data.build_vocab(text)
    return text, chars, char_to_ix, char_data.encode(text, char_to_ix)


def small_problem(seed=0, V=5, H=4, N=2, T=6, scale=0.5):
    rng = np.random.default_rng(seed)
    params = nr.char_rnn_init(V, H, seed=seed, scale=scale)
    params["b_h"] = scale * rng.standard_normal(H)  # non-zero biases, so they are tested too
    params["b_q"] = scale * rng.standard_normal(V)
    inputs = rng.integers(0, V, (N, T))
    targets = rng.integers(0, V, (N, T))
    h_prev = np.tanh(rng.standard_normal((N, H)))
    return params, inputs, targets, h_prev


def unigram_entropy(data) -> float:
    f = np.bincount(data) / len(data)
    f = f[f > 0]
    return float(-(f * np.log(f)).sum())


# Data.


def test_shipped_text_is_small_plain_text_and_round_trips(corpus):
    text, chars, char_to_ix, data = corpus
    assert 10_000 <= len(text.encode("utf-8")) <= 30_000
    assert all(ch == "\n" or 32 <= ord(ch) < 127 for ch in chars)
    assert chars == sorted(chars) and len(chars) == len(set(text))
    assert data.dtype == np.int64 and data.shape == (len(text),)
    assert char_data.decode(data, chars) == text


def test_encode_rejects_characters_outside_the_vocabulary():
    _, char_to_ix = char_data.build_vocab("abc")
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['z'\]"):
        char_data.encode("abz", char_to_ix)


def test_one_hot_has_a_single_one_per_index():
    X = nr.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert X.shape == (2, 2, 3)
    np.testing.assert_array_equal(X.sum(axis=-1), 1)
    np.testing.assert_array_equal(X.argmax(axis=-1), [[0, 2], [1, 1]])
    with pytest.raises(ValueError, match=r"indices must hold class indices in \[0, 3\)"):
        nr.one_hot(np.array([3]), 3)


# Loss and gradients.


def test_char_rnn_gradients_match_finite_differences():
    params, inputs, targets, h_prev = small_problem()
    _, grads, _ = nr.char_rnn_loss(params, inputs, targets, h_prev)
    for name, p in params.items():
        numeric = nr.numerical_gradient(
            lambda _: nr.char_rnn_loss(params, inputs, targets, h_prev)[0], p, 1.0
        )
        assert nr.rel_error(grads[name], numeric, floor=1e-3) < 1e-6, name


def test_char_rnn_loss_gradients_and_state_match_torch_char_rnn():
    params, inputs, targets, h_prev = small_problem(seed=3)
    loss, grads, h_last = nr.char_rnn_loss(params, inputs, targets, h_prev)
    model = tr.char_rnn_from_numpy(params)
    logits, h_torch = model(torch.from_numpy(inputs), torch.from_numpy(h_prev)[None])
    N, T, V = logits.shape
    loss_torch = (
        F.cross_entropy(
            logits.reshape(N * T, V), torch.from_numpy(targets).reshape(-1), reduction="sum"
        )
        / N
    )
    loss_torch.backward()
    assert loss == pytest.approx(loss_torch.item(), rel=1e-12)
    np.testing.assert_allclose(h_last, h_torch[0].detach().numpy(), rtol=1e-12)
    torch_grads = {
        "W_xh": model.rnn.weight_ih_l0.grad.T,
        "W_hh": model.rnn.weight_hh_l0.grad.T,
        "b_h": model.rnn.bias_ih_l0.grad,
        "W_hq": model.head.weight.grad.T,
        "b_q": model.head.bias.grad,
    }
    for name, g in torch_grads.items():
        assert nr.rel_error(grads[name], g.numpy()) < 1e-12, name


def test_initial_loss_is_that_of_a_uniform_prediction(corpus):
    _, chars, _, data = corpus
    V = len(chars)
    params = nr.char_rnn_init(V, HIDDEN, seed=0)
    loss, _, _ = nr.char_rnn_loss(params, data[None, :25], data[None, 1:26], np.zeros((1, HIDDEN)))
    assert loss / 25 == pytest.approx(np.log(V), rel=0.01)


def test_hidden_state_carries_across_windows_without_changing_the_loss():
    params, inputs, targets, h_prev = small_problem(seed=1, T=8)
    whole, _, h_whole = nr.char_rnn_loss(params, inputs, targets, h_prev)
    first, _, h_mid = nr.char_rnn_loss(params, inputs[:, :3], targets[:, :3], h_prev)
    second, _, h_end = nr.char_rnn_loss(params, inputs[:, 3:], targets[:, 3:], h_mid)
    assert whole == pytest.approx(first + second, rel=1e-13)
    np.testing.assert_allclose(h_end, h_whole, rtol=1e-13)
    # ...while the gradients differ: no gradient crosses the window boundary.
    g_whole = nr.char_rnn_loss(params, inputs, targets, h_prev)[1]["W_hh"]
    g_first = nr.char_rnn_loss(params, inputs[:, :3], targets[:, :3], h_prev)[1]["W_hh"]
    g_second = nr.char_rnn_loss(params, inputs[:, 3:], targets[:, 3:], h_mid)[1]["W_hh"]
    assert nr.rel_error(g_whole, g_first + g_second) > 1e-3


def test_char_rnn_rejects_malformed_parameters_and_inputs():
    params, inputs, targets, h_prev = small_problem()
    bad = dict(params, W_hq=params["W_hq"].T)
    with pytest.raises(
        ValueError, match=r"params\['W_hq'\] must have shape \(Dh, V\) = \(4, 5\), got \(5, 4\)"
    ):
        nr.char_rnn_loss(bad, inputs, targets, h_prev)
    with pytest.raises(ValueError, match=r"targets must hold class indices in \[0, 5\)"):
        nr.char_rnn_loss(params, inputs, targets + 5, h_prev)
    with pytest.raises(ValueError, match=r"params must be a dict with keys"):
        nr.char_rnn_loss({k: v for k, v in params.items() if k != "b_q"}, inputs, targets, h_prev)


# Optimisers.


def test_adagrad_step_matches_torch_adagrad_and_leaves_inputs_untouched():
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    torch_params = [torch.nn.Parameter(torch.tensor(v)) for v in params.values()]
    optimizer = torch.optim.Adagrad(torch_params, lr=0.1)
    for _ in range(4):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        before = {k: v.copy() for k, v in params.items()}
        new_params, memory = nr.adagrad_step(params, grads, memory, lr=0.1)
        for k in params:
            np.testing.assert_array_equal(params[k], before[k])
        params = new_params
        for p, g in zip(torch_params, grads.values(), strict=True):
            p.grad = torch.tensor(g)
        optimizer.step()
        for p, v in zip(torch_params, params.values(), strict=True):
            np.testing.assert_allclose(v, p.detach().numpy(), rtol=1e-14)


def test_sgd_step_moves_against_the_gradient():
    params = {"w": np.array([1.0, -2.0])}
    new = nr.sgd_step(params, {"w": np.array([0.5, -1.0])}, lr=0.1)
    np.testing.assert_allclose(new["w"], [0.95, -1.9])
    np.testing.assert_array_equal(params["w"], [1.0, -2.0])
    with pytest.raises(ValueError, match=r"grads\['w'\] must have shape \(2,\), got \(3,\)"):
        nr.sgd_step(params, {"w": np.zeros(3)}, lr=0.1)


# Training on the shipped text.


def test_numpy_char_rnn_training_beats_the_unigram_entropy(corpus):
    """600 Adagrad updates on windows of 25 characters (H = 64, lr = 0.1, clip 5) take the loss
    per character from ln V = 4.09 nats to a mean over the last 50 windows at least 0.1 nats
    below the unigram entropy of the text (3.16 nats): the model predicts better than any model
    that ignores context. (Measured: 2.66 nats, in about 1 s.)"""
    _, chars, _, data = corpus
    _, losses = nr.train_char_rnn(data, len(chars), hidden_size=HIDDEN, steps=TRAIN_STEPS)
    assert losses[0] == pytest.approx(np.log(len(chars)), rel=0.02)
    assert losses[-50:].mean() < unigram_entropy(data) - MARGIN


def test_torch_char_rnn_training_beats_the_unigram_entropy(corpus):
    """The same claim for the PyTorch CharRNN in float32 (torch.optim.Adagrad, lr = 0.1, clip 5,
    600 windows of 25 characters, H = 64): below 3.16 - 0.1 nats over the last 50 windows.
    (Measured: 2.92 nats, in about 1 s.)"""
    _, chars, _, data = corpus
    params = nr.char_rnn_init(len(chars), HIDDEN, seed=0, dtype=np.float32)
    model = tr.char_rnn_from_numpy(params)  # float32, PyTorch's default precision
    losses = tr.train_char_rnn(data, model, steps=TRAIN_STEPS)
    assert losses[0] == pytest.approx(np.log(len(chars)), rel=0.02)
    assert losses[-50:].mean() < unigram_entropy(data) - MARGIN


def test_torch_training_follows_the_numpy_trajectory(corpus):
    """Same initial parameters, data, clipping and Adagrad update: the same losses, up to rounding.

    The stream is cut to 60 characters so that the fourth window wraps around to the start with
    a fresh zero state. Adagrad divides by the root of the accumulated squared gradients, which is
    tiny for weights that have barely been used, so rounding differences grow with every step:
    compare four steps only."""
    _, chars, _, data = corpus
    stream = data[:60]
    _, losses_np = nr.train_char_rnn(stream, len(chars), hidden_size=HIDDEN, steps=4, seed=7)
    model = tr.char_rnn_from_numpy(nr.char_rnn_init(len(chars), HIDDEN, seed=7))
    losses_torch = tr.train_char_rnn(stream, model, steps=4)
    np.testing.assert_allclose(losses_np, losses_torch, rtol=1e-9)


# Sampling.


def test_numpy_sampling_is_reproducible_and_in_range():
    params, _, _, _ = small_problem()
    h = np.zeros(4)
    a = nr.sample(params, h, seed_ix=1, n=50, temperature=1.0, rng=np.random.default_rng(3))
    b = nr.sample(params, h, seed_ix=1, n=50, temperature=1.0, rng=np.random.default_rng(3))
    assert a.shape == (50,) and a.dtype == np.int64
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() < 5
    with pytest.raises(ValueError, match="temperature must be a finite number > 0, got 0.0"):
        nr.sample(params, h, 1, 5, temperature=0.0)


def test_low_temperature_sampling_is_greedy_and_agrees_between_numpy_and_torch():
    params, _, _, _ = small_problem(seed=2, V=6, H=8, scale=1.5)
    greedy = []
    h, ix = np.zeros((1, 8)), 0
    for _ in range(20):  # arg-max decoding, written out
        h, _ = nr.rnn_cell_forward(
            nr.one_hot(np.array([ix]), 6), h, params["W_xh"], params["W_hh"], params["b_h"]
        )
        ix = int(np.argmax(h @ params["W_hq"] + params["b_q"]))
        greedy.append(ix)
    cold = nr.sample(params, np.zeros(8), 0, 20, temperature=1e-4, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(cold, greedy)
    model = tr.char_rnn_from_numpy(params)
    assert (
        model.sample(0, 20, temperature=1e-4, generator=torch.Generator().manual_seed(0)) == greedy
    )


def test_higher_temperature_gives_more_varied_text():
    params, _, _, _ = small_problem(seed=4, V=6, H=8, scale=1.5)

    def entropy(ixs):
        f = np.bincount(ixs, minlength=6) / len(ixs)
        f = f[f > 0]
        return -(f * np.log(f)).sum()

    cold = nr.sample(params, np.zeros(8), 0, 2000, 0.3, np.random.default_rng(0))
    hot = nr.sample(params, np.zeros(8), 0, 2000, 3.0, np.random.default_rng(0))
    assert entropy(hot) > entropy(cold) + 0.2


@pytest.mark.parametrize("embedding_dim", [None, 8])
def test_torch_char_rnn_carries_state_and_samples_reproducibly(embedding_dim):
    torch.manual_seed(0)
    model = tr.CharRNN(vocab_size=7, hidden_size=12, embedding_dim=embedding_dim)
    idx = torch.randint(0, 7, (3, 10))
    logits, h = model(idx)
    assert logits.shape == (3, 10, 7) and h.shape == (1, 3, 12)
    first, h_mid = model(idx[:, :4])
    second, h_end = model(idx[:, 4:], h_mid)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits)
    torch.testing.assert_close(h_end, h)
    a = model.sample(2, 30, temperature=0.8, generator=torch.Generator().manual_seed(5))
    b = model.sample(2, 30, temperature=0.8, generator=torch.Generator().manual_seed(5))
    assert a == b and len(a) == 30 and all(0 <= i < 7 for i in a)
