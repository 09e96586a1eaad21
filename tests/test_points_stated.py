"""The points a learner reads next to each task are the points the grader gives.

solutions/build_notebooks.py appends to the markdown cell that introduces each task a line
"**Graded, N points:** `test_a` 1, `test_b` 2." written from the nbgrader ``points`` of the
test cells that follow the task's answer cell. Here the line is read back from the instructor
and the student notebooks and compared with their nbgrader metadata and with checks.py.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grading import assignments

ROOT = Path(__file__).resolve().parent.parent

_spec = importlib.util.spec_from_file_location(
    "build_notebooks", ROOT / "solutions" / "build_notebooks.py"
)
build_notebooks = sys.modules.setdefault("build_notebooks", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(build_notebooks)

NAMES = [a.name for a in build_notebooks.assignments()]
LINE = re.compile(
    r"^\*\*Graded(?: by hand)?, (?P<total>[\d.]+) points?:\*\* (?P<tests>.+)\.$", re.M
)
PART = re.compile(r"^`(?P<id>[A-Za-z0-9_-]+)`(?: (?P<points>[\d.]+))?$")


def notebook(name: str, version: str) -> Path:
    solution = next(a for a in build_notebooks.assignments() if a.name == name).notebook
    return solution if version == "solutions" else ROOT / "exercises" / name / solution.name


def stated(nb) -> list[tuple[int, float, dict[str, float]]]:
    """(cell index, total, {test id: points}) for every points line of the notebook."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for match in LINE.finditer(cell.source):
            parts = [PART.match(p) for p in match["tests"].split(", ")]
            assert all(parts), match[0]
            total = float(match["total"])
            tests = {p["id"]: float(p["points"]) if p["points"] else total for p in parts}
            found.append((index, total, tests))
    return found


def graded(nb) -> dict[str, tuple[int, float]]:
    """{grade id: (cell index, points)} of the graded test cells, from nbgrader's metadata."""
    out = {}
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            out[meta["grade_id"]] = (index, float(meta["points"]))
    return out


@pytest.mark.parametrize("version", ["solutions", "exercises"])
@pytest.mark.parametrize("name", NAMES)
def test_every_task_states_its_tests_and_points_as_nbgrader_and_the_grader_count_them(
    name, version
):
    nb = nbformat.read(notebook(name, version), as_version=4)
    lines = stated(nb)
    cells = graded(nb)
    answers = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")]
    said: dict[str, float] = {}
    for index, total, tests in lines:
        assert total == sum(tests.values()), (index, tests)
        for test_id, points in tests.items():
            assert test_id not in said, f"{test_id} is stated twice"
            said[test_id] = points
            test_cell = cells[test_id][0]
            if nb.cells[test_cell].cell_type == "markdown":
                # Marked by hand: the line ends the task itself or the question above the answer.
                assert test_cell - index in (0, 1), (test_id, index, test_cell)
                continue
            # Next to its task: the line introduces the answer cell that the test follows.
            between = [a for a in answers if index < a < test_cell]
            assert len(between) == 1, (test_id, index, test_cell)
    assert said == {t: p for t, (_, p) in cells.items()}
    loaded = assignments.load(name)
    declared = {t.id: float(t.points) for t in loaded.tests}
    declared |= {c.id: c.points for c in loaded.hand_marked}
    assert said == declared


def test_the_line_follows_the_points_of_the_test_cells(tmp_path):
    """Change a test cell's points in a source: the stated line changes with it."""
    source = (ROOT / "solutions" / "_src" / "02_bptt.py").read_text(encoding="utf-8")
    assert source.count("id=test_rnn_backward points=3") == 1
    changed = tmp_path / "02_bptt.py"
    changed.write_text(
        source.replace("id=test_rnn_backward points=3", "id=test_rnn_backward points=7")
    )
    lines = {frozenset(t.items()) for _, _, t in stated(build_notebooks.parse(changed))}
    assert frozenset({("test_rnn_backward", 7.0)}) in lines
    assert frozenset({("test_rnn_backward", 3.0)}) not in lines


def test_a_test_cell_that_grades_no_task_is_refused(tmp_path):
    source = tmp_path / "99_nothing.py"
    source.write_text("# %% [markdown]\n# Hello\n\n# %% [test] id=test_x points=1\nassert True\n")
    with pytest.raises(ValueError, match="grades no task"):
        build_notebooks.parse(source)


HAND_MARKED = """
# %% [markdown]
# Why does tanh saturate? Answer in two sentences.

# %% [markdown] id=explain_tanh points=2
# Its derivative 1 - tanh(a)^2 is close to 0 for large |a|.

# %% [markdown] id=plot_task points=3 task=true
# Plot the hidden states of a long sequence and say what you see.
"""


def test_cells_marked_by_hand_are_nbgrader_manual_cells_that_state_their_points(tmp_path):
    source = ROOT / "solutions" / "_src" / "01_rnn_cell.py"
    changed = tmp_path / "01_rnn_cell.py"
    changed.write_text(source.read_text(encoding="utf-8") + HAND_MARKED, encoding="utf-8")
    nb = build_notebooks.parse(changed)
    meta = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]
        for c in nb.cells
        if c.cell_type == "markdown" and "nbgrader" in c.metadata
    }
    written, task = meta["explain_tanh"], meta["plot_task"]
    assert written["grade"] and written["solution"] and not written["task"]
    assert written["points"] == 2 and not written["locked"]
    assert task["task"] and task["locked"] and not task["grade"] and task["points"] == 3
    lines = {frozenset(t.items()) for _, _, t in stated(nb)}
    assert frozenset({("explain_tanh", 2.0)}) in lines
    assert frozenset({("plot_task", 3.0)}) in lines
    question = next(c for c in nb.cells if "Why does tanh saturate?" in c.source)
    assert question.source.endswith("**Graded by hand, 2 points:** `explain_tanh`.")
