"""Property checks for ``nn.Module`` exercises, whose weights are random: no single right output.

The child builds the learner's module with sizes the parent chose, runs it on the parent's
inputs (and on copies with one place changed), optionally trains it with the grader's recipe,
and reports the outputs (see :func:`.child.probes.probe_module`). The checks here read that
report and say, for each property, None (it holds) or what is wrong, for
:func:`.judges.properties`. Held-out answers and which input was changed stay in the parent, in
``case.extra``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .compare import as_array, describe, shape_text
from .judges import NotApplicable, StopChecks


def _report(result) -> dict:
    if not isinstance(result, dict) or "outputs" not in result:
        raise StopChecks("could not be probed (the grader received no report)")
    return result


def output(result, index: int = 0, part: int | None = None):
    """The array of output ``index`` (element ``part`` of it when the model returns a tuple)."""
    outputs = _report(result)["outputs"]
    value = outputs[index] if index < len(outputs) else None
    if part is not None:
        if not isinstance(value, (tuple, list)) or len(value) <= part:
            return None
        value = value[part]
    return as_array(value)


def is_module(case, result) -> str | None:
    """A precondition: an nn.Module with parameters."""
    if not isinstance(result, dict) or "outputs" not in result:
        return "could not be probed (the grader received no report)"
    if not result.get("is_module"):
        return "must be a subclass of nn.Module (class Name(nn.Module): ...)"
    if not result.get("n_params"):
        return (
            "has no parameters: create its layers in __init__ as attributes "
            "(self.rnn = nn.RNN(...)), after calling super().__init__()"
        )
    return None


def shape(expected: Callable, axes: tuple[str, ...], part: int | None = None, what: str = ""):
    """Output 0 (or its element ``part``) has shape ``expected(case)`` and floating values."""

    def check(case, result):
        raw = _report(result)["outputs"][0]
        if part is not None:
            if not isinstance(raw, (tuple, list)) or len(raw) <= part:
                raise StopChecks(
                    f"should return a tuple whose item {part} is {what}; it returned {describe(raw)}"
                )
            raw = raw[part]
        arr = as_array(raw)
        want = expected(case)
        name = what or "the output"
        if arr is None:
            raise StopChecks(f"returned {describe(raw)} as {name}, expected a tensor")
        if tuple(arr.shape) != tuple(want):
            raise StopChecks(
                f"returned {name} of shape {shape_text(arr.shape)}, expected "
                f"{shape_text(want, axes)}"
            )
        if arr.dtype.kind != "f":
            raise StopChecks(f"returned {name} of dtype {arr.dtype}, expected floating point")
        if not np.all(np.isfinite(arr)):
            return f"returned {name} with NaN or infinite values"
        return None

    return check


def differs(index: int, region: Callable, message: str, part: int | None = None):
    """Output ``index`` differs from output 0 somewhere in ``region(case)`` (an index).

    Exactly: an output that does not depend on the changed input comes out bit for bit the
    same, while a real dependence may be faint after many tanh steps.
    """

    def check(case, result):
        where = region(case)
        if where is None:
            raise NotApplicable
        base, other = output(result, 0, part), output(result, index, part)
        if base is None or other is None or base.shape != other.shape:
            return "did not give comparable outputs for the changed input"
        return None if not np.array_equal(base[where], other[where]) else message

    return check


def same(index: int, region: Callable, message: str, part: int | None = None):
    """Output ``index`` equals output 0 within ``region(case)``."""

    def check(case, result):
        where = region(case)
        if where is None:
            raise NotApplicable
        base, other = output(result, 0, part), output(result, index, part)
        if base is None or other is None or base.shape != other.shape:
            return "did not give comparable outputs for the changed input"
        return None if np.allclose(base[where], other[where], atol=1e-5) else message

    return check


def gradients(case, result) -> str | None:
    """Every parameter gets a gradient (not checked when ``case.extra["grads"]`` is False: with
    one step from a zero state, W_hh gets none, rightly)."""
    if not case.extra.get("grads", True):
        raise NotApplicable
    grads = _report(result).get("grads")
    if not isinstance(grads, dict) or not grads:
        return "could not be differentiated"
    dead = [str(name) for name, flows in grads.items() if flows is not True]
    if dead:
        return (
            "has parameters that receive no gradient ("
            + ", ".join(dead[:5])
            + "): is every layer used in forward?"
        )
    return None


def trained(metric: Callable, threshold: float, better: str, message: str):
    """After training, ``metric(case, outputs)`` must be >= (better="higher") or <= threshold."""

    def check(case, result):
        arr = output(result, 0)
        if arr is None:
            raise StopChecks("returned no usable output after training")
        value = metric(case, arr)
        good = value >= threshold if better == "higher" else value <= threshold
        if good:
            return None
        return message.format(value=value, threshold=threshold)

    return check


def perturbed(rng, arrays, index: int, where, vocab: int | None = None, scale: float = 2.0):
    """A copy of ``arrays`` with ``arrays[index][where]`` changed: floats shifted, tokens moved
    to another token of the vocabulary (which must have 2 tokens at least)."""
    copy = [np.array(a, copy=True) for a in arrays]
    target = copy[index]
    if target.dtype.kind == "f":
        target[where] += (scale * (1 + rng.random(target[where].shape))).astype(target.dtype)
    else:
        shift = rng.integers(1, vocab, target[where].shape)
        target[where] = (target[where] + shift) % vocab
    return copy
