"""Throughput of grading on a Dask cluster against its worker count, beside the local engine.

One batch (:func:`submissions.batch` twice over, 80 notebooks of exercise 01_rnn_cell under
distinct student ids) is graded with the same ``--seed`` by:

* the local engine with 1 and 2 workers (``engine.grade``, as ``rnn-course grade`` runs it:
  resumable, every result saved as it arrives); its wall time includes starting its sandboxed
  workers, as every local run does;
* the Dask backend (``--dask ADDRESS``) on a ``distributed.LocalCluster`` of 1 and 2
  single-threaded worker processes on this machine. The cluster is started and its workers'
  sandboxes warmed (a small batch graded first, untimed) before the timed run: on a real
  cluster they stay up from one batch to the next. The cluster's start-up is reported apart.

Each figure is the faster of two runs (other processes on a shared machine only ever slow a
run down). Throughput is notebooks per second of wall time. Every run must give the same grades.csv (the
bench stops otherwise). The sizing estimate divides the one-worker Dask throughput by its one
core: notebooks per hour per core for this exercise's checks. A cluster of C cores grades about
C times that when the machine that runs the command keeps up (it prepares and judges every
notebook); the two-worker figure shows how far from linear this machine already is. On a
2-core machine that also runs the scheduler and the judging parent, two workers compete with
them for the cores, so expect less than twice the one-worker figure here.

Run: ``python bench/bench_dask.py`` (``make bench`` runs it too).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import submissions

from autograder.grading import engine

SEED = 20261129
REPEATS = 2
ASSIGNMENT = submissions.ASSIGNMENT


def _write_batch(folder: Path) -> int:
    batch = submissions.batch()
    second = [replace(s, student=f"{int(s.student) + 1000}") for s in batch]
    submissions.write(batch + second, folder)
    return len(batch) + len(second)


def _grade(submitted: Path, out: Path, **options) -> tuple[float, str]:
    started = time.monotonic()
    engine.grade(submitted, out, [ASSIGNMENT], engine.Options(seed=SEED, resumable=True, **options))
    return time.monotonic() - started, (out / "grades.csv").read_text()


def _best(submitted: Path, out: Path, **options) -> tuple[float, str]:
    """The faster of REPEATS runs (each into a fresh folder): other processes on the machine
    only ever slow a run down. The grades of every run must agree."""
    runs = [_grade(submitted, out / str(i), **options) for i in range(REPEATS)]
    if len({csv for _, csv in runs}) != 1:
        sys.exit(f"two runs with the same seed gave different grades: {options}")
    return min(runs)


def main() -> None:
    from distributed import LocalCluster

    root = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    try:
        submitted = root / "submitted"
        count = _write_batch(submitted)
        warm = root / "warm"
        submissions.write(submissions.samples(), warm)
        print(f"Grading {count} notebooks of {ASSIGNMENT} (--seed {SEED}) on {os.cpu_count()} CPUs")
        print(f"load average at the start: {os.getloadavg()[0]:.1f} (1 min)")
        print(f"{'backend':<32}{'wall s':>8}{'notebooks/s':>13}")
        rows, grades = [], {}
        for workers in (1, 2):
            seconds, csv = _best(submitted, root / f"local{workers}", workers=workers)
            grades[f"local {workers}"] = csv
            rows.append((f"local engine, {workers} worker(s)", seconds))
            print(f"{rows[-1][0]:<32}{seconds:>8.1f}{count / seconds:>13.2f}", flush=True)
        for workers in (1, 2):
            started = time.monotonic()
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            )
            try:
                address = cluster.scheduler_address
                startup = time.monotonic() - started
                _grade(warm, root / f"warm{workers}", dask=address)  # start the sandboxes
                seconds, csv = _best(submitted, root / f"dask{workers}", dask=address)
            finally:
                cluster.close()
            grades[f"dask {workers}"] = csv
            rows.append((f"Dask LocalCluster, {workers} worker(s)", seconds))
            print(
                f"{rows[-1][0]:<32}{seconds:>8.1f}{count / seconds:>13.2f}"
                f"   (cluster start {startup:.1f} s, warm-up untimed)",
                flush=True,
            )
        reference = grades["local 1"]
        differing = [name for name, csv in grades.items() if csv != reference]
        if differing:
            sys.exit(f"grades differ from the local run's: {', '.join(differing)}")
        print("grades.csv identical in all four runs")
        one = count / rows[2][1]
        two = count / rows[3][1]
        print(f"Dask scaling on this machine: 2 workers give {two / one:.2f}x the throughput of 1")
        print(
            f"Sizing: one Dask worker process (one core) grades about {3600 * one:,.0f} "
            f"notebooks of {ASSIGNMENT} per hour; {3600 * two / 2:,.0f} per core with 2 workers "
            "sharing this 2-core machine with the scheduler and the judging parent"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
