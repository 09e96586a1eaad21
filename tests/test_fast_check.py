"""A quick check: NumPy-only exercises run without PyTorch, and a timeout is paid once.

* The NumPy-only exercises (01, 02, 03, 05) are graded by workers that never import PyTorch and
  cannot: at every isolation level the sandbox offers, an answer built on ``torch.nn`` gets 0
  with a plain message, even after it removes the grader's import guard.
* Neither their grading (the parent) nor their notebooks (the visible tests) import PyTorch.
* Once a function times out, the later tests that reach it are "not run (timed out above)"
  instead of each waiting out its own timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import test_grading_submissions as subs

from autograder import visible
from autograder.grading import engine, sandbox, view
from autograder.grading.child.execute import NUMPY_ONLY
from autograder.grading.run import Call, Job, Snippet, Worker

ROOT = Path(__file__).resolve().parent.parent
LEVELS = ["bubblewrap", "landlock"]
NUMPY_ONLY_ASSIGNMENTS = ["01_rnn_cell", "02_bptt", "03_bidirectional", "05_gradient_clipping"]

# A blank Exercise 1 answered with PyTorch: rnn_cell_forward through nn.RNNCell (torch imported at
# the top of its cell), rnn_forward through nn.RNN (imported inside the function) and
# output_forward through nn.Linear after taking the grader's import guard away.
TORCH_ANSWERS = {
    "rnn_cell_forward": """
import torch


def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):
    cell = torch.nn.RNNCell(*W_xh.shape, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(W_xh.T))
        cell.weight_hh.copy_(torch.from_numpy(W_hh.T))
        cell.bias_ih.copy_(torch.from_numpy(b_h))
        cell.bias_hh.zero_()
        return cell(torch.from_numpy(x), torch.from_numpy(h_prev)).numpy()
""",
    "rnn_forward": """
def rnn_forward(X, h0, W_xh, W_hh, b_h):
    import torch

    rnn = torch.nn.RNN(*W_xh.shape, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(W_xh.T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(W_hh.T))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b_h))
        rnn.bias_hh_l0.zero_()
        return rnn(torch.from_numpy(X), torch.from_numpy(h0)[None])[0].numpy()
""",
    "output_forward": """
import sys


def output_forward(H, W_hq, b_q):
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "NoTorch"]
    import torch

    linear = torch.nn.Linear(*W_hq.shape, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(W_hq.T))
        linear.bias.copy_(torch.from_numpy(b_q))
        return linear(torch.from_numpy(H)).numpy()
""",
}


def _write(nb, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rnn_cell.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("level", LEVELS)
def test_a_numpy_exercise_answered_with_torch_gets_nothing_and_says_why(level, tmp_path):
    nb = subs.exercise("01_rnn_cell")
    for name, source in TORCH_ANSWERS.items():
        nb = subs.replace_definition(nb, name, source)
    report = engine.check(
        _write(nb, tmp_path), "01_rnn_cell", engine.Options(isolation=level, seed=3)
    )
    shown = view.build(report)
    assert shown.points == 0
    # ... and the prediction, never made, fails as unmade.
    assert [row.status for row in shown.rows] == ["error"] * 5 + ["failed"]
    # The top-level import is refused with the plain message, in the notes and in the rows of
    # the function that uses it; the import inside a function says it too.
    assert any(NUMPY_ONLY in note for note in shown.notes)
    tests, verdicts = report.assignment.tests, report.verdicts
    by_name = {t.name: v.message for t, v in zip(tests, verdicts, strict=True)}
    assert NUMPY_ONLY in by_name["rnn_cell_forward"]
    assert NUMPY_ONLY in by_name["rnn_forward"]
    # Without the guard, PyTorch's files are still out of reach.
    assert "torch" in by_name["output_forward"]
    assert NUMPY_ONLY not in by_name["output_forward"]


def _numpy_worker(level: str) -> tuple[Worker, sandbox.UidLease | None]:
    isolation = sandbox.probe(level)
    lease = sandbox.UidLease(1) if isolation.uid is not None else None
    uid = lease.uids[0] if lease else None
    worker = Worker(isolation, sandbox.Limits(timeout=10.0), uid=uid, torch=False)
    worker.start_and_wait()
    return worker, lease


PROBE = """
import importlib
import os
import sys

