"""Submissions of exercise 01_rnn_cell as learners hand them in, built from the course's notebooks.

Every submission starts from the released notebook (``exercises/01_rnn_cell/rnn_cell.ipynb``),
so it keeps nbgrader's cell metadata and stock ``nbgrader autograde`` can grade it too. A learner
replaces the stub lines of an answer cell (``# YOUR CODE HERE`` and the ``raise``) with a body:

* correct: the body of the instructor's solution, or an equivalent one written another way;
* mistake: a wrong-but-plausible body, one of the typical mistakes the grader's catalogue names
  (no bias, no tanh, W_hh transposed, the state never carried, a softmax on the outputs...);
* untouched: the released notebook as it is;
* broken: a file that cannot be graded (cut short, empty), a blank notebook saved over the
  exercise, or the answers typed into Markdown cells.

:func:`samples` are the few shipped with the book (``book/instructor/sample_submitted``, written
by ``bench/make_submissions.py``); :func:`batch` is the mix of 40 that ``bench/bench_grading.py``
grades. Both are deterministic: the same repository gives the same bytes.
"""

from __future__ import annotations

import copy
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "01_rnn_cell"
NOTEBOOK = "rnn_cell.ipynb"
FUNCTIONS = ("rnn_cell_forward", "rnn_forward", "output_forward")
KINDS = ("correct", "mistake", "untouched", "broken")
STUB = "# YOUR CODE HERE"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclass(frozen=True)
class Submission:
    student: str
    kind: str  # one of KINDS
    about: str  # what is in it, in a few words
    content: bytes

    @property
    def relative_path(self) -> Path:
        return Path(self.student) / ASSIGNMENT / NOTEBOOK


def released() -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)


def _answer_cell(nb, function: str):
    """The answer cell in which ``function`` is defined."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(f"def {function}("):
            return cell
    raise LookupError(f"no answer cell defines {function}")


def solution_body(function: str) -> str:
    """The instructor's body of ``function`` (the solution region, markers removed), unindented."""
    solutions = nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    source = _answer_cell(solutions, function).source
    start, end = (source.index(m) for m in SOLUTION_MARKERS)
    region = source[start:end].split("\n", 1)[1]
    return textwrap.dedent(region).strip("\n")


def predictions() -> dict[str, str]:
    """The instructor's answers to the notebook's predictions: {"predict_saturation": "B"}."""
    solutions = nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    found = {}
    for cell in solutions.cells:
        if cell.cell_type == "code":
            found |= dict(re.findall(r"^(predict_\w+) = \"([A-Z])\"$", cell.source, re.M))
    return found


