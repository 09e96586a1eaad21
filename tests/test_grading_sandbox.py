"""The sandbox on this machine: what each isolation level keeps out, and the limits.

Every level that works here is exercised (the strongest is what the grader uses; the others are
its fallbacks). A probe runs as the notebook's own code and reports what it could do: read a
world-readable "solutions" file, write outside its scratch directory, connect to a server this
test runs on 127.0.0.1, signal the worker and the grader.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from autograder.grading import sandbox
from autograder.grading.run import Call, Job, Snippet, Worker

PROBE = """
import json, os, socket

def _attempt(found, name, fn):
    try:
        found[name] = ["ok", str(fn())[:100]]
    except BaseException as err:
        found[name] = ["denied", type(err).__name__]

def _signal_all(pids):
    for pid in pids:
        os.kill(pid, 0)

def probe(secret, out_dir, port, grader_pid, worker_pids):
    found = {}
    _attempt(found, "read_secret", lambda: open(secret).read())
    _attempt(found, "list_secret_dir", lambda: os.listdir(os.path.dirname(secret)))
    _attempt(found, "write_out", lambda: open(out_dir + "/written", "w").write("x"))
    _attempt(found, "write_tmp", lambda: open("/tmp/rnn-course-sandbox-probe", "w").write("x"))
    _attempt(found, "write_scratch", lambda: open("scratch.txt", "w").write("x"))
    _attempt(found, "connect", lambda: socket.create_connection(("127.0.0.1", port), timeout=2))
    _attempt(found, "signal_worker", lambda: _signal_all(worker_pids))
    _attempt(found, "signal_grader", lambda: os.kill(grader_pid, 0))
    _attempt(found, "read_reference", lambda: __import__("autograder.reference.numpy_rnn"))
    found["uid"] = os.getuid()
    found["cwd"] = os.getcwd()
    found["env"] = sorted(os.environ)
    return json.dumps(found)
"""

LIMITS = """
import os, time

def memory():
    return len(bytearray(4 << 30))

def file_size():
    with open("big", "wb") as f:
        for _ in range(200):
            f.write(b"x" * (1 << 20))

def open_files():
    return [open("f%d" % i, "w") for i in range(2000)]

def spin():
    while True:
        pass

def flood():
    started = 0
    for _ in range(500):
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
        except OSError:
            return started
    return started

def fine():
    return 42
