"""Judge ``nn.Module`` exercises by values: the grader chooses the weights, the parent checks.

The notebook documents the layout of each class (the names and shapes of its parameters,
those of ``self.rnn = nn.RNN(...)``, ``self.head = nn.Linear(...)``...). For every case the
parent draws the arguments of the constructor, the weights and the inputs, and sends a
request to the child's generic runner (:func:`.child.probes.run_module`), which builds the
learner's class, loads the weights by name and returns raw tensors: the outputs, the outputs
on every prefix of the sequence, the gradients with respect to the inputs and to every
weight for a fixed upstream gradient, and the weights after a few fixed SGD steps. The parent
runs the very same request on its reference module (:mod:`autograder.reference.torch_rnn`, in
float64) and compares the two reports value by value. Nothing the learner's process says about
itself earns a point: forging a report means computing the reference's numbers, which is the
exercise.

Training tests go the same way: the child trains the learner's module on batches the parent
sent (Adam, norm clipping), and returns the weights; the parent loads them into its reference
module and scores that on held-out data that never left the parent.

Each case's comparisons are grouped in parts (the output, causality, the input gradient, the
weight gradients, the training steps...); credit is per part as in :func:`.judges.credit`. A
:class:`~.spec.Mistake` here computes the report of a wrong module (its ``compute`` takes the
whole case, see :func:`wrong_module`), so that the feedback can name it.

To grade a new ``nn.Module`` exercise (an LSTM, say):

1. write the reference module, with the exercise's constructor and the attribute names the
   learner is asked for (a subclass of a :mod:`autograder.reference.torch_rnn` model often
   does), and a wrong version of it per typical mistake;
2. put the table of its parameters (``state_dict`` keys and shapes) in the notebook, next to
   the task, and name the attributes in the answer cell's comments;
3. in ``checks.py``: a :class:`ModuleSpec`; cases from :func:`values_case` (and
   :func:`training_case` for a training test); the judges :class:`values` (with
   ``Mistake(says, hint, wrong_module(spec, WrongClass))``) and :class:`trained`; and
   ``Test(..., kind="module")``. ``solutions/04_sequence_types/checks.py`` is a full example.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import i18n
from . import diagnose, judges
from .child import probes
from .child.wire import Returned
from .compare import NUMPY_ARRAY, compare_array, describe, shape_text
from .spec import Array, Case, Mistake, Tolerance, Verdict

# float32 (the learner's default) against the float64 reference: every typical mistake
# changes the values by far more than this.
TOLERANCE = Tolerance(rtol=2e-4, atol=2e-5)
SGD_STEPS = 3
SGD_LR = 0.2


@dataclass(frozen=True)
class ModuleSpec:
    """What the grader knows about one ``nn.Module`` exercise.

    ``reference(*init)`` builds the parent's module with the documented layout (any dtype: it
    is converted to float64). ``outputs`` names the tensors ``forward`` returns, depth first
    (``(Array("logits", ...), Array("h_last", ...))`` for a ``(logits, h_last)`` pair).
    ``inputs`` names forward's arguments; ``sequence`` is the position of the argument whose
    axis 1 is time (its prefixes are checked), None when there is none; ``layout_hint`` says
    how to build the layers, for a learner whose parameters are laid out otherwise.
    """

    reference: Callable
    outputs: tuple[Array, ...]
    inputs: tuple[str, ...]
    layout_hint: str
    sequence: int | None = 0


# --------------------------------------------------------------------------------------------
# The reference side


def build_reference(spec: ModuleSpec, init, weights: dict | None = None):
    """The reference module for ``init`` in float64, holding ``weights`` if given."""
    import torch

    model = spec.reference(*init).to(torch.float64)
    if weights is not None:
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in weights.items():
                params[name].copy_(torch.as_tensor(value))
    return model


def layout(spec: ModuleSpec, init) -> dict[str, tuple[int, ...]]:
    """The documented parameters: ``{name: shape}``, in the reference's order."""
    return {n: tuple(p.shape) for n, p in spec.reference(*init).named_parameters()}


