"""Build the instructor notebooks from their sources, and the student notebooks from those.

    python solutions/build_notebooks.py            # solutions/_src/*.py -> solutions/<NN_topic>/*.ipynb
    python solutions/build_notebooks.py --release  # ... then `nbgrader generate_assignment` -> exercises/
    python solutions/build_notebooks.py 02_bptt    # only the assignments named

Each notebook is written as a Python file, ``solutions/_src/<NN_topic>.py``, so that it can be
linted, formatted and reviewed as code, in jupytext's percent format (jupytext reads it; this
script turns each header's kind and options into nbgrader metadata). Cells are separated by
header lines:

    # %% [markdown]                  a markdown cell; each line starts with "#", which is removed
    # %% [setup] id=imports          read-only code (locked: the autograder restores it)
    # %% [answer] id=rnn_cell_impl   the learner's cell: a ``### BEGIN SOLUTION`` region inside
    # %% [test] id=test_shape points=2   an autograded test cell (locked), optionally with a
                                     ``### BEGIN HIDDEN TESTS`` region
    # %% [code]                      an ordinary cell the learner may edit (experiments)
    # %% [code] tags=hide-input      ... with cell tags (test cells are always tagged hide-input,
                                     so the book folds their scaffolding)
    # %% [markdown] id=explain points=2   a written answer marked by hand (nbgrader's manually
                                     graded answer): the model answer, replaced by "YOUR ANSWER
                                     HERE" in the release; the question goes in the cell above
    # %% [markdown] id=t points=3 task=true   a task marked by hand (nbgrader's task cell)

Each task (an answer cell) is graded by the test cells that follow it, up to the next answer
cell. The markdown cell that introduces the task (the last one before its answer cell) gets a
line stating those tests and their points, written here from the test cells' nbgrader
``points``, so that the notebook, nbgrader and the grader's checks.py count from one number:

    **Graded, 3 points:** `test_rnn_cell_forward_shape` 1, `test_rnn_cell_forward_values` 2.

Cells marked by hand state their points the same way, ``**Graded by hand, 2 points:**
`explain`.``, in the question above a written answer and at the end of a task. The grader
records them in the gradebook for formgrader, with these points, and grades the rest.

Lines before the first header (licence, lint pragmas) are not part of the notebook. The notebook
name is the source name without its "NN_" prefix: ``01_rnn_cell.py`` becomes
``solutions/01_rnn_cell/rnn_cell.ipynb``. Cell ids are derived from the grade ids and positions,
so rebuilding an unchanged source gives a byte-identical notebook.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat

SOLUTIONS = Path(__file__).resolve().parent
ROOT = SOLUTIONS.parent
SOURCES = SOLUTIONS / "_src"

KINDS = re.compile(r"\[(setup|answer|test|code)\]")
HAND_MARKED = ("written", "task")  # markdown cells marked by hand
# Cell metadata jupytext itself writes when it reads a percent-format file.
JUPYTEXT_KEYS = {"title", "incorrectly_encoded_metadata", "lines_to_next_cell", "cell_marker"}
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@dataclass(frozen=True)
class Assignment:
    """One assignment: its source file and where its instructor notebook goes."""

    source: Path

    @property
    def name(self) -> str:
        return self.source.stem  # "01_rnn_cell"

    @property
    def notebook(self) -> Path:
        topic = self.name.split("_", 1)[1]
        return SOLUTIONS / self.name / f"{topic}.ipynb"


def assignments() -> list[Assignment]:
    return [Assignment(p) for p in sorted(SOURCES.glob("[0-9][0-9]_*.py"))]


def _options(text: str, where: str) -> dict[str, str]:
    options = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"{where}: expected key=value in the cell header, got {token!r}")
        options[key] = value
    return options


def _nbgrader(kind: str, options: dict[str, str], where: str) -> dict:
    grade_id = options.get("id")
    if not grade_id or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", grade_id):
        raise ValueError(f"{where}: a {kind} cell needs id=<grade id> ([A-Za-z0-9_-], <= 64)")
    meta = {
        "grade": kind in ("test", "written"),
        "grade_id": grade_id,
        "locked": kind not in ("answer", "written"),
        "schema_version": 3,
        "solution": kind in ("answer", "written"),
        "task": kind == "task",
    }
    if kind in HAND_MARKED or kind == "test":
        try:
            meta["points"] = int(options["points"])
        except (KeyError, ValueError):
            raise ValueError(f"{where}: a {kind} cell needs points=<whole number>") from None
    return meta


def read_cells(source: Path) -> list[tuple[str, dict[str, str], str]]:
    """The cells of a percent-format source as jupytext reads them: (kind, options, text).

    jupytext keeps a header's bracketed word as the cell's title and the rest of the line as
    text it could not read as metadata; those are the kind and the ``key=value`` options here.
    Lines before the first header come back as a code cell without a title and are dropped.
    """
    notebook = jupytext.reads(source.read_text(encoding="utf-8"), fmt="py:percent")
    cells: list[tuple[str, dict[str, str], str]] = []
    for index, cell in enumerate(notebook.cells):
        title = cell.metadata.get("title", "")
        where = f"{source.name}, cell {index}"
        if cell.cell_type == "markdown":
            options = _options(cell.metadata.get("incorrectly_encoded_metadata", ""), where)
            options |= {k: str(v) for k, v in cell.metadata.items() if k not in JUPYTEXT_KEYS}
            if not options:
                cells.append(("markdown", {}, cell.source))
                continue
            task = options.pop("task", "false").lower() in ("true", "1", "yes")
            cells.append(("task" if task else "written", options, cell.source))
            continue
        if not title and not cells:
            continue  # licence lines and lint pragmas before the first header
        kind = KINDS.fullmatch(title)
        if not kind or cell.cell_type != "code":
            raise ValueError(f"{where}: unknown cell header {title!r}")
        # Values that parse as JSON (points=2) become metadata; the rest (id=...) stays text.
        options = _options(cell.metadata.get("incorrectly_encoded_metadata", ""), where)
        options |= {k: str(v) for k, v in cell.metadata.items() if k not in JUPYTEXT_KEYS}
        cells.append((kind.group(1), options, cell.source))
    return cells


def parse(source: Path) -> nbformat.NotebookNode:
    """Read one notebook source into an nbgrader source notebook (no outputs)."""
    cells = read_cells(source)
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    seen: set[str] = set()
    for index, (kind, options, text) in enumerate(cells):
        where = f"{source.name}, cell {index}"
        if kind in ("markdown", *HAND_MARKED):
            cell = nbformat.v4.new_markdown_cell(text.strip("\n"))
            cell.id = f"md-{index:02d}"
            if kind != "markdown":
                cell.metadata["nbgrader"] = _nbgrader(kind, options, where)
                cell.id = cell.metadata["nbgrader"]["grade_id"]
                if cell.id in seen:
                    raise ValueError(f"{where}: grade id {cell.id!r} is used twice")
                seen.add(cell.id)
        else:
            cell = nbformat.v4.new_code_cell(text.strip("\n"))
            cell.id = f"code-{index:02d}"
            if kind != "code":
                cell.metadata["nbgrader"] = _nbgrader(kind, options, where)
                cell.id = cell.metadata["nbgrader"]["grade_id"]
                if cell.id in seen:
                    raise ValueError(f"{where}: grade id {cell.id!r} is used twice")
                seen.add(cell.id)
            # Book pages fold test scaffolding; `tags=a,b` in a header adds tags of its own.
            tags = ["hide-input"] if kind == "test" else []
            tags += [t for t in options.get("tags", "").split(",") if t and t not in tags]
            if tags:
                cell.metadata["tags"] = tags
        nb.cells.append(cell)
    stamp_points(nb, source.name)
    nbformat.validate(nb)
    return nb


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def points_line(tests: list[tuple[str, float]], how: str = "Graded") -> str:
    """The line that states a task's tests and points: ``[(grade id, points), ...]``."""
    total = _points(sum(p for _, p in tests))
    if len(tests) == 1:
        return f"**{how}, {total}:** `{tests[0][0]}`."
    return f"**{how}, {total}:** " + ", ".join(f"`{t}` {p:g}" for t, p in tests) + "."