"""


def _levels() -> list[str]:
    working = []
    for level in sandbox.LEVELS:
        try:
            sandbox.probe(level)
        except sandbox.SandboxError:
            continue
        working.append(level)
    return working


LEVELS = _levels()


@pytest.fixture(scope="module")
def world():
    """World-readable and world-writable places a confined child must not reach anyway."""
    root = Path(tempfile.mkdtemp(prefix="rnn-sandbox-test-"))
    root.chmod(0o755)
    secret = root / "solutions" / "secret.txt"
    secret.parent.mkdir()
    secret.parent.chmod(0o755)
    secret.write_text("the answer")
    secret.chmod(0o644)
    out = root / "out"
    out.mkdir()
    out.chmod(0o777)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.1)
    yield {"secret": secret, "out": out, "port": server.getsockname()[1]}
    server.close()
    shutil.rmtree(root)


def _worker(level: str) -> Worker:
    isolation = sandbox.probe(level)
    w = Worker(isolation, sandbox.Limits(timeout=2, memory_mb=512), uid=isolation.uid)
    w.start()
    w.wait_ready()
    return w


@pytest.fixture(scope="module", params=LEVELS)
def worker(request):
    """A worker at each level that works here (for what each level keeps out)."""
    w = _worker(request.param)
    yield w
    w.close()


@pytest.fixture(scope="module")
def strongest():
    """A worker at the level the grader uses (for the limits, which every level shares)."""
    w = _worker(LEVELS[0])
    yield w
    w.close()


def _descendants(pid: int) -> list[int]:
    """The host pids of ``pid``'s processes and all below them (the worker: bubblewrap or
    unshare, and the zygote)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    parents[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += [child for child, parent in parents.items() if parent == current]
    return found


def _probe(worker, world) -> dict:
    """Run the probe at the top level of the notebook; it tries to signal the grader and every
    process of the worker by their pids on the host."""
    workers = _descendants(worker.proc.pid)
    args = (str(world["secret"]), str(world["out"]), world["port"], os.getpid(), workers)
    program = (Snippet("cell 1", PROBE + f"\nFOUND = probe(*{args!r})\n"),)
    result = worker.run(Job(program, ((Call("value", "FOUND"),),), 10))
    outcome = result.tests[0].cases[0]
    assert outcome is not None and outcome.error is None, result
    return json.loads(outcome.result)


def test_the_grader_uses_the_strongest_level_that_works_here():
    assert sandbox.probe().level == LEVELS[0]
    assert sandbox.probe().layers


def test_bubblewrap_is_available_where_ci_installs_it():
    """CI installs bubblewrap; where it is installed, it must be what the grader uses."""
    if shutil.which("bwrap") is not None:
        assert LEVELS[0] == "bubblewrap"
    else:
        assert LEVELS[0] != "bubblewrap"


HOST_TMP_PROBE = Path("/tmp/rnn-course-sandbox-probe")


def test_every_level_confines_what_it_promises(worker, world):
    for leftover in (HOST_TMP_PROBE, world["out"] / "written"):
        leftover.unlink(missing_ok=True)  # written by the weakest level, which allows it
    found = _probe(worker, world)
    level = worker.isolation.level
    assert found["write_scratch"][0] == "ok"
    assert Path(found["cwd"]).name.startswith("submission-")
    assert set(found["env"]) <= {
        "HOME",
        "TMPDIR",
        "MPLCONFIGDIR",
        "MPLBACKEND",
        "PATH",
        "LANG",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "TORCHINDUCTOR_CACHE_DIR",
    }
    assert found["read_reference"][0] == "denied"
    assert found["signal_grader"][0] == "denied"
    if worker.isolation.uid is not None:
        assert found["uid"] == worker.uid != 0
        assert found["signal_worker"][0] == "denied"
    if level in ("bubblewrap", "landlock"):
        for attempt in ("read_secret", "list_secret_dir", "write_out", "write_tmp", "connect"):
            assert found[attempt][0] == "denied", (attempt, found[attempt])
    if level != "rlimits":
        assert not (world["out"] / "written").exists()
        assert not HOST_TMP_PROBE.exists()
    HOST_TMP_PROBE.unlink(missing_ok=True)


def _limits(worker, name):
    program = (Snippet("cell 1", LIMITS),)
    result = worker.run(Job(program, ((Call("call", name),), (Call("call", "fine"),)), 2))
    return result


@pytest.mark.parametrize(
    "name, check",
    [
        ("memory", lambda run: run.cases[0].error["type"] == "MemoryError"),
        ("file_size", lambda run: run.cases[0].error["type"] == "OSError"),
        ("open_files", lambda run: run.cases[0].error["type"] == "OSError"),
        ("spin", lambda run: run.status in ("timeout", "cpu", "killed")),
    ],
)
def test_limits_stop_the_test_and_the_next_test_runs(strongest, name, check):
    result = _limits(strongest, name)
    assert check(result.tests[0]), result.tests[0]
    assert result.tests[1].cases[0].result == 42


def test_a_process_flood_is_capped_and_cleaned_up(strongest):
    worker = strongest
    result = _limits(worker, "flood")
    started = result.tests[0].cases[0].result
    if worker.isolation.uid is not None:
        assert started < worker.limits.processes
    assert result.tests[1].cases[0].result == 42
    left = subprocess.run(
        ["ps", "-u", str(worker.uid or 0), "-o", "pid=,ppid=,stat=,cmd="], capture_output=True
    )
    assert worker.uid is None or not left.stdout.strip()


def test_a_worker_that_dies_is_replaced(strongest):
    worker = strongest
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    result = worker.run(Job((Snippet("cell 1", LIMITS),), ((Call("call", "fine"),),), 2))
    assert result.tests[0].cases[0].result == 42


def test_student_code_never_runs_unconfined(tmp_path):
    """A confinement step that fails (here: an impossible limit) stops the child first."""
    isolation = sandbox.probe(LEVELS[0])
    marker = tmp_path / "ran"
    tmp_path.chmod(0o777)
    w = Worker(isolation, sandbox.Limits(timeout=3, open_files=-5), uid=isolation.uid)
    w.start()
    w.wait_ready()
    try:
        code = f"open({str(marker)!r}, 'w').write('x')\n"
        result = w.run(Job((Snippet("cell 1", code),), (), 3))
    finally:
        w.close()
    assert result.status == "unconfined"
    assert not marker.exists()


def test_workers_start_warm_and_fork_fast(strongest):
    """A zygote imports NumPy and PyTorch once; a trivial job costs a fork, not an import."""
    job = Job(
        (Snippet("cell 1", "import torch\nimport numpy\nx = 1\n"),), ((Call("value", "x"),),), 5
    )
    times = []
    for _ in range(5):
        started = time.monotonic()
        assert strongest.run(job).tests[0].cases[0].result == 1
        times.append(time.monotonic() - started)
    assert sorted(times)[2] < 1.0, times
