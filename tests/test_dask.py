"""Grading on a Dask cluster (`rnn-course grade --dask`): a real LocalCluster of worker
processes gives the grades of a local run with the same seed, saves each result as it arrives,
loses nothing when a worker is killed in the middle of the batch, and resumes; what comes back
from a Dask worker is checked again in the parent, as a local worker's frames are."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from distributed import Client, LocalCluster

from autograder.grading import engine, sandbox
from autograder.grading.child import wire
from autograder.grading.dask_pool import DaskPool, parse_local, replay
from autograder.grading.run import Call, Job, Snippet, WorkerError

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "book" / "instructor" / "sample_submitted"
RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
ASSIGNMENT = "01_rnn_cell"
SEED = 20261129
COPIES = 3  # each shipped sample, under three student ids: a batch that outlasts one result


@pytest.fixture(scope="module")
def submitted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dask") / "submitted"
    for sample in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        for copy in range(COPIES):
            shutil.copytree(sample, root / f"{sample.name}_{copy}")
    return root


@pytest.fixture(scope="module")
def local_grades(submitted, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("local")
    engine.grade(submitted, out, [ASSIGNMENT], engine.Options(seed=SEED, workers=2))
    return (out / "grades.csv").read_text()


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        with Client(local) as client:
            client.wait_for_workers(2, timeout=120)
            yield local, client


def _students(grades: str) -> set[str]:
    return {row["student_id"] for row in csv.DictReader(io.StringIO(grades))}


def _saved(out: Path) -> int:
    """Entries of OUT/.state that hold a judged result."""
    folder = out / ".state"
    entries = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return sum(
        1 for p in entries if any(n.get("report") for n in json.loads(p.read_text())["notebooks"])
    )


def test_the_local_run_grades_every_student_with_the_samples_verdicts(local_grades):
    # The reference the dask runs are compared with: every copy of every sample has its rows,
    # the correct one full marks, the others not.
    rows = list(csv.DictReader(io.StringIO(local_grades)))
    assert _students(local_grades) == {
        f"{p.name}_{c}" for p in SAMPLES.iterdir() if p.is_dir() for c in range(COPIES)
    }
    for row in rows:
        full = float(row["points"]) == float(row["max_points"])
        if row["student_id"].startswith("correct_"):
            assert full, row
    assert not all(float(r["points"]) == float(r["max_points"]) for r in rows)


def test_a_dask_run_gives_the_grades_of_a_local_run_with_the_same_seed(
    cluster, submitted, local_grades, tmp_path
):
    local, _ = cluster
    options = engine.Options(seed=SEED, dask=local.scheduler_address, resumable=True)
    summary = engine.grade(submitted, tmp_path, [ASSIGNMENT], options)
    assert (tmp_path / "grades.csv").read_text() == local_grades
    assert not [w for w in summary.warnings if "grader failed" in w]
    log = json.loads((tmp_path / "grading.json").read_text())
    assert log["dask"] == local.scheduler_address


def test_a_worker_killed_mid_batch_loses_nothing(cluster, submitted, local_grades, tmp_path):
    local, client = cluster
    client.wait_for_workers(2, timeout=120)
    killed: dict = {}

    def kill_a_busy_worker(done: int, total: int) -> None:
        if done != 1:
            return
        # Each result is saved as it arrives, before the batch ends.
        killed["saved_at_first_result"] = _saved(tmp_path)
        busy = {addr: keys for addr, keys in client.processing().items() if keys}
        assert busy, "no job left running after the first result: the batch is too short"
        address = max(busy, key=lambda a: len(busy[a]))
        pid = client.run(os.getpid, workers=[address])[address]
        killed.update(address=address, pid=pid, jobs=len(busy[address]), total=total)
        os.kill(pid, signal.SIGKILL)

    options = engine.Options(
        seed=SEED, dask=local.scheduler_address, resumable=True, progress=kill_a_busy_worker
    )
    summary = engine.grade(submitted, tmp_path, [ASSIGNMENT], options)
    assert killed["jobs"] >= 1 and killed["saved_at_first_result"] == 1
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)
    grades = (tmp_path / "grades.csv").read_text()
    assert _students(grades) == _students(local_grades)
    assert grades == local_grades
    assert not [w for w in summary.warnings if "grader failed" in w]
    assert _saved(tmp_path) == killed["total"]


def test_the_command_grades_on_dask_and_resumes(cluster, submitted, local_grades, tmp_path):
    local, client = cluster
    client.wait_for_workers(2, timeout=120)
    out = tmp_path / "out"
    command = [RNN_COURSE, "grade", str(submitted), "--out", str(out), "--seed", str(SEED)]
    command += ["--assignment", ASSIGNMENT, "--no-gradebook", "-q"]
    command += ["--dask", local.scheduler_address]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert (out / "grades.csv").read_text() == local_grades
    before = json.loads((out / "grading.json").read_text())["grader_version"]
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    log = json.loads((out / "grading.json").read_text())
    # Saved results are keyed by the grader's source: an edit to it in between regrades all.
    assert log["grader_version"] == before, "the grader's source changed between the two runs"
    assert log["unchanged"] == len(_students(local_grades)) and log["graded"] == 0
    assert (out / "grades.csv").read_text() == local_grades


def test_the_command_refuses_a_bad_local_cluster_and_documents_the_option():
    bad = subprocess.run(
        [RNN_COURSE, "grade", str(SAMPLES), "--out", "unused", "--dask", "local:0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "local:N" in bad.stderr
    assert not (REPO / "unused").exists()
    usage = subprocess.run(
        [RNN_COURSE, "grade", "--help"], capture_output=True, text=True, timeout=120
    )
    assert "--dask ADDRESS" in usage.stdout and "local:N" in usage.stdout
    assert parse_local("tcp://10.0.0.1:8786") is None and parse_local("local:3") == 3


# --- what a Dask worker returns is checked here, as a local worker's frames are -------------


def _job() -> Job:
    return Job((Snippet("cell 1", "x = 1"),), ((Call("value", "x"),),), timeout=5.0, torch=False)


def _child(inner: dict, blobs=()) -> bytes:
    return wire.pack({"type": "child", "inner": inner}, blobs)


def _case(value) -> bytes:
    blobs: list[bytes] = []
    tree = wire.dump(value, blobs)
    return _child({"type": "case", "test": 0, "case": 0, "seconds": 0.0, "result": tree}, blobs)


PROGRAM = _child({"type": "program", "errors": []})
TEST_END = _child({"type": "test_end", "test": 0, "status": "ok", "detail": ""})
DONE = wire.pack({"type": "done", "status": "exited", "detail": "", "code": 0})


def _returned(stream: bytes, status: str = "exited") -> dict:
    return {"status": status, "detail": "", "stream": stream, "seconds": 0.1, "host": "w"}


def test_a_workers_frames_in_order_give_the_result_of_a_local_run():
    result = replay(_job(), sandbox.Limits(), _returned(PROGRAM + _case(7) + TEST_END + DONE))
    assert result.status == "exited" and result.program_finished
    assert result.tests[0].status == "ok" and result.tests[0].cases[0].result == 7
    assert result.seconds == 0.1


def test_frames_out_of_order_from_a_worker_void_the_submission():
    # A case for a test the job does not have, then one before the program frame.
    wrong_test = _child({"type": "case", "test": 3, "case": 0, "seconds": 0.0, "missing": True})
    for stream in (PROGRAM + wrong_test + DONE, _case(7) + PROGRAM + TEST_END + DONE):
        result = replay(_job(), sandbox.Limits(), _returned(stream))
        assert result.status == "violation"


def test_a_frame_over_the_parents_limits_is_refused_even_if_the_worker_took_it():
    # A worker started with laxer limits (or another grader) accepted 2 MB; this run allows 1.
    big = _case(np.zeros(2 << 17))  # 2 MiB of float64
    limits = sandbox.Limits(max_output_mb=1, max_total_output_mb=1)
    result = replay(_job(), limits, _returned(PROGRAM + big + TEST_END + DONE))
    assert result.status in ("violation", "grader_error")
    assert result.tests[0].cases[0] is None


def test_a_stream_cut_short_is_a_grader_error_with_the_workers_reason():
    result = replay(
        _job(),
        sandbox.Limits(),
        {"status": "grader_error", "detail": "zygote died", "stream": PROGRAM, "seconds": 1.0},
    )
    assert result.status == "grader_error" and "zygote died" in result.detail
    assert replay(_job(), sandbox.Limits(), {"stream": "not bytes"}).status == "grader_error"


def test_workers_that_cannot_give_this_machines_sandbox_are_refused_before_any_job(cluster):
    local, _ = cluster
    pool = DaskPool(local.scheduler_address, sandbox.Isolation("no-such-level"), sandbox.Limits())
    with pytest.raises(WorkerError, match="cannot give submissions the sandbox"):
        pool.wait()
    assert pool.client is None  # closed: the engine reports it (exit status 3) and stops
