"""One notation: the symbols of chapters, exercises, docstrings and grader messages agree with
the notation page (``book/notation.md``). Read from the sources; no build needed.

The page's sizes table gives the size letters a shape may use (``N, T, D, Dh, Q, V, C``); the
letter H is a hidden state only, never a size. Besides shapes, the scan looks for the forms the
course used to drift into: "column-vector" for a row-vector formula, time counted 0..T-1 in
prose, ``H_0`` computed as the first output, a denominator-layout Jacobian, ``X[:, t]`` called
$X_t$, and PyTorch's ``weight_hh`` without saying that it is our $W_{hh}^\\top$.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
NOTATION = BOOK / "notation.md"

# Tokens a shape may hold besides the sizes of the notation page.
SHAPE_EXTRAS = {"num_layers", "layers", "·", "...", "S", "K", "E"}
MULTIPLES = re.compile(r"^([2-4])(\w+)$")  # 2Dh (bidirectional), 3Dh and 4Dh (gated cells)
SHAPE = re.compile(r"\(\s*([A-Za-z_0-9·.]+(?:\s*,\s*[A-Za-z_0-9·.+ ]+)*)\s*,?\s*\)")


# --------------------------------------------------------------------------------------------
# The notation page.


@cache
def notation_sizes() -> dict[str, str]:
    """Name in code -> symbol, from the page's "Sizes" table."""
    text = NOTATION.read_text(encoding="utf-8")
    section = text.split("## Sizes", 1)[1].split("\n## ", 1)[0]
    sizes = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| $") and len(cells) >= 3:
            for name in re.findall(r"`(\w+)`", cells[1]):
                sizes[name] = cells[0]
    return sizes


def size_tokens() -> set[str]:
    return {name for name in notation_sizes() if len(name) <= 2}


