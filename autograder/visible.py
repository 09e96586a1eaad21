"""Run a notebook's visible tests on the learner's machine (``rnn-course check`` of the learner
repository, where the grader's hidden tests and references are not shipped).

The notebook's code cells run in order, in a fresh Python process, with IPython (so magics
work); each graded test cell (nbgrader's ``grade: true``) gets a verdict: passed, failed with
its message, not written yet, or needs a reference implementation that only the full grading
has. Nothing here is a grade: the learner's own process runs the tests, so its verdicts are for
the learner alone. Points come from full grading (the instructor's ``rnn-course grade``, or
Gradescope).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

NOT_SHIPPED = "ReferenceNotShipped"


@dataclass(frozen=True)
class Outcome:
    test_id: str
    points: float
    status: str  # passed, failed, not written, needs the reference, not run
    message: str = ""


def _cells(notebook: Path) -> list[dict]:
    content = json.loads(notebook.read_text(encoding="utf-8"))
    cells = []
    for cell in content.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        text = cell.get("source", "")
        grading = cell.get("metadata", {}).get("nbgrader", {})
        cells.append(
            {
                "source": "".join(text) if isinstance(text, list) else text,
                "grade_id": grading.get("grade_id") if grading.get("grade") else None,
                "points": float(grading.get("points", 0) or 0),
            }
        )
    return cells


def _child(cells_path: str, out_path: str) -> None:
    """Inside the fresh process: run every cell, write one verdict per graded cell."""
    from IPython.core.interactiveshell import InteractiveShell

    cells = json.loads(Path(cells_path).read_text(encoding="utf-8"))
    shell = InteractiveShell.instance()
    verdicts = []
    for cell in cells:
        result = shell.run_cell(cell["source"], silent=True)
        error = result.error_before_exec or result.error_in_exec
        if cell["grade_id"] is None:
            continue
        if error is None:
            verdicts.append({"id": cell["grade_id"], "status": "passed", "message": ""})
            continue
        name = type(error).__name__
        if name == NOT_SHIPPED:
            # "<module>.<function> is the answer to ...": keep which reference it needs.
            status, error = "needs the reference", str(error).split(" is ")[0]
        elif name in ("NotImplementedError", "NameError"):
            status = "not written"
        else:
            status = "failed"
        message = str(error) if status == "needs the reference" else f"{name}: {error}".strip()
        verdicts.append({"id": cell["grade_id"], "status": status, "message": message})
    Path(out_path).write_text(json.dumps(verdicts), encoding="utf-8")


def run(notebook: Path, timeout: float = 600.0) -> list[Outcome]:
    """The visible tests' verdicts, one per graded cell, in the notebook's order."""
    notebook = Path(notebook).resolve()
    cells = _cells(notebook)
    graded = [(c["grade_id"], c["points"]) for c in cells if c["grade_id"]]
    with tempfile.TemporaryDirectory(prefix="rnn-course-check-") as tmp:
        cells_path, out_path = Path(tmp) / "cells.json", Path(tmp) / "verdicts.json"
        cells_path.write_text(json.dumps(cells), encoding="utf-8")
        # The child imports the course package this one is (the learner repository's).
        package_root = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": path}
        try:
            subprocess.run(
                [sys.executable, "-m", "autograder.visible", str(cells_path), str(out_path)],
                cwd=notebook.parent,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
            found = json.loads(out_path.read_text(encoding="utf-8"))
        except subprocess.TimeoutExpired:
            found, why = [], f"the notebook did not finish within {timeout:g} s"
        except (OSError, ValueError):
            found, why = [], "the notebook's code ended the process before the tests ran"
        else:
            why = ""
    by_id = {v["id"]: v for v in found}
    return [
        Outcome(i, p, by_id[i]["status"], by_id[i]["message"])
        if i in by_id
        else Outcome(i, p, "not run", why)
        for i, p in graded
    ]


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
