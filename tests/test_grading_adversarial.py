"""The adversarial suite: every attack, in every assignment, graded in two real batches.

For each assignment there is a wrong-but-plausible baseline (one target definition wrong, the
rest right) and one copy of it per attack. The attacks run where the grader will execute them:
inside the target's body (called by the tests), around its return value, at the top level of
the notebook in a statement the grader keeps, or in the test cells. Whatever they do, the
score must be the baseline's, to the thousandth of a point; correct submissions get full marks;
broken files get rows with 0 and a reason; and afterwards the grader's own process, the course
files and the output folder are as they were.

Two batches, because the disruptive attacks (endless loops above all) cost a timeout each: the
main one with a generous timeout, the disruptive one with a short timeout. Both run at the
strongest isolation level (bubblewrap) and again at the Landlock fallback: the guarantees are
the same at every level.
"""

from __future__ import annotations

import builtins
import csv
import hashlib
import math
import operator
import os
import site
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import test_grading_submissions as subs
import torch

from autograder.grading import engine, sandbox

PASSIVE = [
    "monkeypatch_numpy",
    "monkeypatch_torch",
    "monkeypatch_builtins",
    "ipython_hooks",
    "fake_output",
    "write_files",
    "read_solutions",
    "seed_rng",
    "always_equal_object",
    "always_equal_array",
]
DISRUPTIVE = ["sys_exit", "os_exit", "infinite_loop", "memory_hog", "process_flood"]
TOP_LEVEL = ["monkeypatch_numpy", "sys_exit", "os_exit", "infinite_loop", "memory_hog"]
# The top-level placement for a value, a function and a class is enough: the in-body one runs
# in every assignment.
TOP_LEVEL_IN = ["00_concepts", "01_rnn_cell", "04_sequence_types"]
MAIN_TIMEOUT = 20.0
SHORT_TIMEOUT = 2.0


def _tree_digest(*folders: Path) -> str:
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(folder.parent)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _process_state() -> dict:
    return {
        "np.allclose": np.allclose,
        "np.testing.assert_allclose": np.testing.assert_allclose,
        "np.random.default_rng": np.random.default_rng,
        "torch.allclose": torch.allclose,
        "abs": builtins.abs,
        "max": builtins.max,
        "operator.eq": operator.eq,
        "math.isclose": math.isclose,
        "os._exit": os._exit,
        "sys.excepthook": sys.excepthook,
        "cwd": os.getcwd(),
        # PyTorch itself records its compiler cache folder in the environment the first time the
        # grader's own references use an optimiser: not something a submission did.
        "environ": {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTEST_CURRENT_TEST", "TORCHINDUCTOR_CACHE_DIR")
        },
    }


def _worker_processes() -> list[str]:
    """Processes running as a grading worker's uid (or as the old ``nobody``)."""
    out = subprocess.run(["ps", "-eo", "uid=,pid=,cmd="], capture_output=True, text=True)
    return [
        line
        for line in out.stdout.splitlines()
        if line.split()
        and (
            sandbox.FIRST_WORKER_UID <= int(line.split()[0]) <= sandbox.LAST_WORKER_UID
            or int(line.split()[0]) == 65534
        )
    ]


@pytest.fixture(scope="module", params=["bubblewrap", "landlock"])
def level(request):
    return request.param


@pytest.fixture(scope="module")
def world(tmp_path_factory, level):
    """Paths the attacks aim at, and the state that must survive them."""
    root = tmp_path_factory.mktemp(f"adversarial-{level}")
    open_dir = root / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)  # writable by anyone: only the sandbox can keep an attack out
    out = root / "out"
    out.mkdir()
    out.chmod(0o777)
    sitecustomize = [Path(p) / "sitecustomize.py" for p in site.getsitepackages()]
    return {
        "root": root,
        "level": level,
        "context": {"OUT": out, "REPO": subs.ROOT, "MARK": open_dir / "mark"},
        "out": out,
        "mark": open_dir / "mark",
        "host_tmp_mark": Path("/tmp/pwned.txt"),
        "host_tmp_mark_existed": Path("/tmp/pwned.txt").exists(),
        "sitecustomize": {p: p.exists() for p in sitecustomize},
        "digest": _tree_digest(
            subs.ROOT / "solutions", subs.ROOT / "autograder", subs.ROOT / "exercises"
        ),
        "process": _process_state(),
    }