LOADED = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "functorch", "torchgen"))
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "NoTorch"]
importlib.invalidate_caches()
TORCH_FILES = {}
for folder in FOLDERS:
    for name in ("__init__.py", "METADATA", "version.py"):
        try:
            with open(os.path.join(folder, name), "rb") as f:
                TORCH_FILES[name] = f.read(10)
        except OSError as err:
            TORCH_FILES.setdefault(name, type(err).__name__)
try:
    import torch.nn
    IMPORTED = "imported"
except BaseException as err:
    IMPORTED = type(err).__name__
import yaml  # another installed package, not imported by the worker: still there

OTHER = yaml.__name__
"""


@pytest.mark.parametrize("level", LEVELS)
def test_a_numpy_only_worker_has_no_torch_loaded_or_readable(level):
    folders = sandbox.torch_paths()
    assert any(Path(p).name == "torch" for p in folders)
    worker, lease = _numpy_worker(level)
    try:
        names = ("LOADED", "TORCH_FILES", "IMPORTED", "OTHER")
        job = Job(
            (Snippet("cell 1", f"FOLDERS = {list(folders)!r}\n" + PROBE),),
            tuple((Call("value", name),) for name in names),
            10.0,
            torch=False,
        )
        result = worker.run(job)
    finally:
        worker.close()
        if lease:
            lease.release()
    assert result.status == "exited", result
    assert result.program_errors == [], result.program_errors
    got = {name: run.cases[0].result for name, run in zip(names, result.tests, strict=True)}
    assert got["LOADED"] == []
    # torch/__init__.py, torch/version.py and the distribution's METADATA: absent (bubblewrap's
    # empty tmpfs) or unreadable (Landlock).
    assert set(got["TORCH_FILES"]) == {"__init__.py", "METADATA", "version.py"}
    assert set(got["TORCH_FILES"].values()) <= {"FileNotFoundError", "PermissionError"}
    assert got["IMPORTED"] in ("ModuleNotFoundError", "ImportError", "PermissionError")
    assert got["OTHER"] == "yaml"


_NO_TORCH = """
import importlib.abc, sys


class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError("torch is not importable in this test")


sys.meta_path.insert(0, _Refuse())
"""


def test_grading_a_numpy_only_exercise_never_imports_torch(tmp_path):
    """The grader's own process grades each NumPy-only solution in full with torch unimportable."""
    script = _NO_TORCH + (
        "import json\n"
        "from pathlib import Path\n"
        "from autograder.grading import engine\n"
        "points = {}\n"
        "for name, notebook in json.loads(sys.argv[1]).items():\n"
        "    report = engine.check(Path(notebook), name, engine.Options(seed=5))\n"
        "    points[name] = [sum(v.fraction < 1 for v in report.verdicts), "
        "sorted(m for m in sys.modules if m.startswith('torch'))]\n"
        "print(json.dumps(points))\n"
    )
    notebooks = {a: str(subs.SOLUTIONS / a / subs.ASSIGNMENTS[a]) for a in NUMPY_ONLY_ASSIGNMENTS}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(notebooks)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {a: [0, []] for a in NUMPY_ONLY_ASSIGNMENTS}


