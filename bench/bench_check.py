"""How long a learner waits for ``rnn-course check``, against running the notebook with nbconvert.

For every assignment with a solution notebook and a ``checks.py``, in one run and in turns (so
that both commands see the same machine load):

* **check**: ``rnn-course check solutions/<NN_topic>/<notebook>.ipynb --seed 0``, the whole
  command as a learner types it (interpreter start, sandbox probe, worker start, the notebook's
  code, every visible and hidden test, the judging, the table);
* **nbconvert**: ``jupyter nbconvert --execute --to notebook`` of the same notebook (a kernel
  runs every cell: the learner's alternative to see whether the visible tests pass).

Each is the wall time from start to exit; the table gives the median of ``--repeat`` runs. Both
commands run once untimed first, so that neither pays for a cold file cache.

Then, for the first NumPy-only assignment, where the check's time goes, measured in this process
step by step: importing the engine, loading the assignment's checks, probing the sandbox, starting
a worker without PyTorch (what a NumPy-only check does) and with it (what every check did before),
running and judging the notebook; and, in a fresh interpreter, what importing PyTorch costs the
grader's own process (which a NumPy-only check no longer pays).

Run: ``python bench/bench_check.py`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from autograder.grading import assignments  # noqa: E402


def _solutions() -> list[tuple[str, Path, bool]]:
    """(assignment, solution notebook, NumPy only) for every assignment that has both."""
    found = []
    for name in assignments.known():
        loaded = assignments.load(name)
        notebook = assignments.SOLUTIONS_DIR / name / loaded.notebook
        if notebook.is_file():
            found.append((name, notebook, loaded.numpy_only))
    return found


def _timed(argv: list[str], cwd: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - started, done.returncode


def _check_argv(notebook: Path) -> list[str]:
    return [str(BIN / "rnn-course"), "check", str(notebook), "--seed", "0"]


# A whole instructor notebook, top to bottom, on a 2-core CPU (what a learner waits for when
# running every cell). Measured here, not in the tests: a shared machine's load would make a
# timed test fail for reasons that are not the notebook's.
NOTEBOOK_BUDGET = 60.0


def _nbconvert_argv(notebook: Path, out: Path) -> list[str]:
    return [
        str(BIN / "jupyter"),
        "nbconvert",
        "--execute",
        "--to",
        "notebook",
        "--output-dir",
        str(out),
        "--ExecutePreprocessor.timeout=1200",
        str(notebook),
    ]


def latency_table(repeat: int, names=()) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        out = Path(tmp)
        for name, notebook, numpy_only in _solutions():
            if names and name not in names:
                continue
            check, convert, codes = [], [], set()
            _timed(_check_argv(notebook), ROOT)  # untimed: warm the file cache
            _timed(_nbconvert_argv(notebook, out), notebook.parent)
            for _ in range(repeat):
                seconds, code = _timed(_check_argv(notebook), ROOT)
                check.append(seconds)
                codes.add(code)
                seconds, code = _timed(_nbconvert_argv(notebook, out), notebook.parent)
                convert.append(seconds)
                codes.add(code + 100 if code else 0)
            rows.append(
                {
                    "assignment": name,
                    "numpy_only": numpy_only,
                    "check": statistics.median(check),
                    "nbconvert": statistics.median(convert),
                    "ok": codes == {0},
                }
            )
            print(f"  {name}: done", file=sys.stderr, flush=True)
    return rows


def _print_table(rows: list[dict], repeat: int) -> None:
    print(f"rnn-course check vs jupyter nbconvert --execute, median of {repeat} runs each")
    print()
    head = (
        f"{'assignment':24s} {'NumPy only':>10s} {'check s':>8s} {'nbconvert s':>11s} {'ratio':>6s}"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        ratio = row["check"] / row["nbconvert"]
        note = "" if row["ok"] else "  (a command failed)"
        print(
            f"{row['assignment']:24s} {'yes' if row['numpy_only'] else 'no':>10s} "
            f"{row['check']:8.2f} {row['nbconvert']:11.2f} {ratio:6.2f}{note}"
        )
    over = [r["assignment"] for r in rows if r["nbconvert"] >= NOTEBOOK_BUDGET]
    print()
    if over:
        print(f"instructor notebooks over the {NOTEBOOK_BUDGET:.0f} s budget: " + ", ".join(over))
    else:
        print(f"every instructor notebook runs in under the {NOTEBOOK_BUDGET:.0f} s budget")
    slower = [r["assignment"] for r in rows if r["check"] >= r["nbconvert"]]
    print()
    if slower:
        print("check is NOT faster than nbconvert for: " + ", ".join(slower))
    else:
        print(f"check is faster than nbconvert for all {len(rows)} assignments")


def _since(started: float) -> float:
    return time.perf_counter() - started


def breakdown(name: str, notebook: Path) -> list[tuple[str, float]]:
    """Where one NumPy-only check's time goes, step by step, in this process."""
    steps = []
    started = time.perf_counter()
    from autograder.grading import engine, sandbox
    from autograder.grading.run import Worker

    steps.append(("import the grading engine", _since(started)))
    started = time.perf_counter()
    loaded = assignments.load(name)
    steps.append((f"load solutions/{name}/checks.py", _since(started)))
    started = time.perf_counter()
    isolation = sandbox.probe("auto")
    steps.append((f"probe the sandbox ({isolation.level})", _since(started)))
    lease = sandbox.UidLease(2) if isolation.uid is not None else None
    uids = lease.uids if lease else [None, None]
    try:
        for torch, uid in ((False, uids[0]), (True, uids[1])):
            worker = Worker(isolation, sandbox.Limits(), uid=uid, torch=torch)
            started = time.perf_counter()
            worker.start_and_wait()
            label = "with PyTorch, as before" if torch else "without PyTorch"
            steps.append((f"start a worker {label}", _since(started)))
            if not torch:
                sub = engine.Submission("you", loaded, notebook)
                job = engine.prepare(sub, 0, 0, 10.0, 20.0)
                started = time.perf_counter()
                result = worker.run(job)
                steps.append(("run the notebook and its tests in the worker", _since(started)))
                started = time.perf_counter()
                engine.judge_submission(sub, result, 20.0)
                steps.append(("judge the results", _since(started)))
            worker.close()
    finally:
        if lease:
            lease.release()
    code = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    steps.append(("import PyTorch in the grader (before; no longer)", float(done.stdout)))
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NN_topic", help="only these assignments")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each command")
    args = parser.parse_args(argv)
    subprocess.run([sys.executable, "-c", "import numpy, torch"], check=True)  # warm the cache
    rows = latency_table(args.repeat, args.names)
    _print_table(rows, args.repeat)
    first = next(((n, nb) for n, nb, numpy_only in _solutions() if numpy_only), None)
    if first is not None:
        print()
        print(f"where the time of `rnn-course check` goes ({first[0]}, one run each)")
        print()
        for label, seconds in breakdown(*first):
            print(f"  {label:52s} {seconds:6.2f} s")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
