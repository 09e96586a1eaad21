"""Run: hand submissions to sandboxed workers and collect what their code returned.

A :class:`Worker` is one zygote process (see :mod:`.child.zygote`), started once and reused for
many submissions; a :class:`Pool` drives several of them from threads. Everything that comes
back is decoded with :mod:`.child.wire` into plain values (:class:`~.child.wire.Returned` arrays,
scalars, strings, containers, :class:`~.child.wire.Opaque` placeholders) and never executed.

The child's frames are hostile input: each is checked against the protocol
(:class:`~.child.wire.Expect`, in the zygote and again here) and decoded under size limits. A
submission that breaks the protocol gets status ``violation`` (its results are void) and its
worker is discarded: the next job starts a fresh one. Each job's deadline is fixed on this
process's clock when the job is sent.

A job that may not use PyTorch (``Job.torch`` false: a NumPy-only exercise) runs on a worker
started without it (see :mod:`.sandbox`); a :class:`Pool` starts workers of each kind its jobs
need.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import sandbox
from .child import wire

_STARTUP_SECONDS = 180.0
_START_ATTEMPTS = 3
_SLACK = 5.0


@dataclass(frozen=True)
class Call:
    """One call the child makes for a test case.

    kind "call": ``name(*args)``; "value": the value bound to ``name``; "module": build the
    ``nn.Module`` class ``name(*init)`` and run it on each input list of ``args``.
    """

    kind: str
    name: str
    args: tuple = ()
    keep_args: bool = False
    init: tuple = ()
    seed: int = 0
    grad: bool = False
    options: dict = field(default_factory=dict)  # module probes: {"train": ..., "split": k}


@dataclass(frozen=True)
class Snippet:
    """Code to execute in the child; ``origin`` (e.g. "cell 4") names it in tracebacks."""

    origin: str
    source: str


@dataclass(frozen=True)
class Job:
    program: tuple[Snippet, ...]
    tests: tuple[tuple[Call, ...], ...]
    timeout: float
    modules: dict[str, str] = field(default_factory=dict)  # stand-in course package
    torch: bool = True  # False: a NumPy-only exercise, run where PyTorch does not exist
    # The graded functions each graded function calls: once one times out, the later tests
    # that reach it are not run ("after_timeout").
    uses: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class CaseOutcome:
    """What one call gave: a result, an error, or the name was not defined."""

    result: Any = None
    args_after: Any = None
    error: dict | None = None
    missing: bool = False
    seconds: float = 0.0


@dataclass
class TestRun:
    """All cases of one test; a case is None when its process ended before reporting it."""

    cases: list[CaseOutcome | None]
    status: str = "not_run"  # ok, timeout, cpu, killed, signal, exit, garbled, not_run
    detail: str = ""

    __test__ = False  # not a pytest test class


@dataclass
class RunResult:
    status: str  # exited (normal end), timeout, violation, unconfined, grader_error
    detail: str = ""
    program_finished: bool = False
    program_errors: list[dict] = field(default_factory=list)
    tests: list[TestRun] = field(default_factory=list)
    seconds: float = 0.0
    signal: str | None = None
    exit_code: int | None = None


def reaches(uses) -> dict[str, list[str]]:
    """Every graded function each one calls, directly or through others (from the direct
    calls ``uses``)."""
    out = {}
    for name in uses:
        seen, todo = set(), list(uses[name])
        while todo:
            callee = todo.pop()
            if callee not in seen and callee != name:
                seen.add(callee)
                todo.extend(uses.get(callee, ()))
        out[name] = sorted(seen)
    return out


def encode_job(job: Job) -> tuple[dict, list[bytes]]:
    blobs: list[bytes] = []
    tests = []
    for calls in job.tests:
        encoded = []
        for call in calls:
            item = {"kind": call.kind, "name": call.name}
            if call.kind == "call":
                item["args"] = wire.dump(tuple(call.args), blobs)
                item["keep_args"] = call.keep_args
            elif call.kind == "module":
                item["args"] = wire.dump([tuple(a) for a in call.args], blobs)
                item["init"] = wire.dump(tuple(call.init), blobs)
                item["seed"] = int(call.seed)
                item["grad"] = bool(call.grad)
                item["options"] = wire.dump(dict(call.options), blobs)
            encoded.append(item)
        tests.append({"calls": encoded})
    header = {
        "type": "job",
        "timeout": job.timeout,
        "program": [{"origin": s.origin, "source": s.source} for s in job.program],
        "tests": tests,
        "modules": dict(job.modules),
        "uses": reaches(job.uses),
    }
    return header, blobs


def _int_in(value, low: int, high: int) -> int:
    if type(value) is not int or not low <= value < high:
        raise wire.FrameError(f"index {value!r} out of range")
    return value


def _error(node) -> dict:
    """A child's error report, reduced to short strings (it is untrusted)."""
    if not isinstance(node, dict):
        return {"type": "Error", "message": "", "where": None}
    where = node.get("where")
    if isinstance(where, dict):
        where = {
            "origin": str(where.get("origin", ""))[:40],
            "line": where.get("line") if type(where.get("line")) is int else 0,
            "code": str(where.get("code", ""))[:200],
            "function": str(where.get("function", ""))[:80],
        }
    else:
        where = None
    return {
        "type": str(node.get("type", "Error"))[:100],
        "message": str(node.get("message", ""))[:600],
        "where": where,
    }


