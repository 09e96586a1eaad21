"""Hostile submissions against the grader's own machinery, at every isolation level we promise.

The families: forging and flooding the results channel, deadline games, process chains that
resist being killed, races against the clean-up, disk and inode floods, concurrent runs, a
worker that does not start, and code that only needs the standard library. Each runs at the
strongest level (bubblewrap) and at the Landlock fallback, first against a single worker (where
the precise effect can be measured), then inside real `rnn-course grade` batches, where a
correct notebook graded right after each hostile one must still get full marks.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import test_grading_submissions as subs

from autograder.cli import main
from autograder.grading import engine, sandbox
from autograder.grading.child import wire
from autograder.grading.run import Call, Job, Snippet, Worker

LEVELS = ["bubblewrap", "landlock"]
RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")

# Frames written by hand, as a hostile notebook would: the sandbox leaves the channel on fd 3.
FRAMES = """
import json as _json, os as _os, posix as _posix, signal as _signal, struct as _struct
import time as _time


def _frame(header, blobs=(), raw=None):
    head = raw if raw is not None else _json.dumps(
        {**header, "blobs": [len(b) for b in blobs]}
    ).encode()
    size = sum(len(b) for b in blobs)
    return b"RNNg" + _struct.pack(">IQ", len(head), size) + head + b"".join(blobs)


def _send(data, fd=3):
    view = memoryview(data)
    while view:
        view = view[_os.write(fd, view):]


def _program(fd=3):
    _send(_frame({"type": "program", "errors": []}), fd)


def _hang():
    # The grader's own statement timer is the learner's to disable.
    _signal.signal(_signal.SIGALRM, _signal.SIG_IGN)
    _signal.setitimer = lambda *a, **k: (0.0, 0.0)
    while True:
        _time.sleep(1)
"""

_NPY_HEADER = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"

ATTACKS = {
    # Previously: the zygote took this for its own confinement failure and stopped the batch.
    "unconfined_frame": '_send(_frame({"type": "unconfined", "message": "stop the batch"}))\n',
    # A number JSON reads but float() cannot hold, in a frame that is otherwise in order.
    "overflowing_number": (
        "_program()\n"
        '_send(_frame(None, raw=b\'{"type": "case", "test": 0, "case": 0, "seconds": 1\''
        " + b'0' * 400 + b', \"result\": 1, \"blobs\": []}'))\n"
    ),
    # An .npy header announcing 2**40 float64 values, followed by 16 bytes.
    "huge_npy_header": (
        f"_head = {_NPY_HEADER!r}\n"
        "_head += ' ' * (63 - (10 + len(_head)) % 64) + '\\n'\n"
        "_npy = b'\\x93NUMPY\\x01\\x00' + _struct.pack('<H', len(_head)) + _head.encode()\n"
        "_program()\n"
        '_send(_frame({"type": "case", "test": 0, "case": 0, "seconds": 0,'
        ' "result": {"$a": 0, "t": "numpy.ndarray"}}, [_npy + bytes(16)]))\n'
    ),
    # Every test said to be over, before any ran; then the notebook's own frames follow.
    "forged_test_end": (
        "_program()\n"
        "for _i in range(2):\n"
        '    _send(_frame({"type": "test_end", "test": _i, "status": "ok", "detail": ""}))\n'
    ),
    "closed_fd": "_os.close(3)\n_hang()\n",
    "replaced_fd": "_os.dup2(_os.open(_os.devnull, _os.O_WRONLY), 3)\n_hang()\n",
    # 24 frames of 32 MB for the first test.
    "frame_flood": (
        "_program()\n"
        "_blob = bytes(32 << 20)\n"
        "for _k in range(24):\n"
        '    _send(_frame({"type": "case", "test": 0, "case": _k, "seconds": 0,'
        ' "result": {"$a": 0, "t": "numpy.ndarray"}}, [_blob]))\n'
    ),
    # os.kill and os.waitpid made harmless, then eight chains that keep moving to new pids and
    # new sessions (double forks) as fast as they can, leaving sleepers behind until the
    # process limit.
    "process_chain": """
