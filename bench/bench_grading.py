"""Grade one batch of 40 submissions with ``rnn-course grade`` and with stock ``nbgrader autograde``.

The batch is :func:`submissions.batch`: 40 notebooks of exercise 01_rnn_cell, 20 correct (written
in several styles), 14 with a typical mistake each, 2 untouched and 4 broken (cut short, empty,
blank, answers in Markdown cells). Both graders get the same files, in one run:

* **engine**: ``rnn-course grade SUBMITTED --out OUT --assignment 01_rnn_cell --gradebook DB``,
  with its defaults (one worker per CPU, the strongest isolation this machine offers); DB is a
  copy of the nbgrader course's gradebook below, so both write their scores into a gradebook
  that already knows the assignment;
* **nbgrader**: a temporary course directory whose ``nbgrader_config.py`` loads the repository's
  and gives it its own root, release folder and gradebook; ``nbgrader generate_assignment`` (not
  timed: it records the assignment and its hidden tests in that gradebook), then the 40
  notebooks under ``submitted/<student>/01_rnn_cell/`` and ``nbgrader autograde 01_rnn_cell``.

What is measured and how:

* wall time: from starting the command to its exit (engine start-up included), after NumPy and
  PyTorch were imported once, untimed, so that neither grader pays for a cold file cache;
* per-submission median: the engine's own (``median_run_seconds`` in OUT/grading.json: one
  notebook's run in a worker); for nbgrader, the median gap between the times its autograded
  notebooks were written (it grades one notebook after the other);
* peak memory per worker: /proc is sampled every 20 ms during each run, and the largest VmHWM
  (a process's peak resident set) among the processes of one worker is kept. The engine's
  workers are the process trees it starts (bubblewrap, the pre-warmed zygote, the child forked
  for each notebook: sandboxed in their own PID namespace, but visible from here under their
  host pids); nbgrader's are the kernels it starts, one per notebook. The grader process itself
  ("driver") is reported apart. A forked child shares the zygote's pages, so the largest VmHWM
  is a fair "per worker" figure, where a sum over processes would count shared pages twice.
* agreement: the correct submissions must get full marks from both; the totals of every
  submission are compared too (engine: OUT/grades.csv; nbgrader: its gradebook);
* cost of the per-submission namespaces (a PID namespace, a mount namespace and a tmpfs
  scratch for each notebook): two workers at the same isolation level, one with and one
  without them, run the same trivial job in turns; the medians of their round trips are
  compared.

Run: ``python bench/bench_grading.py`` (or ``make bench``); ``--keep DIR`` keeps the files.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import submissions

ROOT = submissions.ROOT
BIN = Path(sys.executable).parent
ASSIGNMENT = submissions.ASSIGNMENT
GOAL = 10.0  # the engine should grade at least this many times as many submissions per second


@dataclass
class Memory:
    """Peak VmHWM (kB) of the driver and of each worker (a child of the driver and its tree)."""

    driver_kb: int = 0
    workers_kb: dict[int, int] = field(default_factory=dict)

    @property
    def worker_peak_kb(self) -> int:
        return max(self.workers_kb.values(), default=0)


def _processes() -> dict[int, int]:
    """pid -> parent pid, for every process this /proc shows."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    parents[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def _peak_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Samples the process tree under ``root`` until stopped."""

    def __init__(self, root: int, period: float = 0.02):
        super().__init__(daemon=True)
        self.root, self.period = root, period
        self.memory = Memory()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.period)

    def sample(self) -> None:
        children = defaultdict(list)
        for pid, parent in _processes().items():
            children[parent].append(pid)
        self.memory.driver_kb = max(self.memory.driver_kb, _peak_kb(self.root))
        for worker in children[self.root]:
            tree, peak = [worker], 0
            while tree:
                pid = tree.pop()
                peak = max(peak, _peak_kb(pid))
                tree.extend(children[pid])
            self.memory.workers_kb[worker] = max(self.memory.workers_kb.get(worker, 0), peak)

    def stop(self) -> Memory:
        self._halt.set()
        self.join()
        return self.memory


@dataclass
class Run:
    name: str
    seconds: float
    median_seconds: float
    memory: Memory
    totals: dict[str, float]  # student -> points
    failed: list[str]  # students the grader could not process at all
    isolation: str = ""
    inner_seconds: float = 0.0  # the engine's own account of its run (grading.json)


def timed(argv: list[str], cwd: Path, log: Path) -> tuple[float, Memory, int]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = Sampler(proc.pid)
        sampler.start()
        code = proc.wait()
        seconds = time.perf_counter() - started
    return seconds, sampler.stop(), code


