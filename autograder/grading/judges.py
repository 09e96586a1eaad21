"""Judges: turn a test's cases and what the child returned into a :class:`~.spec.Verdict`.

A judge is a pure function ``judge(test, cases, run) -> Verdict``; ``run`` is the
:class:`~.run.TestRun` of that test (one outcome per case, ``None`` for a case its process did
not live to report, and how the process ended). Three kinds cover the course:

* :func:`references`: compare every part of the output with each reference implementation
  (NumPy and PyTorch), and name the matching mistakes when it is wrong;
* :func:`answer`: a multiple-choice answer stored in a variable;
* :func:`properties`: named checks on the output (shapes, perturbation probes, sampling
  statistics) for what has no single right output, such as an ``nn.Module`` with random weights.

Credit is partial: the fraction of (case, part) pairs, or (case, property) pairs, that pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from . import diagnose
from .compare import (
    Finding,
    StructureError,
    compare_leaf,
    expected_leaves,
    received_leaves,
    within,
)
from .spec import Case, Mistake, Tolerance, Verdict

SHAPE_ONLY = Tolerance(rtol=np.inf, atol=np.inf)
DEFAULT_TOLERANCE = Tolerance()


# --------------------------------------------------------------------------------------------
# Messages shared by all judges


def error_text(name: str, error: dict) -> str:
    """What the student's code raised, in plain words, with the line it was running."""
    kind, message, where = error.get("type", "Error"), error.get("message", ""), error.get("where")
    place = ""
    if where:
        place = f" ({where['origin']}, line {where['line']}"
        place += f": `{where['code']}`)" if where.get("code") else ")"
    if kind == "NotImplementedError":
        cell = f" ({where['origin']})" if where else ""
        return f"{name} is not written yet: it still raises NotImplementedError{cell}"
    if kind == "SystemExit":
        return f"{name} called sys.exit() or exit(){place}: return the result instead"
    if kind == "MemoryError":
        return f"{name} ran out of memory{place}: it used more than the memory limit allows"
    if kind == "RecursionError":
        return f"{name} recursed too deeply{place}: does it call itself without end?"
    if kind == "OutputError":
        return f"{name} returned something that cannot be graded: {message}"
    text = f"{name} raised {kind}"
    return text + (f": {message}" if message else "") + place


def ended_text(name: str, status: str, detail: str) -> str:
    """Why the process running a test stopped before reporting a case."""
    if status == "timeout":
        return f"{name} did not finish within {detail}: is there an endless loop?"
    if status == "cpu":
        return f"{name} used more CPU time than allowed: is there an endless loop?"
    if status == "killed":
        return f"{name} was stopped for using too much CPU time or memory"
    if status == "exit":
        return (
            f"the process ended (exit code {detail}) while {name} was running: "
            "does the code call os._exit() or exit()?"
        )
    if status == "signal":
        return f"{name} crashed the process ({detail})"
    if status == "garbled":
        return f"{name} produced output that could not be read back ({detail})"
    return f"{name} was not run: {detail or 'the notebook could not be run'}"


def missing_text(name: str, kind: str) -> str:
    what = {"module": "class", "value": "variable"}.get(kind, "function")
    return (
        f"{name} is not defined in the notebook: keep the {what} name (and its arguments) "
        "given in the exercise"
    )


def _verdict(units_ok: int, units: int, problems: list[str], details: list[str], status=None):
    fraction = units_ok / units if units else 0.0
    if status is None:
        status = "passed" if units and units_ok == units else "partial" if units_ok else "failed"
    message = problems[0] if problems else "all cases pass"
    if status == "partial":
        message = f"{units_ok} of {units} checks pass; " + message
    return Verdict(fraction, status, message, tuple(details))