_os.kill = lambda *a, **k: None
_os.killpg = lambda *a, **k: None
_os.waitpid = lambda *a, **k: (0, 0)
for _chain in range(8):
    if _os.fork() == 0:
        _os.setsid()
        while True:
            try:
                if _os.fork() != 0:
                    _posix._exit(0)
                _os.setsid()
                if _os.fork() == 0:
                    _os.setsid()
                    _time.sleep(1000)
                    _posix._exit(0)
            except OSError:
                pass
""",
    # A survivor that keeps swapping a scratch folder for a link to a folder outside.
    "symlink_swap": """
if _os.fork() == 0:
    _os.setsid()
    while True:
        try:
            _os.makedirs("d/sub", exist_ok=True)
            _os.rename("d", "d.old")
            _os.symlink("{OPEN}", "d")
            _os.chmod("d.old", 0)
            _os.unlink("d")
            _os.chmod("d.old", 0o700)
            _os.rename("d.old", "d")
        except OSError:
            pass
""",
    # 3 GiB in files of 64 MB, then 291k empty files, in the scratch folder and in /tmp.
    "disk_flood": """
WROTE = [0, 0, 0]
try:
    _chunk = bytes(1 << 20)
    for _k in range(48):
        with open(f"big{_k}", "wb") as _f:
            for _m in range(64):
                _f.write(_chunk)
                WROTE[0] += 1 << 20
except OSError:
    pass
try:
    for _k in range(291_000):
        open(f"f{_k}", "w").close()
        WROTE[1] += 1
except OSError:
    pass
for _where in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        with open(_where + "/rnn-hostile-flood", "wb") as _f:
            _f.write(_chunk)
        WROTE[2] += 1
    except OSError:
        pass
""",
}

FINE = "def fine():\n    return 42\n"


def _attack(name: str, context: dict) -> str:
    code = ATTACKS[name]
    for key, value in context.items():
        code = code.replace("{" + key + "}", str(value))
    return FRAMES + code


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (uid, parent pid, command line) of every process on the machine."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            args = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        found[int(entry)] = (int(fields["Uid"].split()[0]), int(fields["PPid"]), args)
    return found


def _worker_processes(uids=None) -> list[str]:
    """Processes of a grading run (a worker uid, or a zygote's command line), leaving out this
    test process's own workers (module fixtures that are still open)."""
    table = _processes()

    def ours(pid: int) -> bool:
        while pid > 1 and pid in table:
            if pid == os.getpid():
                return True
            pid = table[pid][1]
        return False

    wanted = uids or range(sandbox.FIRST_WORKER_UID, sandbox.LAST_WORKER_UID + 1)
    return [
        f"{pid} uid={uid} {args}"
        for pid, (uid, _, args) in table.items()
        if (uid in wanted or "child.zygote" in args) and not ours(pid)
    ]


def _left_behind(worker: Worker) -> list[str]:
    """Processes still running as the worker's uid (leased: no other run uses it)."""
    table = _processes()
    return [f"{pid} {args}" for pid, (uid, _, args) in table.items() if uid == worker.uid]


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """A folder outside the sandbox that anyone may write: only the grader can keep it safe."""
    root = tmp_path_factory.mktemp("outside")
    root.chmod(0o755)
    folder = root / "open"
    folder.mkdir()
    (folder / "keep").write_text("kept")
    folder.chmod(0o777)
    return folder


def _snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder.parent)): (stat.S_IMODE(p.lstat().st_mode), p.is_symlink())
        for p in [folder, *folder.rglob("*")]
    }


class Lease:
    def __init__(self, level: str, **limits):
        self.isolation = sandbox.probe(level)
        self.lease = sandbox.UidLease(1) if self.isolation.uid is not None else None
        uid = self.lease.uids[0] if self.lease else None
        defaults = {"timeout": 2.0, "memory_mb": 512, "scratch_mb": 64, "scratch_files": 2000}
        self.worker = Worker(self.isolation, sandbox.Limits(**{**defaults, **limits}), uid=uid)
        self.worker.start_and_wait()

    def close(self) -> None:
        self.worker.close()
        if self.lease:
            self.lease.release()


@pytest.fixture(scope="module", params=LEVELS)
def hostile(request):
    lease = Lease(request.param)
    yield lease.worker
    lease.close()


