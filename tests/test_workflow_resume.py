"""A class-sized `rnn-course grade` that is interrupted: nothing graded is lost, a second run on
the same output folder refuses, the next run skips what is unchanged and ends with the grades a
clean run gives; progress and quiet output; atomic files and the lock on their own."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
import test_grading_submissions as subs

from autograder.grading import assignments, files, state
from autograder.grading.progress import Progress

RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
ASSIGNMENT, NOTEBOOK = "05_gradient_clipping", "gradient_clipping.ipynb"
STUDENTS = 36
SEED = "20240611"

WRONG_CLIP = '''
def clip_grad_norm(grads, max_norm):
    """Every entry clamped: clipping by value, where the global norm was asked for."""
    total = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    return [np.clip(g, -max_norm, max_norm) for g in grads], total
'''
# Right, but slow: the last students keep the batch busy after the first results are saved.
SLOW_CLIP_VALUE = """
def clip_grad_value(grads, clip_value):
    import time

    time.sleep(0.05)
    return [np.clip(g, -clip_value, clip_value) for g in grads]
"""


def _class(root: Path) -> Path:
    submitted = root / "submitted"
    right = subs.solution(ASSIGNMENT)
    wrong = subs.replace_definition(right, "clip_grad_norm", WRONG_CLIP)
    slow = subs.replace_definition(right, "clip_grad_value", SLOW_CLIP_VALUE)
    for i in range(STUDENTS):
        nb = slow if i >= STUDENTS - 10 else wrong if i % 3 == 0 else right
        subs.write(nb, submitted / f"s{i:03d}" / ASSIGNMENT / NOTEBOOK)
    return submitted


def _command(submitted: Path, out: Path, *extra) -> list[str]:
    return [
        RNN_COURSE,
        "grade",
        str(submitted),
        "--out",
        str(out),
        "--seed",
        SEED,
        "--no-gradebook",
        "--workers",
        "2",
        *extra,
    ]


def _grade(submitted: Path, out: Path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command(submitted, out, *extra), capture_output=True, text=True, timeout=300
    )


def _wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the run ended before the test could interrupt it"
        assert time.monotonic() < deadline, "timed out waiting for the run"
        time.sleep(0.02)


def _log(out: Path) -> dict:
    return json.loads((out / "grading.json").read_text())


def _saved(out: Path) -> list[Path]:
    """The entries of OUT/.state holding a judged result (an entry is written before its
    notebook is graded, so that what was handed in is known even if the run dies)."""
    folder = out / ".state"
    entries = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return [p for p in entries if any(n["report"] for n in json.loads(p.read_text())["notebooks"])]


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """Run 1 is killed with SIGKILL once results are saved; run 2 starts meanwhile on the same
    folder; one already graded submission then changes; run 3 finishes the job."""
    root = tmp_path_factory.mktemp("resume")
    submitted = _class(root)
    out = root / "out"
    first = subprocess.Popen(
        _command(submitted, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        lock = out / files.LOCK_NAME
        _wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid), 120, first)
        second = _grade(submitted, out)
        _wait_for(lambda: len(_saved(out)) >= 3, 120, first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    saved = {p.name for p in _saved(out)}
    store = state.Store(out / ".state")
    graded = [f"s{i:03d}" for i in range(STUDENTS)]
    graded = [s for s in graded if store.path(s, ASSIGNMENT).name in saved]
    # A learner resubmits after the crash: their saved result must not be reused.
    changed = next(s for s in graded if int(s[1:]) % 3 != 0)
    wrong = subs.replace_definition(subs.solution(ASSIGNMENT), "clip_grad_norm", WRONG_CLIP)
    subs.write(wrong, submitted / changed / ASSIGNMENT / NOTEBOOK)
    had_grades = (out / "grades.csv").exists()
    # The run that finishes the job, and beside it (to save time) a clean run of the same class
    # with its stderr on a terminal, where the progress bar goes.
    clean = _Terminal(_command(submitted, root / "clean"))
    third = _grade(submitted, out)
    return {
        "root": root,
        "submitted": submitted,
        "out": out,
        "killed": first.returncode,
        "second": second,
        "saved": saved,
        "graded_before_kill": graded,
        "changed": changed,
        "had_grades": had_grades,
        "third": third,
        "clean": clean,
    }


def test_the_run_was_killed_midway(interrupted):
    assert interrupted["killed"] == -signal.SIGKILL
    assert 3 <= len(interrupted["saved"]) < STUDENTS
    assert not interrupted["had_grades"]


def test_a_second_run_on_the_same_output_folder_refuses(interrupted):
    second = interrupted["second"]
    assert second.returncode == 5, second.stderr
    assert "another grading run" in second.stderr and "is writing to" in second.stderr
    assert "Traceback" not in second.stderr


def test_the_next_run_skips_what_was_graded_and_regrades_what_changed(interrupted):
    third = interrupted["third"]
    assert third.returncode == 0, third.stderr  # the lock died with the killed process
    log = _log(interrupted["out"])
    before = len(interrupted["graded_before_kill"])
    assert log["unchanged"] == before - 1  # the changed one is graded again
    assert log["graded"] == STUDENTS - before + 1
    assert log["notebooks"] == STUDENTS
    assert f"{before - 1} unchanged since the last run" in third.stderr
    rows = list(csv.DictReader(open(interrupted["out"] / "grades.csv", encoding="utf-8")))
    mine = [r for r in rows if r["student_id"] == interrupted["changed"]]
    statuses = {r["test_id"]: r["status"] for r in mine}  # the new, wrong, version
    assert statuses.pop("test_clip_grad_norm") == "partial"
    assert set(statuses.values()) == {"passed"}


class _Terminal:
    """A run whose stderr is a terminal (a pty), read as it goes."""

    def __init__(self, command: list[str]):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave
        )
        os.close(slave)
        self.master = master
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:  # keep the terminal's buffer empty, or the run would block on it
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            self.chunks.append(data)

    def wait(self) -> tuple[int, str]:
        code = self.proc.wait(timeout=300)
        self.reader.join(timeout=10)
        os.close(self.master)
        return code, b"".join(self.chunks).decode(errors="replace")


@pytest.fixture(scope="module")
def clean(interrupted):
    code, screen = interrupted["clean"].wait()
    return {"out": interrupted["root"] / "clean", "code": code, "screen": screen}


def test_nothing_is_lost_and_the_grades_equal_a_clean_runs(interrupted, clean):
    assert clean["code"] == 0, clean["screen"]
    assert _log(clean["out"])["unchanged"] == 0
    resumed = (interrupted["out"] / "grades.csv").read_bytes()
    assert resumed == (clean["out"] / "grades.csv").read_bytes()
    assert resumed.count(b"\n") == 1 + len(assignments.load(ASSIGNMENT).tests) * STUDENTS
    pages = sorted(p.relative_to(clean["out"]) for p in (clean["out"] / "feedback").rglob("*.html"))
    assert len(pages) == STUDENTS
    assert pages == sorted(
        p.relative_to(interrupted["out"]) for p in (interrupted["out"] / "feedback").rglob("*.html")
    )
    leftovers = [p for p in interrupted["out"].rglob("*") if p.name.endswith(files.TEMP_SUFFIX)]
    assert not leftovers


def test_an_unchanged_class_is_not_graded_again_and_quiet_prints_nothing(interrupted):
    out = interrupted["out"]
    before = (out / "grades.csv").read_bytes()
    result = _grade(interrupted["submitted"], out, "--quiet")
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""
    log = _log(out)
    assert (log["graded"], log["unchanged"]) == (0, STUDENTS)
    assert (out / "grades.csv").read_bytes() == before


def test_a_long_batch_shows_a_progress_bar_with_an_eta_on_a_terminal(clean):
    screen = clean["screen"]
    assert re.search(rf"grading: +\d+%\|.*\| *\d+/{STUDENTS} \[\d+:\d\d<\d+:\d\d", screen), screen
    assert f"{STUDENTS}/{STUDENTS}" in screen


def test_a_saved_result_is_reused_only_for_the_same_notebook_and_settings(tmp_path):
    from autograder.grading import assignments, engine, record
    from autograder.grading.spec import Verdict

    assignment = assignments.load(ASSIGNMENT)
    path = subs.write(subs.solution(ASSIGNMENT), tmp_path / "s" / ASSIGNMENT / NOTEBOOK)
    store = state.Store(tmp_path / ".state")

    def reuse(**options) -> dict:
        subs_ = [engine.Submission("s", assignment, path)]
        found = engine._reuse(subs_, store, engine.Options(**options))
        return subs_[0].key, found

    key, found = reuse()
    assert key and found == {}
    verdicts = [Verdict(1.0, "passed", "all cases pass") for _ in assignment.tests]
    store.save(record.Report("s", assignment, "gradient_clipping", verdicts, [], None, (1, 0)), key)
    assert reuse()[1][0].verdicts == verdicts
    assert reuse(resume=False)[1] == {}  # --regrade
    assert reuse(seed=3)[1] == {}
    assert reuse(limits=engine.sandbox.Limits(timeout=5))[1] == {}
    path.write_text(path.read_text().replace("np.clip", "np.clip "))
    assert reuse()[1] == {}  # the learner changed the notebook


def test_progress_lines_without_a_terminal_carry_an_estimate():
    stream = io.StringIO()
    progress = Progress(stream, interval=0.0)
    for done in range(0, 5):
        progress(done, 4)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "grading 4 notebook(s)..."
    assert re.fullmatch(r"graded 2/4 notebooks, about \d+:\d\d left", lines[2])
    assert lines[-1] == "graded 4/4 notebooks"


def test_an_atomic_write_leaves_the_old_file_or_the_new_one(tmp_path, monkeypatch):
    target = tmp_path / "grades.csv"
    files.write_atomic(target, "old\n")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        files.write_atomic(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]  # no temporary file left
    files.write_atomic(target, "new\n")
    assert target.read_text() == "new\n"


def test_the_lock_excludes_other_processes_and_dies_with_its_holder(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from autograder.grading.files import OutputLock\n"
            f"with OutputLock({str(tmp_path)!r}):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(files.Busy, match=rf"process {holder.pid}"):
            with files.OutputLock(tmp_path):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with files.OutputLock(tmp_path), files.OutputLock(tmp_path):  # re-entrant in-process
            pass
    finally:
        holder.kill()
        holder.wait()
