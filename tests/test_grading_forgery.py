"""Forged results, symlinked submissions, parser bombs and CSV formulae.

* Forged probes: whatever the learner's process reports about an ``nn.Module`` is worth what
  its numbers are. A report forged without computing the model (plausible shapes, the weights
  it was given, zero gradients) earns nothing; a model that peeks at later inputs fails at
  every position it peeks. Judged in this process (the judges are pure), then through the real
  grader with notebooks that replace the child's runner.
* Intake: a notebook, an assignment folder or a student folder that is a symbolic link, a
  link in an LMS zip, and notebooks the JSON parser chokes on each get a row with 0 and the
  reason; grades.csv never holds a cell a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import test_grading_submissions as subs
import torch
import torch.nn.functional as F
from torch import nn

from autograder.grading import assignments, engine, lms, record, sandbox
from autograder.grading import module_checks as mc
from autograder.grading import notebook as nbload
from autograder.grading.child import probes, wire
from autograder.grading.run import CaseOutcome, TestRun

LOADED = {name: assignments.load(name) for name in ("04_sequence_types", "06_char_rnn")}


def _through_wire(value):
    blobs: list = []
    return wire.load(wire.dump(value, blobs), blobs, tagged=True)


def _module_tests(kind):
    for assignment in LOADED.values():
        for test in assignment.tests:
            if test.kind == "module" and ("trains" in test.id or "perplexity" in test.id) == (
                kind == "trains"
            ):
                yield pytest.param(test, id=test.id)


def _judge(test, reports, cases):
    outcomes = [CaseOutcome(result=_through_wire(r)) for r in reports]
    return test.judge(test, cases, TestRun(outcomes, "ok"))


# --------------------------------------------------------------------------------------------
# Forged reports, judged in this process


def _forged(spec, case) -> dict:
    """What a learner's process can say without computing the model: the layout it was asked
    for, outputs of the reference's shapes, zero gradients, the weights it was given."""
    request = case.extra["options"]
    weights = {n: torch.as_tensor(w, dtype=torch.float32) for n, w in request["weights"].items()}
    results = []
    fits = all(op["op"] == "fit" for op in request["ops"])
    truth = request["ops"] if fits else mc.reference_report(spec, case)["results"]
    for op, real in zip(request["ops"], truth, strict=True):
        if op["op"] == "forward":
            leaves = probes.tensor_leaves(real["out"])
            fake = [torch.zeros_like(t, dtype=torch.float32) for t in leaves]
            results.append({"out": fake[0] if len(fake) == 1 else tuple(fake)})
        elif op["op"] == "backward":
            grads = [None if g is None else torch.zeros_like(g) for g in real["inputs"]]
            results.append(
                {"inputs": grads, "params": {n: torch.zeros_like(w) for n, w in weights.items()}}
            )
        else:
            results.append({"params": dict(weights), "losses": [0.0]})
    return {"layout": {n: tuple(w.shape) for n, w in weights.items()}, "results": results}


@pytest.mark.parametrize("test", list(_module_tests("values")) + list(_module_tests("trains")))
def test_a_report_forged_without_the_model_earns_nothing(test):
    cases = test.cases(np.random.default_rng(5))
    spec = test.judge.spec
    verdict = _judge(test, [_forged(spec, case) for case in cases], cases)
    assert verdict.fraction == 0.0, verdict.message
    # The same report with the reference's own numbers passes: the judge reads the values.
    if isinstance(test.judge, mc.values):
        honest = [mc.reference_report(spec, case) for case in cases]
        assert _judge(test, honest, cases).fraction == 1.0


@pytest.mark.parametrize("test", list(_module_tests("values")))
@pytest.mark.parametrize("odd", [torch.zeros(1), (torch.zeros(1),), "text", None])
def test_a_report_of_odd_values_is_judged_not_crashed(test, odd):
    cases = test.cases(np.random.default_rng(6))
    reports = []
    for case in cases:
        report = _forged(test.judge.spec, case)
        for result, op in zip(report["results"], case.extra["options"]["ops"], strict=True):
            if op["op"] == "forward":
                result["out"] = odd
        reports.append(report)
    verdict = _judge(test, reports, cases)
    assert verdict.fraction == 0.0 and verdict.status == "failed", verdict.message