def _run(worker: Worker, code: str, tests: int = 2, timeout: float | None = None):
    program = (Snippet("cell 1", code + "\n" + FINE),)
    calls = tuple((Call("call", "fine"),) for _ in range(tests))
    return worker.run(Job(program, calls, timeout or worker.limits.timeout))


def _still_fine(worker: Worker) -> None:
    result = _run(worker, "")
    assert result.status == "exited", result
    assert [run.cases[0].result for run in result.tests] == [42, 42], result


def test_both_levels_work_here():
    """CI installs bubblewrap and the kernel offers Landlock: the suite runs at both."""
    assert [sandbox.probe(level).level for level in LEVELS] == LEVELS
    assert all(sandbox.probe(level).namespaces for level in LEVELS)


# --------------------------------------------------------------------------------------------
# The channel


@pytest.mark.parametrize(
    "attack, words",
    [
        ("unconfined_frame", "unexpected frame type"),
        ("overflowing_number", "impossible duration"),
        ("huge_npy_header", "1099511627776 values"),
        ("forged_test_end", "after the end"),
        ("frame_flood", "over the limit"),
        ("closed_fd", "closed its results channel"),
        ("replaced_fd", "closed its results channel"),
    ],
)
def test_a_broken_protocol_voids_the_submission_and_discards_the_worker(
    hostile, outside, attack, words
):
    before = hostile.proc.pid if hostile.proc else None
    started = time.monotonic()
    result = _run(hostile, _attack(attack, {"OPEN": outside}))
    assert result.status == "violation", result
    assert words in result.detail, result.detail
    # Nothing came back that a judge could use (for the channel attacks, the values are void).
    assert hostile.proc is None and hostile.restarts >= 1
    assert time.monotonic() - started < 3 * (hostile.limits.timeout + 2)
    _still_fine(hostile)
    assert hostile.proc.pid != before


def test_a_violation_gets_error_rows_with_the_reason():
    result = engine.RunResult(status="violation", detail="a frame out of order")
    assignment = engine.declarations.load("01_rnn_cell", subs.SOLUTIONS)
    sub = engine.Submission("eve", assignment, Path("x.ipynb"))
    sub.cases = [[] for _ in assignment.tests]
    verdicts = engine.judge_submission(sub, result, 5.0)
    assert len(verdicts) == len(assignment.tests)
    assert all(v.fraction == 0 and v.status == "error" for v in verdicts)
    assert all("results channel" in v.message and "out of order" in v.message for v in verdicts)