def run_engine(submitted: Path, out: Path, workers: int | None, gradebook: Path) -> Run:
    argv = [str(BIN / "rnn-course"), "grade", str(submitted), "--out", str(out)]
    argv += ["--assignment", ASSIGNMENT, "--course", str(ROOT)]
    if workers:
        argv += ["--workers", str(workers)]
    # A copy of the benchmark course's gradebook (it knows the assignment, as nbgrader's does),
    # never the repository's own.
    argv += ["--gradebook", str(gradebook)]
    seconds, memory, code = timed(argv, out.parent, out.parent / "engine.log")
    if code != 0:
        sys.exit(f"rnn-course grade failed ({code}):\n{(out.parent / 'engine.log').read_text()}")
    log = json.loads((out / "grading.json").read_text(encoding="utf-8"))
    totals: dict[str, float] = defaultdict(float)
    with (out / "grades.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            totals[row["student_id"]] += float(row["points"])
    return Run(
        "rnn-course grade",
        seconds,
        log["median_run_seconds"],
        memory,
        dict(totals),
        [],
        isolation=log["isolation"]["level"],
        inner_seconds=log["seconds"],
    )


def make_course(root: Path) -> Path:
    """A course directory with its own gradebook, using the repository's configuration."""
    course = root / "course"
    course.mkdir(parents=True)
    config = (
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(ROOT / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.source_directory = {str(ROOT / 'solutions')!r}\n"
        "c.CourseDirectory.release_directory = 'release'\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}\n"
    )
    (course / "nbgrader_config.py").write_text(config, encoding="utf-8")
    argv = [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"]
    seconds, _, code = timed(argv, course, root / "generate.log")
    if code != 0:
        sys.exit(f"nbgrader generate_assignment failed:\n{(root / 'generate.log').read_text()}")
    return course


def run_nbgrader(course: Path, students: list[str]) -> Run:
    from nbgrader.api import Gradebook, MissingEntry

    argv = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"]
    started = time.time()
    # nbgrader exits with 1 when some submissions could not be processed: that is measured too.
    seconds, memory, _ = timed(argv, course, course.parent / "nbgrader.log")
    written = {}
    for student in students:
        path = course / "autograded" / student / ASSIGNMENT / submissions.NOTEBOOK
        if path.is_file():
            written[student] = path.stat().st_mtime
    ends = [started, *sorted(written.values())]
    gaps = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    totals = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in students:
            try:
                totals[student] = gradebook.find_submission(ASSIGNMENT, student).score
            except MissingEntry:
                totals[student] = 0.0
    failed = [s for s in students if s not in written]
    return Run(
        "nbgrader autograde",
        seconds,
        statistics.median(gaps) if gaps else 0.0,
        memory,
        totals,
        failed,
    )


def report(batch, engine: Run, nbgrader: Run, max_points: float) -> None:
    n = len(batch)
    correct = [s.student for s in batch if s.kind == "correct"]
    rate = {r.name: n / r.seconds for r in (engine, nbgrader)}
    ratio = rate[engine.name] / rate[nbgrader.name]

    def full(run: Run) -> str:
        return f"{sum(run.totals.get(s) == max_points for s in correct)}/{len(correct)}"

    rows = [
        ("wall time (s)", f"{engine.seconds:.1f}", f"{nbgrader.seconds:.1f}"),
        ("throughput (submissions/s)", f"{rate[engine.name]:.2f}", f"{rate[nbgrader.name]:.3f}"),
        (
            "per-submission median (s)",
            f"{engine.median_seconds:.2f}",
            f"{nbgrader.median_seconds:.2f}",
        ),
        (
            "peak RSS per worker (MB)",
            f"{engine.memory.worker_peak_kb / 1024:.0f}",
            f"{nbgrader.memory.worker_peak_kb / 1024:.0f}",
        ),
        (
            "peak RSS of the driver (MB)",
            f"{engine.memory.driver_kb / 1024:.0f}",
            f"{nbgrader.memory.driver_kb / 1024:.0f}",
        ),
        ("correct ones at full marks", full(engine), full(nbgrader)),
        (
            "submissions it stopped with an error on",
            f"{len(engine.failed)}",
            f"{len(nbgrader.failed)}",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  {engine.name:>18}  {nbgrader.name:>18}")
    for label, a, b in rows:
        print(f"{label:<{width}}  {a:>18}  {b:>18}")
    print()
    verdict = "meets" if ratio >= GOAL else "MISSES"
    print(f"throughput ratio engine / nbgrader: {ratio:.1f}x ({verdict} the goal of {GOAL:g}x)")
    agree = [
        s.student for s in batch if engine.totals.get(s.student) == nbgrader.totals.get(s.student)
    ]
    print(f"same total for {len(agree)}/{n} submissions (out of {max_points:g} points)")
    for sub in batch:
        if sub.student not in agree:
            print(
                f"  {sub.student} ({sub.kind}: {sub.about}): engine "
                f"{engine.totals.get(sub.student)}, nbgrader {nbgrader.totals.get(sub.student)}"
            )
    if nbgrader.failed:
        print(f"nbgrader stopped with an error on: {', '.join(nbgrader.failed)} (scored 0 here)")
    print(f"engine isolation: {engine.isolation}")
    print(
        f"engine: {engine.inner_seconds:.1f} s of its {engine.seconds:.1f} s inside the grading "
        "run (grading.json: workers started, notebooks run and judged, files and gradebook "
        "written); the rest is start-up (interpreter, imports) and exit"
    )
    print()
    print(f"{'kind':<10} {'n':>3} {'engine mean':>12} {'nbgrader mean':>14}")
    for kind in submissions.KINDS:
        students = [s.student for s in batch if s.kind == kind]
        if students:
            e = statistics.mean(engine.totals.get(s, 0.0) for s in students)
            g = statistics.mean(nbgrader.totals.get(s, 0.0) for s in students)
            print(f"{kind:<10} {len(students):>3} {e:>12.2f} {g:>14.2f}")


def namespace_cost(rounds: int = 25) -> tuple[float, float]:
    """Median round trip (seconds) of a trivial job with and without per-submission namespaces."""
    from dataclasses import replace

    from autograder.grading import sandbox
    from autograder.grading.run import Call, Job, Snippet, Worker

    full = sandbox.probe()
    variants = [full, replace(full, namespaces=False)]
    lease = sandbox.UidLease(2) if full.uid is not None else None
    uids = lease.uids if lease else [None, None]
    limits = sandbox.Limits(timeout=10)
    workers = [Worker(iso, limits, uid=uid) for iso, uid in zip(variants, uids, strict=True)]
    job = Job((Snippet("cell 1", "x = 1\n"),), ((Call("value", "x"),),), 10)
    times: list[list[float]] = [[], []]
    try:
        for worker in workers:
            worker.start_and_wait()
        for _ in range(rounds):  # in turns, so that both see the same load
            for worker, spent in zip(workers, times, strict=True):
                started = time.perf_counter()
                result = worker.run(job)
                spent.append(time.perf_counter() - started)
                assert result.tests[0].cases[0].result == 1, result
    finally:
        for worker in workers:
            worker.close()
        if lease:
            lease.release()
    return statistics.median(times[0]), statistics.median(times[1])


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews the timings."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="engine workers (default: CPUs)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the files in this folder")
    args = parser.parse_args()

    batch = submissions.batch()
    kinds = ", ".join(f"{sum(s.kind == k for s in batch)} {k}" for k in submissions.KINDS)
    print(f"{len(batch)} submissions of {ASSIGNMENT} ({kinds})")
    print(f"{os.cpu_count()} CPUs, load average {load_average()} before the run")
    root = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        submitted = root / "submitted"
        submissions.write(batch, submitted)
        course = make_course(root)
        shutil.copytree(submitted, course / "submitted")
        shutil.copy(course / "gradebook.db", root / "engine-gradebook.db")
        # Both graders import NumPy and PyTorch: read them from disk once, untimed, so that
        # neither run pays for a cold file cache.
        subprocess.run([sys.executable, "-c", "import numpy, torch"], check=True)
        engine = run_engine(submitted, root / "out", args.workers, root / "engine-gradebook.db")
        print(f"engine done, load average {load_average()}")
        nbgrader = run_nbgrader(course, [s.student for s in batch])
        print(f"nbgrader done, load average {load_average()}")
        with_ns, without_ns = namespace_cost()
        max_points = submissions.max_points()
        print()
        report(batch, engine, nbgrader, max_points)
        print()
        print(
            f"per-submission namespaces: a trivial job takes {with_ns * 1000:.0f} ms with them, "
            f"{without_ns * 1000:.0f} ms without (median of 25 each, in turns; "
            f"{(with_ns - without_ns) * 1000:+.0f} ms per submission)"
        )
    finally:
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(root, args.keep)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