@pytest.mark.parametrize("assignment", NUMPY_ONLY_ASSIGNMENTS)
def test_numpy_only_notebooks_pass_their_visible_tests_without_torch(
    assignment, tmp_path, monkeypatch
):
    """Each solution notebook's graded cells pass in a process where torch cannot be imported
    (05 imports it in its ungraded experiment only, which then fails)."""
    (tmp_path / "sitecustomize.py").write_text(_NO_TORCH, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    notebook = subs.SOLUTIONS / assignment / subs.ASSIGNMENTS[assignment]
    outcomes = visible.run(notebook, timeout=600)
    assert outcomes
    assert {o.test_id: o.status for o in outcomes} == {o.test_id: "passed" for o in outcomes}


def test_numpy_only_notebooks_say_so_up_front():
    for assignment in NUMPY_ONLY_ASSIGNMENTS:
        nb = subs.exercise(assignment)
        intro = next(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "**NumPy only.**" in intro, assignment
        assert "PyTorch is not available when your notebook" in intro, assignment


def test_an_endless_loop_costs_one_timeout_and_its_other_tests_are_not_run(tmp_path):
    """rnn_cell_forward loops forever: its first test times out, its second test and both tests
    of rnn_forward (which calls it) are not run, and output_forward and the prediction are graded
    as usual."""
    loop = "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n    while True:\n        pass\n"
    nb = subs.replace_definition(subs.solution("01_rnn_cell"), "rnn_cell_forward", loop)
    options = engine.Options(seed=2, limits=sandbox.Limits(timeout=2.0))
    report = engine.check(_write(nb, tmp_path), "01_rnn_cell", options)
    statuses = [run.status for run in report.result.tests]
    assert statuses == ["timeout", "after_timeout", "after_timeout", "after_timeout", "ok", "ok"]
    assert sum(status != "after_timeout" for status in statuses) == 3  # tests that ran
    shown = view.build(report)
    assert [row.word for row in shown.rows[1:4]] == [view.NOT_RUN] * 3
    assert [row.status for row in shown.rows] == [
        "timeout",
        "not_run",
        "not_run",
        "not_run",
        "passed",
        "passed",
    ]
    assert "rnn_cell_forward timed out in an earlier test" in report.verdicts[1].message
    assert "calls rnn_cell_forward, which timed out" in report.verdicts[2].message
    assert shown.points == 2  # output_forward 1, the prediction 1


def test_a_timeout_skips_only_the_tests_that_reach_the_stuck_function():
    """Straight at a worker: f hangs in test 0; test 1 (f again) and test 2 (g, which calls f)
    are not run; test 3 (h) runs."""
    isolation = sandbox.probe("auto")
    lease = sandbox.UidLease(1) if isolation.uid is not None else None
    worker = Worker(isolation, sandbox.Limits(timeout=1.0), uid=lease.uids[0] if lease else None)
    code = (
        "def f():\n    while True:\n        pass\n\n"
        "def g():\n    return f()\n\n"
        "def h():\n    return 7\n"
    )
    calls = tuple((Call("call", name),) for name in ("f", "f", "g", "h"))
    try:
        worker.start_and_wait()
        result = worker.run(Job((Snippet("cell 1", code),), calls, 1.0, uses={"g": ("f",)}))
    finally:
        worker.close()
        if lease:
            lease.release()
    assert [run.status for run in result.tests] == [
        "timeout",
        "after_timeout",
        "after_timeout",
        "ok",
    ]
    assert [run.detail for run in result.tests[1:3]] == ["f", "f"]
    assert result.tests[3].cases[0].result == 7


def test_the_worker_kind_read_from_checks_py_is_the_declared_one():
    """rnn-course check starts its worker before checks.py runs, of the kind its source names."""
    from autograder.grading import assignments

    for name in assignments.known():
        hint = engine._says_numpy_only(assignments.SOLUTIONS_DIR / name / "checks.py")
        assert hint == assignments.load(name).numpy_only, name


def test_a_timeout_reaches_the_callers_of_callers():
    from autograder.grading.run import reaches

    uses = {"a": {"b"}, "b": {"c"}, "c": set(), "d": {"d", "a"}}
    assert reaches(uses) == {"a": ["b", "c"], "b": ["c"], "c": [], "d": ["a", "b", "c"]}