def _npy(shape: str, descr: str = "<f8", data: bytes = b"") -> bytes:
    head = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape}, }}"
    head += " " * (63 - (10 + len(head)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head.encode() + data


def test_an_npy_header_is_checked_before_anything_is_allocated():
    arr = np.arange(6.0).reshape(2, 3)
    assert _npy("(2, 3)", data=arr.tobytes()) == wire.array_bytes(arr)
    started = time.monotonic()
    for bad in (
        _npy("(1099511627776,)", data=bytes(16)),  # 8 TiB announced
        _npy("(2, 3)", data=arr.tobytes()[:-8]),  # cut short
        _npy("(2, 3)", data=arr.tobytes() + b"xx"),  # trailing bytes
        _npy("(2, 3)", descr="|O", data=bytes(48)),  # objects
        _npy("(-1,)", data=bytes(8)),
        b"\x93NUMPY\x09\x00",
    ):
        with pytest.raises(wire.FrameError):
            wire.array_from_bytes(bad)
    assert time.monotonic() - started < 1
    assert np.array_equal(wire.array_from_bytes(wire.array_bytes(arr)), arr)
    fortran = np.asfortranarray(arr)
    assert np.array_equal(wire.array_from_bytes(wire.array_bytes(fortran)), fortran)


def test_the_protocol_accepts_exactly_the_documented_order():
    def run(frames, cases=(2, 1)):
        expect = wire.Expect(cases, 1000, 1500)
        for header, size in frames:
            expect.check(header, [], size)
        return expect

    program = ({"type": "program", "errors": []}, 10)
    case = lambda t, c: ({"type": "case", "test": t, "case": c, "result": 1}, 10)  # noqa: E731
    end = lambda t: ({"type": "test_end", "test": t, "status": "ok", "detail": ""}, 10)  # noqa: E731
    honest = [program, case(0, 0), case(0, 1), end(0), case(1, 0), end(1)]
    assert run(honest).finished
    assert run([program, case(0, 0), end(0), end(1)]).finished  # a test cut short
    for broken in (
        [case(0, 0)],
        [program, program],
        [program, case(0, 1)],
        [program, case(1, 0)],
        [program, case(0, 0), case(0, 0)],
        [program, end(1)],
        [*honest, end(1)],
        [program, ({"type": "case", "test": 0, "case": 0}, 10)],
        [program, ({"type": "case", "test": True, "case": 0, "result": 1}, 10)],
        [program, ({"type": "test_end", "test": 0, "status": "passed", "detail": ""}, 10)],
        [program, (case(0, 0)[0], 1001)],
        [program, (case(0, 0)[0], 900), end(0), (case(1, 0)[0], 900)],
        [({"type": "unconfined", "message": ""}, 10)],
    ):
        with pytest.raises(wire.FrameError):
            run(broken)


# --------------------------------------------------------------------------------------------
# Deadlines


DEADLINE_GAME = """
_real = _os.dup(3)
_os.dup2(_os.open(_os.devnull, _os.O_WRONLY), 3)
_signal.signal(_signal.SIGALRM, _signal.SIG_IGN)
_signal.setitimer = lambda *a, **k: (0.0, 0.0)
_time.monotonic = lambda: 0.0
# Each frame in order, just before the phase it ends would be out of time, then a long sleep:
# a deadline restarted by frames would never come.
_time.sleep(0.95 * PHASE)
_program(_real)
for _i in range(TESTS):
    _time.sleep(0.95 * PHASE)
    _send(_frame({"type": "test_end", "test": _i, "status": "ok", "detail": ""}), _real)
while True:
    _time.sleep(1)
"""


def test_no_frame_extends_the_deadline(hostile):
    timeout, tests = hostile.limits.timeout, 3
    phase = timeout + 2.0  # the zygote's slack
    code = DEADLINE_GAME.replace("PHASE", repr(phase)).replace("TESTS", str(tests))
    started = time.monotonic()
    result = _run(hostile, FRAMES + code, tests=tests)
    elapsed = time.monotonic() - started
    assert result.status == "timeout", result
    # The last frame ends the last phase; the child is then given only a short grace.
    assert elapsed < phase * (tests + 1) + 1.0, elapsed
    _still_fine(hostile)


# --------------------------------------------------------------------------------------------
# Processes, clean-up, floods


def test_a_kill_resistant_process_chain_is_gone_before_the_result(hostile, outside):
    result = _run(hostile, _attack("process_chain", {}))
    # The chain uses up the uid's process limit, so its own tests may not start: its loss.
    assert result.status == "exited", result
    assert _left_behind(hostile) == []
    _still_fine(hostile)


def test_a_symlink_swap_during_clean_up_changes_nothing_outside(hostile, outside):
    before = _snapshot(outside)
    result = _run(hostile, _attack("symlink_swap", {"OPEN": outside}))
    assert result.status == "exited", result
    assert _snapshot(outside) == before
    assert (outside / "keep").read_text() == "kept"
    assert _left_behind(hostile) == []


def test_disk_and_inode_floods_stop_at_the_scratch_limits(hostile):
    limits = hostile.limits
    program = (Snippet("cell 1", _attack("disk_flood", {})),)
    result = hostile.run(Job(program, ((Call("value", "WROTE"),),), 10.0))
    wrote = result.tests[0].cases[0].result
    assert wrote[0] <= limits.scratch_mb << 20, wrote
    assert 0 < wrote[1] <= limits.scratch_files, wrote
    assert wrote[2] == 0, wrote
    for where in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not Path(where, "rnn-hostile-flood").exists()
    scratch = hostile._host_scratch
    if scratch is not None:  # Landlock level: only empty mount points are ever on the host
        assert all(not any(p.iterdir()) for p in Path(scratch).iterdir())
    _still_fine(hostile)


STDLIB = """
import importlib, sys
SKIP = {"antigravity", "this"}  # a browser, a poem
FAILED = []
for _name in sorted(sys.stdlib_module_names - SKIP):
    try:
        importlib.import_module(_name)
    except Exception as _err:  # noqa: BLE001
        FAILED.append(_name)
"""


def test_every_standard_library_module_imports(hostile):
    host = subprocess.run(
        [sys.executable, "-I", "-c", STDLIB + "print(' '.join(FAILED))"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    missing_here = set(host.stdout.split())
    result = hostile.run(Job((Snippet("cell 1", STDLIB),), ((Call("value", "FAILED"),),), 30.0))
    failed = set(result.tests[0].cases[0].result)
    assert failed <= missing_here, sorted(failed - missing_here)


# --------------------------------------------------------------------------------------------
# Worker uids, start-up


def test_worker_uids_are_leased_to_one_run_at_a_time(tmp_path):
    first = sandbox.UidLease(2, folder=str(tmp_path))
    code = (
        "import sys; from autograder.grading import sandbox; "
        f"print(sandbox.UidLease(2, folder={str(tmp_path)!r}).uids)"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    second = json.loads(other.stdout)
    assert not set(first.uids) & set(second), (first.uids, second)
    first.release()
    again = sandbox.UidLease(2, folder=str(tmp_path))
    assert again.uids == sorted(again.uids) and again.uids[0] == sandbox.FIRST_WORKER_UID
    again.release()


def test_a_worker_that_does_not_start_is_retried_then_reported(monkeypatch, tmp_path, capsys):
    attempts = []

    def failing(isolation, torch=True):
        attempts.append(1)
        return [sys.executable, "-c", "import sys; sys.stderr.write('no room here'); exit(1)"], None

    monkeypatch.setattr(sandbox, "zygote_command", failing)
    submitted = tmp_path / "submitted"
    subs.write(subs.solution("01_rnn_cell"), submitted / "ada" / "01_rnn_cell" / "rnn_cell.ipynb")
    argv = ["grade", str(submitted), "--out", str(tmp_path / "out"), "--no-gradebook", "-q"]
    assert main(argv + ["--course", str(Path(__file__).resolve().parent.parent)]) == 3
    err = capsys.readouterr().err
    assert len(attempts) == 3
    assert err.count("\n") == 1 and "did not start" in err and "no room here" in err, err
    assert "Traceback" not in err


# --------------------------------------------------------------------------------------------
# Whole batches: `rnn-course grade` as an instructor runs it


BATCH_ATTACKS = [
    "unconfined_frame",
    "overflowing_number",
    "huge_npy_header",
    "forged_test_end",
    "closed_fd",
    "replaced_fd",
    "frame_flood",
    "process_chain",
    "symlink_swap",
    "disk_flood",
]
ASSIGNMENT = "01_rnn_cell"


def _at_top_level(code: str):
    """The baseline plus a cell that runs ``code`` while rebinding the graded function, so that
    the grader keeps the statement and runs it with the notebook's code."""
    name = subs.TARGETS[ASSIGNMENT][0]
    cell = f"def _attack():\n{subs._indent(code, 4)}\n\n\n{name} = (_attack(), {name})[1]\n"
    return subs.with_cell(subs.baseline(ASSIGNMENT), cell)


def _grade_command(submitted: Path, out: Path, level: str, workers: int = 1):
    argv = [RNN_COURSE, "grade", str(submitted), "--out", str(out), "--no-gradebook", "-q"]
    argv += ["--isolation", level, "--workers", str(workers), "--timeout", "5"]
    return argv


def _wait(proc: subprocess.Popen, timeout: float = 900):
    """(exit code, stderr, peak memory of the grader process in MiB)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, proc.stderr.read(), usage.ru_maxrss / 1024
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the grading run did not end")
        time.sleep(0.2)


def _scores(out: Path) -> tuple[dict, list]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    scores: dict = {}
    for row in rows:
        scores.setdefault(row["student_id"], []).append(row)
    return scores, rows


@pytest.fixture(scope="module", params=LEVELS)
def batch(request, tmp_path_factory, outside):
    level = request.param
    root = tmp_path_factory.mktemp(f"hostile-{level}")
    submitted, out = root / "submitted", root / "out"
    notebook = subs.ASSIGNMENTS[ASSIGNMENT]
    students = {"s00_baseline": subs.baseline(ASSIGNMENT)}
    for k, attack in enumerate(BATCH_ATTACKS, start=1):
        students[f"s{k:02d}a_{attack}"] = _at_top_level(_attack(attack, {"OPEN": outside}))
        students[f"s{k:02d}b_correct"] = subs.solution(ASSIGNMENT)
    for student, nb in students.items():
        subs.write(nb, submitted / student / ASSIGNMENT / notebook)
    before = _snapshot(outside)
    proc = subprocess.Popen(
        _grade_command(submitted, out, level), stderr=subprocess.PIPE, text=True
    )
    code, err, peak_mib = _wait(proc)
    scores, rows = _scores(out) if (out / "grades.csv").exists() else ({}, [])
    return {
        "level": level,
        "code": code,
        "stderr": err,
        "peak_mib": peak_mib,
        "scores": scores,
        "rows": rows,
        "students": students,
        "outside_before": before,
        "out": out,
    }


def _points(rows) -> float:
    return round(sum(float(r["points"]) for r in rows), 3)


def test_the_batch_exits_0_with_rows_for_everyone(batch):
    assert batch["code"] == 0, batch["stderr"]
    assert set(batch["scores"]) == set(batch["students"])
    assignment = engine.declarations.load(ASSIGNMENT, subs.SOLUTIONS)
    assert all(len(rows) == len(assignment.tests) for rows in batch["scores"].values())


@pytest.mark.parametrize("attack", BATCH_ATTACKS)
def test_no_attack_scores_above_the_baseline(batch, attack):
    k = BATCH_ATTACKS.index(attack) + 1
    attacked = _points(batch["scores"][f"s{k:02d}a_{attack}"])
    assert attacked <= _points(batch["scores"]["s00_baseline"])


@pytest.mark.parametrize("attack", BATCH_ATTACKS)
def test_a_correct_notebook_graded_right_after_an_attack_gets_full_marks(batch, attack):
    k = BATCH_ATTACKS.index(attack) + 1
    rows = batch["scores"][f"s{k:02d}b_correct"]
    assert rows and all(r["status"] == "passed" for r in rows), rows


def test_channel_attacks_are_reported_as_errors(batch):
    for attack in BATCH_ATTACKS[:7]:
        k = BATCH_ATTACKS.index(attack) + 1
        rows = batch["scores"][f"s{k:02d}a_{attack}"]
        assert all(r["status"] == "error" and "results channel" in r["message"] for r in rows)


def test_no_process_of_the_run_outlives_it_and_nothing_outside_changed(batch, outside):
    assert _worker_processes() == []
    assert _snapshot(outside) == batch["outside_before"]
    for where in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not Path(where, "rnn-hostile-flood").exists()
    names = {p.name for p in batch["out"].iterdir()}
    expected = {"grades.csv", "canvas_grades.csv", "grading.json", "feedback", "summary.html"}
    assert names <= expected | {".state", ".lock"}


def test_the_grader_memory_stays_bounded_under_a_frame_flood(batch):
    """24 frames of 32 MB (768 MB) came at it; the grader never holds more than a frame."""
    assert batch["peak_mib"] < 1024, batch["peak_mib"]


@pytest.mark.parametrize("level", LEVELS)
def test_two_runs_at_once_both_finish_right(level, tmp_path):
    runs = []
    for name in ("one", "two"):
        submitted = tmp_path / name / "submitted"
        subs.write(subs.solution(ASSIGNMENT), submitted / "ada" / ASSIGNMENT / "rnn_cell.ipynb")
        subs.write(subs.baseline(ASSIGNMENT), submitted / "bob" / ASSIGNMENT / "rnn_cell.ipynb")
        argv = _grade_command(submitted, tmp_path / name / "out", level, workers=2)
        runs.append(subprocess.Popen(argv, stderr=subprocess.PIPE, text=True))
    for name, proc in zip(("one", "two"), runs, strict=True):
        code, err, _ = _wait(proc)
        assert code == 0, err
        scores, _ = _scores(tmp_path / name / "out")
        assert all(r["status"] == "passed" for r in scores["ada"])
        assert _points(scores["bob"]) < _points(scores["ada"])
    assert _worker_processes() == []


def test_the_host_scratch_root_is_removed_without_following_links():
    """What the parent removes itself (the Landlock level's scratch root, holding only empty
    mount points) goes through rmtree's descriptor-relative walk."""
    assert shutil.rmtree.avoids_symlink_attacks