PEEKING_CHAR_RNN = """
import torch
import torch.nn.functional as F
from torch import nn


class CharRNN(nn.Module):
    # Reads x[t+1] in place of x[t] on the second half of the sequence.

    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = nn.RNN(vocab_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, idx, h=None):
        x = F.one_hot(idx, self.vocab_size).float()
        T = idx.shape[1]
        if T > 2:
            x = torch.cat([x[:, : T // 2], x[:, T // 2 + 1 :], x[:, -1:]], dim=1)
        H, h_last = self.rnn(x, h)
        return self.head(H), h_last
"""
_peeking: dict = {"nn": nn, "F": F, "torch": torch}
exec(PEEKING_CHAR_RNN, _peeking)
PeekingCharRNN = _peeking["CharRNN"]


def test_a_char_rnn_that_peeks_at_later_characters_fails_causality():
    test = next(t for t in LOADED["06_char_rnn"].tests if t.id == "test_char_rnn_module_shapes")
    cases = test.cases(np.random.default_rng(7))
    reports = [probes.run_module(PeekingCharRNN, c.args[0], c.extra["options"]) for c in cases]
    verdict = _judge(test, reports, cases)
    assert verdict.fraction < 0.5
    assert "step t may read inputs up to t only" in verdict.message
    # Its outputs on every prefix are compared: the first prefix long enough to peek fails.
    first = cases[0]
    received, _ = mc.read_report(test.judge.spec, first, _through_wire(reports[0]))
    expected, _ = mc.read_report(
        test.judge.spec, first, mc.reference_report(test.judge.spec, first)
    )
    bad = [
        w.name
        for w, g in zip(expected, received, strict=True)
        if w.part == "causal" and not np.allclose(w.value, g.value, atol=1e-4)
    ]
    assert any("idx[:, :3]" in name for name in bad), bad


# --------------------------------------------------------------------------------------------
# Hostile notebooks through the real grader

REPLACE_RUNNER = """
import gc as _gc, sys as _sys, types as _types

def _forge(cls, init, request, *rest, **kw):
    import torch as _t
    weights = {n: _t.as_tensor(w, dtype=_t.float32) for n, w in request["weights"].items()}
    results = []
    for op in request["ops"]:
        if op["op"] == "forward":
            results.append({"out": _t.zeros(1)})
        elif op["op"] == "backward":
            results.append({"inputs": [None], "params": {n: _t.zeros_like(w) for n, w in weights.items()}})
        else:
            results.append({"params": weights, "losses": [0.0]})
    return {"layout": {n: tuple(w.shape) for n, w in weights.items()}, "results": results,
            "is_module": True, "n_params": 1, "outputs": [], "grads": {"w": True}}

for _m in list(_sys.modules.values()) + [o for o in _gc.get_objects() if isinstance(o, _types.ModuleType)]:
    if getattr(_m, "__name__", "").endswith("probes"):
        for _name in ("run_module", "probe_module", "_forward", "_backward", "_sgd", "_fit"):
            setattr(_m, _name, _forge)
        if hasattr(_m, "OPS"):
            _m.OPS.update({k: (lambda *a, **k: {}) for k in list(_m.OPS)})
"""


def _with_attack(nb, attack: str, name: str = "ManyToOne"):
    """``nb`` plus a last cell that runs ``attack`` while rebinding ``name``, so that the
    grader keeps the statement (it keeps the code that defines the graded names)."""
    cell = f"def _attack():\n{subs._indent(attack, 4)}\n\n\n{name} = (_attack(), {name})[1]\n"
    return subs.with_cell(nb, cell)


def _peeking_06():
    return subs.replace_definition(subs.solution("06_char_rnn"), "CharRNN", PEEKING_CHAR_RNN)


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("forgery")
    submitted, out = root / "submitted", root / "out"
    a4, n4 = "04_sequence_types", subs.ASSIGNMENTS["04_sequence_types"]
    a6, n6 = "06_char_rnn", subs.ASSIGNMENTS["06_char_rnn"]
    subs.write(_with_attack(subs.exercise(a4), REPLACE_RUNNER), submitted / "forger" / a4 / n4)
    subs.write(subs.solution(a4), submitted / "honest" / a4 / n4)
    subs.write(_peeking_06(), submitted / "peeker" / a6 / n6)
    options = engine.Options(workers=1, limits=sandbox.Limits(timeout=60, memory_mb=1024))
    summary = engine.grade(submitted, out, None, options)
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {"summary": summary, "rows": rows}


