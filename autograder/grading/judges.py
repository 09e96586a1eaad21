"""Judges: turn a test's cases and what the child returned into a :class:`~.spec.Verdict`.

A judge is a pure function ``judge(test, cases, run) -> Verdict``; ``run`` is the
:class:`~.run.TestRun` of that test (one outcome per case, ``None`` for a case its process did
not live to report, and how the process ended). Three kinds cover the course:

* :func:`references`: compare every part of the output with each reference implementation
  (NumPy and PyTorch), and name the matching mistakes when it is wrong;
* :func:`answer`: a multiple-choice answer stored in a variable;
* :func:`properties`: named checks on the output, for what has no single right output (the
  weights a training returned, scored by the parent).

``nn.Module`` exercises have their own judges in :mod:`.module_checks`.

Credit is partial: the fraction of (case, part) pairs, or (case, property) pairs, that pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .. import i18n
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
        place = i18n._(" ({origin}, line {line}").format(origin=where["origin"], line=where["line"])
        place += f": `{where['code']}`)" if where.get("code") else ")"
    if kind == "NotImplementedError":
        cell = f" ({where['origin']})" if where else ""
        return (
            i18n._("{name} is not written yet: it still raises NotImplementedError").format(
                name=name
            )
            + cell
        )
    texts = {
        "SystemExit": i18n._(
            "{name} called sys.exit() or exit(){place}: return the result instead"
        ),
        "ExitRefused": i18n._(
            "{name} called os._exit() or os.abort(){place}: return the result instead"
        ),
        "StatementTimeout": i18n._(
            "{name} ran too long and was stopped{place}: is there an endless loop?"
        ),
        "MemoryError": i18n._(
            "{name} ran out of memory{place}: it used more than the memory limit allows"
        ),
        "RecursionError": i18n._(
            "{name} recursed too deeply{place}: does it call itself without end?"
        ),
    }
    if kind in texts:
        return texts[kind].format(name=name, place=place)
    if kind == "OutputError":
        return i18n._("{name} returned something that cannot be graded: {message}").format(
            name=name, message=message
        )
    missing = not_given(kind, message)
    if missing:
        return i18n._(
            "{missing} is not given in this exercise: write it yourself. {name} uses it{place}"
        ).format(missing=missing, name=name, place=place)
    text = i18n._("{name} raised {error}").format(name=name, error=kind)
    return text + (f": {_translated(message)}" if message else "") + place


# Sentences the sandboxed child writes in English (it runs without the message catalogue).
_CHILD_SENTENCES = (
    "this exercise is NumPy only: torch is not available in the grader",
    "its import failed, as this exercise is NumPy only: torch is not available in the grader",
)


def _translated(message: str) -> str:
    """``message`` with the child's own English sentences in the learner's language."""
    for sentence in _CHILD_SENTENCES:
        if sentence in message:
            message = message.replace(sentence, i18n._(sentence))
            break
    return message


# How Python says that the course package lacks a name: the sandbox offers only what the exercise
# gives (autograder.grading.givens), so a submission calling a reference it was not given fails so.
_NOT_GIVEN = (
    ("AttributeError", r"module '(?:autograder[\w.]*)' has no attribute '(\w+)'"),
    ("ImportError", r"cannot import name '(\w+)' from '(?:autograder[\w.]*)'"),
    ("ModuleNotFoundError", r"No module named '(?:autograder[\w.]*\.)?(\w+)'"),
    ("NameError", r"name '(numpy_rnn|torch_rnn)' is not defined"),
)


def not_given(kind: str, message: str) -> str | None:
    """The name a submission used that its exercise does not give, if that is why it failed."""
    for expected_kind, pattern in _NOT_GIVEN:
        match = re.match(pattern, message) if kind == expected_kind else None
        if match and (kind != "ModuleNotFoundError" or "autograder" in message):
            return match.group(1)
    return None


def ended_text(name: str, status: str, detail: str) -> str:
    """Why the process running a test stopped before reporting a case."""
    texts = {
        "timeout": i18n._("{name} did not finish within {detail}: is there an endless loop?"),
        "cpu": i18n._("{name} used more CPU time than allowed: is there an endless loop?"),
        "killed": i18n._("{name} was stopped for using too much CPU time or memory"),
        "exit": i18n._(
            "the process ended (exit code {detail}) while {name} was running: "
            "does the code call os._exit() or exit()?"
        ),
        "signal": i18n._("{name} crashed the process ({detail})"),
        "garbled": i18n._("{name} produced output that could not be read back ({detail})"),
    }
    if status in texts:
        return texts[status].format(name=name, detail=detail)
    return i18n._("{name} was not run: {detail}").format(
        name=name, detail=detail or i18n._("the notebook could not be run")
    )


def missing_text(name: str, kind: str) -> str:
    if kind == "value":
        return i18n._(
            '{name} is not set: write your answer as {name} = "A" (a capital letter in quotes)'
        ).format(name=name)
    if kind == "module":
        text = i18n._(
            "{name} is not defined in the notebook: keep the class name (and its arguments) "
            "given in the exercise"
        )
    else:
        text = i18n._(
            "{name} is not defined in the notebook: keep the function name (and its arguments) "
            "given in the exercise"
        )
    return text.format(name=name)


def credit(ok: Sequence[Mapping[str, bool]]) -> float:
    """The fraction of a test earned, from ``ok[case][part]``.

    A part (an output, or a property) earns full credit when it is right in every case, half
    when it is right in the first case (the typical one, like the notebook's visible test) but
    wrong in some other, and nothing when it is wrong in the typical case. So an edge case that
    hides a mistake (T = 1 hides a state that is never carried) gives no credit on its own.
    """
    if not ok:
        return 0.0
    parts = list(dict.fromkeys(p for case in ok for p in case))
    if not parts:
        return 0.0
    total = 0.0
    for part in parts:
        if all(case.get(part, True) for case in ok):
            total += 1.0
        elif ok[0].get(part, False):
            total += 0.5
    return total / len(parts)


def verdict(ok, problems: list[str], details: list[str]) -> Verdict:
    """The verdict of a test from ``ok[case][part]`` (see :func:`credit`) and its messages."""
    fraction = credit(ok)
    status = "passed" if fraction == 1.0 else "partial" if fraction > 0 else "failed"
    if status == "passed":
        return Verdict(1.0, status, "all cases pass", tuple(details))
    message = problems[0] if problems else "wrong"
    if status == "partial":
        message = i18n._("{percent} of the credit; ").format(percent=f"{fraction:.0%}") + message
    return Verdict(fraction, status, message, tuple(details))


_slot = diagnose.slot


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
    return i18n._(" (case {label})").format(label=case.label) if case.label else ""


# --------------------------------------------------------------------------------------------
# Comparing with the references


class references:  # noqa: N801 - used like a function: judges.references(...)
    """A judge comparing the output, part by part, with every reference in ``refs``.

    ``output`` is the layout of the return value (leaves inside tuples and dicts, see
    :mod:`.spec`). A part passes when it matches all references; if the references disagree
    with each other on a case (a bug in the grader), matching any one of them is enough.
    ``shape_only`` checks type, dtype and shape but not values. ``unchanged_args`` lists the
    positions of arguments the function must not modify in place (their values after the call
    are compared with the inputs; needs ``keep_args=True`` on the test). The arguments stay
    readable as attributes, for the tests of the declarations.
    """

    def __init__(
        self,
        output,
        refs: Mapping[str, Callable],
        mistakes: Sequence[Mistake] = (),
        tol: Tolerance = DEFAULT_TOLERANCE,
        shape_only: bool = False,
        unchanged_args: Sequence[int] = (),
    ):
        self.output = output
        self.refs = dict(refs)
        self.mistakes = tuple(mistakes)
        self.tol = SHAPE_ONLY if shape_only else tol
        self.shape_only = shape_only
        self.unchanged_args = tuple(unchanged_args)

    def __call__(self, test, cases: Sequence[Case], run) -> Verdict:
        output, refs, mistakes, tol = self.output, self.refs, self.mistakes, self.tol
        shape_only, unchanged_args = self.shape_only, self.unchanged_args
        early = unusable(test, cases, run)
        if early is not None:
            return early
        ok: list[dict[str, bool]] = []
        problems: list[str] = []
        names: list[str] = []
        diagnoses: list[dict[int, dict[str, bool]]] = []
        judged: list[tuple] = []
        for case, outcome in zip(cases, run.cases, strict=True):
            ref_values = {label: ref(*case.args, **case.extra) for label, ref in refs.items()}
            first = next(iter(ref_values.values()))
            expected = expected_leaves(output, first)
            names = [leaf.name for leaf, _ in expected]
            case_ok = {_slot(n): False for n in names}
            ok.append(case_ok)
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
                if not finding.ok:
                    failing.append(i)
                    prefix = test.name if len(expected) == 1 else f"{test.name}: {leaf.name}"
                    problems.append(f"{prefix} {finding.message}{where}")
            for slot in case_ok:
                case_ok[slot] = not any(_slot(names[i]) == slot for i in failing)
            changed = _changed_arguments(case, outcome, unchanged_args)
            if changed:
                problems.insert(
                    0,
                    i18n._(
                        "{name} changed its argument {changed} in place: restore every entry "
                        "you change exactly (keep the old value and assign it back), or work on "
                        "a copy"
                    ).format(name=test.name, changed=changed)
                    + where,
                )
                for slot in case_ok:
                    case_ok[slot] = False
            judged.append((case, received, [np.asarray(v) for _, v in expected], names, failing))
        if mistakes and not shape_only and any(item[-1] for item in judged):
            # Cases the learner got right count too: they rule out mistakes that would show.
            for case, received, wanted, leaf_names, failing in judged:
                diagnoses.append(
                    diagnose.explain_case(
                        mistakes, case, output, received, wanted, leaf_names, failing, tol
                    )
                )
        found = diagnose.summarise(mistakes, diagnoses)
        problems = _with_diagnosis(problems, found, test.name, names)
        return verdict(ok, problems, _diagnosis_details(found, test.name, names))


def _unchanged(before, after) -> bool:
    """Whether a value sent to the child came back exactly as it was (lists of arrays too)."""
    if isinstance(before, (list, tuple)):
        return (
            isinstance(after, (list, tuple))
            and len(after) == len(before)
            and all(_unchanged(b, a) for b, a in zip(before, after, strict=True))
        )
    if isinstance(before, np.ndarray):
        arr = getattr(after, "array", None)
        return arr is not None and arr.shape == before.shape and bool(np.array_equal(arr, before))
    return True


def _changed_arguments(case: Case, outcome, positions: Sequence[int]) -> str:
    """Which of the arguments at ``positions`` came back changed ("number 2"), or ""."""
    after = outcome.args_after if isinstance(outcome.args_after, (list, tuple)) else ()
    changed = [
        str(p + 1) for p in positions if p >= len(after) or not _unchanged(case.args[p], after[p])
    ]
    return i18n._("number {numbers}").format(numbers=", ".join(changed)) if changed else ""


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


def _mistake_phrase(d: diagnose.Diagnosis, name: str, names: Sequence[str]) -> str:
    parts = list(d.parts)
    every = set(parts) == {_slot(n) for n in names}
    says, hint = i18n._(d.mistake.says), i18n._(d.mistake.hint)
    if every:
        text = i18n._("your output matches what {name} gives with {says}: {hint}")
        return text.format(name=name, says=says, hint=hint)
    if len(parts) == 1:
        text = i18n._("{part} matches what {name} gives with {says}: {hint}")
        return text.format(part=parts[0], name=name, says=says, hint=hint)
    text = i18n._("{parts} and {last} match what {name} gives with {says}: {hint}")
    return text.format(parts=", ".join(parts[:-1]), last=parts[-1], name=name, says=says, hint=hint)


def _with_diagnosis(problems: list[str], found, name: str, names: Sequence[str]) -> list[str]:
    if not problems or not found:
        return problems
    return [problems[0] + "; " + _mistake_phrase(found[0], name, names), *problems[1:]]


def _diagnosis_details(found, name: str, names: Sequence[str]) -> list[str]:
    return [_mistake_phrase(d, name, names) for d in found]


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
                i18n._(
                    '{name} should be a string holding one letter, like "B"; it is {type}'
                ).format(name=test.name, type=type(got).__name__ if got is not None else "None"),
            )
        letter = got.strip().strip("()'\". ").upper()
        if len(letter) != 1 or letter not in choices:
            shown = got if len(got) <= 20 else got[:17] + "..."
            return Verdict(
                0.0,
                "failed",
                i18n._("{name} should be one of the letters {letters}; it is {value}").format(
                    name=test.name, letters=", ".join(choices), value=repr(shown)
                ),
            )
        if letter == expected:
            return Verdict(1.0, "passed", i18n._("{name}: right").format(name=test.name))
        return Verdict(
            0.0,
            "failed",
            i18n._("{name}: {letter} is not the right answer; reread the section").format(
                name=test.name, letter=letter
            ),
        )

    return judge


# --------------------------------------------------------------------------------------------
# Properties


def properties(checks: Sequence[tuple[str, Callable]], preconditions: Sequence[Callable] = ()):
    """A judge applying named checks to each case's result.

    Each check is ``(label, fn)`` with ``fn(case, result) -> str | None``: None when the
    property holds, otherwise a message for the learner. A check may raise
    :class:`NotApplicable` for a case it has nothing to say about, or :class:`StopChecks` when
    the checks after it cannot be made. ``preconditions`` (same signature) earn no credit:
    when one fails, every check of that case fails with it.
    """

    def judge(test, cases: Sequence[Case], run) -> Verdict:
        early = unusable(test, cases, run)
        if early is not None:
            return early
        ok: list[dict[str, bool]] = []
        problems: list[str] = []
        for case, outcome in zip(cases, run.cases, strict=True):
            where = _case_label(case)
            case_ok = {label: False for label, _ in checks}
            ok.append(case_ok)
            if outcome is None:
                problems.append(ended_text(test.name, run.status, run.detail) + where)
                continue
            if outcome.error is not None:
                problems.append(error_text(test.name, outcome.error) + where)
                continue
            failed = [p(case, outcome.result) for p in preconditions]
            failed = [m for m in failed if m]
            if failed:
                problems.append(f"{test.name} {failed[0]}{where}")
                continue
            for label, check in checks:
                try:
                    message = check(case, outcome.result)
                except NotApplicable:
                    del case_ok[label]
                    continue
                except StopChecks as halt:
                    # The remaining checks of this case cannot be made: they stay failed.
                    problems.append(f"{test.name} {halt}{where}")
                    break
                if message is None:
                    case_ok[label] = True
                else:
                    problems.append(f"{test.name} {message}{where}")
        return verdict(ok, problems, [])

    return judge


class NotApplicable(Exception):
    """Raised by a property check that has nothing to say about this case."""


class StopChecks(Exception):
    """Raised by a property check whose failure makes the following checks meaningless."""