def answered(nb, bodies: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of the released ``nb`` whose stubs hold the given function bodies instead, and
    whose predictions are answered as the instructor answers them."""
    nb = copy.deepcopy(nb)
    for name, letter in predictions().items():
        cell = next(
            c for c in nb.cells if c.source.startswith("#") and f"\n{name} = None" in c.source
        )
        lines = cell.source.split("\n")
        at = lines.index(STUB)
        assert lines[at + 1].startswith("raise NotImplementedError")
        lines[at : at + 2] = [f'{name} = "{letter}"']
        cell.source = "\n".join(lines)
    for function, body in bodies.items():
        cell = _answer_cell(nb, function)
        lines = cell.source.split("\n")
        at = next(i for i, line in enumerate(lines) if line.strip() == STUB)
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
        assert lines[at + 1].strip().startswith("raise NotImplementedError")
        lines[at : at + 2] = textwrap.indent(body, indent).split("\n")
        cell.source = "\n".join(lines)
    return nb


def solved() -> nbformat.NotebookNode:
    """The released notebook with the instructor's answers typed in."""
    return answered(released(), {f: solution_body(f) for f in FUNCTIONS})


def max_points() -> float:
    """The points of the assignment: the sum over its graded test cells."""
    cells = released().cells
    return float(sum(c.metadata["nbgrader"]["points"] for c in cells if _is_test(c)))


def _is_test(cell) -> bool:
    return bool((cell.get("metadata", {}).get("nbgrader") or {}).get("grade"))


def _bytes(nb) -> bytes:
    return (nbformat.writes(nb) + "\n").encode("utf-8")


# Equivalent ways to write each function: all right, none the instructor's.
CORRECT_STYLES = {
    "rnn_cell_forward": (
        "a = np.dot(x, W_xh) + np.dot(h_prev, W_hh) + b_h\nreturn np.tanh(a)",
        "return np.tanh(np.matmul(x, W_xh) + np.matmul(h_prev, W_hh) + b_h[None, :])",
        'z = np.einsum("nd,dh->nh", x, W_xh) + np.einsum("nh,hk->nk", h_prev, W_hh)\n'
        "return np.tanh(z + b_h)",
    ),
    "rnn_forward": (
        "states = []\nh = h0\nfor t in range(X.shape[1]):\n"
        "    h = rnn_cell_forward(X[:, t], h, W_xh, W_hh, b_h)\n    states.append(h)\n"
        "return np.stack(states, axis=1)",
        "N, T, _ = X.shape\nH = np.zeros((N, T, h0.shape[1]))\nfor t in range(T):\n"
        "    h_prev = h0 if t == 0 else H[:, t - 1]\n"
        "    H[:, t] = rnn_cell_forward(X[:, t], h_prev, W_xh, W_hh, b_h)\nreturn H",
        "h, H = h0, []\nfor x_t in X.transpose(1, 0, 2):\n"
        "    h = rnn_cell_forward(x_t, h, W_xh, W_hh, b_h)\n    H.append(h)\n"
        "return np.array(H).transpose(1, 0, 2)",
    ),
    "output_forward": (
        'return np.einsum("nth,hq->ntq", H, W_hq) + b_q',
        "N, T, _ = H.shape\nreturn (H.reshape(N * T, -1) @ W_hq + b_q).reshape(N, T, -1)",
        "return np.matmul(H, W_hq) + b_q.reshape(1, 1, -1)",
    ),
}

# Wrong-but-plausible bodies: (function, body, what the learner got wrong).
MISTAKES = {
    "no_bias": (
        "rnn_cell_forward",
        "return np.tanh(x @ W_xh + h_prev @ W_hh)",
        "the bias b_h left out",
    ),
    "no_tanh": (
        "rnn_cell_forward",
        "return x @ W_xh + h_prev @ W_hh + b_h",
        "no tanh",
    ),
    "sigmoid": (
        "rnn_cell_forward",
        "return 1 / (1 + np.exp(-(x @ W_xh + h_prev @ W_hh + b_h)))",
        "a sigmoid instead of tanh",
    ),
    "relu": (
        "rnn_cell_forward",
        "return np.maximum(0, x @ W_xh + h_prev @ W_hh + b_h)",
        "a ReLU instead of tanh",
    ),
    "bias_after_tanh": (
        "rnn_cell_forward",
        "return np.tanh(x @ W_xh + h_prev @ W_hh) + b_h",
        "b_h added after the tanh",
    ),
    "transpose": (
        "rnn_cell_forward",
        "return np.tanh(x @ W_xh + h_prev @ W_hh.T + b_h)",
        "W_hh transposed",
    ),
    "no_h_prev": (
        "rnn_cell_forward",
        "return np.tanh(x @ W_xh + b_h)",
        "h_prev left out",
    ),
    "carry": (
        "rnn_forward",
        "N, T, _ = X.shape\nH = np.empty((N, T, W_hh.shape[0]))\nfor t in range(T):\n"
        "    H[:, t] = rnn_cell_forward(X[:, t], h0, W_xh, W_hh, b_h)\nreturn H",
        "the state never carried: every step reads h0",
    ),
    "zero_h0": (
        "rnn_forward",
        "N, T, _ = X.shape\nH = np.empty((N, T, W_hh.shape[0]))\nh = np.zeros_like(h0)\n"
        "for t in range(T):\n    h = rnn_cell_forward(X[:, t], h, W_xh, W_hh, b_h)\n"
        "    H[:, t] = h\nreturn H",
        "h0 ignored: the sequence starts from zeros",
    ),
    "shifted": (
        "rnn_forward",
        "N, T, _ = X.shape\nH = np.empty((N, T, W_hh.shape[0]))\nh = h0\nfor t in range(T):\n"
        "    H[:, t] = h\n    h = rnn_cell_forward(X[:, t], h, W_xh, W_hh, b_h)\nreturn H",
        "the states shifted by one step",
    ),
    "time_major": (
        "rnn_forward",
        "N, T, _ = X.shape\nH = np.empty((T, N, W_hh.shape[0]))\nh = h0\nfor t in range(T):\n"
        "    h = rnn_cell_forward(X[:, t], h, W_xh, W_hh, b_h)\n    H[t] = h\nreturn H",
        "the states returned time first, (T, N, H)",
    ),
    "no_output_bias": (
        "output_forward",
        "return H @ W_hq",
        "the bias b_q left out",
    ),
    "softmax": (
        "output_forward",
        "O = H @ W_hq + b_q\nE = np.exp(O - O.max(axis=-1, keepdims=True))\n"
        "return E / E.sum(axis=-1, keepdims=True)",
        "a softmax applied to the outputs",
    ),
    "last_step_only": (
        "output_forward",
        "return H[:, -1] @ W_hq + b_q",
        "only the last step kept",
    ),
}


def correct(style: int) -> nbformat.NotebookNode:
    """A correct notebook: style 0 is the instructor's code, the others mix equivalent bodies."""
    nb = solved()
    if style == 0:
        return nb
    bodies = {
        f: CORRECT_STYLES[f][(style // 3**position) % 3] for position, f in enumerate(FUNCTIONS)
    }
    nb = answered(released(), bodies)
    if style % 4 == 1:
        # A cell of the learner's own: a quick look at the shapes, as learners do.
        look = "X, h0, W_xh, W_hh, b_h = rnn_inputs(seed=7, N=2, T=3, D=4, H=5)\n"
        look += "print(rnn_forward(X, h0, W_xh, W_hh, b_h).shape)"
        nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(look, id=f"own-{style}"))
    return nb


def mistaken(name: str) -> nbformat.NotebookNode:
    """The instructor's answers, with the one function of mistake ``name`` written wrong."""
    function, body, _ = MISTAKES[name]
    bodies = {f: solution_body(f) for f in FUNCTIONS}
    bodies[function] = body
    return answered(released(), bodies)


def answers_in_markdown() -> nbformat.NotebookNode:
    """The answers typed into cells that had been turned into Markdown (Esc M): never run."""
    nb = solved()
    for i, cell in enumerate(nb.cells):
        if cell.source.startswith(tuple(f"def {f}(" for f in FUNCTIONS)):
            nb.cells[i] = nbformat.v4.new_markdown_cell(cell.source, id=cell.id)
    return nb


def blank() -> nbformat.NotebookNode:
    """A new, empty notebook saved over the exercise under its name."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(released().metadata)
    return nb


def _untouched() -> bytes:
    return (ROOT / "exercises" / ASSIGNMENT / NOTEBOOK).read_bytes()


BROKEN = {
    "cut_short": ("the file cut short during upload", lambda: _bytes(solved())[:9000]),
    "empty_file": ("an empty file", lambda: b""),
    "blank_notebook": ("a blank notebook saved over the exercise", lambda: _bytes(blank())),
    "markdown_cells": (
        "the answers typed into Markdown cells",
        lambda: _bytes(answers_in_markdown()),
    ),
}


def samples() -> list[Submission]:
    """The handful shipped with the book: one of each kind a grader meets most often."""
    return [
        Submission("correct", "correct", "the instructor's answers", _bytes(solved())),
        Submission("mistake_carry", "mistake", MISTAKES["carry"][2], _bytes(mistaken("carry"))),
        Submission(
            "mistake_transpose",
            "mistake",
            MISTAKES["transpose"][2],
            _bytes(mistaken("transpose")),
        ),
        Submission("untouched", "untouched", "the released notebook", _untouched()),
        Submission("broken", "broken", BROKEN["blank_notebook"][0], _bytes(blank())),
    ]


BATCH_MIX = {"correct": 20, "mistake": 14, "untouched": 2, "broken": 4}


def batch() -> list[Submission]:
    """40 submissions: 20 correct (in several styles), 14 with a mistake each, 2 untouched and
    4 broken. Student ids are numbers, as a learning platform's download names them."""
    subs = [
        Submission(
            "", "correct", "the instructor's code" if s == 0 else f"style {s}", _bytes(correct(s))
        )
        for s in range(BATCH_MIX["correct"])
    ]
    subs += [Submission("", "mistake", m[2], _bytes(mistaken(n))) for n, m in MISTAKES.items()]
    subs += [
        Submission("", "untouched", "the released notebook", _untouched())
        for _ in range(BATCH_MIX["untouched"])
    ]
    subs += [Submission("", "broken", about, build()) for about, build in BROKEN.values()]
    # Interleaved, as an alphabetical class list would be.
    order = sorted(range(len(subs)), key=lambda i: (i * 7) % len(subs))
    return [
        Submission(f"{1001 + n}", subs[i].kind, subs[i].about, subs[i].content)
        for n, i in enumerate(order)
    ]


def write(submissions: list[Submission], folder: Path) -> list[Path]:
    """Lay the submissions out as SUBMITTED/<student>/<assignment>/<notebook>."""
    paths = []
    for sub in submissions:
        path = Path(folder) / sub.relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sub.content)
        paths.append(path)
    return paths
