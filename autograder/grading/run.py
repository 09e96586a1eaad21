"""Run: hand submissions to sandboxed workers and collect what their code returned.

A :class:`Worker` is one zygote process (see :mod:`.child.zygote`), started once and reused for
many submissions; a :class:`Pool` drives several of them from threads. Everything that comes
back is decoded with :mod:`.child.wire` into plain values (:class:`~.child.wire.Returned` arrays,
scalars, strings, containers, :class:`~.child.wire.Opaque` placeholders) and never executed.
"""

from __future__ import annotations

import os
import queue
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
    status: str  # exited (normal end), timeout, garbled, unconfined, grader_error
    detail: str = ""
    program_finished: bool = False
    program_errors: list[dict] = field(default_factory=list)
    tests: list[TestRun] = field(default_factory=list)
    seconds: float = 0.0
    signal: str | None = None
    exit_code: int | None = None


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
    """Fold one child frame into ``result``; raise FrameError if it does not make sense."""
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
        outcome = CaseOutcome(seconds=float(inner.get("seconds", 0) or 0))
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
        result.tests[test].status = str(inner.get("status", "garbled"))[:20]
        result.tests[test].detail = str(inner.get("detail", ""))[:200]
    else:
        raise wire.FrameError(f"unknown frame type {kind!r}")


class WorkerError(RuntimeError):
    """The worker process itself failed (not the submission)."""


class Worker:
    """One sandboxed zygote, reused for many jobs, restarted if it dies."""

    def __init__(
        self, isolation: sandbox.Isolation, limits: sandbox.Limits, uid: int | None = None
    ):
        self.isolation = isolation
        self.limits = limits
        self.uid = uid
        self.proc: subprocess.Popen | None = None
        self.reader: wire.FrameReader | None = None
        self.ready: dict | None = None
        self._log = None
        self._host_scratch: str | None = None

    def start(self) -> None:
        argv, env = sandbox.zygote_command(self.isolation)
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
        self.reader = wire.FrameReader(self.proc.stdout.fileno(), 1 << 30)
        config = sandbox.zygote_config(self.isolation, self.limits, root, self.uid)
        self._send(config, [])

    def wait_ready(self) -> dict:
        frame = self._read(time.monotonic() + _STARTUP_SECONDS)
        if frame is None or frame[0].get("type") != "ready":
            raise WorkerError("the grading worker did not start: " + self.log_tail())
        self.ready = frame[0]
        return self.ready

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

    def _read(self, deadline: float):
        try:
            return self.reader.read(deadline)
        except wire.FrameTimeout:
            raise WorkerError("the grading worker stopped answering") from None
        except (wire.FrameError, OSError) as err:
            raise WorkerError(f"the grading worker sent garbage ({err})") from None

    def run(self, job: Job) -> RunResult:
        """Run one job; a failing worker is stopped and reported as ``grader_error``."""
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self.start()
            self.wait_ready()
        started = time.monotonic()
        result = RunResult(status="grader_error")
        result.tests = [TestRun(cases=[None] * len(calls)) for calls in job.tests]
        budget = (job.timeout + _SLACK) * (len(job.tests) + 1) + 30
        try:
            self._send(*encode_job(job))
            while True:
                frame = self._read(started + budget)
                if frame is None:
                    raise WorkerError("the grading worker ended: " + self.log_tail())
                header, blobs = frame
                if header.get("type") == "done":
                    result.status = str(header.get("status", "grader_error"))
                    result.detail = str(header.get("detail", ""))
                    result.signal = header.get("signal")
                    result.exit_code = header.get("code")
                    break
                if header.get("type") != "child" or not isinstance(header.get("inner"), dict):
                    raise WorkerError(f"unexpected frame from the worker: {header.get('type')}")
                try:
                    apply_child_frame(result, header["inner"], blobs)
                except (wire.FrameError, ValueError, TypeError, KeyError) as err:
                    # The child's stream is the submission's responsibility: stop listening to
                    # it, keep what came before, and wait for the zygote's verdict.
                    result.detail = f"malformed results ({err})"
                    self._drain_until_done(started + budget)
                    result.status = "garbled"
                    break
        except WorkerError as err:
            result.status, result.detail = "grader_error", str(err)
            self.close()
        result.seconds = time.monotonic() - started
        return result

    def _drain_until_done(self, deadline: float) -> None:
        while True:
            frame = self._read(deadline)
            if frame is None or frame[0].get("type") == "done":
                return

    def close(self) -> None:
        # Between jobs a zygote holds nothing worth a clean exit, and tearing PyTorch down takes
        # a second: kill it (with bubblewrap, everything in its PID namespace goes with it).
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
        if self._host_scratch:
            import shutil

            shutil.rmtree(self._host_scratch, ignore_errors=True)
            self._host_scratch = None


class Pool:
    """Several workers, started together; :meth:`map` runs jobs on whichever is free."""

    def __init__(self, isolation: sandbox.Isolation, limits: sandbox.Limits, size: int):
        size = max(1, size)
        uids = sandbox.worker_uids(size) if isolation.uid is not None else [None] * size
        self.workers = [Worker(isolation, limits, uid) for uid in uids]
        self.started = False

    def start(self) -> Pool:
        """Start the workers without waiting for them: they import NumPy and PyTorch while the
        caller prepares the jobs. Entering the pool waits until they are ready."""
        if not self.started:
            self.started = True
            try:
                for worker in self.workers:
                    worker.start()
            except BaseException:
                self.close()
                raise
        return self

    def __enter__(self) -> Pool:
        self.start()
        try:
            for worker in self.workers:
                worker.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            worker.close()

    def map(self, jobs: Iterable[tuple[Any, Job]]) -> Iterator[tuple[Any, RunResult]]:
        """Yield ``(key, result)`` as jobs finish (not in order)."""
        todo: queue.Queue = queue.Queue()
        done: queue.Queue = queue.Queue()
        count = 0
        for item in jobs:
            todo.put(item)
            count += 1

        def serve(worker: Worker) -> None:
            while True:
                try:
                    key, job = todo.get_nowait()
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