def apply_child_frame(result: RunResult, inner: dict, blobs: list) -> None:
    """Fold one child frame (already checked by :class:`~.child.wire.Expect`) into ``result``;
    raise FrameError if it does not make sense."""
    kind = inner.get("type")
    if kind == "program":
        errors = inner.get("errors")
        if not isinstance(errors, list):
            raise wire.FrameError("program frame without errors list")
        result.program_finished = True
        result.program_errors = [
            {"origin": str(e.get("origin", ""))[:40], **_error(e)}
            if isinstance(e, dict)
            else _error(None)
            for e in errors[:200]
        ]
    elif kind == "case":
        test = _int_in(inner.get("test"), 0, len(result.tests))
        run = result.tests[test]
        case = _int_in(inner.get("case"), 0, len(run.cases))
        seconds = inner.get("seconds", 0)
        if type(seconds) not in (int, float) or not 0 <= seconds < 1e6:
            raise wire.FrameError("a case with an impossible duration")
        outcome = CaseOutcome(seconds=float(seconds))
        if inner.get("missing"):
            outcome.missing = True
        elif "error" in inner:
            outcome.error = _error(inner["error"])
        else:
            if "result" not in inner:
                raise wire.FrameError("case frame without result")
            outcome.result = wire.load(inner["result"], blobs, tagged=True)
            if "args_after" in inner:
                outcome.args_after = wire.load(inner["args_after"], blobs, tagged=True)
        run.cases[case] = outcome
    elif kind == "internal":
        result.detail = "the child process failed: " + str(inner.get("message", ""))[-2000:]
    elif kind == "test_end":
        test = _int_in(inner.get("test"), 0, len(result.tests))
        status = inner.get("status")
        result.tests[test].status = status if status in wire.TEST_STATUSES else "garbled"
        result.tests[test].detail = str(inner.get("detail", ""))[:200]
    else:
        raise wire.FrameError(f"unknown frame type {kind!r}")


class WorkerError(RuntimeError):
    """The worker process itself failed (not the submission)."""


