"""The book shows the student versions of the exercises, and nothing of their solutions."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from book_site import HTML, ROOT

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def site_files() -> list[Path]:
    if not (HTML / "index.html").is_file():
        pytest.fail("The book is not built: run `make book` (or `make test`, which builds it).")
    skip = HTML / "mathjax"
    return [p for p in HTML.rglob("*") if p.is_file() and skip not in p.parents]


def solution_lines() -> dict[str, set[str]]:
    """Per assignment, the code lines that only the solution and hidden-test regions contain."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*/*.ipynb")):
        lines: set[str] = set()
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                stripped = line.strip()
                if stripped in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                    inside = True
                elif stripped in ("### END SOLUTION", "### END HIDDEN TESTS"):
                    inside = False
                elif inside and len(stripped) >= 25:
                    lines.add(stripped)
        student = nbformat.read(ROOT / "exercises" / path.parent.name / path.name, as_version=4)
        # A hint in a visible test may spell out one line of the answer on purpose.
        visible = "\n".join(cell.source for cell in student.cells)
        found[path.parent.name] = {line for line in lines if line not in visible}
    return found


def test_no_solution_or_hidden_test_markers_anywhere_in_the_site():
    leaks = []
    for path in site_files():
        text = path.read_bytes().decode("utf-8", errors="replace")
        leaks += [f"{path.relative_to(HTML)}: {m}" for m in MARKERS if m in text]
    assert not leaks, f"nbgrader markers in the built site: {leaks[:10]}"


def test_exercise_pages_hold_no_solution_code():
    lines = solution_lines()
    assert lines and all(lines.values()), "could not read the solution regions"
    leaks = []
    for assignment, secret in lines.items():
        for path in site_files():
            if assignment not in path.as_posix() and path.name != "searchindex.js":
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
            leaks += [f"{path.relative_to(HTML)}: {line}" for line in secret if line in text]
    assert not leaks, f"solution code in the built site: {leaks[:10]}"


def test_exercise_pages_are_shown_unexecuted():
    """Student notebooks raise NotImplementedError by design: the book shows them without outputs."""
    pages = sorted((HTML / "exercises").rglob("*.html"))
    assert len(pages) == len(list((ROOT / "exercises").glob("*/*.ipynb"))), "exercises missing"
    executed = [p.name for p in pages if 'class="cell_output' in p.read_text(encoding="utf-8")]
    assert not executed, f"exercise pages shown with outputs: {executed}"