def _grade(submitted: Path, out: Path, timeout: float, level: str):
    limits = sandbox.Limits(timeout=timeout, memory_mb=512)
    options = engine.Options(workers=2, limits=limits, isolation=level)
    summary = engine.grade(submitted, out, None, options)
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return summary, rows


def _scores(rows) -> dict:
    scores = defaultdict(float)
    for row in rows:
        scores[(row["student_id"], row["assignment"])] += float(row["points"])
    return {key: round(value, 3) for key, value in scores.items()}


def _student(scenario: str, assignment: str) -> str:
    return f"{scenario}__{assignment}"


@pytest.fixture(scope="module")
def main_batch(world):
    submitted = world["root"] / "submitted"
    context = world["context"]
    for a, notebook in subs.ASSIGNMENTS.items():
        folder = lambda scenario, a=a: submitted / _student(scenario, a) / a  # noqa: E731
        subs.write(subs.solution(a), folder("correct") / notebook)
        subs.write(subs.exercise(a), folder("untouched") / notebook)
        subs.write(subs.baseline(a), folder("baseline") / notebook)
        subs.write(subs.every_variant(subs.solution(a), a), folder("every_variant") / notebook)
        subs.write(
            subs.copied_with_old_version_last(subs.solution(a), a), folder("copied_last") / notebook
        )
        subs.write(subs.edited_test_cells(subs.baseline(a)), folder("tests_edited") / notebook)
        subs.write(subs.deleted_test_cells(subs.baseline(a)), folder("tests_deleted") / notebook)
        for attack in PASSIVE:
            subs.write(subs.attacked(a, attack, context), folder(attack) / notebook)
    # Each robustness variant on its own, for one assignment.
    a, notebook = "01_rnn_cell", subs.ASSIGNMENTS["01_rnn_cell"]
    solution = subs.solution(a)
    for name, nb in {
        "stripped": subs.stripped(solution),
        "retyped": subs.retyped(solution),
        "answers_moved": subs.answers_moved_to_end(solution),
        "reversed": subs.cells_reversed(solution),
        "ipython": subs.with_ipython_syntax(solution),
        "copied_first": subs.copied_with_old_version_first(solution, a),
        "noisy": subs.noisy(solution, "rnn_cell_forward"),
    }.items():
        subs.write(nb, submitted / _student(name, a) / a / notebook)
    # Broken files, each in place of a 01_rnn_cell notebook.
    for name, make in subs.BROKEN.items():
        path = submitted / _student(name, a) / a / notebook
        path.parent.mkdir(parents=True)
        path.write_bytes(make())
    subs.huge_notebook(submitted / _student("huge", a) / a / notebook, 26)
    (submitted / _student("folder_only", a) / a).mkdir(parents=True)
    renamed = submitted / _student("renamed", a) / a / "rnn_cell (1).ipynb"
    subs.write(solution, renamed)
    summary, rows = _grade(submitted, world["out"], MAIN_TIMEOUT, world["level"])
    assert summary.isolation.level == world["level"]
    return {"summary": summary, "rows": rows, "scores": _scores(rows)}


