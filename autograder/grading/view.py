"""Record: one view of a graded notebook, which every reader of a report is drawn from.

The terminal table (:mod:`.learner`), the feedback page (:mod:`.feedback`) and the class summary
(:mod:`.summary_page`) all show a :class:`View`: the same points, status words, problems,
diagnoses and hints, worked out once here. Pure functions of a :class:`.record.Report`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STATUS_WORDS = {
    "passed": "passed",
    "partial": "partly right",
    "failed": "wrong",
    "error": "raised an error",
    "missing": "missing",
    "timeout": "too slow",
    "crashed": "crashed",
    "unreadable": "unreadable",
}
NOT_RUN = "not run (timed out above)"

_CASE = re.compile(r" \(case [^()]*(?:\([^()]*\)[^()]*)*\)$")
_CREDIT = re.compile(r"^\d+% of the credit; ")
_GUFUNC = re.compile(
    r"matmul: Input operand (\d) has a mismatch in its core dimension (\d), with gufunc "
    r"signature \(n\?,k\),\(k,m\?\)->\(n\?,m\?\) \(size (\d+) is different from (\d+)\)"
)


@dataclass(frozen=True)
class Diagnosis:
    said: str  # "your output matches what f gives with the bias left out"
    hint: str  # what to change; "" when the catalogue has none for it


@dataclass(frozen=True)
class Row:
    test_id: str
    about: str
    points: float
    max_points: float
    status: str
    word: str  # the status in words: "passed", "partly right", "not run (timed out above)"
    problem: str  # what went wrong, "" when passed
    diagnoses: tuple[Diagnosis, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def css(self) -> str:
        return self.status if self.status in ("passed", "partial") else "other"


@dataclass(frozen=True)
class View:
    title: str
    assignment: str
    student: str
    notebook: str
    points: float
    max_points: float
    rows: tuple[Row, ...]
    notes: tuple[str, ...]

    @property
    def passing(self) -> int:
        return sum(row.passed for row in self.rows)


# The course's names for arrays, with their axes (the notation page), to say what a product
# expected: "W_xh should be (D, Dh)".
AXES = {
    "x": ("N", "D"),
    "X": ("N", "T", "D"),
    "h": ("N", "Dh"),
    "h0": ("N", "Dh"),
    "h_prev": ("N", "Dh"),
    "h_next": ("N", "Dh"),
    "H": ("N", "T", "Dh"),
    "W_xh": ("D", "Dh"),
    "W_hh": ("Dh", "Dh"),
    "W_hq": ("Dh", "Q"),
    "da": ("N", "Dh"),
    "dh_next": ("N", "Dh"),
    "dh": ("N", "Dh"),
}
_OPERAND = r"([A-Za-z_][\w.]*(?:\[[^\]]*\])?(?:\.T)?)"
_PRODUCT = re.compile(_OPERAND + r"\s*@\s*" + _OPERAND)
_CODE = re.compile(r"`([^`]*)`\)$")


def readable_error(text: str) -> str:
    """NumPy's matmul complaint in words: which operands of which product disagree, and by
    which sizes ("in `x @ W_xh`, x has 4 columns but W_xh has 5 rows")."""
    match = _GUFUNC.search(text)
    if not match:
        return text
    operand, _, size, other = match.groups()
    left, right = (other, size) if operand == "1" else (size, other)
    code = _CODE.search(text)
    products = _PRODUCT.findall(code.group(1)) if code else []
    if len(products) == 1:
        a, b = products[0]
        words = (
            f"matmul: in `{a} @ {b}` the columns of {a} ({left}) do not match the rows of {b} "
            f"({right})"
        )
        known = [
            f"{n.removesuffix('.T')} is ({', '.join(AXES[n.removesuffix('.T')])})"
            for n in (a, b)
            if n.removesuffix(".T") in AXES
        ]
        if known:
            words += "; with row vectors " + " and ".join(known)
    else:
        words = (
            f"matmul: in a product A @ B the columns of A ({left}) do not match the rows of B "
            f"({right})"
        )
    return text[: match.start()] + words + text[match.end() :]


def split_diagnosis(detail: str, hints) -> Diagnosis:
    """A diagnosis line as (what it matches, what to change), split where the catalogue's hint
    begins: never at the first ": ", which a mistake's own name may contain."""
    for hint in sorted(hints, key=len, reverse=True):
        if hint and detail.endswith(": " + hint):
            return Diagnosis(detail[: -len(hint) - 2], hint)
    return Diagnosis(detail, "")


def _hints(test) -> list[str]:
    mistakes = getattr(getattr(test, "judge", None), "mistakes", ()) or ()
    return [m.hint for m in mistakes if getattr(m, "hint", "")]


def _problem(message: str, details) -> str:
    for detail in details:  # the message ends with the first diagnosis: say it once
        if message.endswith("; " + detail):
            message = message[: -len(detail) - 2]
    return readable_error(message)


def _core(problem: str) -> str:
    """A problem without the case it was seen in and the share of credit, for comparisons."""
    return _CREDIT.sub("", _CASE.sub("", problem))


def rows(report) -> tuple[Row, ...]:
    from .record import points

    out: list[Row] = []
    seen_errors: dict[str, str] = {}
    timed_out: set[str] = set()
    for test, verdict in zip(report.assignment.tests, report.verdicts, strict=True):
        got = points(test.points, verdict)
        word = STATUS_WORDS.get(verdict.status, verdict.status)
        if verdict.status == "passed":
            out.append(Row(test.id, test.about, got, test.points, verdict.status, word, ""))
            continue
        details = [d for d in dict.fromkeys(verdict.details) if d]
        problem = _problem(verdict.message, details)
        if verdict.status == "timeout" and test.name in timed_out:
            word, problem = NOT_RUN, f"{test.name} timed out in an earlier test"
        elif verdict.status == "timeout":
            timed_out.add(test.name)
        elif verdict.status in ("error", "crashed"):
            key = _core(problem)
            if key in seen_errors:
                problem = f"the same error as {seen_errors[key]} above"
            else:
                seen_errors[key] = test.id
        hints = _hints(test)
        diagnoses = tuple(split_diagnosis(d, hints) for d in details)
        out.append(
            Row(test.id, test.about, got, test.points, verdict.status, word, problem, diagnoses)
        )
    return tuple(out)


def notes(report) -> tuple[str, ...]:
    found = list(report.notes)
    if report.result is not None:
        for error in report.result.program_errors:
            where = error.get("where") or {}
            line = f", line {where['line']}" if where.get("line") else ""
            code = f" (`{where['code']}`)" if where.get("code") else ""
            found.append(
                f"{error.get('origin', 'a cell')}{line}{code} raised {error.get('type')}: "
                f"{readable_error(str(error.get('message', '')))}"
            )
    return tuple(found)


def build(report) -> View:
    assignment = report.assignment
    table = rows(report)
    return View(
        title=assignment.title or assignment.name,
        assignment=assignment.name,
        student=report.student,
        notebook=report.notebook,
        points=sum(row.points for row in table),
        max_points=assignment.max_points,
        rows=table,
        notes=notes(report),
    )
