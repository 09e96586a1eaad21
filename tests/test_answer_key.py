"""No answer key in reach: a released notebook hands the learner only what the exercise names.

For every student notebook in exercises/, the cells the learner is given (locked, neither a
solution nor a test) run in a fresh interpreter; then everything reachable from the resulting
namespace is walked: modules through their attributes, functions through their globals, classes
through their attributes, as far as they belong to the course package (NumPy and PyTorch never
lead back to it). The notebook fails if the walk meets

* a reference module (``autograder.reference.numpy_rnn`` or ``torch_rnn``), which holds every
  answer at once;
* a function or class of the course package named like a function the notebook grades (the
  names its ``solutions/<NN>/checks.py`` tests), whatever module it comes from;
* a reference function the assignment does not declare as given (``Assignment.givens``).

Every cell of a released notebook, test cells included, must also be free of imports of the
reference modules: a learner runs the visible tests too.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = ("autograder.reference.numpy_rnn", "autograder.reference.torch_rnn")
COURSE = "autograder"
MAX_OBJECTS = 20_000  # the walk is bounded; the course package is far smaller


def _notebooks() -> list[Path]:
    return sorted(ROOT.glob("exercises/[0-9][0-9]_*/*.ipynb"))


def _given(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return (
        cell.cell_type == "code"
        and meta.get("locked")
        and not (meta.get("solution") or meta.get("grade"))
    )


def _course_setup(cell) -> bool:
    # The hidden "course setup" cell only makes the package importable (pip on Colab).
    tags = cell.metadata.get("tags", [])
    return cell.cell_type == "code" and "nbgrader" not in cell.metadata and "hide-input" in tags


def _belongs(obj) -> bool:
    if isinstance(obj, types.ModuleType):
        return obj.__name__ == COURSE or obj.__name__.startswith(COURSE + ".")
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and (module == COURSE or module.startswith(COURSE + "."))


def reachable(namespace: dict) -> list:
    """Every object of the course package reachable from ``namespace`` (bounded walk)."""
    seen: dict[int, object] = {}
    todo = [v for k, v in namespace.items() if not k.startswith("__")]
    while todo and len(seen) < MAX_OBJECTS:
        obj = todo.pop()
        if id(obj) in seen or not _belongs(obj):
            continue
        seen[id(obj)] = obj
        if isinstance(obj, types.ModuleType):
            todo.extend(vars(obj).values())
        elif isinstance(obj, type):
            todo.extend(vars(obj).values())
            todo.append(sys.modules.get(obj.__module__))
        elif isinstance(obj, types.FunctionType):
            todo.extend(obj.__globals__.values())
            todo.append(sys.modules.get(obj.__module__))  # what inspect.getmodule finds
            todo.extend(c.cell_contents for c in obj.__closure__ or () if _filled(c))
            todo.extend(obj.__defaults__ or ())
        elif callable(obj):
            todo.append(getattr(obj, "__wrapped__", None))
    assert len(seen) < MAX_OBJECTS, "the walk hit its bound: raise MAX_OBJECTS"
    return list(seen.values())


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty closure cell raises ValueError
    except ValueError:
        return False
    return True


def leaks(notebook: Path, graded: set[str], given: set[str]) -> list[str]:
    """What of the answer key the given cells of ``notebook`` put in reach, in words."""
    nb = nbformat.read(notebook, as_version=4)
    namespace: dict = {"__name__": "__main__"}
    for cell in nb.cells:
        if not (_given(cell) or _course_setup(cell)):
            continue
        try:
            exec(compile(cell.source, f"<{notebook.name}>", "exec"), namespace)  # noqa: S102
        except NotImplementedError:
            continue  # a given cell that calls the learner's unwritten code
    found = []
    for obj in reachable(namespace):
        name = getattr(obj, "__name__", "")
        module = obj.__name__ if isinstance(obj, types.ModuleType) else obj.__module__
        if isinstance(obj, types.ModuleType):
            if name in REFERENCES:
                found.append(f"the module {name}")
            continue
        if not isinstance(obj, (type, types.FunctionType)):
            continue
        if name in graded:
            found.append(f"{name} from {module}, which this notebook grades")
        elif module in REFERENCES and name not in given:
            found.append(f"{name} from {module}, which the exercise does not give")
    return sorted(set(found))


def _main(notebook: str, graded: str, given: str) -> None:
    result = leaks(Path(notebook), set(json.loads(graded)), set(json.loads(given)))
    print(json.dumps(result))


def _graded_and_given(folder: str) -> tuple[set[str], set[str]]:
    from autograder.grading import assignments
    from autograder.reference import numpy_rnn, torch_rnn

    assignment = assignments.load(folder)
    in_references = set(vars(numpy_rnn)) | set(vars(torch_rnn))
    graded = {name for name in assignment.required if name in in_references}
    given = {name for names in assignment.givens.values() for name in names}
    return graded, given


def _imports_reference(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            targets += [f"{node.module}.{a.name}" for a in node.names if node.module == COURSE]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found += [t for t in targets if t in REFERENCES]
    return found


NOTEBOOKS = _notebooks()


def test_every_exercise_is_checked():
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_no_released_cell_imports_a_reference_module(notebook):
    nb = nbformat.read(notebook, as_version=4)
    found = [
        (i, target)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for target in _imports_reference(cell.source)
    ]
    assert not found, f"{notebook.name}: cells import the references: {found}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_no_graded_reference_is_reachable_from_the_given_cells(notebook):
    graded, given = _graded_and_given(notebook.parent.name)
    run = subprocess.run(
        [
            sys.executable,
            __file__,
            str(notebook),
            json.dumps(sorted(graded)),
            json.dumps(sorted(given)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert not found, f"{notebook.parent.name}: the given cells put in reach: " + "; ".join(found)


def test_the_walk_finds_a_reference_behind_a_module_attribute():
    """The walk itself: a reference module imported anywhere in the course package is found."""
    from autograder.reference import char_data, numpy_rnn

    holder = types.ModuleType("autograder.fake_holder")
    holder.deep = types.ModuleType("autograder.fake_deeper")
    holder.deep.numpy_rnn = numpy_rnn
    found = reachable({"holder": holder, "char_data": char_data})
    assert numpy_rnn in found
    assert numpy_rnn not in reachable({"char_data": char_data})


def test_the_walk_follows_a_function_to_its_module():
    from autograder.reference import numpy_rnn

    assert numpy_rnn in reachable({"f": numpy_rnn.rnn_forward})


def _assignments_with_givens() -> list[str]:
    from autograder.grading import assignments

    return [a for a in assignments.known() if assignments.load(a).givens]


@pytest.mark.parametrize("folder", _assignments_with_givens())
def test_the_handout_and_the_sandbox_give_the_declared_names(folder):
    """The notebook's handout, the sandbox's stand-in and ``Assignment.givens`` agree."""
    import importlib

    from autograder import handouts
    from autograder.grading import assignments, givens

    assignment = assignments.load(folder)
    declared = tuple(assignment.givens.get("autograder.reference.numpy_rnn", ()))
    name = handouts.module_name(folder)
    modules = givens.course_modules(assignment.givens, folder)
    assert not set(REFERENCES) & set(modules)
    if declared:
        handout = importlib.import_module(name)
        assert tuple(handout.__all__) == declared
        stand_in = ast.parse(modules[name])
        defined = {n.name for n in stand_in.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert set(declared) <= defined
        graded = set(assignment.required)
        assert not graded & defined, f"the stand-in of {name} defines graded {graded & defined}"


@pytest.mark.parametrize(
    ("kind", "message", "missing"),
    [
        (
            "AttributeError",
            "module 'autograder.handouts.bptt' has no attribute 'rnn_backward'",
            "rnn_backward",
        ),
        (
            "ImportError",
            "cannot import name 'rnn_backward' from 'autograder.handouts.bptt'",
            "rnn_backward",
        ),
        ("ModuleNotFoundError", "No module named 'autograder.reference.numpy_rnn'", "numpy_rnn"),
        ("NameError", "name 'numpy_rnn' is not defined", "numpy_rnn"),
    ],
)
def test_a_call_to_something_not_given_is_named_plainly(kind, message, missing):
    from autograder.grading.judges import error_text

    where = {"origin": "cell 5", "line": 3, "code": "numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)"}
    text = error_text("rnn_backward", {"type": kind, "message": message, "where": where})
    assert text.startswith(f"{missing} is not given in this exercise: write it yourself.")
    assert "cell 5, line 3" in text
    assert "has no attribute" not in text


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("NameError", "name 'H_prev' is not defined"),
        ("ModuleNotFoundError", "No module named 'scipy'"),
    ],
)
def test_other_errors_keep_their_own_words(kind, message):
    from autograder.grading.judges import error_text

    text = error_text("rnn_backward", {"type": kind, "message": message, "where": None})
    assert text == f"rnn_backward raised {kind}: {message}"


def test_a_handout_shows_its_source_and_nothing_graded():
    import inspect

    from autograder.handouts import bptt

    assert "def rnn_forward(" in inspect.getsource(bptt.rnn_forward)
    assert sorted(n for n in vars(bptt) if not n.startswith("__")) == ["rel_error", "rnn_forward"]
    assert "rnn_backward" not in bptt.rnn_forward.__globals__


def _expected_values_module():
    import importlib.util

    path = ROOT / "solutions" / "expected_values.py"
    spec = importlib.util.spec_from_file_location("expected_values", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("assignment", sorted(_expected_values_module().EXPECTED))
def test_the_stored_answers_are_what_the_references_compute_now(assignment):
    import numpy as np

    from autograder.notebook_checks import expected_values

    computed = _expected_values_module().EXPECTED[assignment]()
    stored = expected_values(assignment)
    assert sorted(stored) == sorted(computed)
    for name, value in computed.items():
        np.testing.assert_array_equal(stored[name], value, err_msg=name)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    _main(*sys.argv[1:])