@pytest.fixture(scope="module")
def short_batch(world):
    submitted = world["root"] / "submitted_short"
    out = world["root"] / "out_short"
    context = world["context"]
    for a, notebook in subs.ASSIGNMENTS.items():
        folder = lambda scenario, a=a: submitted / _student(scenario, a) / a  # noqa: E731
        subs.write(subs.baseline(a), folder("baseline") / notebook)
        for attack in DISRUPTIVE:
            subs.write(subs.attacked(a, attack, context), folder(attack) / notebook)
        for attack in TOP_LEVEL if a in TOP_LEVEL_IN else ():
            nb = subs.attacked_at_top_level(a, attack, context)
            subs.write(nb, folder("top_level_" + attack) / notebook)
        name = subs.TARGETS[a][0]
        cell = f"import posix\n\n{name} = (posix._exit(3), {name})[1]\n"
        subs.write(subs.with_cell(subs.baseline(a), cell), folder("hard_exit") / notebook)
    summary, rows = _grade(submitted, out, SHORT_TIMEOUT, world["level"])
    assert summary.isolation.level == world["level"]
    return {"summary": summary, "rows": rows, "scores": _scores(rows), "out": out}


def _row(batch, scenario, assignment, test_id=None):
    student = _student(scenario, assignment)
    rows = [
        r for r in batch["rows"] if r["student_id"] == student and r["assignment"] == assignment
    ]
    if test_id is None:
        return rows
    return next(r for r in rows if r["test_id"] == test_id)


def _max_points(batch, assignment) -> float:
    rows = _row(batch, "correct", assignment)
    return round(sum(float(r["max_points"]) for r in rows), 3)


def _target_rows(batch, scenario, assignment):
    name = subs.TARGETS[assignment][0]
    return [r for r in _row(batch, scenario, assignment) if name in r["message"]]


# --------------------------------------------------------------------------------------------
# Correct, untouched and wrong-but-plausible submissions


@pytest.mark.parametrize("assignment", subs.ASSIGNMENTS)
def test_correct_submission_gets_full_marks(main_batch, assignment):
    rows = _row(main_batch, "correct", assignment)
    assert rows and all(r["status"] == "passed" for r in rows), rows


@pytest.mark.parametrize("assignment", subs.ASSIGNMENTS)
def test_copied_moved_retyped_stripped_and_magic_cells_still_get_full_marks(main_batch, assignment):
    rows = _row(main_batch, "every_variant", assignment)
    assert rows and all(r["status"] == "passed" for r in rows), rows


@pytest.mark.parametrize(
    "variant",
    ["stripped", "retyped", "answers_moved", "reversed", "ipython", "copied_first", "noisy"],
)
def test_each_cell_variant_alone_gets_full_marks(main_batch, variant):
    """Including a function that warns and writes to stderr at every call."""
    rows = _row(main_batch, variant, "01_rnn_cell")
    assert rows and all(r["status"] == "passed" for r in rows), rows


@pytest.mark.parametrize("assignment", subs.ASSIGNMENTS)
def test_a_later_wrong_copy_wins_as_in_a_notebook_run(main_batch, assignment):
    """The solution with the target's wrong version pasted after it: only the target fails."""
    name = subs.TARGETS[assignment][0]
    rows = _row(main_batch, "copied_last", assignment)
    wrong = [r for r in rows if r["status"] != "passed"]
    assert wrong and all(name in r["message"] and float(r["points"]) == 0 for r in wrong), rows


@pytest.mark.parametrize("assignment", subs.ASSIGNMENTS)
def test_untouched_exercise_gets_zero_with_a_reason(main_batch, assignment):
    rows = _row(main_batch, "untouched", assignment)
    assert rows and all(float(r["points"]) == 0 for r in rows)
    # A function still raises NotImplementedError, an answer variable is not set, or a
    # prediction was never made (its letter is not a string yet).
    reasons = ("not written yet", "is not set", "should be a string")
    assert all(any(reason in r["message"] for reason in reasons) for r in rows), rows


@pytest.mark.parametrize("assignment", subs.ASSIGNMENTS)
def test_baseline_is_wrong_but_plausible(main_batch, assignment):
    """Its target's tests score 0, every other test full marks."""
    name = subs.TARGETS[assignment][0]
    rows = _row(main_batch, "baseline", assignment)
    finished = subs.FINISHED.get(assignment)
    for row in rows:
        if name in row["message"]:
            assert float(row["points"]) == 0, row
        elif finished is None:
            assert row["status"] == "passed", row
    assert 0 < main_batch["scores"][(_student("baseline", assignment), assignment)]
    assert main_batch["scores"][(_student("baseline", assignment), assignment)] < _max_points(
        main_batch, assignment
    )


