"""The exercise notebooks: how they are built, what they define, how they run, and that the code
a learner must write (as the instructor notebooks write it) agrees with the reference library.

* Structure: the instructor notebooks are built from solutions/_src/, every notebook opens with
  its learning goals and a link to its chapter, nbgrader metadata is complete and grade ids are
  unique, the graded names are defined at the top level of answer cells.
* Execution: every instructor notebook runs top to bottom with every graded cell passing (full
  marks by nbgrader's rule; its time is measured by `make bench`); every student notebook fails
  only in the cells the learner fills and in the cells that depend on them, and fails every
  graded cell (zero marks).
* Agreement: the solutions, taken out of the instructor notebooks, agree with
  autograder.reference (NumPy and PyTorch) on random inputs, edge sizes (N = 1, T = 1) included.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import io
import re
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from nbclient import NotebookClient

from autograder.grading import mistakes
from autograder.notebook_checks import CheckFailure, check_array, check_arrays
from autograder.reference import numpy_rnn as nr
from autograder.reference import torch_rnn as tr

ROOT = Path(__file__).resolve().parent.parent

_spec = importlib.util.spec_from_file_location(
    "build_notebooks", ROOT / "solutions" / "build_notebooks.py"
)
build_notebooks = sys.modules.setdefault("build_notebooks", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(build_notebooks)

ASSIGNMENTS = {a.name: a for a in build_notebooks.assignments()}

# The names (and parameters) the grading engine looks for in a learner's notebook.
CONTRACT = {
    "00_concepts": {f"answer_q{i}": None for i in range(1, 11)},
    "01_rnn_cell": {
        "rnn_cell_forward": ["x", "h_prev", "W_xh", "W_hh", "b_h"],
        "rnn_forward": ["X", "h0", "W_xh", "W_hh", "b_h"],
        "output_forward": ["H", "W_hq", "b_q"],
    },
    "02_bptt": {
        "rnn_cell_backward": ["dh_next", "x", "h_prev", "h_next", "W_xh", "W_hh"],
        "rnn_backward": ["dH", "X", "h0", "H", "W_xh", "W_hh"],
        "numerical_gradient": ["f", "x", "df", "h"],
    },
    "03_bidirectional": {
        "birnn_forward": ["X", "h0_f", "h0_b", "params_f", "params_b"],
        "birnn_backward": ["dH", "X", "h0_f", "h0_b", "params_f", "params_b"],
    },
    "04_sequence_types": {
        "OneToMany": ["input_size", "hidden_size", "output_size", "steps"],
        "ManyToOne": ["input_size", "hidden_size", "num_classes"],
        "ManyToManyAligned": ["input_size", "hidden_size", "num_tags"],
        "EncoderDecoder": ["src_vocab", "tgt_vocab", "hidden_size"],
    },
    "05_gradient_clipping": {
        "hidden_grad_norms": ["X", "h0", "W_xh", "W_hh", "b_h"],
        "clip_grad_norm": ["grads", "max_norm"],
        "clip_grad_value": ["grads", "clip_value"],
    },
    "06_char_rnn": {
        "char_rnn_loss": ["params", "inputs", "targets", "h_prev"],
        "sample": ["params", "h", "seed_ix", "n", "temperature", "rng"],
        "CharRNN": ["vocab_size", "hidden_size"],
    },
    "07_gated": {
        "lstm_forward": ["X", "h0", "c0", "W_x", "W_h", "b"],
        "lstm_backward": ["dH", "X", "h0", "c0", "H", "C", "W_x", "W_h", "b"],
        "gru_forward": ["X", "h0", "W_x", "W_h", "b_x", "b_h"],
        "CharLSTM": ["vocab_size", "hidden_size"],
    },
}
STUB_MESSAGE = "Replace this line with your answer (see the comments above)."


def exercise_path(name: str) -> Path:
    return ROOT / "exercises" / name / ASSIGNMENTS[name].notebook.name


def kind(cell) -> str:
    """markdown, code (plain), setup (read-only), answer or test."""
    meta = cell.metadata.get("nbgrader")
    if cell.cell_type == "markdown" or not meta:
        return cell.cell_type
    if meta.get("solution"):
        return "answer"
    return "test" if meta.get("grade") else "setup"


def top_level_definitions(source: str) -> dict[str, list[str] | None]:
    """Names a cell defines at its top level, with their parameters (a class: its __init__'s)."""
    found: dict[str, list[str] | None] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = [a.arg for a in node.args.args]
        elif isinstance(node, ast.ClassDef):
            init = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
            found[node.name] = [a.arg for a in init[0].args.args[1:]] if init else []
        elif isinstance(node, ast.Assign):
            found.update({t.id: None for t in node.targets if isinstance(t, ast.Name)})
    return found


def stored_names(source: str) -> set[str]:
    tree = ast.parse(source)
    names = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    return names | {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}


def used_names(source: str) -> set[str]:
    """Names a cell reads, including names spelled as strings (globals().get("answer_q1"))."""
    tree = ast.parse(source)
    names = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    return names | {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


@functools.cache
def executed(path: Path) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook in a fresh kernel, in its own folder, letting errors through."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=300,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


# ---------------------------------------------------------------------------------------------
# Structure


def test_instructor_notebooks_are_built_from_their_sources():
    stale = build_notebooks.build(check=True)
    assert not stale, f"rebuild with `python solutions/build_notebooks.py --release`: {stale}"


def test_there_is_one_assignment_per_topic_of_the_contract():
    assert sorted(ASSIGNMENTS) == sorted(CONTRACT)


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
@pytest.mark.parametrize("version", ["solutions", "exercises"])
def test_notebook_opens_with_learning_goals_and_a_link_to_its_chapter(name, version):
    path = ASSIGNMENTS[name].notebook if version == "solutions" else exercise_path(name)
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# Exercise")
    assert "After this exercise you can" in first.source
    assert re.search(r"\]\(\.\./\.\./book/chapters/[0-9a-z_]+\.ipynb\)", first.source)


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_relative_links_lead_to_existing_chapters_and_exercises(name):
    nb = nbformat.read(exercise_path(name), as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    links = re.findall(r"\]\((\.\./[^)#]+)\)", text)
    assert links
    for link in links:
        assert (exercise_path(name).parent / link).resolve().is_file(), link


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_nbgrader_metadata_is_complete_and_grade_ids_unique(name):
    nb = nbformat.read(ASSIGNMENTS[name].notebook, as_version=4)
    ids = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        ids.append(meta["grade_id"])
        assert meta["schema_version"] == 3
        assert {"grade", "solution", "locked", "grade_id"} <= set(meta)
        if kind(cell) == "answer":
            assert not meta["locked"] and not meta["grade"]
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        elif kind(cell) == "test":
            assert meta["locked"] and meta["points"] > 0
            assert meta["grade_id"].startswith("test_")
            # The visible checks come first: when they fail on an untouched notebook, the cell
            # fails before the hidden ones run, so the autograder gives it no points.
            assert not cell.source.lstrip().startswith("### BEGIN HIDDEN TESTS")
        elif cell.cell_type == "markdown":  # marked by hand: a written answer or a task
            assert meta["points"] > 0
            written = meta["grade"] and meta["solution"] and not meta["locked"] and not meta["task"]
            task = meta["task"] and meta["locked"] and not meta["grade"] and not meta["solution"]
            assert written or task, meta
        else:
            assert meta["locked"] and "BEGIN SOLUTION" not in cell.source
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
@pytest.mark.parametrize("version", ["solutions", "exercises"])
def test_graded_names_are_defined_at_the_top_level_of_answer_cells(name, version):
    path = ASSIGNMENTS[name].notebook if version == "solutions" else exercise_path(name)
    nb = nbformat.read(path, as_version=4)
    defined: dict[str, list[str] | None] = {}
    for cell in nb.cells:
        if kind(cell) == "answer":
            defined.update(top_level_definitions(cell.source))
    for graded, params in CONTRACT[name].items():
        if name == "00_concepts" and version == "exercises":
            continue  # the stub replaces the whole assignment: the learner writes it
        assert graded in defined, f"{graded} is not defined at the top level of an answer cell"
        if params is not None:
            assert defined[graded] == params, f"{graded}{tuple(defined[graded])}"


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_exercises_hold_no_solutions_and_no_hidden_tests(name):
    folder = ROOT / "exercises" / name
    assert sorted(p.name for p in folder.iterdir()) == [ASSIGNMENTS[name].notebook.name]
    text = exercise_path(name).read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    nb = nbformat.read(exercise_path(name), as_version=4)
    for cell in nb.cells:
        if kind(cell) == "answer":
            assert f'raise NotImplementedError("{STUB_MESSAGE}")' in cell.source


# ---------------------------------------------------------------------------------------------
# Execution


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_instructor_notebook_runs_top_to_bottom_with_full_marks(name):
    nb, seconds = executed(ASSIGNMENTS[name].notebook)
    # Its time is measured against the budget by `make bench` (bench/bench_check.py).
    print(f"{name}: instructor notebook ran in {seconds:.1f} s")
    for index, cell in enumerate(nb.cells):
        assert not errors(cell), f"cell {index}: {errors(cell)[0].evalue[:2000]}"
        if kind(cell) == "test":
            # nbgrader's rule: stderr output, or a numeric result, changes the score.
            outputs = cell.get("outputs", [])
            assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"]
            assert not [o for o in outputs if o.output_type == "execute_result"]


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_exercise_fails_only_where_the_learner_writes_and_scores_zero(name):
    nb, _ = executed(exercise_path(name))
    # A name is "pending" when the learner has to write it, or when it is defined by a cell that
    # reads a pending name (a helper that calls the learner's function, a failed cell's results).
    # A cell may fail only if it reads a pending name.
    pending: set[str] = set()
    for cell in nb.cells:
        if kind(cell) == "answer":
            pending |= stored_names(cell.source)
            pending |= set(re.findall(r"\b(answer_q\d+)\b", cell.source))
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        depends = bool(used_names(cell.source) & pending)
        if depends:
            pending |= stored_names(cell.source)
        failed = errors(cell)
        if kind(cell) == "test":
            assert failed, f"graded cell {index} passes without the learner's code"
        if not failed:
            continue
        error = failed[0]
        where = f"cell {index} ({kind(cell)}): {error.ename}: {error.evalue[:300]}"
        if kind(cell) == "answer":
            assert error.ename == "NotImplementedError" and error.evalue == STUB_MESSAGE, where
            continue
        assert depends, f"{where} does not depend on the learner's code"
        if error.ename == "NameError":
            missing = re.search(r"name '(\w+)' is not defined", error.evalue).group(1)
            assert missing in pending, where
        else:
            assert error.ename in {"NotImplementedError", "CheckFailure"}, where
            if error.ename == "NotImplementedError":
                assert error.evalue == STUB_MESSAGE, where


# ---------------------------------------------------------------------------------------------
# Agreement with the reference library


@functools.cache
def solution(name: str) -> dict:
    """What the instructor notebook's read-only and answer cells define (tests not run)."""
    namespace: dict = {"__name__": "__solution__"}
    nb = nbformat.read(ASSIGNMENTS[name].notebook, as_version=4)
    # The notebooks set torch's global defaults for their own kernel; keep this process's.
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for cell in nb.cells:
                if kind(cell) in ("setup", "answer"):
                    exec(compile(cell.source, f"<{name}:{cell.id}>", "exec"), namespace)
    finally:
        torch.set_default_dtype(dtype)
        torch.set_num_threads(threads)
    return namespace


SETTINGS = settings(max_examples=20, deadline=None)
sizes = st.integers(1, 4)
seeds = st.integers(0, 2**31 - 1)


def rnn_problem(seed, N, T, D, H, scale=0.8):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((N, T, D)),
        rng.standard_normal((N, H)),
        scale * rng.standard_normal((D, H)),
        scale * rng.standard_normal((H, H)),
        scale * rng.standard_normal(H),
    )


def assert_close(got, expected, tol=1e-10):
    if isinstance(expected, dict):
        assert set(got) == set(expected)
        got, expected = [got[k] for k in expected], list(expected.values())
    if isinstance(expected, (tuple, list)):
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            assert_close(g, e, tol)
        return
    got = np.asarray(got)
    assert got.shape == np.shape(expected)
    assert nr.rel_error(got, expected) <= tol


def test_concept_answers_are_single_capital_letters():
    ns = solution("00_concepts")
    answers = [ns[f"answer_q{i}"] for i in range(1, 11)]
    assert all(a in ("A", "B", "C", "D") for a in answers)
    assert len(set(answers)) == 4, "every letter is the right answer at least once"


@SETTINGS
@given(seed=seeds, N=sizes, T=sizes, D=sizes, H=sizes)
def test_forward_solutions_agree_with_both_references(seed, N, T, D, H):
    ns = solution("01_rnn_cell")
    X, h0, W_xh, W_hh, b_h = rnn_problem(seed, N, T, D, H)
    for ref in (nr, tr):
        assert_close(
            ns["rnn_cell_forward"](X[:, 0], h0, W_xh, W_hh, b_h),
            ref.rnn_cell_forward(X[:, 0], h0, W_xh, W_hh, b_h)[0],
        )
        assert_close(
            ns["rnn_forward"](X, h0, W_xh, W_hh, b_h), ref.rnn_forward(X, h0, W_xh, W_hh, b_h)[0]
        )
    rng = np.random.default_rng(seed + 1)
    H_states, W_hq, b_q = np.tanh(X @ W_xh), rng.standard_normal((H, D)), rng.standard_normal(D)
    assert_close(
        ns["output_forward"](H_states, W_hq, b_q), tr.output_forward(H_states, W_hq, b_q)[0]
    )


@SETTINGS
@given(seed=seeds, N=sizes, T=st.integers(1, 6), D=sizes, H=sizes, k=st.integers(1, 8))
def test_bptt_solutions_agree_with_both_references(seed, N, T, D, H, k):
    ns = solution("02_bptt")
    X, h0, W_xh, W_hh, b_h = rnn_problem(seed, N, T, D, H)
    H_states, cache = nr.rnn_forward(X, h0, W_xh, W_hh, b_h)
    dH = np.random.default_rng(seed + 1).standard_normal(H_states.shape)
    x, h_next = X[:, 0], H_states[:, 0]
    step = nr.CellCache(x, h0, W_xh, W_hh, b_h, h_next)
    got_step = ns["rnn_cell_backward"](dH[:, 0], x, h0, h_next, W_xh, W_hh)
    got_full = ns["rnn_backward"](dH, X, h0, H_states, W_xh, W_hh)
    # The optional challenge (not graded): the instructor's answer must still be right.
    got_truncated = ns["rnn_backward_truncated"](dH, X, h0, H_states, W_xh, W_hh, k)
    for ref in (nr, tr):
        assert_close(got_step, ref.rnn_cell_backward(dH[:, 0], step))
        assert_close(got_full, ref.rnn_backward(dH, cache))
        assert_close(got_truncated, ref.rnn_backward(dH, cache, k=k))


@SETTINGS
@given(seed=seeds, N=sizes, T=st.integers(1, 8), D=sizes, H=sizes)
def test_hidden_grad_norms_agree_with_autograd(seed, N, T, D, H):
    ns = solution("05_gradient_clipping")
    X, h0, W_xh, W_hh, b_h = rnn_problem(seed, N, T, D, H, scale=1.2)
    W_xh_t, W_hh_t, b_h_t = (torch.tensor(a) for a in (W_xh, W_hh, b_h))
    h, states = torch.tensor(h0, requires_grad=True), []
    for t in range(T):
        h = torch.tanh(torch.tensor(X[:, t]) @ W_xh_t + h @ W_hh_t + b_h_t)
        h.retain_grad()
        states.append(h)
    states[-1].sum().backward()
    expected = np.array([s.grad.norm().item() for s in states])
    assert_close(ns["hidden_grad_norms"](X, h0, W_xh, W_hh, b_h), expected, tol=1e-12)


@SETTINGS
@given(seed=seeds, shape=st.lists(st.integers(1, 3), min_size=1, max_size=3))
def test_numerical_gradient_solution_agrees_with_the_reference(seed, shape):
    ns = solution("02_bptt")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    df = rng.standard_normal(shape)
    before = x.copy()
    got = ns["numerical_gradient"](lambda v: np.sin(v) * v, x, df)
    np.testing.assert_array_equal(x, before)
    assert_close(got, nr.numerical_gradient(lambda v: np.sin(v) * v, x, df), tol=1e-9)


@SETTINGS
@given(seed=seeds, N=sizes, T=st.integers(1, 6), D=sizes, H=sizes)
def test_bidirectional_solutions_agree_with_both_references(seed, N, T, D, H):
    ns = solution("03_bidirectional")
    X, h0_f, *params_f = rnn_problem(seed, N, T, D, H)
    _, h0_b, *params_b = rnn_problem(seed + 1, N, T, D, H)
    dH = np.random.default_rng(seed + 2).standard_normal((N, T, 2 * H))
    got_H = ns["birnn_forward"](X, h0_f, h0_b, tuple(params_f), tuple(params_b))
    got_grads = ns["birnn_backward"](dH, X, h0_f, h0_b, tuple(params_f), tuple(params_b))
    for ref in (nr, tr):
        H_ref, cache = ref.birnn_forward(X, h0_f, h0_b, params_f, params_b)
        assert_close(got_H, H_ref)
        assert_close(got_grads, ref.birnn_backward(dH, cache))


@SETTINGS
@given(seed=seeds, n_arrays=st.integers(1, 4), max_norm=st.sampled_from([0.0, 0.5, 1.0, 1e3]))
def test_clipping_solutions_agree_with_both_references(seed, n_arrays, max_norm):
    ns = solution("05_gradient_clipping")
    rng = np.random.default_rng(seed)
    grads = [
        2 * rng.standard_normal(rng.integers(1, 4, size=rng.integers(1, 3)))
        for _ in range(n_arrays)
    ]
    if seed % 5 == 0:
        grads = [np.zeros_like(g) for g in grads]
    before = [g.copy() for g in grads]
    clipped, total = ns["clip_grad_norm"](grads, max_norm)
    valued = ns["clip_grad_value"](grads, max_norm)
    for g, b in zip(grads, before, strict=True):
        np.testing.assert_array_equal(g, b)
    for ref in (nr, tr):
        ref_clipped, ref_total = ref.clip_grad_norm(before, max_norm)
        assert_close(clipped, ref_clipped, tol=1e-12)
        assert total == pytest.approx(ref_total, rel=1e-12, abs=1e-300)
        assert_close(valued, ref.clip_grad_value(before, max_norm), tol=0)


@SETTINGS
@given(seed=seeds, N=sizes, T=st.integers(1, 6), V=st.integers(2, 7), H=sizes)
def test_char_rnn_loss_solution_agrees_with_the_reference(seed, N, T, V, H):
    ns = solution("06_char_rnn")
    rng = np.random.default_rng(seed)
    params = nr.char_rnn_init(V, H, seed=seed, scale=0.5)
    params["b_h"] = 0.5 * rng.standard_normal(H)
    params["b_q"] = 0.5 * rng.standard_normal(V)
    inputs, targets = rng.integers(0, V, (N, T)), rng.integers(0, V, (N, T))
    h_prev = np.tanh(rng.standard_normal((N, H)))
    loss, grads, h_last = ns["char_rnn_loss"](params, inputs, targets, h_prev)
    ref_loss, ref_grads, ref_h_last = nr.char_rnn_loss(params, inputs, targets, h_prev)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_close(grads, ref_grads)
    assert_close(h_last, ref_h_last)
    # A single window given as lists, with an (H,) state, is a batch of one.
    one = ns["char_rnn_loss"](params, list(inputs[0]), list(targets[0]), h_prev[0])
    ref_one = nr.char_rnn_loss(params, inputs[:1], targets[:1], h_prev[:1])
    assert one[0] == pytest.approx(ref_one[0], rel=1e-12)
    assert_close(one[1], ref_one[1])


@SETTINGS
@given(
    seed=seeds,
    V=st.integers(2, 7),
    H=sizes,
    n=st.integers(0, 30),
    temperature=st.sampled_from([0.3, 1.0, 2.5]),
)
def test_sample_solution_draws_what_the_reference_draws(seed, V, H, n, temperature):
    ns = solution("06_char_rnn")
    params = nr.char_rnn_init(V, H, seed=seed, scale=1.0)
    h = np.random.default_rng(seed).standard_normal(H)
    got = ns["sample"](params, h, seed % V, n, temperature, np.random.default_rng(seed))
    expected = nr.sample(params, h, seed % V, n, temperature, np.random.default_rng(seed))
    assert np.asarray(got).dtype.kind == "i"
    np.testing.assert_array_equal(got, expected)


def load_into(solution_model, reference_model):
    """Copy the reference model's weights into the solution's (the layer names must agree)."""
    solution_model.load_state_dict(reference_model.state_dict(), strict=True)
    return solution_model


@pytest.mark.parametrize("N, T, D, H, C", [(1, 1, 1, 1, 2), (3, 5, 2, 4, 3), (2, 9, 4, 6, 5)])
def test_sequence_models_compute_what_the_reference_models_compute(N, T, D, H, C):
    ns = solution("04_sequence_types")
    torch.manual_seed(N * 100 + T)
    X = torch.randn(N, T, D)
    with torch.no_grad():
        ref = tr.ManyToOne(D, H, C)
        torch.testing.assert_close(load_into(ns["ManyToOne"](D, H, C), ref)(X), ref(X))
        ref = tr.ManyToManyAligned(D, H, C)
        torch.testing.assert_close(load_into(ns["ManyToManyAligned"](D, H, C), ref)(X), ref(X))
        ref = tr.OneToMany(D, H, C)
        x = torch.randn(N, D)
        torch.testing.assert_close(load_into(ns["OneToMany"](D, H, C, T), ref)(x), ref(x, T))
        ref = tr.EncoderDecoder(D + 1, C, H, H)
        src, tgt_in = torch.randint(0, D + 1, (N, T)), torch.randint(0, C, (N, T + 1))
        model = load_into(ns["EncoderDecoder"](D + 1, C, H), ref)
        torch.testing.assert_close(model(src, tgt_in), ref(src, tgt_in))


@pytest.mark.parametrize("N, T, V, H", [(1, 1, 2, 1), (3, 6, 5, 4)])
def test_char_rnn_module_computes_what_the_reference_module_computes(N, T, V, H):
    ns = solution("06_char_rnn")
    torch.manual_seed(N + T)
    ref = tr.CharRNN(V, H)
    model = load_into(ns["CharRNN"](V, H), ref)
    idx = torch.randint(0, V, (N, T))
    h = torch.randn(1, N, H)
    with torch.no_grad():
        for state in (None, h):
            got, expected = model(idx, state), ref(idx, state)
            torch.testing.assert_close(got[0], expected[0])
            torch.testing.assert_close(got[1], expected[1])


# ---------------------------------------------------------------------------------------------
# Visible tests fail usefully


def run_visible_test(name: str, grade_id: str, **replacements) -> str:
    """Run one test cell of the student notebook against the solution with some names replaced
    by wrong versions; return the failure message."""
    namespace = dict(solution(name), **replacements)
    nb = nbformat.read(exercise_path(name), as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    with pytest.raises(CheckFailure) as failure, contextlib.redirect_stdout(io.StringIO()):
        exec(compile(cell.source, grade_id, "exec"), namespace)
    return str(failure.value)


def test_a_cell_without_tanh_is_named_as_such():
    message = run_visible_test(
        "01_rnn_cell",
        "test_rnn_cell_forward_values",
        rnn_cell_forward=lambda x, h, W_xh, W_hh, b_h: x @ W_xh + h @ W_hh + b_h,
    )
    assert "expected" in message and "Largest error" in message
    assert "Your result equals the pre-activation, without tanh." in message


def test_clipping_each_array_by_its_own_norm_is_named_as_such():
    def each_alone(grads, max_norm):
        total = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
        return [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads], total

    message = run_visible_test(
        "05_gradient_clipping", "test_clip_grad_norm", clip_grad_norm=each_alone
    )
    assert message.startswith("clipped[0] compared with torch.nn.utils.clip_grad_norm_ ")
    assert (
        "Your result equals each array clipped by its own norm instead of one norm over all "
        "of them." in message
    )


def test_a_sequence_that_returns_a_cache_too_is_told_to_return_only_the_states():
    ns = solution("01_rnn_cell")
    message = run_visible_test(
        "01_rnn_cell",
        "test_rnn_forward_shape",
        rnn_forward=lambda *args: (ns["rnn_forward"](*args), None),
    )
    assert (
        "is a tuple of 2 items, expected a NumPy array of shape (N, T, Dh) = (2, 5, 4)" in message
    )


def test_bptt_without_the_carried_gradient_is_diagnosed_with_its_time_steps():
    ns = solution("02_bptt")

    def not_carried(dH, X, h0, H, W_xh, W_hh):
        grads = [
            ns["rnn_cell_backward"](
                dH[:, t], X[:, t], h0 if t == 0 else H[:, t - 1], H[:, t], W_xh, W_hh
            )
            for t in range(X.shape[1])
        ]
        return (
            np.stack([g[0] for g in grads], axis=1),
            grads[0][1],
            *(sum(g[i] for g in grads) for i in (2, 3, 4)),
        )

    message = run_visible_test("02_bptt", "test_rnn_backward", rnn_backward=not_carried)
    assert "wrong dX, dh0, dW_xh, dW_hh, db_h" in message
    assert "Your result equals BPTT with nothing carried back from step t+1 to step t." in message
    assert (
        "Along T: wrong at array index 0..3 (t = 1..4), right at array index 4 (t = 5)." in message
    )
    assert (
        "Hint: each state gets gradient along two paths, from above and from the later" in message
    )


def test_bptt_overwriting_a_weight_gradient_is_told_to_add_each_steps_gradient():
    ns = solution("02_bptt")

    def overwritten(dH, X, h0, H, W_xh, W_hh, keep_last):
        T = X.shape[1]
        grads = [np.zeros(X.shape), None, np.zeros(W_xh.shape), np.zeros(W_hh.shape), 0.0]
        dh_next = np.zeros(h0.shape)
        for t in reversed(range(T)):
            h_prev = h0 if t == 0 else H[:, t - 1]
            dx, dh_next, *step = ns["rnn_cell_backward"](
                dH[:, t] + dh_next, X[:, t], h_prev, H[:, t], W_xh, W_hh
            )
            grads[0][:, t] = dx
            for i, g in enumerate(step, start=2):
                grads[i] = g if i == keep_last else grads[i] + g
        grads[1] = dh_next
        return tuple(grads)

    for slot, part, shared in ((2, "dW_xh", "weights are"), (4, "db_h", "bias is")):
        message = run_visible_test(
            "02_bptt",
            "test_rnn_backward",
            rnn_backward=functools.partial(overwritten, keep_last=slot),
        )
        assert f"rnn_backward(...): wrong {part};" in message
        assert (
            f"Hint: the same {shared} used at every step: each step's gradient adds to the total."
        ) in message


def test_a_cell_backward_without_tanhs_derivative_is_named_as_such():
    def no_derivative(dh_next, x, h_prev, h_next, W_xh, W_hh):
        return mistakes.cell_backward(dh_next, x, h_prev, h_next, W_xh, W_hh, tanh_grad="none")

    message = run_visible_test(
        "02_bptt", "test_rnn_cell_backward_values", rnn_cell_backward=no_derivative
    )
    assert "wrong dx, dh_prev, dW_xh, dW_hh, db_h" in message
    assert "Your result equals the gradients with tanh's derivative left out" in message


def test_a_numerical_gradient_restoring_x_by_arithmetic_is_told_to_assign_the_old_value():
    def restored_by_arithmetic(f, x, df, h=1e-5):
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += h
            f_plus = np.array(f(x), copy=True)
            x[i] -= 2 * h
            f_minus = np.array(f(x), copy=True)
            x[i] += h  # not always the float x[i] held before
            grad[i] = np.sum((f_plus - f_minus) * df) / (2 * h)
        return grad

    message = run_visible_test(
        "02_bptt", "test_numerical_gradient", numerical_gradient=restored_by_arithmetic
    )
    assert "did not put every entry of x back exactly as it was" in message
    assert "keep the old value (old = x[i]) and assign it back (x[i] = old)" in message
    assert "compute new arrays" not in message


def test_a_transposed_result_and_a_wrong_part_are_pointed_out():
    expected = np.arange(6.0).reshape(2, 3)
    with pytest.raises(CheckFailure, match="looks transposed"):
        check_array("W", expected.T, expected, axes=("N", "H"))
    with pytest.raises(CheckFailure, match=r"wrong db; right dW\."):
        check_arrays("grads", (expected, np.zeros(3)), {"dW": expected, "db": np.ones(3)})
    check_array("W", expected.copy(), expected)  # a right answer passes silently