def stamp_points(nb: nbformat.NotebookNode, where: str) -> None:
    """Append to each task's introduction the tests that grade it, with their points."""
    kinds = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            kinds.append("hand" if meta else "markdown")
            continue
        kinds.append("answer" if meta.get("solution") else "test" if meta.get("grade") else "")
    for index, kind in enumerate(kinds):
        if kind != "hand":
            continue
        meta = nb.cells[index].metadata["nbgrader"]
        line = points_line([(meta["grade_id"], meta["points"])], "Graded by hand")
        if meta["task"]:  # the task's own text is what the learner reads
            target = index
        elif index and kinds[index - 1] == "markdown":  # the question above the answer
            target = index - 1
        else:
            raise ValueError(f"{where}: no markdown cell asks the question {meta['grade_id']!r}")
        nb.cells[target].source = nb.cells[target].source.rstrip("\n") + "\n\n" + line
    answers = [i for i, k in enumerate(kinds) if k == "answer"]
    tests = [i for i, k in enumerate(kinds) if k == "test"]
    if tests and (not answers or tests[0] < answers[0]):
        raise ValueError(f"{where}: a test cell before any answer cell grades no task")
    for n, answer in enumerate(answers):
        end = answers[n + 1] if n + 1 < len(answers) else len(nb.cells)
        graded = [
            (
                nb.cells[i].metadata["nbgrader"]["grade_id"],
                nb.cells[i].metadata["nbgrader"]["points"],
            )
            for i in tests
            if answer < i < end
        ]
        if not graded:
            continue
        start = answers[n - 1] if n else -1
        intro = [i for i in range(start + 1, answer) if kinds[i] == "markdown"]
        if not intro:
            name = nb.cells[answer].metadata["nbgrader"]["grade_id"]
            raise ValueError(f"{where}: no markdown cell introduces the task {name!r}")
        cell = nb.cells[intro[-1]]
        cell.source = cell.source.rstrip("\n") + "\n\n" + points_line(graded)


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def build(check: bool = False, names: list[str] | None = None) -> list[Path]:
    """Write every instructor notebook (or those of ``names``); with ``check``, only list the
    ones that are out of date."""
    chosen = [a for a in assignments() if not names or a.name in names]
    unknown = set(names or ()) - {a.name for a in chosen}
    if unknown:
        raise ValueError(f"unknown assignment(s): {', '.join(sorted(unknown))}")
    stale = []
    for assignment in chosen:
        text = render(parse(assignment.source))
        target = assignment.notebook
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return stale


def nbgrader_env() -> dict[str, str]:
    """The environment nbgrader needs: this interpreter's bin/ first on PATH (for alembic)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def release(names: list[str] | None = None) -> None:
    """Regenerate exercises/ with `nbgrader generate_assignment` (the repository's config)."""
    for name in names or [a.name for a in assignments()]:
        subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force"],
            cwd=ROOT,
            env=nbgrader_env(),
            check=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="assignments to build (default: all)")
    parser.add_argument("--check", action="store_true", help="fail if a notebook is out of date")
    parser.add_argument("--release", action="store_true", help="then regenerate exercises/")
    args = parser.parse_args(argv)
    try:
        stale = build(check=args.check, names=args.names)
    except ValueError as err:
        parser.error(str(err))
    for path in stale:
        print(("out of date: " if args.check else "wrote ") + str(path.relative_to(ROOT)))
    if args.check:
        return 1 if stale else 0
    if args.release:
        release(args.names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
