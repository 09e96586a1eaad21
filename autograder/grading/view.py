"""Record: one view of a graded notebook, which every reader of a report is drawn from.

The terminal table (:mod:`.learner`), the feedback page (:mod:`.feedback`) and the class summary
(:mod:`.summary_page`) all show a :class:`View`: the same points, status words, problems,
diagnoses and hints, worked out once here. Pure functions of a :class:`.record.Report`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..i18n import _

STATUS_WORDS = {
    "passed": "passed",
    "partial": "partly right",
    "failed": "failed",
    "error": "raised an error",
    "missing": "missing",
    "timeout": "too slow",
    "crashed": "crashed",
    "unreadable": "unreadable",
    "not_run": "not run (timed out above)",  # a function it calls timed out in an earlier test
}
NOT_RUN = STATUS_WORDS["not_run"]

# "(case N=2, T=3)" and the share of credit, in every language of the message catalogue.
_CASE = re.compile(r" \((?:case|用例) [^()]*(?:\([^()]*\)[^()]*)*\)$")
_CREDIT = re.compile(r"^\d+%[^;；]{0,24}[;；] ?")
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
_CODE = re.compile(r"line \d+: `([^`]*)`\)")


def _sizes(text: str) -> dict[str, int]:
    """The sizes a case label states, "(case N=3, D=4, Dh=5)" -> {"N": 3, "D": 4, "Dh": 5}."""
    label = re.search(r"\((?:case|用例) ([^()]*)\)", text)
    found = re.findall(r"\b([A-Za-z]\w*)=(\d+)", label.group(1)) if label else []
    return {k: int(v) for k, v in found}


def _operand(name: str, sizes: dict[str, int]):
    """(axes, shape) of a named operand, from the course's names and the case's sizes."""
    base = re.sub(r"\[.*\]$", "", name.removesuffix(".T"))
    axes = AXES.get(base)
    if axes is None or "[" in name or any(a not in sizes for a in axes) or len(axes) != 2:
        return None
    shape = tuple(sizes[a] for a in axes)
    return (axes[::-1], shape[::-1]) if name.endswith(".T") else (axes, shape)


def readable_error(text: str) -> str:
    """NumPy's matmul complaint in words: which product disagrees and by which sizes, with the
    operands' shapes named when the course knows them ("x (N, D) = (3, 4) @ W_xh.T (Dh, D) =
    (5, 4): the columns of x (4) do not match the rows of W_xh.T (5); W_xh is (D, Dh))."""
    match = _GUFUNC.search(text)
    if not match:
        return text
    operand, _axis, size, other = match.groups()
    left, right = (int(other), int(size)) if operand == "1" else (int(size), int(other))
    code = _CODE.search(text)
    products = _PRODUCT.findall(code.group(1)) if code else []
    sizes = _sizes(text)
    if len(products) > 1:  # the one whose operands have the sizes NumPy complains about
        fitting = []
        for a, b in products:
            pa, pb = _operand(a, sizes), _operand(b, sizes)
            if pa and pb and (pa[1][-1], pb[1][0]) == (left, right):
                fitting.append((a, b))
        products = fitting
    if len(products) != 1:
        words = _(
            "matmul: in a product A @ B the columns of A ({left}) do not match the rows of B "
            "({right})"
        ).format(left=left, right=right)
        return text[: match.start()] + words + text[match.end() :]
    a, b = products[0]
    shapes = [_operand(n, sizes) for n in (a, b)]
    if all(shapes):
        (axes_a, shape_a), (axes_b, shape_b) = shapes
        named = (
            f"`{a} @ {b}`: {a} ({', '.join(axes_a)}) = {shape_a} @ {b} ({', '.join(axes_b)}) = "
            f"{shape_b}"
        )
    else:
        named = f"`{a} @ {b}`"
    words = _(
        "matmul: in {product}, the columns of {a} ({left}) do not match the rows of {b} ({right})"
    ).format(product=named, a=a, b=b, left=left, right=right)
    bases = [n.removesuffix(".T") for n in (a, b) if n.endswith(".T") and n[:-2] in AXES]
    for base in bases:
        words += _("; {name} is ({axes}), without .T").format(name=base, axes=", ".join(AXES[base]))
    return text[: match.start()] + words + text[match.end() :]


def split_diagnosis(detail: str, hints) -> Diagnosis:
    """A diagnosis line as (what it matches, what to change), split where the catalogue's hint
    begins: never at the first ": ", which a mistake's own name may contain."""
    for hint in sorted(hints, key=len, reverse=True):
        for colon in (": ", "："):
            if hint and detail.endswith(colon + hint):
                return Diagnosis(detail[: -len(hint) - len(colon)], hint)
    return Diagnosis(detail, "")


def _hints(test) -> list[str]:
    mistakes = getattr(getattr(test, "judge", None), "mistakes", ()) or ()
    return [_(m.hint) for m in mistakes if getattr(m, "hint", "")]


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
        word = _(STATUS_WORDS.get(verdict.status, verdict.status))
        if verdict.status == "passed":
            out.append(Row(test.id, _(test.about), got, test.points, verdict.status, word, ""))
            continue
        details = [d for d in dict.fromkeys(verdict.details) if d]
        problem = _problem(verdict.message, details)
        if verdict.status == "timeout" and test.name in timed_out:
            word = _(NOT_RUN)
            problem = _("{name} timed out in an earlier test").format(name=test.name)
        elif verdict.status == "timeout":
            timed_out.add(test.name)
        else:
            key = _core(problem)
            if key in seen_errors:
                problem = _("the same problem as {test} above").format(test=seen_errors[key])
            else:
                seen_errors[key] = test.id
        hints = _hints(test)
        diagnoses = tuple(split_diagnosis(d, hints) for d in details)
        out.append(
            Row(test.id, _(test.about), got, test.points, verdict.status, word, problem, diagnoses)
        )
    return tuple(out)


def notes(report) -> tuple[str, ...]:
    found = list(report.notes)
    if report.result is not None:
        for error in report.result.program_errors:
            where = error.get("where") or {}
            line = _(", line {line}").format(line=where["line"]) if where.get("line") else ""
            code = f" (`{where['code']}`)" if where.get("code") else ""
            found.append(
                _("{origin}{line}{code} raised {error}: {message}").format(
                    origin=error.get("origin", _("a cell")),
                    line=line,
                    code=code,
                    error=error.get("type"),
                    message=readable_error(str(error.get("message", ""))),
                )
            )
    return tuple(found)


def student_label(report) -> str:
    """The student as a page names them: the name the LMS gave, with the id, else the id."""
    name = getattr(report, "name", None)
    return f"{name} ({report.student})" if name else report.student


def build(report) -> View:
    assignment = report.assignment
    table = rows(report)
    return View(
        title=_(assignment.title) or assignment.name,
        assignment=assignment.name,
        student=student_label(report),
        notebook=report.notebook,
        points=sum(row.points for row in table),
        max_points=assignment.max_points,
        rows=table,
        notes=notes(report),
    )