def _points(batch, student, assignment, test_id=None):
    rows = [
        r
        for r in batch["rows"]
        if r["student_id"] == student
        and r["assignment"] == assignment
        and (test_id is None or r["test_id"] == test_id)
    ]
    assert rows
    return sum(float(r["points"]) for r in rows)


def test_a_blank_notebook_that_replaces_the_runner_scores_zero(hostile_batch):
    assert _points(hostile_batch, "forger", "04_sequence_types") == 0.0
    # The attack did land: the grader judged the forged reports (a blank class would only
    # have raised NotImplementedError).
    rows = [
        r
        for r in hostile_batch["rows"]
        if r["student_id"] == "forger" and r["assignment"] == "04_sequence_types"
    ]
    assert not any("not written yet" in r["message"] for r in rows), rows[0]["message"]
    assert all(r["status"] == "failed" for r in rows), [r["message"] for r in rows]
    # A correct notebook graded in the same run gets full marks.
    assert _points(hostile_batch, "honest", "04_sequence_types") == 14.0


def test_a_peeking_char_rnn_earns_no_module_points(hostile_batch):
    for test_id in ("test_char_rnn_module_shapes", "test_char_rnn_perplexity"):
        assert _points(hostile_batch, "peeker", "06_char_rnn", test_id) < 1.0
    # The NumPy half of the notebook is the solution's: it keeps its points.
    assert _points(hostile_batch, "peeker", "06_char_rnn", "test_char_rnn_loss") == 4.0


# --------------------------------------------------------------------------------------------
# Intake


def _solution_notebook(name="01_rnn_cell") -> Path:
    return subs.SOLUTIONS / name / subs.ASSIGNMENTS[name]


def test_a_symlinked_notebook_is_not_read(tmp_path):
    link = tmp_path / "rnn_cell.ipynb"
    link.symlink_to(_solution_notebook())
    with pytest.raises(nbload.NotebookError, match="symbolic link"):
        nbload.read_notebook(link)


@pytest.mark.parametrize("where", ["notebook", "assignment folder", "student folder", "only"])
def test_symlinked_submissions_are_found_and_refused(tmp_path, where):
    expected = subs.ASSIGNMENTS["01_rnn_cell"]
    student = tmp_path / "submitted" / "alice"
    folder = student / "01_rnn_cell"
    if where == "student folder":
        real = tmp_path / "elsewhere"
        (real / "01_rnn_cell").mkdir(parents=True)
        (real / "01_rnn_cell" / expected).write_bytes(_solution_notebook().read_bytes())
        student.parent.mkdir(parents=True)
        student.symlink_to(real)
    elif where == "assignment folder":
        student.mkdir(parents=True)
        folder.symlink_to(_solution_notebook().parent)
    else:
        folder.mkdir(parents=True)
        name = expected if where == "notebook" else "my work.ipynb"
        (folder / name).symlink_to(_solution_notebook())
    path, note = engine._find_notebook(folder, expected)
    assert path is None
    assert "symbolic link" in note


def test_a_dangling_linked_student_folder_is_collected_and_refused(tmp_path):
    submitted = tmp_path / "submitted"
    (submitted / "alice" / "01_rnn_cell").mkdir(parents=True)
    (submitted / "bob").symlink_to(tmp_path / "nowhere")  # dangling: is_dir() is False
    students, _, _ = engine.collect(submitted, ["01_rnn_cell"], assignments.SOLUTIONS_DIR)
    assert students == ["alice", "bob"]
    expected = subs.ASSIGNMENTS["01_rnn_cell"]
    path, note = engine._find_notebook(submitted / "bob" / "01_rnn_cell", expected)
    assert path is None and "symbolic link" in note


