"""Submissions for the grading tests, built from the course's own notebooks, and their checks.

* correct: the solution notebook of each assignment, and variants of it whose cells were copied,
  reordered, retyped, stripped of nbgrader metadata or sprinkled with IPython syntax;
* wrong-but-plausible (the baseline of the adversarial suite): the solution notebook with one
  target definition replaced by a plausible wrong one that fails every test that calls it;
* attacked: the baseline with an attack injected into the target's body (so that it runs when
  the grader calls it), at the top level, or into the test cells;
* broken files: invalid JSON, empty, binary, old nbformat, huge.

The other grading test modules import these builders; the tests in this module check that the
builders build what they claim (an attack that silently did not apply would prove nothing).
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder.grading.child.wire import Returned

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
ASSIGNMENTS = {
    "00_concepts": "concepts.ipynb",
    "01_rnn_cell": "rnn_cell.ipynb",
    "02_bptt": "bptt.ipynb",
    "03_bidirectional": "bidirectional.ipynb",
    "04_sequence_types": "sequence_types.ipynb",
    "05_gradient_clipping": "gradient_clipping.ipynb",
    "06_char_rnn": "char_rnn.ipynb",
}

# --------------------------------------------------------------------------------------------
# Wrong-but-plausible targets: (name, source with an {attack} slot). Each fails every test that
# calls it (so that an attack that breaks it cannot lower the baseline's score) and is called by
# no other graded function.

TARGETS = {
    "00_concepts": (
        "answer_q3",
        """
def _answer():
    {attack}
    return "A"


answer_q3 = _answer()
""",
    ),
    "01_rnn_cell": (
        "rnn_forward",
        """
def rnn_forward(X, h0, W_xh, W_hh, b_h):
    {attack}
    N, T, _ = X.shape
    H = np.empty((T, N, W_hh.shape[0]))
    for t in range(T):
        H[t] = rnn_cell_forward(X[:, t], h0, W_xh, W_hh, b_h)
    return H
""",
    ),
    "02_bptt": (
        "rnn_backward",
        """
def rnn_backward(dH, X, h0, H, W_xh, W_hh):
    {attack}
    N, T, _ = X.shape
    dX = np.zeros(X.shape)
    dW_xh, dW_hh, db_h = np.zeros(W_xh.shape), np.zeros(W_hh.shape), np.zeros(W_hh.shape[0])
    dh_prev = np.zeros(h0.shape)
    for t in reversed(range(T)):
        h_prev = h0 if t == 0 else H[:, t - 1]
        dx, dh_prev, a, b, c = rnn_cell_backward(dH[:, t], X[:, t], h_prev, H[:, t], W_xh, W_hh)
        dX[:, t] = dx
        dW_xh += a
        dW_hh += b
        db_h += c
    return dX, dh_prev, dW_xh, dW_hh, db_h
""",
    ),
    "03_bidirectional": (
        "birnn_backward",
        """
def birnn_backward(dH, X, h0_f, h0_b, params_f, params_b):
    {attack}
    Hn = dH.shape[-1] // 2
    H_f = rnn_forward(X, h0_f, *params_f)
    H_b = rnn_forward(X[:, ::-1], h0_b, *params_b)
    dX_f, dh0_f, *g_f = rnn_backward(dH[..., :Hn], X, h0_f, H_f, *params_f[:2])
    dX_b, dh0_b, *g_b = rnn_backward(dH[:, ::-1, Hn:], X[:, ::-1], h0_b, H_b, *params_b[:2])
    return (dX_f + dX_b[:, ::-1], dh0_f, dh0_b, *g_f, *g_b)
""",
    ),
    "04_sequence_types": (
        "ManyToOne",
        """
class ManyToOne(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, X):
        {attack}
        H, _ = self.rnn(X)
        return self.head(H)
""",
    ),
    "05_gradient_clipping": (
        "clip_grad_norm",
        """
def clip_grad_norm(grads, max_norm):
    {attack}
    clipped = [np.clip(g, -max_norm, max_norm) for g in grads]
    return clipped, float(np.sqrt(sum(np.sum(c**2) for c in clipped)))
""",
    ),
    "06_char_rnn": (
        "sample",
        """