class Worker:
    """One sandboxed zygote, reused for many jobs; restarted if it dies, discarded after a
    submission broke the protocol."""

    def __init__(
        self,
        isolation: sandbox.Isolation,
        limits: sandbox.Limits,
        uid: int | None = None,
        torch: bool = True,
    ):
        self.isolation = isolation
        self.limits = limits
        self.uid = uid
        self.torch = torch
        self.proc: subprocess.Popen | None = None
        self.reader: wire.FrameReader | None = None
        self.ready: dict | None = None
        self._log = None
        self._host_scratch: str | None = None
        self.restarts = 0  # workers discarded and started again

    def start(self) -> None:
        argv, env = sandbox.zygote_command(self.isolation, self.torch)
        root, self._host_scratch = sandbox.scratch_root(self.isolation)
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            start_new_session=True,
        )
        self.reader = wire.FrameReader(self.proc.stdout.fileno(), wire.SMALL_FRAME)
        config = sandbox.zygote_config(self.isolation, self.limits, root, self.uid, self.torch)
        self._send(config, [])

    def wait_ready(self) -> dict:
        frame = self._read(time.monotonic() + _STARTUP_SECONDS, wire.SMALL_FRAME)
        if frame is None or frame[0].get("type") != "ready":
            raise WorkerError("the grading worker did not start: " + self.log_tail())
        if bool(frame[0].get("namespaces")) != self.isolation.namespaces:
            raise WorkerError("the grading worker could not make namespaces: " + self.log_tail())
        self.ready = frame[0]
        return self.ready

    def start_and_wait(self, attempts: int = _START_ATTEMPTS) -> dict:
        """Start (again) and wait until ready, trying ``attempts`` times; WorkerError with the
        last cause if the worker never starts."""
        cause = None
        for _ in range(attempts):
            try:
                if self.proc is None:
                    self.start()
                return self.wait_ready()
            except (WorkerError, OSError) as err:
                cause = err
                self.close()
        raise WorkerError(f"{cause} (after {attempts} attempts)")

    def log_tail(self, limit: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-limit:].strip() or "(no output)"

    def _send(self, header: dict, blobs: list) -> None:
        try:
            wire.write_frame(self.proc.stdin.fileno(), header, blobs)
        except OSError as err:
            raise WorkerError(f"the grading worker is gone ({err}): {self.log_tail()}") from None

    def _read(self, deadline: float, limit: int):
        self.reader.max_bytes = limit
        try:
            return self.reader.read(deadline)
        except wire.FrameTimeout:
            raise WorkerError("the grading worker stopped answering") from None
        except (wire.FrameError, OSError) as err:
            raise WorkerError(f"the grading worker sent garbage ({err})") from None

    def run(self, job: Job) -> RunResult:
        """Run one job; a failing worker is stopped and reported as ``grader_error``."""
        if job.torch != self.torch:
            # A worker of the other kind (with PyTorch, or without): start one of the right kind.
            self.close()
            self.torch = job.torch
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self.start_and_wait()
        started = time.monotonic()
        result = RunResult(status="grader_error")
        result.tests = [TestRun(cases=[None] * len(calls)) for calls in job.tests]
        expect = wire.Expect(
            [len(calls) for calls in job.tests],
            self.limits.max_output_mb << 20,
            self.limits.max_total_output_mb << 20,
        )
        # The zygote's own deadline is (timeout + its slack) per phase from the same start.
        budget = (job.timeout + _SLACK) * (len(job.tests) + 1) + 30
        violation = None
        try:
            self._send(*encode_job(job))
            while True:
                limit = min(self.limits.max_output_mb << 20, expect.limit()) + wire.SMALL_FRAME
                frame = self._read(started + budget, limit)
                if frame is None:
                    raise WorkerError("the grading worker ended: " + self.log_tail())
                header, blobs = frame
                if header.get("type") == "done":
                    result.status = str(header.get("status", "grader_error"))[:20]
                    # Keep what the child said about its own failure when the zygote adds nothing.
                    result.detail = str(header.get("detail", ""))[:500] or result.detail
                    signal_name = header.get("signal")
                    result.signal = signal_name if type(signal_name) is str else None
                    code = header.get("code")
                    result.exit_code = code if type(code) is int else None
                    break
                if header.get("type") != "child" or violation is not None:
                    raise WorkerError(f"unexpected frame from the worker: {header.get('type')}")
                try:
                    inner = header.get("inner")
                    expect.check(inner, [len(b) for b in blobs], self.reader.last_size)
                    apply_child_frame(result, inner, blobs)
                except Exception as err:  # noqa: BLE001 - anything in a child frame is hostile
                    # The zygote checks the same rules; keep reading only until its verdict.
                    violation = f"{type(err).__name__}: {err}"[:500]
                    self._drain_until_done(started + budget)
                    break
        except WorkerError as err:
            result.status, result.detail = "grader_error", str(err)
            self.close()
        if violation is not None or result.status == "violation":
            result.status = "violation"
            result.detail = violation or result.detail
            self.discard()
        result.seconds = time.monotonic() - started
        return result

    def _drain_until_done(self, deadline: float) -> None:
        while True:
            frame = self._read(deadline, (self.limits.max_output_mb << 20) + wire.SMALL_FRAME)
            if frame is None or frame[0].get("type") == "done":
                return

    def discard(self) -> None:
        """Never reuse this zygote: the next job starts a fresh one."""
        self.close()
        self.restarts += 1

    def close(self) -> None:
        # Between jobs a zygote holds nothing worth a clean exit, and tearing PyTorch down takes
        # a second: kill it (it is the first process of its PID namespace, under bubblewrap or
        # `unshare`, so everything below it goes with it).
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._host_scratch:
            # Only empty mount points are left in there; rmtree works relative to open folders
            # and never follows a link (shutil.rmtree.avoids_symlink_attacks on Linux).
            shutil.rmtree(self._host_scratch, ignore_errors=True)
            self._host_scratch = None