def unusable(test, cases: Sequence[Case], run) -> Verdict | None:
    """A verdict when no case can be judged: not defined, every case raised, or lost."""
    outcomes = run.cases
    if any(o is not None and o.missing for o in outcomes):
        return Verdict(0.0, "missing", missing_text(test.name, test.kind))
    if outcomes and all(o is None for o in outcomes):
        text = ended_text(test.name, run.status, run.detail)
        status = "timeout" if run.status in ("timeout", "cpu") else "crashed"
        if run.status == "not_run":
            status = "error"
        return Verdict(0.0, status, text)
    if outcomes and all(o is None or o.error is not None for o in outcomes):
        errors = [o.error for o in outcomes if o is not None]
        return Verdict(0.0, "error", error_text(test.name, errors[0]))
    return None


def _case_label(case: Case) -> str:
    return f" (case {case.label})" if case.label else ""


# --------------------------------------------------------------------------------------------
# Comparing with the references


def references(
    output,
    refs: Mapping[str, Callable],
    mistakes: Sequence[Mistake] = (),
    tol: Tolerance = DEFAULT_TOLERANCE,
    shape_only: bool = False,
    unchanged_args: Sequence[int] = (),
):
    """A judge comparing the output, part by part, with every reference in ``refs``.

    ``output`` is the layout of the return value (leaves inside tuples and dicts, see
    :mod:`.spec`). A part passes when it matches all references; if the references disagree
    with each other on a case (a bug in the grader), matching any one of them is enough.
    ``shape_only`` checks type, dtype and shape but not values. ``unchanged_args`` lists the
    positions of arguments the function must not modify in place (their values after the call
    are compared with the inputs; needs ``keep_args=True`` on the test).
    """
    tol = SHAPE_ONLY if shape_only else tol

    def judge(test, cases: Sequence[Case], run) -> Verdict:
        early = unusable(test, cases, run)
        if early is not None:
            return early
        units = units_ok = 0
        problems: list[str] = []
        details: list[str] = []
        names: list[str] | None = None
        diagnoses: list[dict[int, list[int]]] = []
        for case, outcome in zip(cases, run.cases, strict=True):
            ref_values = {label: ref(*case.args, **case.extra) for label, ref in refs.items()}
            first = next(iter(ref_values.values()))
            expected = expected_leaves(output, first)
            names = [leaf.name for leaf, _ in expected]
            extra_units = len(unchanged_args)
            units += len(expected) + extra_units
            where = _case_label(case)
            if outcome is None:
                problems.append(ended_text(test.name, run.status, run.detail) + where)
                continue
            if outcome.error is not None:
                problems.append(error_text(test.name, outcome.error) + where)
                continue
            try:
                received = received_leaves(output, outcome.result, first)
            except StructureError as err:
                problems.append(f"{test.name} {err}{where}")
                continue
            others = {
                label: [v for _, v in expected_leaves(output, value)]
                for label, value in ref_values.items()
            }
            failing: list[int] = []
            for i, ((leaf, _), got) in enumerate(zip(expected, received, strict=True)):
                finding = _against_all(leaf, got, i, others, tol)
                if finding.ok:
                    units_ok += 1
                    continue
                failing.append(i)
                prefix = f"{test.name}" if len(expected) == 1 else f"{test.name}: {leaf.name}"
                problems.append(f"{prefix} {finding.message}{where}")
            for position in unchanged_args:
                before = np.asarray(case.args[position])
                after = outcome.args_after[position] if outcome.args_after else None
                after_arr = getattr(after, "array", None)
                if after_arr is not None and within(after_arr, before, Tolerance(0, 0)):
                    units_ok += 1
                else:
                    problems.append(
                        f"{test.name} changed its argument number {position + 1} in place: "
                        "work on a copy (or restore every entry you change)" + where
                    )
            if failing and mistakes and not shape_only:
                wanted = [np.asarray(v) for _, v in expected]
                diagnoses.append(
                    diagnose.explain_case(mistakes, case, output, received, wanted, failing, tol)
                )
        found = diagnose.summarise(mistakes, diagnoses, names or [])
        problems = _with_diagnosis(problems, found, test.name, len(names or []))
        details.extend(_diagnosis_details(found, test.name, len(names or [])))
        return _verdict(units_ok, units, problems, details)

    return judge