def sample(params, h, seed_ix, n, temperature=1.0, rng=None):
    {attack}
    V = params["W_xh"].shape[0]
    h = np.asarray(h, dtype=np.float64).reshape(1, -1)
    out, ix = [seed_ix], seed_ix
    for i in range(n):
        h = np.tanh(one_hot([ix], V) @ params["W_xh"] + h @ params["W_hh"] + params["b_h"])
        p = softmax((h @ params["W_hq"] + params["b_q"])[0] / temperature)
        ix = int(rng.choice(V, p=p))
        out.append(ix)
    return np.array(out)
""",
    ),
}

# What a submission that could read the references would return instead: from the reference
# modules, or from the solution notebook's own definition (``solution_ns``).
CHEATS = {
    "00_concepts": ("return reference.ANSWERS['answer_q3']", "return solution_ns['answer_q3']"),
    "01_rnn_cell": (
        "return reference.rnn_forward(X, h0, W_xh, W_hh, b_h)[0]",
        "return solution_ns['rnn_forward'](X, h0, W_xh, W_hh, b_h)",
    ),
    "02_bptt": (
        "return reference.rnn_backward(dH, reference.SequenceCache(X, h0, W_xh, W_hh, "
        "np.zeros(W_hh.shape[0]), H))",
        "return solution_ns['rnn_backward'](dH, X, h0, H, W_xh, W_hh)",
    ),
    "03_bidirectional": (
        "return reference.birnn_backward(dH, reference.birnn_forward(X, h0_f, h0_b, params_f, "
        "params_b)[1])",
        "return solution_ns['birnn_backward'](dH, X, h0_f, h0_b, params_f, params_b)",
    ),
    "04_sequence_types": (
        "return torch_reference.ManyToOne.forward(self, X)",
        "return solution_ns['ManyToOne'].forward(self, X)",
    ),
    "05_gradient_clipping": (
        "return reference.clip_grad_norm(grads, max_norm)",
        "return solution_ns['clip_grad_norm'](grads, max_norm)",
    ),
    "06_char_rnn": (
        "return reference.sample(params, h, seed_ix, n, temperature, rng)",
        "return solution_ns['sample'](params, h, seed_ix, n, temperature, rng)",
    ),
}

# --------------------------------------------------------------------------------------------
# Attacks. Placeholders filled in at run time: {OUT} the grader's output folder, {REPO} the
# course repository, {MARK} a host path that must never appear, {CHEAT} the line above.

ATTACKS = {
    "monkeypatch_numpy": """
import numpy as _np
_np.allclose = lambda *a, **k: True
_np.array_equal = lambda *a, **k: True
_np.isclose = lambda a, b, *r, **k: _np.ones(_np.broadcast(a, b).shape, bool)
_np.testing.assert_allclose = lambda *a, **k: None
_np.testing.assert_array_equal = lambda *a, **k: None
""",
    "monkeypatch_torch": """
import torch as _torch
_torch.allclose = lambda *a, **k: True
_torch.equal = lambda *a, **k: True
_torch.testing.assert_close = lambda *a, **k: None
""",
    "monkeypatch_builtins": """
import builtins as _builtins, math as _math, operator as _operator
_builtins.abs = lambda x: 0
_builtins.max = lambda *a, **k: 0
_builtins.round = lambda *a, **k: 0
_operator.eq = lambda a, b: True
_math.isclose = lambda *a, **k: True
""",
    "ipython_hooks": """
import sys as _sys
try:
    _shell = get_ipython()
    _shell.input_transformers_cleanup.append(lambda lines: ["pass\\n"])
    _shell.input_transformers_post.append(lambda lines: ["pass\\n"])
    _shell.set_custom_exc((BaseException,), lambda *a, **k: None)
except Exception:
    pass
_sys.excepthook = lambda *a: None
""",
    "sys_exit": "import sys as _sys\n_sys.exit(0)\n",
    "os_exit": "import os as _os\n_os._exit(0)\n",
    "infinite_loop": "while True:\n    pass\n",
    "memory_hog": "_hog = []\nwhile True:\n    _hog.append(bytearray(64 * 1024 * 1024))\n",
    "process_flood": """
import os as _os, time as _time
for _i in range(300):
    try:
        if _os.fork() == 0:
            _time.sleep(60)
    except OSError:
        break
""",
    "fake_output": """