class Pool:
    """Several workers, started together; :meth:`map` runs jobs on whichever is free.

    ``kinds`` says which workers the jobs need: ``True`` with PyTorch, ``False`` without (for
    NumPy-only exercises); ``size`` workers of each kind."""

    def __init__(
        self,
        isolation: sandbox.Isolation,
        limits: sandbox.Limits,
        size: int,
        kinds: Iterable[bool] = (True,),
    ):
        size = max(1, size)
        kinds = sorted(set(kinds)) or [True]
        count = size * len(kinds)
        self.lease = sandbox.UidLease(count) if isolation.uid is not None else None
        uids = self.lease.uids if self.lease is not None else [None] * count
        self.workers = [
            Worker(isolation, limits, uid, torch=kinds[i // size]) for i, uid in enumerate(uids)
        ]
        self.started = False
        self.ready = False
        self.warnings: list[str] = []

    def start(self) -> Pool:
        """Start the workers without waiting for them: they import NumPy (and PyTorch) while
        the caller prepares the jobs. Entering the pool waits until they are ready."""
        if not self.started:
            self.started = True
            for worker in self.workers:
                try:
                    worker.start()
                except (OSError, WorkerError):
                    worker.close()  # tried again, with its cause, on entering the pool
        return self

    def wait(self) -> Pool:
        """Wait for the workers; one that does not start is tried again, then left out (with
        a warning); WorkerError, with the cause, when none starts."""
        if self.ready:
            return self
        self.start()
        try:
            ready, causes = [], []
            for worker in self.workers:
                try:
                    worker.start_and_wait()
                    ready.append(worker)
                except WorkerError as err:
                    causes.append(str(err))
            if not ready or {w.torch for w in ready} != {w.torch for w in self.workers}:
                raise WorkerError("no grading worker started: " + causes[0])
            for cause in causes:
                self.warnings.append(f"a grading worker did not start, graded with fewer: {cause}")
            self.workers = ready
        except BaseException:
            self.close()
            raise
        self.ready = True
        return self

    def __enter__(self) -> Pool:
        return self.wait()

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        if self.lease is not None:
            self.lease.release()

    def map(self, jobs: Iterable[tuple[Any, Job]]) -> Iterator[tuple[Any, RunResult]]:
        """Yield ``(key, result)`` as jobs finish (not in order)."""
        todo: dict[bool, queue.Queue] = {w.torch: queue.Queue() for w in self.workers}
        # Bounded: a worker waits for the caller to take its last result before it runs the
        # next job, so the results held at once stay within one per worker (and one taken).
        done: queue.Queue = queue.Queue(maxsize=len(self.workers))
        count = 0
        for key, job in jobs:
            # A job of a kind this pool did not start goes to another worker, which restarts
            # as the kind the job needs (see Worker.run).
            todo.get(job.torch, next(iter(todo.values()))).put((key, job))
            count += 1

        def serve(worker: Worker) -> None:
            while True:
                try:
                    key, job = todo[worker.torch].get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((key, worker.run(job)))
                except BaseException as err:  # noqa: BLE001 - hand every failure to the caller
                    done.put((key, RunResult(status="grader_error", detail=str(err))))

        threads = [threading.Thread(target=serve, args=(w,), daemon=True) for w in self.workers]
        for thread in threads:
            thread.start()
        for _ in range(count):
            yield done.get()
        for thread in threads:
            thread.join()
