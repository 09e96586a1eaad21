"""The sample submissions the instructor guide grades, the grading benchmark's batch, the guide.

* the samples in book/instructor/sample_submitted/ are what bench/make_submissions.py writes
  today, and grade as their names say: full marks, a partial score naming the mistake, zero;
* the benchmark's batch holds 40 notebooks of the declared kinds: the correct ones compute what
  the reference computes, each mistake is wrong in the one function it names, the untouched and
  broken ones define nothing that runs (checked here by running their answers, not timed);
* the guide is in the table of contents, in a part of its own before the back matter.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pytest
import yaml

from autograder.reference import numpy_rnn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import bench_grading  # noqa: E402
import make_submissions  # noqa: E402
import submissions  # noqa: E402

RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
GUIDE = "book/instructor_guide"


@pytest.fixture(scope="module")
def graded_samples(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("samples") / "graded"
    argv = [RNN_COURSE, "grade", str(make_submissions.SAMPLES), "--out", str(out)]
    argv += ["--no-gradebook"]  # never the course's own gradebook
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows: dict[str, list[dict]] = {}
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["student_id"], []).append(row)
    return rows


def test_the_samples_are_what_the_generator_writes_today():
    assert make_submissions.stale() == [], "run `python bench/make_submissions.py`"


def test_there_is_a_sample_of_every_kind():
    kinds = {sub.kind for sub in submissions.samples()}
    assert kinds == set(submissions.KINDS)
    students = sorted(p.name for p in make_submissions.SAMPLES.iterdir())
    assert students == sorted(sub.student for sub in submissions.samples())


def test_samples_grade_as_their_names_say(graded_samples):
    full = submissions.max_points()
    for sub in submissions.samples():
        rows = graded_samples[sub.student]
        assert len(rows) == 6, rows
        points = sum(float(r["points"]) for r in rows)
        if sub.kind == "correct":
            assert points == full, rows
        elif sub.kind == "mistake":
            assert 0 < points < full, rows
            named = submissions.MISTAKES[sub.student.removeprefix("mistake_")][2]
            assert any(named in r["message"] for r in rows), (named, rows)
        else:
            assert points == 0, rows


def _namespace(content: bytes) -> dict:
    """Run the answer cells of a submission in this process: the namespace they leave."""
    namespace: dict = {"np": np}
    for cell in nbformat.reads(content.decode(), as_version=4).cells:
        if cell.cell_type == "code" and cell.source.startswith("def "):
            exec(cell.source, namespace)
    return namespace


def _right(namespace: dict) -> dict[str, bool]:
    """Which of the three functions agree with the NumPy reference on one draw of inputs, each
    one on its own: rnn_forward calls the reference cell, not the submission's."""
    rng = np.random.default_rng(5)
    N, T, D, H, Q = 2, 4, 3, 3, 2  # D = H: a transposed or swapped weight still multiplies
    X, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    W_xh, W_hh = rng.standard_normal((D, H)), rng.standard_normal((H, H))
    b_h, W_hq, b_q = rng.standard_normal(H), rng.standard_normal((H, Q)), rng.standard_normal(Q)
    H_all = numpy_rnn.rnn_forward(X, h0, W_xh, W_hh, b_h)[0]
    calls = {
        "rnn_cell_forward": ((X[:, 0], h0, W_xh, W_hh, b_h), numpy_rnn.rnn_cell_forward),
        "rnn_forward": ((X, h0, W_xh, W_hh, b_h), numpy_rnn.rnn_forward),
        "output_forward": ((H_all, W_hq, b_q), numpy_rnn.output_forward),
    }
    own_cell = namespace.get("rnn_cell_forward")  # the functions' globals are this namespace
    right = {}
    for name, (args, reference) in calls.items():
        namespace["rnn_cell_forward"] = (
            own_cell if name != "rnn_forward" else lambda *a: numpy_rnn.rnn_cell_forward(*a)[0]
        )
        expected = reference(*args)[0]
        try:
            got = np.asarray(namespace[name](*args))
            right[name] = got.shape == expected.shape and np.allclose(got, expected)
        except Exception:  # noqa: BLE001 - a stub, a missing name or a wrong shape: not right
            right[name] = False
    return right


def test_the_benchmark_batch_has_40_notebooks_of_the_declared_kinds():
    batch = bench_grading.submissions.batch()  # the very batch the benchmark grades
    assert len(batch) == 40 == sum(submissions.BATCH_MIX.values())
    assert len({sub.student for sub in batch}) == 40
    for kind, count in submissions.BATCH_MIX.items():
        assert sum(sub.kind == kind for sub in batch) == count, kind
    released = (ROOT / "exercises" / submissions.ASSIGNMENT / submissions.NOTEBOOK).read_bytes()
    mistakes = {m[2]: m[0] for m in submissions.MISTAKES.values()}
    assert len({sub.content for sub in batch if sub.kind == "correct"}) == 20, "all different"
    for sub in batch:
        if sub.kind == "untouched":
            assert sub.content == released
            continue
        try:
            namespace = _namespace(sub.content)
        except Exception:  # noqa: BLE001 - unreadable: only broken ones may be
            assert sub.kind == "broken", sub.about
            continue
        defined = [name for name in submissions.FUNCTIONS if name in namespace]
        right = _right(namespace)
        if sub.kind == "correct":
            assert all(right.values()), (sub.about, right)
        elif sub.kind == "mistake":
            wrong = [name for name, ok in right.items() if not ok]
            assert wrong == [mistakes[sub.about]], (sub.about, right)
        else:
            assert not defined, sub.about


def test_the_benchmark_samples_the_peak_memory_of_each_worker():
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; x = bytearray(64 << 20); print(); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        child.stdout.readline()  # the memory is taken
        sampler = bench_grading.Sampler(os.getpid())
        sampler.sample()
    finally:
        child.kill()
        child.wait()
    assert sampler.memory.driver_kb > 0
    assert sampler.memory.workers_kb.get(child.pid, 0) >= 64 << 10


def test_the_guide_is_a_part_of_its_own_before_the_back_matter():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    captions = [part["caption"] for part in toc["parts"]]
    assert captions[-2:] == ["For instructors", "Back matter"], captions
    files = [c["file"] for c in toc["parts"][-2]["chapters"]]
    assert files == [GUIDE]
    # A MyST text notebook: no outputs can be committed, and several people can edit it at once.
    assert not (ROOT / f"{GUIDE}.ipynb").exists()
    guide = jupytext.read(ROOT / f"{GUIDE}.md")
    code = [c for c in guide.cells if c.cell_type == "code"]
    assert len(code) >= 10, "the guide runs the commands it shows"