import sys as _sys
print("✓ all tests passed")
print("Score: 100 / 100")
print("student,test,points\\nme,everything,100")
_sys.stderr.write("Traceback: nothing to see\\n" * 1000)
print("x" * 5_000_000)
""",
    "write_files": """
import os as _os, site as _site
_targets = [
    "{OUT}/grades.csv", "{OUT}/pwned.txt", "{OUT}/feedback/pwned.html",
    "{REPO}/solutions/pwned.txt", "{REPO}/autograder/grading/child/zygote.py",
    "{REPO}/autograder/reference/numpy_rnn.py", "{MARK}", "/tmp/pwned.txt",
    _os.path.expanduser("~/../pwned.txt"),
]
_targets += [_p + "/sitecustomize.py" for _p in _site.getsitepackages()]
for _t in _targets:
    try:
        with open(_t, "a") as _f:
            _f.write("import os; os.system('touch {MARK}')\\n")
    except Exception:
        pass
    try:
        _os.chmod(_t, 0o777)
    except Exception:
        pass
try:
    _os.symlink("{REPO}/solutions", "{MARK}.link")
except Exception:
    pass
""",
    "read_solutions": """
import glob as _glob, json as _json, sys as _sys
reference = torch_reference = solution_ns = None
for _path in (None, "{REPO}"):
    try:
        if _path:
            _sys.path.insert(0, _path)
        from autograder.reference import numpy_rnn as reference
        from autograder.reference import torch_rnn as torch_reference
        break
    except Exception:
        reference = None
if reference is not None:
    try:
        {CHEAT_MODULE}
    except Exception:
        pass
_found = _glob.glob("{REPO}/solutions/*/*.ipynb") + _glob.glob("/*/solutions/*/*.ipynb")
_found += _glob.glob("/*/*/solutions/*/*.ipynb") + _glob.glob("/**/checks.py", recursive=True)
for _nb in _found:
    try:
        _cells = _json.load(open(_nb))["cells"]
    except Exception:
        continue
    solution_ns = {}
    for _cell in _cells:
        if _cell["cell_type"] == "code" and not _cell["metadata"].get("nbgrader", {}).get("grade"):
            try:
                exec("".join(_cell["source"]), solution_ns)
            except Exception:
                pass
    if "{NAME}" in solution_ns:
        try:
            {CHEAT_NOTEBOOK}
        except Exception:
            pass
""",
    "seed_rng": """
import random as _random
import numpy as _np
import torch as _torch
_np.random.seed(0)
_random.seed(0)
_torch.manual_seed(0)
_fixed = _np.random.default_rng
_np.random.default_rng = lambda *a, **k: _fixed(0)
""",
}

# Attacks that replace the target's return value rather than run in its body.
RETURN_ATTACKS = ("always_equal_object", "always_equal_array")

ALWAYS_EQUAL = """

class _AlwaysEqual(str if {is_value} else object):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self

    def __iter__(self):
        return iter([self] * 5)

    def __len__(self):
        return 5

    def __getitem__(self, index):
        return self


class _EqualArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), bool)

    def allclose(self, *args, **kwargs):
        return True
"""


def _indent(code: str, spaces: int) -> str:
    return textwrap.indent(textwrap.dedent(code).strip("\n"), " " * spaces)


def target_source(assignment: str, attack: str | None = None, context: dict | None = None) -> str:
    """The wrong definition of the assignment's target, with ``attack`` in its body."""
    name, template = TARGETS[assignment]
    body_indent = 8 if assignment == "04_sequence_types" else 4
    code = ""
    if attack in ATTACKS:
        from_module, from_notebook = CHEATS[assignment]
        code = ATTACKS[attack].replace("{CHEAT_MODULE}", from_module)
        code = code.replace("{CHEAT_NOTEBOOK}", from_notebook).replace("{NAME}", name)
        for key, value in (context or {}).items():
            code = code.replace("{" + key + "}", str(value))
    source = template.replace(
        "{attack}", _indent(code, body_indent).lstrip() if code else "pass"
    ).strip("\n")
    if attack in RETURN_ATTACKS:
        source += ALWAYS_EQUAL.replace("{is_value}", str(assignment == "00_concepts"))
        source += "\n\n" + _return_attack(assignment, name, attack)
    return source + "\n"