# --------------------------------------------------------------------------------------------
# Attacks: never a point more (nor less) than the baseline


@pytest.mark.parametrize("assignment", subs.ASSIGNMENTS)
@pytest.mark.parametrize("attack", PASSIVE + ["tests_edited", "tests_deleted"])
def test_passive_attack_does_not_change_the_score(main_batch, assignment, attack):
    scores = main_batch["scores"]
    assert (
        scores[(_student(attack, assignment), assignment)]
        == scores[(_student("baseline", assignment), assignment)]
    )


@pytest.mark.parametrize("assignment", subs.ASSIGNMENTS)
@pytest.mark.parametrize("attack", DISRUPTIVE)
def test_disruptive_attack_does_not_change_the_score(short_batch, assignment, attack):
    scores = short_batch["scores"]
    assert (
        scores[(_student(attack, assignment), assignment)]
        == scores[(_student("baseline", assignment), assignment)]
    )


@pytest.mark.parametrize("assignment", TOP_LEVEL_IN)
@pytest.mark.parametrize("attack", ["top_level_" + a for a in TOP_LEVEL])
def test_attack_at_the_top_level_does_not_change_the_score(short_batch, assignment, attack):
    scores = short_batch["scores"]
    assert (
        scores[(_student(attack, assignment), assignment)]
        == scores[(_student("baseline", assignment), assignment)]
    )


@pytest.mark.parametrize("assignment", subs.ASSIGNMENTS)
def test_killing_the_process_from_the_top_level_never_raises_a_score(short_batch, assignment):
    scores = short_batch["scores"]
    hard = scores[(_student("hard_exit", assignment), assignment)]
    assert hard <= scores[(_student("baseline", assignment), assignment)]
    rows = _row(short_batch, "hard_exit", assignment)
    assert rows and all(r["status"] == "crashed" for r in rows)
    assert all("ended the grading process" in r["message"] for r in rows)


@pytest.mark.parametrize("assignment", [a for a in subs.ASSIGNMENTS if a != "00_concepts"])
@pytest.mark.parametrize(
    "attack, words",
    [
        ("sys_exit", "sys.exit()"),
        ("os_exit", "os._exit()"),
        ("infinite_loop", "endless loop"),
        ("memory_hog", "memory"),
    ],
)
def test_disruptive_attack_is_named_in_the_message(short_batch, assignment, attack, words):
    rows = _target_rows(short_batch, attack, assignment)
    # Once a function has timed out, the later tests that reach it are not run again: they say
    # why. Every test that did run names the attack.
    ran = [r for r in rows if r["status"] != "not_run"]
    assert ran and all(words in r["message"] for r in ran), rows
    skipped = [r for r in rows if r["status"] == "not_run"]
    assert all("timed out in an earlier test" in r["message"] for r in skipped), skipped


@pytest.mark.parametrize("assignment", subs.ASSIGNMENTS)
def test_passive_attacks_ran_to_the_end_and_were_judged_as_wrong(main_batch, assignment):
    """The attack code raised nothing (else the status would be "error" where the baseline's is
    not), and the wrong result that followed it was judged wrong, as in the baseline. In a
    NumPy-only exercise the attacks that import torch are refused, with the reason."""
    for attack in ["monkeypatch_numpy", "monkeypatch_torch", "ipython_hooks", "seed_rng"]:
        rows = _target_rows(main_batch, attack, assignment)
        baseline = _target_rows(main_batch, "baseline", assignment)
        if "torch" in subs.ATTACKS[attack] and engine.declarations.load(assignment).numpy_only:
            # Refused where it runs: a graded function raises the reason; a value it computes
            # (00) is never set. Either way nothing of the attack ran.
            assert len(rows) == len(baseline), (attack, rows)
            for row, base in zip(rows, baseline, strict=True):
                assert row["status"] in (base["status"], "missing") or (
                    row["status"] == "error" and "NumPy only" in row["message"]
                ), (attack, row)
            continue
        assert [r["status"] for r in rows] == [r["status"] for r in baseline], (attack, rows)