def _canvas_zip(path: Path, members: dict[str, bytes], links: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def test_a_link_in_an_lms_zip_gives_its_student_a_row_with_the_reason(tmp_path):
    notebook = _solution_notebook().read_bytes()
    archive = _canvas_zip(
        tmp_path / "download.zip",
        {"doejane_1001_2001_rnn_cell.ipynb": notebook},
        {"roebob_1002_2002_rnn_cell.ipynb": str(_solution_notebook())},
    )
    dest = tmp_path / "submitted"
    intake = lms.collect(archive, dest, {"01_rnn_cell": "rnn_cell"})
    placed = dest / "1002" / "01_rnn_cell" / "rnn_cell.ipynb"
    assert placed.is_symlink() and not placed.exists()  # a dangling link, never followed
    assert os.readlink(placed) == lms.LINK_TARGET
    assert any("symbolic link" in u["reason"] for u in intake.unmatched)
    path, note = engine._find_notebook(placed.parent, "rnn_cell.ipynb")
    assert path is None and "symbolic link" in note
    assert (dest / "1001" / "01_rnn_cell" / "rnn_cell.ipynb").read_bytes() == notebook


def _notebook_with_metadata(value: str) -> bytes:
    text = _solution_notebook().read_text(encoding="utf-8")
    return text.replace('"metadata": {', '"metadata": {"bomb": ' + value + ", ", 1).encode()


@pytest.mark.parametrize(
    "bomb",
    ["9" * 5001, "[" * 100_000 + "]" * 100_000, '{"a": ' * 50_000 + "1" + "}" * 50_000],
    ids=["5001-digit integer", "deep list", "deep dict"],
)
def test_a_notebook_the_json_parser_chokes_on_gives_a_reason(bomb):
    with pytest.raises(nbload.NotebookError):
        nbload.parse_notebook(_notebook_with_metadata(bomb))


def test_symlinks_and_parser_bombs_get_rows_in_a_real_batch(tmp_path):
    """Through ``engine.grade``: every student gets rows, 0 points and the reason."""
    submitted = tmp_path / "submitted"
    a, name = "01_rnn_cell", subs.ASSIGNMENTS["01_rnn_cell"]
    for student, data in {
        "huge_int": _notebook_with_metadata("9" * 5001),
        "deep": _notebook_with_metadata("[" * 100_000 + "]" * 100_000),
    }.items():
        (submitted / student / a).mkdir(parents=True)
        (submitted / student / a / name).write_bytes(data)
    (submitted / "linked" / a).mkdir(parents=True)
    (submitted / "linked" / a / name).symlink_to(_solution_notebook())
    (submitted / "folder").mkdir(parents=True)
    (submitted / "folder" / a).symlink_to(_solution_notebook().parent)
    out = tmp_path / "out"
    options = engine.Options(workers=1, limits=sandbox.Limits(timeout=30, memory_mb=512))
    engine.grade(submitted, out, [a], options)
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for student in ("huge_int", "deep", "linked", "folder"):
        mine = [r for r in rows if r["student_id"] == student]
        assert mine, student
        assert all(float(r["points"]) == 0 for r in mine), student
        reason = mine[0]["message"]
        assert ("symbolic link" in reason) == (student in ("linked", "folder")), reason
        assert "could not be read" in reason or "symbolic link" in reason, reason


# --------------------------------------------------------------------------------------------
# CSV formulae


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_grades_csv_never_holds_a_formula(tmp_path, start):
    row = record.Row(
        f"{start}cmd|' -C calc'!A0",
        "01_rnn_cell",
        "rnn_cell",
        "test_x",
        0.0,
        1.0,
        "failed",
        f'{start}HYPERLINK("http://example.invalid")',
    )
    record.write_csv(tmp_path / "grades.csv", [row])
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8") as f:
        cells = [c for r in csv.reader(f) for c in r]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells), cells
    assert f"'{start}cmd|' -C calc'!A0" in cells


def test_plain_cells_are_written_as_they_are(tmp_path):
    row = record.Row("alice", "01_rnn_cell", "rnn_cell", "test_x", 0.5, 1.0, "partial", "50%")
    record.write_csv(tmp_path / "grades.csv", [row])
    text = (tmp_path / "grades.csv").read_text(encoding="utf-8")
    assert "alice,01_rnn_cell,rnn_cell,test_x,0.5,1,partial,50%" in text