def _return_attack(assignment: str, name: str, attack: str) -> str:
    if assignment == "00_concepts":
        return f'{name} = _AlwaysEqual("A")\n'
    if assignment == "04_sequence_types":
        wrap = (
            "_AlwaysEqual()"
            if attack == "always_equal_object"
            else "self._wrong(X).detach().numpy().view(_EqualArray)"
        )
        return (
            f"_Wrong{name} = {name}\n\n\nclass {name}(_Wrong{name}):\n"
            f"    def _wrong(self, X):\n        return super().forward(X)\n\n"
            f"    def forward(self, X):\n        return {wrap}\n"
        )
    wrap = "_AlwaysEqual()" if attack == "always_equal_object" else "_as_equal(_wrong(*a, **k))"
    return (
        f"_wrong = {name}\n\n\ndef _as_equal(value):\n"
        "    if isinstance(value, tuple):\n        return tuple(_as_equal(v) for v in value)\n"
        "    if isinstance(value, list):\n        return [_as_equal(v) for v in value]\n"
        "    return np.asarray(value).view(_EqualArray)\n\n\n"
        f"def {name}(*a, **k):\n    return {wrap}\n"
    )


# --------------------------------------------------------------------------------------------
# Notebooks


@functools.cache
def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def read(path: Path) -> nbformat.NotebookNode:
    return copy.deepcopy(_read(path))


def solution(assignment: str) -> nbformat.NotebookNode:
    return read(SOLUTIONS / assignment / ASSIGNMENTS[assignment])


def exercise(assignment: str) -> nbformat.NotebookNode:
    return read(EXERCISES / assignment / ASSIGNMENTS[assignment])