@pytest.mark.parametrize("assignment", [a for a in subs.ASSIGNMENTS if a != "00_concepts"])
def test_objects_that_equal_everything_are_not_arrays(main_batch, assignment):
    rows = _target_rows(main_batch, "always_equal_object", assignment)
    assert rows and all(float(r["points"]) == 0 for r in rows)
    assert any("object" in r["message"] or "could not" in r["message"] for r in rows), rows


def test_top_level_endless_loop_costs_only_its_statement(short_batch):
    rows = _row(short_batch, "top_level_infinite_loop", "00_concepts")
    # The looping statement costs its own question; every other answer is graded right.
    assert len(rows) >= 10 and sum(r["status"] == "passed" for r in rows) == len(rows) - 1


# --------------------------------------------------------------------------------------------
# Broken input


@pytest.mark.parametrize(
    "name, words",
    [
        ("invalid_json", "not valid JSON"),
        ("empty", "empty"),
        ("binary", "not a notebook"),
        ("old_nbformat", "old notebook format 3"),
        ("not_a_notebook", "not a Jupyter notebook"),
        ("bad_cells", "damaged"),
        ("huge", "MB"),
        ("folder_only", "no rnn_cell.ipynb"),
    ],
)
def test_broken_file_gets_rows_with_zero_and_a_reason(main_batch, name, words):
    rows = _row(main_batch, name, "01_rnn_cell")
    assert len(rows) == 6
    assert all(float(r["points"]) == 0 and words in r["message"] for r in rows), rows


def test_a_lone_notebook_with_another_name_is_graded(main_batch):
    rows = _row(main_batch, "renamed", "01_rnn_cell")
    assert rows and all(r["status"] == "passed" for r in rows)


def test_students_without_an_assignment_get_rows_too(main_batch):
    rows = _row(main_batch, "correct", "01_rnn_cell")
    student = rows[0]["student_id"]
    other = [
        r
        for r in main_batch["rows"]
        if r["student_id"] == student and r["assignment"] != "01_rnn_cell"
    ]
    assert other and all(
        r["status"] == "missing" and "no submission" in r["message"] for r in other
    )


# --------------------------------------------------------------------------------------------
# Nothing of the grader was touched


def test_grader_process_is_untouched(main_batch, short_batch, world):
    assert _process_state() == world["process"]


def test_course_files_are_untouched(main_batch, short_batch, world):
    digest = _tree_digest(
        subs.ROOT / "solutions", subs.ROOT / "autograder", subs.ROOT / "exercises"
    )
    assert digest == world["digest"]


def test_no_file_was_written_outside_the_scratch_directory(main_batch, short_batch, world):
    assert not world["mark"].exists()
    assert not Path(str(world["mark"]) + ".link").exists()
    assert world["host_tmp_mark"].exists() == world["host_tmp_mark_existed"]
    for path, existed in world["sitecustomize"].items():
        assert path.exists() == existed, path
    names = {p.name for p in world["out"].iterdir()}
    assert names == {"grades.csv", "canvas_grades.csv", "grading.json", "feedback"}
    students = {r["student_id"] for r in main_batch["rows"]}
    assert {p.name for p in (world["out"] / "feedback").iterdir()} == students
    html = [p for p in (world["out"] / "feedback").rglob("*") if p.is_file()]
    assert all(p.suffix == ".html" for p in html)
    assert len(html) == len({(r["student_id"], r["assignment"]) for r in main_batch["rows"]})


def test_no_submission_process_outlives_the_batch(main_batch, short_batch):
    assert _worker_processes() == []


def test_csv_has_exactly_the_promised_columns(main_batch):
    assert list(main_batch["rows"][0]) == [
        "student_id",
        "assignment",
        "notebook",
        "test_id",
        "points",
        "max_points",
        "status",
        "message",
        "file",
        "counted",
        "submitted_at",
        "late_penalty",
    ]