def default_weights(spec: ModuleSpec, init, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Weights drawn as PyTorch initialises these layers: uniform in +-1/sqrt(k), k the layer's
    input size (its hidden size for a recurrent layer), and standard normal embeddings."""
    from torch import nn

    weights = {}
    for prefix, module in spec.reference(*init).named_modules():
        own = list(module.named_parameters(recurse=False))
        if not own:
            continue
        if isinstance(module, nn.Embedding):
            bound = None
        elif isinstance(module, nn.Linear):
            bound = 1 / np.sqrt(module.in_features)
        else:
            bound = 1 / np.sqrt(getattr(module, "hidden_size", own[0][1].shape[-1]))
        for name, p in own:
            shape = tuple(p.shape)
            full = f"{prefix}.{name}" if prefix else name
            weights[full] = (
                rng.standard_normal(shape) if bound is None else rng.uniform(-bound, bound, shape)
            )
    return weights


def forward(spec: ModuleSpec, init, weights: dict, inputs: Sequence) -> list[np.ndarray]:
    """The reference's output tensors on ``inputs``, as float64 arrays."""
    report = probes.run_module(
        lambda *a: build_reference(spec, a),
        init,
        {"weights": weights, "ops": [{"op": "forward", "inputs": list(inputs)}]},
    )
    return [_numpy(t) for t in probes.tensor_leaves(report["results"][0]["out"])]


def _numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def values_case(
    spec: ModuleSpec,
    init: tuple,
    inputs: Sequence,
    rng: np.random.Generator,
    label: str = "",
    states: Sequence[tuple[str, Sequence]] = (),
    weights: dict | None = None,
    extra: dict | None = None,
) -> Case:
    """A case comparing the learner's module with the reference on ``inputs``.

    The weights (unless given) and the upstream gradients are drawn here. ``states`` adds
    forward calls on other inputs, each with a phrase for the feedback ("from a given h"),
    compared as the part "initial state".
    """
    weights = default_weights(spec, init, rng) if weights is None else weights
    inputs = list(inputs)
    outs = forward(spec, init, weights, inputs)
    ops: list[dict] = [{"op": "forward", "inputs": inputs}]
    reads: list[tuple] = [("output", 0, "", 0)]
    if spec.sequence is not None:
        T = np.shape(inputs[spec.sequence])[1]
        for t in range(1, T):
            cut = list(inputs)
            cut[spec.sequence] = np.array(inputs[spec.sequence][:, :t])
            reads.append(("causal", len(ops), f"on {spec.inputs[spec.sequence]}[:, :{t}]", t))
            ops.append({"op": "forward", "inputs": cut})
    for phrase, other in states:
        reads.append(("initial state", len(ops), phrase, 0))
        ops.append({"op": "forward", "inputs": list(other)})
    upstream = [rng.standard_normal(o.shape) for o in outs]
    reads.append(("gradients", len(ops), "", 0))
    ops.append({"op": "backward", "inputs": inputs, "upstream": upstream})
    reads.append(("training steps", len(ops), "", 0))
    ops.append(
        {
            "op": "sgd",
            "inputs": inputs,
            "upstream": [rng.standard_normal(o.shape) for o in outs],
            "lr": SGD_LR,
            "steps": SGD_STEPS,
        }
    )
    request = {"weights": weights, "ops": ops}
    return module_case(init, request, label, {**(extra or {}), "reads": reads})


def module_case(init, request: dict, label: str = "", extra: dict | None = None) -> Case:
    """A case of a "module" test: the child builds ``cls(*init)`` and runs ``request``.

    (The engine sends ``case.args[0]`` as the constructor's arguments and
    ``case.extra["options"]`` as the request; the rest of ``extra`` stays in the parent.)
    """
    return Case((tuple(init), []), {"options": request, **(extra or {})}, label)


def reference_report(spec: ModuleSpec, case: Case, model_class: Callable | None = None) -> dict:
    """The report of the reference (or of ``model_class``, a wrong module) on ``case``."""
    build = model_class or spec.reference
    import torch

    return probes.run_module(
        lambda *a: build(*a).to(torch.float64), case.args[0], case.extra["options"]
    )


# --------------------------------------------------------------------------------------------
# Reading a report into leaves


@dataclass
class Leaf:
    part: str
    name: str
    axes: tuple[str, ...] = ()
    value: np.ndarray | None = None
    problem: str = ""  # why there is no value ("is None", "is a list")
    t: int = 0  # for a prefix: how many steps it holds


def _as_tensor_array(value, name: str, what: str = "a tensor") -> tuple[np.ndarray | None, str]:
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return _numpy(value), ""
    except ImportError:  # pragma: no cover - torch is a dependency of the course
        pass
    if isinstance(value, Returned):
        if "Tensor" in value.type or "Parameter" in value.type:
            return value.array, ""
        return None, _is_expected(name, describe(value), what)
    if value is None:
        return None, _is_expected(name, "None", what)
    return None, _is_expected(name, describe(value), what)


def _is_expected(name: str, got: str, what: str) -> str:
    return i18n._("{name} is {got}, expected {what}").format(name=name, got=got, what=i18n._(what))


def _output_leaves(spec: ModuleSpec, out, part: str, suffix: str) -> list[Leaf]:
    names = [f"{o.name} {suffix}".strip() for o in spec.outputs]
    leaves = [Leaf(part, n, o.axes) for n, o in zip(names, spec.outputs, strict=True)]
    if len(spec.outputs) == 1:
        items = [out]
    elif isinstance(out, (tuple, list)) and len(out) == len(spec.outputs):
        items = list(out)
    else:
        wanted = ", ".join(o.name for o in spec.outputs)
        for leaf in leaves:
            leaf.problem = i18n._("forward returned {got}, expected a tuple ({names})").format(
                got=describe(out), names=wanted
            )
        return leaves
    for leaf, item in zip(leaves, items, strict=True):
        leaf.value, leaf.problem = _as_tensor_array(item, leaf.name)
    return leaves


def read_report(spec: ModuleSpec, case: Case, report) -> tuple[list[Leaf], str]:
    """The leaves of a report in the order of ``case.extra["reads"]``, and a problem that
    stops the whole case (not a module, parameters laid out otherwise), or ""."""
    request = case.extra["options"]
    if not isinstance(report, dict) or "layout" not in report:
        return [], i18n._("could not be run (the grader received {got})").format(
            got=describe(report)
        )
    wanted = {n: tuple(np.shape(w)) for n, w in request["weights"].items()}
    problem = layout_problem(report.get("layout"), wanted, spec.layout_hint)
    if problem:
        return [], problem
    results = report.get("results")
    ops = request["ops"]
    if not isinstance(results, list) or len(results) != len(ops):
        return [], i18n._("could not be run (the grader received an incomplete report)")
    leaves: list[Leaf] = []
    for part, index, phrase, t in case.extra["reads"]:
        result, op = results[index], ops[index]
        error = result.get("error") if isinstance(result, dict) else "no result"
        if op["op"] == "forward":
            got = _output_leaves(
                spec, None if error else result.get("out"), part if part != "output" else "", phrase
            )
            for leaf in got:
                leaf.part = leaf.part or leaf.name  # each output its own part
                leaf.t = t
        elif op["op"] == "backward":
            got = [
                Leaf(
                    "input gradient",
                    i18n._("the gradient with respect to {name}").format(name=spec.inputs[i]),
                )
                for i, x in enumerate(op["inputs"])
                if isinstance(x, np.ndarray) and x.dtype.kind == "f"
            ]
            got += [
                Leaf("weight gradients", i18n._("the gradient of {name}").format(name=n))
                for n in wanted
            ]
            if not error:
                grads = result.get("inputs") or []
                floats = [
                    i
                    for i, x in enumerate(op["inputs"])
                    if isinstance(x, np.ndarray) and x.dtype.kind == "f"
                ]
                params = result.get("params") or {}
                values = [grads[i] if i < len(grads) else None for i in floats]
                values += [params.get(n) if isinstance(params, dict) else None for n in wanted]
                for leaf, value in zip(got, values, strict=True):
                    leaf.value, leaf.problem = _as_tensor_array(value, leaf.name, "a gradient")
                    if value is None:
                        leaf.problem = i18n._(
                            "{name} is None: no gradient reached it (is it used in forward, "
                            "without .detach() or torch.no_grad()?)"
                        ).format(name=leaf.name)
        else:
            got = [
                Leaf(
                    "training steps",
                    i18n._("{name} after {steps} SGD steps on model.parameters()").format(
                        name=n, steps=SGD_STEPS
                    ),
                )
                for n in wanted
            ]
            params = result.get("params") if not error else None
            for leaf, n in zip(got, wanted, strict=True):
                if isinstance(params, dict):
                    leaf.value, leaf.problem = _as_tensor_array(params.get(n), leaf.name)
        for leaf in got:
            if error and leaf.value is None:
                leaf.problem = _op_error(str(error), op, spec)
        leaves.extend(got)
    return leaves, ""


def _op_error(error: str, op: dict, spec: ModuleSpec) -> str:
    error = error[: probes.MAX_ERROR]
    if error.startswith("NotImplementedError"):
        return i18n._("forward is not written yet: it still raises NotImplementedError")
    return i18n._("raised {error} ({call})").format(error=error, call=_call_text(op, spec))


def _call_text(op: dict, spec: ModuleSpec) -> str:
    shapes = ", ".join(
        shape_text(np.shape(x)) if isinstance(x, np.ndarray) else "None" for x in op["inputs"]
    )
    what = {"forward": "forward", "backward": "backward", "sgd": i18n._("SGD steps")}[op["op"]]
    return i18n._("{what} on inputs of shapes {shapes}").format(what=what, shapes=shapes)


def layout_problem(got, wanted: dict, hint: str) -> str:
    """What is wrong with the learner's parameters, or "" when they are laid out as documented."""
    if got is None:
        return i18n._(
            "is not an nn.Module: write class ...(nn.Module) and call super().__init__() first "
            "in __init__"
        )
    if not isinstance(got, dict):
        return i18n._("could not be run (the grader received no layout)")
    got = {str(k): tuple(v) if isinstance(v, (tuple, list)) else v for k, v in got.items()}
    if got == wanted:
        return ""
    missing = [f"{n} {shape_text(s)}" for n, s in wanted.items() if n not in got]
    extra = [f"{n} {shape_text(s)}" for n, s in got.items() if n not in wanted][:6]
    wrong = [
        i18n._("{name} has shape {shape}, expected {expected}").format(
            name=n, shape=shape_text(got[n]), expected=shape_text(s)
        )
        for n, s in wanted.items()
        if n in got and got[n] != s
    ]
    parts = []
    if missing:
        parts.append(i18n._("missing {names}").format(names=", ".join(missing)))
    if extra:
        parts.append(i18n._("unexpected {names}").format(names=", ".join(extra)))
    parts.extend(wrong)
    return i18n._("does not have the parameters the exercise lays out ({problems}): {hint}").format(
        problems="; ".join(parts), hint=i18n._(hint)
    )


# --------------------------------------------------------------------------------------------
# The judge


def _causality_note(leaves: list[Leaf], spec: ModuleSpec) -> str:
    """Where the learner's outputs on a prefix differ from its own outputs on the whole
    sequence at the same steps: it reads later inputs. (Computed from the learner's values
    for the message only; the credit comes from the comparison with the reference.)"""
    first = spec.outputs[0]
    if spec.sequence is None or first.axes[1:2] != ("T",) or not leaves:
        return ""
    full = leaves[0].value
    if full is None or full.ndim < 2:
        return ""
    for leaf in leaves:
        if leaf.part != "causal" or not leaf.name.startswith(first.name + " "):
            continue
        if leaf.value is None or full[:, : leaf.t].shape != leaf.value.shape:
            continue
        if not np.allclose(full[:, : leaf.t], leaf.value, rtol=TOLERANCE.rtol, atol=TOLERANCE.atol):
            return i18n._(
                "its {name} for the first {t} steps change when the later steps of {input} are "
                "there too: step t may read inputs up to t only"
            ).format(name=first.name, t=leaf.t, input=spec.inputs[spec.sequence])
    return ""


class values:  # noqa: N801 - used like a function: module_checks.values(...)
    """A judge comparing the learner's report with the reference's, part by part.

    ``mistakes``: wrong modules (:class:`~.spec.Mistake` whose ``compute(init, request)``
    returns a report, see :func:`wrong_module`) that the feedback names when they match.
    """

    def __init__(self, spec: ModuleSpec, mistakes: Sequence[Mistake] = (), tol=TOLERANCE):
        self.spec = spec
        self.mistakes = tuple(mistakes)
        self.tol = tol

    def __call__(self, test, cases: Sequence[Case], run) -> Verdict:
        early = judges.unusable(test, cases, run)
        if early is not None:
            return early
        spec, tol = self.spec, self.tol
        ok: list[dict[str, bool]] = []
        problems: list[str] = []
        per_case = []
        for case, outcome in zip(cases, run.cases, strict=True):
            where = judges._case_label(case)
            expected, _ = read_report(spec, case, reference_report(spec, case))
            case_ok = {leaf.part: False for leaf in expected}
            ok.append(case_ok)
            if outcome is None:
                problems.append(judges.ended_text(test.name, run.status, run.detail) + where)
                continue
            if outcome.error is not None:
                problems.append(judges.error_text(test.name, outcome.error) + where)
                continue
            received, stop = read_report(spec, case, outcome.result)
            if stop:
                problems.append(f"{test.name} {stop}{where}")
                continue
            failing = []
            for i, (want, got) in enumerate(zip(expected, received, strict=True)):
                if got.value is None:
                    message = got.problem
                else:
                    finding = compare_array(
                        Array(got.name, want.axes),
                        Returned(NUMPY_ARRAY, got.value),
                        want.value,
                        tol,
                    )
                    if finding.ok:
                        continue
                    message = f"{got.name} {finding.message}"
                failing.append(i)
                problems.append(f"{test.name}: {message}{where}")
            for part in case_ok:
                case_ok[part] = not any(expected[i].part == part for i in failing)
            note = _causality_note(received, spec)
            if note:
                problems.insert(0, f"{test.name}: {note}{where}")
            if self.mistakes:
                per_case.append(self._explain(case, expected, received, failing))
        found = diagnose.summarise(self.mistakes, per_case) if any(f for f in per_case) else []
        details = [f"{test.name} {_phrase(d)}" for d in found]
        if found and problems:
            problems[0] = f"{problems[0]}; {details[0]}"
        return judges.verdict(ok, problems, details)

    def _explain(self, case, expected: list[Leaf], received: list[Leaf], failing: list[int]):
        """As :func:`.diagnose.explain_case`, on leaves: for each mistake, which parts it
        explains (True) or is contradicted by (False)."""
        found: dict[int, dict[str, bool]] = {}
        if not failing:
            return found
        for m, mistake in enumerate(self.mistakes):
            try:
                wrong, stop = read_report(self.spec, case, mistake.compute(case))
            except (ValueError, TypeError, RuntimeError, IndexError):
                continue
            if stop or len(wrong) != len(expected):
                continue
            verdicts: dict[str, bool] = {}
            for i, (w, right, got) in enumerate(zip(wrong, expected, received, strict=True)):
                if w.value is None:
                    continue
                if i in failing:
                    hit = got.value is not None and diagnose.explains(
                        Returned(NUMPY_ARRAY, got.value), w.value, right.value, self.tol
                    )
                    verdicts[right.part] = verdicts.get(right.part, True) and hit
                elif diagnose._distinct(w.value, right.value, self.tol):
                    verdicts[right.part] = False
            found[m] = verdicts
        return found


def _phrase(d: diagnose.Diagnosis) -> str:
    return i18n._("gives what it would with {says}: {hint}").format(
        says=i18n._(d.mistake.says), hint=i18n._(d.mistake.hint)
    )


def wrong_module(spec: ModuleSpec, model_class: Callable) -> Callable:
    """``compute`` for a :class:`~.spec.Mistake` of a module test: the report that
    ``model_class`` (a wrong version of the reference, with the same parameters) gives on a
    case. It takes the whole case, since the request travels in ``case.extra``."""
    return lambda case: reference_report(spec, case, model_class)


# --------------------------------------------------------------------------------------------
# Training


@dataclass(frozen=True)
class Training:
    """A "trains" test: the learner's module is trained in the child, scored here.

    ``metric(case, model)`` computes a number from the reference module holding the trained
    weights (on held-out data kept in ``case.extra``); it passes when ``>= threshold``
    (``better="higher"``) or ``<= threshold``; ``message`` is formatted with ``value`` and
    ``threshold`` when it does not.
    """

    spec: ModuleSpec
    metric: Callable
    threshold: float
    better: str
    message: str


def training_case(
    spec: ModuleSpec,
    init: tuple,
    batches: list,
    rng: np.random.Generator,
    *,
    loss: str,
    lr: float,
    clip: float = 1.0,
    label: str = "",
    extra: dict | None = None,
    **options,
) -> Case:
    """A case training ``cls(*init)`` from weights drawn here, on ``batches`` (``[inputs,
    target]`` pairs) with Adam and norm clipping, as the notebook's ``train`` does."""
    fit = {"op": "fit", "batches": batches, "loss": loss, "lr": lr, "clip": clip, **options}
    request = {"weights": default_weights(spec, init, rng), "ops": [fit]}
    return module_case(init, request, label, extra)


class trained:  # noqa: N801 - used like a function: module_checks.trained(...)
    """A judge scoring the weights the learner's training returned, in the reference module."""

    def __init__(self, training: Training):
        self.training = training
        self.spec = training.spec

    def __call__(self, test, cases: Sequence[Case], run) -> Verdict:
        early = judges.unusable(test, cases, run)
        if early is not None:
            return early
        ok: list[dict[str, bool]] = []
        problems: list[str] = []
        for case, outcome in zip(cases, run.cases, strict=True):
            where = judges._case_label(case)
            ok.append({"learns": False})
            if outcome is None:
                problems.append(judges.ended_text(test.name, run.status, run.detail) + where)
                continue
            if outcome.error is not None:
                problems.append(judges.error_text(test.name, outcome.error) + where)
                continue
            message = _score_training(self.training, case, outcome.result)
            if message:
                problems.append(f"{test.name} {message}{where}")
            else:
                ok[-1]["learns"] = True
        return judges.verdict(ok, problems, [])


def _score_training(training: Training, case: Case, report) -> str:
    import torch

    spec = training.spec
    wanted = {n: tuple(np.shape(w)) for n, w in case.extra["options"]["weights"].items()}
    if not isinstance(report, dict) or "layout" not in report:
        return i18n._("could not be trained (the grader received {got})").format(
            got=describe(report)
        )
    problem = layout_problem(report.get("layout"), wanted, spec.layout_hint)
    if problem:
        return problem
    results = report.get("results")
    result = results[0] if isinstance(results, list) and len(results) == 1 else None
    if not isinstance(result, dict):
        return i18n._("could not be trained (the grader received an incomplete report)")
    if "error" in result:
        return i18n._("raised {error} while the grader trained it").format(
            error=str(result["error"])[: probes.MAX_ERROR]
        )
    params = result.get("params")
    weights = {}
    for name, shape in wanted.items():
        value, bad = _as_tensor_array(params.get(name) if isinstance(params, dict) else None, name)
        if value is None or tuple(value.shape) != shape or value.dtype.kind != "f":
            return i18n._("returned no trained {name} of shape {shape} ({problem})").format(
                name=name, shape=shape_text(shape), problem=bad or i18n._("wrong")
            )
        if not np.all(np.isfinite(value)):
            return i18n._(
                "has NaN or infinite weights after the grader's training: check the forward"
            )
        weights[name] = value
    model = build_reference(spec, case.args[0], weights).eval()
    with torch.no_grad():
        value = training.metric(case, model)
    good = (
        value >= training.threshold if training.better == "higher" else value <= training.threshold
    )
    if good:
        return ""
    return i18n._(training.message).format(value=value, threshold=training.threshold)