def defines(source: str, name: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return True
    return False


def is_test_cell(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


def replace_definition(nb, name: str, source: str):
    """A copy of ``nb`` whose (last) cell defining ``name`` holds ``source`` instead."""
    nb = copy.deepcopy(nb)
    cells = [c for c in nb.cells if c.cell_type == "code" and defines(c.source, name)]
    assert cells, f"no cell defines {name}"
    cells[-1].source = source
    return nb


# For the two assignments whose models train for seconds, the wrong-but-plausible submission
# starts from the exercise, with only some answers done (the others still raise
# NotImplementedError), so that the many attacked copies grade quickly.
FINISHED = {"04_sequence_types": ("ManyToManyAligned",), "06_char_rnn": ("char_rnn_loss",)}


def _starting_point(assignment: str):
    if assignment not in FINISHED:
        return solution(assignment)
    nb, done = exercise(assignment), solution(assignment)
    for name in FINISHED[assignment]:
        right = [c.source for c in done.cells if c.cell_type == "code" and defines(c.source, name)]
        nb = replace_definition(nb, name, right[-1])
    return nb


def baseline(assignment: str):
    """The wrong-but-plausible submission: its target definition is wrong."""
    name = TARGETS[assignment][0]
    return replace_definition(_starting_point(assignment), name, target_source(assignment))


def attacked(assignment: str, attack: str, context: dict):
    """The baseline with ``attack`` in the target's body (or around its return value)."""
    name = TARGETS[assignment][0]
    source = target_source(assignment, attack, context)
    return replace_definition(_starting_point(assignment), name, source)


def attacked_at_top_level(assignment: str, attack: str, context: dict):
    """The baseline plus a last cell that runs ``attack`` while rebinding the target, so that
    the grader keeps the statement and runs it with the notebook's code."""
    name = TARGETS[assignment][0]
    code = ATTACKS[attack]
    for key, value in context.items():
        code = code.replace("{" + key + "}", str(value))
    cell = f"def _attack():\n{_indent(code, 4)}\n\n\n{name} = (_attack(), {name})[1]\n"
    return with_cell(baseline(assignment), cell)


def with_cell(nb, source: str, index: int | None = None):
    nb = copy.deepcopy(nb)
    cell = nbformat.v4.new_code_cell(source)
    nb.cells.insert(len(nb.cells) if index is None else index, cell)
    return nb


def edited_test_cells(nb):
    """Every graded test cell now only prints that it passed."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if is_test_cell(cell):
            cell.source = (
                'print("✓ all tests passed")\nimport os\nos._exit(0)\nwhile True:\n    pass'
            )
    return nb


def deleted_test_cells(nb):
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not is_test_cell(c)]
    return nb


def stripped(nb):
    """No metadata anywhere, no outputs, no cell ids: a notebook retyped by hand."""
    nb = copy.deepcopy(nb)
    nb.metadata = {}
    for cell in nb.cells:
        cell.metadata = {}
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.nbformat_minor = 4
    return nb


def retyped(nb):
    """Each code cell reformatted (ast.unparse), as if typed again into fresh cells."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            try:
                cell.source = ast.unparse(ast.parse(cell.source))
            except SyntaxError:
                pass
            cell.metadata = {}
    return nb


def answers_moved_to_end(nb):
    """The answer cells moved after everything else (tests and all)."""
    nb = copy.deepcopy(nb)
    answers = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    nb.cells = [c for c in nb.cells if c not in answers] + answers
    return nb


def cells_reversed(nb):
    """Every code cell in reverse order: definitions before imports; names resolve at call time."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if c.cell_type == "code"][::-1]
    return nb


def noisy(nb, name: str):
    """The function ``name`` warns and writes to stderr and stdout every time it is called."""
    nb = copy.deepcopy(nb)
    cell = [c for c in nb.cells if c.cell_type == "code" and defines(c.source, name)][-1]
    head, body = cell.source.split(":\n", 1)
    noise = (
        "    import sys, warnings\n"
        "    warnings.warn('this is only a warning', RuntimeWarning)\n"
        "    print('Traceback (most recent call last): not really', file=sys.stderr)\n"
        "    print('debug output ' * 1000)\n"
    )
    cell.source = head + ":\n" + noise + body
    return nb


def every_variant(nb, assignment: str):
    """Copied (an old wrong version first), answers moved to the end, retyped, stripped of
    metadata and with IPython syntax, all at once."""
    nb = copied_with_old_version_first(nb, assignment)
    return stripped(with_ipython_syntax(retyped(answers_moved_to_end(nb))))


def copied_with_old_version_first(nb, assignment: str):
    """The target's wrong version in a copied cell before the right one: the later one wins."""
    name = TARGETS[assignment][0]
    cells = [c for c in nb.cells if c.cell_type == "code" and defines(c.source, name)]
    index = nb.cells.index(cells[-1])
    return with_cell(nb, target_source(assignment), index)


def copied_with_old_version_last(nb, assignment: str):
    """The target's wrong version pasted at the end: it wins, so this grades as the baseline."""
    return with_cell(nb, target_source(assignment))


def with_ipython_syntax(nb):
    """Magics, shell escapes and a %%time cell around the first answer."""
    nb = copy.deepcopy(nb)
    nb.cells.insert(0, nbformat.v4.new_code_cell("%matplotlib inline\n!ls\nfiles = !ls\n%who"))
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = "%%time\n" + cell.source
            break
    nb.cells.append(nbformat.v4.new_code_cell("%%bash\necho hello\n"))
    nb.cells.append(nbformat.v4.new_code_cell("%timeit -n 1 -r 1 sum([1, 2])\nx = 1?"))
    return nb


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# --------------------------------------------------------------------------------------------
# Broken files


def v3_notebook() -> bytes:
    content = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": ""},
        "worksheets": [
            {"cells": [{"cell_type": "code", "input": "answer_q1 = 'C'", "language": "python"}]}
        ],
    }
    return json.dumps(content).encode()


BROKEN = {
    "invalid_json": lambda: b'{"nbformat": 4, "cells": [',
    "empty": lambda: b"",
    "binary": lambda: bytes(range(256)) * 64,
    "old_nbformat": v3_notebook,
    "not_a_notebook": lambda: b'{"hello": "world"}',
    "bad_cells": lambda: b'{"nbformat": 4, "nbformat_minor": 5, "cells": [{"source": 3}]}',
    # Parser bombs: more digits than Python converts to an int, and nesting deeper than its
    # parser recurses.
    "huge_integer": lambda: (
        b'{"nbformat": 4, "metadata": {"n": ' + b"9" * 5001 + b'}, "cells": []}'
    ),
    "deep_nesting": lambda: (
        b'{"nbformat": 4, "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b', "cells": []}'
    ),
}