def _against_all(leaf, got, i: int, others: Mapping[str, list], tol: Tolerance) -> Finding:
    """Compare with every reference; pass if all agree, or any when the references disagree."""
    findings = {label: compare_leaf(leaf, got, values[i], tol) for label, values in others.items()}
    if all(f.ok for f in findings.values()):
        return next(iter(findings.values()))
    values = [np.asarray(v[i]) for v in others.values()]
    agree = all(v.shape == values[0].shape and within(v, values[0], tol) for v in values[1:])
    if not agree and any(f.ok for f in findings.values()):
        return Finding(True)
    failed = [f for f in findings.values() if not f.ok]
    return failed[0]


def _mistake_phrase(d: diagnose.Diagnosis, name: str, n_parts: int) -> str:
    subject = "it" if n_parts == 1 else " and ".join(d.parts)
    verb = "matches" if n_parts == 1 or len(d.parts) == 1 else "match"
    return f"{subject} {verb} the output of {name} with {d.mistake.says}: {d.mistake.hint}"


def _with_diagnosis(problems: list[str], found, name: str, n_parts: int) -> list[str]:
    if not problems or not found:
        return problems
    return [problems[0] + "; " + _mistake_phrase(found[0], name, n_parts), *problems[1:]]


def _diagnosis_details(found, name: str, n_parts: int) -> list[str]:
    return [_mistake_phrase(d, name, n_parts) for d in found]


# --------------------------------------------------------------------------------------------
# Multiple-choice answers


def answer(expected: str, choices: str = "ABCDE"):
    """A judge for a variable holding one capital letter; feedback never reveals the answer."""

    def judge(test, cases: Sequence[Case], run) -> Verdict:
        early = unusable(test, cases, run)
        if early is not None:
            return early
        outcome = run.cases[0]
        got = outcome.result
        if not isinstance(got, str):
            return Verdict(
                0.0,
                "failed",
                f'{test.name} should be a string holding one letter, like "B"; it is '
                f"{type(got).__name__ if got is not None else 'None'}",
            )
        letter = got.strip().strip("()'\". ").upper()
        if len(letter) != 1 or letter not in choices:
            shown = got if len(got) <= 20 else got[:17] + "..."
            return Verdict(
                0.0,
                "failed",
                f"{test.name} should be one of the letters {', '.join(choices)}; it is {shown!r}",
            )
        if letter == expected:
            return Verdict(1.0, "passed", f"{test.name}: right")
        return Verdict(
            0.0, "failed", f"{test.name}: {letter} is not the right answer; reread the section"
        )

    return judge


# --------------------------------------------------------------------------------------------
# Properties


def properties(checks: Sequence[tuple[str, Callable]]):
    """A judge applying named checks to each case's result.

    Each check is ``(label, fn)`` with ``fn(case, result) -> str | None``: None when the
    property holds, otherwise a message for the learner. A check may raise
    :class:`NotApplicable` for a case it has nothing to say about.
    """

    def judge(test, cases: Sequence[Case], run) -> Verdict:
        early = unusable(test, cases, run)
        if early is not None:
            return early
        units = units_ok = 0
        problems: list[str] = []
        for case, outcome in zip(cases, run.cases, strict=True):
            where = _case_label(case)
            units += len(checks)
            if outcome is None:
                problems.append(ended_text(test.name, run.status, run.detail) + where)
                continue
            if outcome.error is not None:
                problems.append(error_text(test.name, outcome.error) + where)
                continue
            for _label, check in checks:
                try:
                    message = check(case, outcome.result)
                except NotApplicable:
                    units -= 1
                    continue
                except StopChecks as halt:
                    # The remaining checks of this case cannot be made: they stay failed.
                    problems.append(f"{test.name} {halt}{where}")
                    break
                if message is None:
                    units_ok += 1
                else:
                    problems.append(f"{test.name} {message}{where}")
        return _verdict(units_ok, units, problems, [])

    return judge


class NotApplicable(Exception):
    """Raised by a property check that has nothing to say about this case."""


class StopChecks(Exception):
    """Raised by a property check whose failure makes the following checks meaningless."""