# --------------------------------------------------------------------------------------------
# What is scanned.


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def notebook_markdown(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")


def prose_pages() -> dict[str, str]:
    """Markdown a reader sees: chapters, front and back matter, exercise notebooks."""
    pages = {}
    for path in sorted((BOOK / "chapters").glob("*.ipynb")):
        pages[str(path.relative_to(ROOT))] = notebook_markdown(path)
    for name in ("preface.md", "notation.md"):
        pages[f"book/{name}"] = (BOOK / name).read_text(encoding="utf-8")
    for path in sorted((ROOT / "exercises").glob("*/*.ipynb")):
        pages[str(path.relative_to(ROOT))] = notebook_markdown(path)
    return pages


def docstrings(path: Path) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc:
                found.append(doc)
    return "\n\n".join(found)


def exercise_docstrings(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n\n".join(_source(c) for c in cells if c["cell_type"] == "code")
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    return "\n\n".join(
        ast.get_docstring(n) or ""
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.ClassDef)
    )


def docstring_pages() -> dict[str, str]:
    pages = {}
    for path in sorted((ROOT / "autograder" / "reference").glob("*.py")):
        pages[str(path.relative_to(ROOT))] = docstrings(path)
    for path in sorted((ROOT / "exercises").glob("*/*.ipynb")):
        pages[str(path.relative_to(ROOT)) + " (docstrings)"] = exercise_docstrings(path)
    return pages


def grader_axes() -> dict[str, list[str]]:
    """The axis names of every ``Array(name, axes)`` in the grader's checks: its messages."""
    found = {}
    for path in sorted((ROOT / "solutions").glob("*/checks.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        axes = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Array":
                if len(node.args) >= 2 and isinstance(node.args[1], ast.Tuple):
                    axes += [e.value for e in node.args[1].elts if isinstance(e, ast.Constant)]
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "label":
                axes += [k.arg for k in node.keywords if k.arg and len(k.arg) <= 2]
        found[str(path.relative_to(ROOT))] = axes
    return found


# --------------------------------------------------------------------------------------------
# The detectors: each returns the offending snippets of one text.


SHAPE_TOKEN = re.compile(r"\d+|[234]?[A-Za-z]{1,2}|num_layers|layers|·|\.\.\.")


def shape_tuples(text: str) -> list[tuple[str, list[str]]]:
    """Parenthesised tuples made only of size-like tokens: ``(N, T, Dh)``, ``(Dh,)``."""
    found = []
    for match in SHAPE.finditer(text):
        tokens = [t.strip() for t in match.group(1).split(",") if t.strip()]
        one_tuple = len(tokens) > 1 or re.search(r",\s*\)$", match.group(0))
        if one_tuple and all(SHAPE_TOKEN.fullmatch(t) for t in tokens):
            if not all(t.isdigit() for t in tokens):
                found.append((match.group(0), tokens))
    return found


def bad_shapes(text: str) -> list[str]:
    """Shapes that use H (or 2H) as a size: the notation page's hidden size is Dh."""
    return [shape for shape, tokens in shape_tuples(text) if {"H", "2H"} & set(tokens)]


def unknown_sizes(text: str) -> list[str]:
    """Shapes with a size that the notation page's sizes table does not define."""
    allowed = size_tokens() | SHAPE_EXTRAS
    unknown = []
    for shape, tokens in shape_tuples(text):
        for t in tokens:
            base = MULTIPLES.match(t).group(2) if MULTIPLES.match(t) else t
            if not t.isdigit() and base not in allowed:
                unknown.append(shape)
    return unknown


FORBIDDEN = [
    (
        "a size written H in maths",
        re.compile(
            r"\\times\s*2?H\b|\b2?H\s*\\times|\$2?H\s*=\s*\d|\$2?H\$ (?:hidden|units|numbers)"
        ),
    ),
    ("'column-vector' for the row-vector convention", re.compile(r"column[- ]vector", re.I)),
    (
        "time counted from 0 in prose",
        re.compile(
            r"t\s*=\s*0\s*,\s*\\dots\s*,\s*T\s*-\s*1|\$X_0\b|X_0,\s*\\dots|\$X_\{T-1\},\s*\\dots"
        ),
    ),
    ("H_0 computed as the first output", re.compile(r"H_0\s*=\s*\\(?:tanh|phi)\s*\(\s*X")),
    ("an array slice named as the maths index", re.compile(r"`[XHO]\[:, t\]` is \$[XHO]_t\$")),
    (
        "a denominator-layout Jacobian",
        re.compile(
            r"J_t\s*=\s*W_\{hh\}|J_t\s*=\s*\\operatorname\{diag\}\([^$]*?\)\s*W_\{hh\}(?!\^)"
        ),
    ),
]


def forbidden_forms(text: str) -> list[str]:
    return [f"{what}: {m.group(0)!r}" for what, rx in FORBIDDEN for m in rx.finditer(text)]


def pytorch_weights_unexplained(text: str) -> bool:
    """The page shows PyTorch's weight_hh or weight_ih without saying they are our transposes."""
    if not re.search(r"weight_(hh|ih)", text):
        return False
    return not re.search(r"W_\{?\w+\}?\^\\top|W\^\{\([fb]\)\\top\}_\{\w+\}|W_\w+\.T\b", text)


# --------------------------------------------------------------------------------------------
# The detectors catch the old text (taken from the course before the notation was unified).

OLD_TEXT = [
    "| `H` | $(N, T, H)$ | the hidden state after every step; `H[:, t]` is $H_t$ |",
    "`x @ W_xh` has shape $(N, H)$, and so has `h_prev @ W_hh`",
    "PyTorch's `nn.RNN` computes the same recurrence in the column-vector convention",
    "Write `rnn_forward` with a loop over $t = 0, \\dots, T-1$ that calls your cell",
    "$$H_0 = \\tanh(X_0 W_{xh} + h_0 W_{hh} + b_h)$$",
    "with $H_t \\in \\mathbb{R}^{N \\times H}$ and $W_{hh}$",
    "A forward RNN's state has read $X_0, \\dots, X_t$: the past.",
    "$$J_t = W_{hh} \\operatorname{diag}(1 - h_t^2)$$",
    "h_prev: (N, H) hidden state from the previous step.",
]


@pytest.mark.parametrize("text", OLD_TEXT)
def test_the_scan_flags_the_old_notation(text):
    assert bad_shapes(text) or forbidden_forms(text), f"the scan misses {text!r}"


def test_the_scan_accepts_the_notation_page_forms():
    fine = (
        "`H (N, T, Dh)`, `W_hh (Dh, Dh)`, `(N, T, 2Dh)`, $H_t \\in \\mathbb{R}^{N \\times D_h}$, "
        "$J_t = \\operatorname{diag}(1 - H_t \\odot H_t)\\, W_{hh}^\\top$, time $t = 1, \\dots, T$, "
        "`X[:, t-1]` holds $X_t$, the row-vector convention, rnn_forward(X, h0, W_xh, W_hh, b_h)"
    )
    assert bad_shapes(fine) == [] and forbidden_forms(fine) == []
    assert pytorch_weights_unexplained("`weight_hh` is trained") is True
    assert pytorch_weights_unexplained("`weight_hh` is $W_{hh}^\\top$") is False


# --------------------------------------------------------------------------------------------
# The notation page itself.


def test_notation_page_defines_the_course_sizes():
    sizes = notation_sizes()
    assert {"N", "T", "D", "Dh", "Q", "V", "C"} <= set(sizes), sizes
    assert "H" not in sizes, "H is the hidden state, not a size"
    text = NOTATION.read_text(encoding="utf-8")
    for must in (
        "t = 1, \\dots, T",
        "row-vector convention",
        "numerator layout",
        "\\operatorname{diag}(1 - H_t \\odot H_t)\\, W_{hh}^\\top",
        "`weight_ih` is $W_{xh}^\\top$",
        "`weight_hh` is $W_{hh}^\\top$",
        "`H[:, t-1]` holds $H_t$",
    ):
        assert must in text, f"notation.md must state {must!r}"


def test_notation_page_shapes_use_only_its_sizes():
    text = NOTATION.read_text(encoding="utf-8")
    shapes = re.findall(r"`(\([^`]*\))`", text)
    assert bad_shapes(text) == [], bad_shapes(text)
    assert unknown_sizes("\n".join(shapes)) == [], unknown_sizes("\n".join(shapes))
    assert len(shapes) >= 25, shapes


# --------------------------------------------------------------------------------------------
# Every page, docstring and grader message against it.


@pytest.mark.parametrize("page", sorted(prose_pages()))
def test_page_uses_the_notation(page):
    text = prose_pages()[page]
    problems = [f"shape {s}" for s in bad_shapes(text)] + forbidden_forms(text)
    if pytorch_weights_unexplained(text):
        problems.append("shows PyTorch's weight_hh/weight_ih without saying it is our W^T")
    assert not problems, f"{page} disagrees with book/notation.md: {problems}"


@pytest.mark.parametrize("source", sorted(docstring_pages()))
def test_docstrings_use_the_notation(source):
    text = docstring_pages()[source]
    assert bad_shapes(text) == [], f"{source}: shapes with H as a size: {bad_shapes(text)}"


@pytest.mark.parametrize("checks", sorted(grader_axes()))
def test_grader_messages_name_the_hidden_size_dh(checks):
    axes = grader_axes()[checks]
    assert "H" not in axes and "2H" not in axes, f"{checks} names a size H in its messages"