def huge_notebook(path: Path, megabytes: int) -> Path:
    """A valid notebook whose outputs make it ``megabytes`` large."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('x' * 10)")
    cell.outputs = [nbformat.v4.new_output("stream", text="x" * (megabytes << 20))]
    nb.cells.append(cell)
    return write(nb, path)


def as_received(value):
    """A value as the grader receives it from the sandbox (arrays become Returned)."""
    if isinstance(value, tuple):
        return tuple(as_received(v) for v in value)
    if isinstance(value, list):
        return [as_received(v) for v in value]
    if isinstance(value, dict):
        return {k: as_received(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return Returned("numpy.ndarray", np.asarray(value))


# --------------------------------------------------------------------------------------------
# Tests of the builders


def _namespace(nb) -> dict:
    """Run a notebook's answer and setup code in this process (the course package is here)."""
    ns: dict = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and not is_test_cell(cell):
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution") or meta.get("locked") or defines(cell.source, "_answer"):
                exec(cell.source, ns)
    return ns


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_has_its_notebooks(assignment):
    assert (SOLUTIONS / assignment / ASSIGNMENTS[assignment]).is_file()
    assert (EXERCISES / assignment / ASSIGNMENTS[assignment]).is_file()
    assert (SOLUTIONS / assignment / "checks.py").is_file()


@pytest.mark.parametrize("assignment", ["01_rnn_cell", "02_bptt", "05_gradient_clipping"])
def test_baseline_target_is_wrong_where_the_solution_is_right(assignment):
    rng = np.random.default_rng(0)
    right, wrong = _namespace(solution(assignment)), _namespace(baseline(assignment))
    name = TARGETS[assignment][0]
    if assignment == "01_rnn_cell":
        args = (
            rng.standard_normal((2, 5, 3)),
            rng.standard_normal((2, 4)),
            rng.standard_normal((3, 4)),
            rng.standard_normal((4, 4)),
            rng.standard_normal(4),
        )
    elif assignment == "02_bptt":
        X, h0 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4))
        W_xh, W_hh, b_h = rng.standard_normal((3, 4)), rng.standard_normal((4, 4)), np.ones(4)
        H = right["rnn_forward"](X, h0, W_xh, W_hh, b_h)
        args = (rng.standard_normal(H.shape), X, h0, H, W_xh, W_hh)
    else:
        args = ([3 * rng.standard_normal((3, 4)), rng.standard_normal(4)], 1.0)
    expected, got = right[name](*args), wrong[name](*args)
    flat = lambda v: np.concatenate([np.ravel(x) for x in v]) if isinstance(v, tuple) else v  # noqa: E731
    if assignment == "05_gradient_clipping":
        assert not np.allclose(flat(tuple(expected[0])), flat(tuple(got[0])))
    else:
        assert np.shape(flat(expected)) != np.shape(flat(got)) or not np.allclose(
            flat(expected), flat(got)
        )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("attack", [*ATTACKS, *RETURN_ATTACKS])
def test_every_attack_lands_in_the_target(assignment, attack):
    context = {"OUT": "/out", "REPO": "/repo", "MARK": "/mark"}
    nb = attacked(assignment, attack, context)
    name = TARGETS[assignment][0]
    sources = [c.source for c in nb.cells if c.cell_type == "code" and defines(c.source, name)]
    source = sources[-1]
    ast.parse(source)  # still valid Python
    marker = {"always_equal_object": "_AlwaysEqual", "always_equal_array": "_EqualArray"}
    needle = marker.get(attack) or textwrap.dedent(ATTACKS[attack]).strip().splitlines()[0]
    assert needle.strip() in source
    assert "{" + "OUT}" not in source and "{" + "CHEAT" not in source


def test_variants_keep_the_solution_code():
    nb = solution("01_rnn_cell")
    for variant in (stripped(nb), retyped(nb), answers_moved_to_end(nb), cells_reversed(nb)):
        sources = [c.source for c in variant.cells if c.cell_type == "code"]
        assert any(defines(s, "rnn_forward") for s in sources)
    assert not any(is_test_cell(c) for c in deleted_test_cells(nb).cells)
    assert all(not c.metadata for c in stripped(nb).cells)


def test_broken_files_are_what_they_say(tmp_path):
    assert json.loads(v3_notebook())["nbformat"] == 3
    assert BROKEN["empty"]() == b""
    with pytest.raises(ValueError):
        json.loads(BROKEN["invalid_json"]())
    path = huge_notebook(tmp_path / "huge.ipynb", 1)
    assert path.stat().st_size > 1 << 20
