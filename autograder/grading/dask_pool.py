"""Run, on a Dask cluster: the same sandboxed workers as :mod:`.run`, on other machines.

:class:`DaskPool` stands in for :class:`.run.Pool` (``start``, ``wait``, ``map``, ``close``,
``warnings``): the engine still prepares every job and judges every result in its own process;
only running a job moves to a Dask worker. There, :func:`run_job` hands the job to a
:class:`.run.Worker` (a sandboxed zygote, started once per Dask worker process and thread, and
kept warm between jobs) exactly as a local run does.

Nothing the submission produced is trusted on its way back. The Dask worker returns the bytes
its zygote wrote for the job (the frames, as read) and the parent replays them through
:meth:`.run.Worker.run` itself (:class:`_Replay`): the same protocol checks, size limits and
decoding as a local run, with the parent's own limits. Both ends speak in plain data: the job
goes out as :func:`.run.encode_job` gives it (a JSON-able header and ``.npy`` blobs), the result
comes back as bytes and short strings.

A job is a pure function of its payload, so Dask may run it again when a worker dies: the
scheduler moves the dead worker's jobs to the others, and each result reaches the engine once.
``distributed`` is imported only here, and only when a cluster is asked for.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import itertools
import os
import queue
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import sandbox
from .child import wire
from .run import Call, Job, RunResult, Worker, WorkerError, encode_job

LOCAL_PREFIX = "local:"
_CONNECT_SECONDS = 60.0
# Jobs in flight per Dask thread: enough to keep every worker busy, few enough that a class of
# tens of thousands does not sit in the scheduler's memory at once.
_IN_FLIGHT_PER_THREAD = 4


# --------------------------------------------------------------------------------------------
# On the Dask worker


class _RecordingWorker(Worker):
    """A local worker that keeps the frames its zygote wrote for the current job, as bytes.

    It sends the job already encoded by the parent (``Worker.run`` encodes a stand-in with the
    same number of cases per test, which :meth:`_send` replaces)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frames: list[bytes] = []
        self._encoded: tuple[dict, list] | None = None

    def run_encoded(self, header: dict, blobs: list, cases: list[int], timeout: float):
        self.frames = []
        self._encoded = (header, blobs)
        tests = tuple(tuple(Call("value", "") for _ in range(n)) for n in cases)
        stand_in = Job((), tests, timeout, torch=self.torch)
        if self.proc is not None and self.ready is None:
            self.start_and_wait()  # started by _Slots; its "ready" is not part of the job
        try:
            return self.run(stand_in)
        finally:
            self._encoded = None

    def _send(self, header: dict, blobs: list) -> None:
        if header.get("type") == "job" and self._encoded is not None:
            header, blobs = self._encoded
            self.frames = []  # from here on, the job's frames only (not the zygote's "ready")
        super()._send(header, blobs)

    def _read(self, deadline: float, limit: int):
        frame = super()._read(deadline, limit)
        if frame is not None:
            # The zygote writes every frame with wire.pack: packing it again gives its bytes.
            self.frames.append(wire.pack(*frame))
        return frame


_probed: dict[str, sandbox.Isolation] = {}


def _isolation(level: str) -> sandbox.Isolation:
    """Exactly ``level`` here (probed once per process), or SandboxError."""
    if level not in _probed:
        isolation = sandbox.probe(level)
        from .engine import DATA_DIR, REFERENCE_DIR

        sandbox.check_view(isolation, [REFERENCE_DIR, DATA_DIR])
        _probed[level] = isolation
    return _probed[level]


class _Slots:
    """The zygotes of one Dask worker process for one (isolation level, limits, with PyTorch
    or without): one per Dask thread, started on the first job and reused for every later
    one."""

    def __init__(self, level: str, limits: sandbox.Limits, size: int, torch: bool):
        self.isolation = _isolation(level)
        self.lease = sandbox.UidLease(size) if self.isolation.uid is not None else None
        uids = self.lease.uids if self.lease is not None else [None] * size
        self.idle: queue.Queue = queue.Queue()
        self.workers = [_RecordingWorker(self.isolation, limits, uid, torch) for uid in uids]
        for worker in self.workers:
            try:
                worker.start()  # the others import NumPy and PyTorch meanwhile
            except (OSError, WorkerError):
                worker.close()  # started again, with its cause, by its first job
            self.idle.put(worker)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        if self.lease is not None:
            self.lease.release()


_slots: dict[tuple, _Slots] = {}
_slots_lock = threading.Lock()


def _threads() -> int:
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1


def _get_slots(level: str, limits: sandbox.Limits, torch: bool) -> _Slots:
    key = (level, limits, torch)
    with _slots_lock:
        if key not in _slots:
            if not _slots:
                atexit.register(_close_all)
            _slots[key] = _Slots(level, limits, _threads(), torch)
        return _slots[key]


def _close_all() -> None:
    with _slots_lock:
        for slots in _slots.values():
            slots.close()
        _slots.clear()


@functools.cache
def code_version() -> str:
    """A hash of the code that runs on a Dask worker (this module, :mod:`.run`, :mod:`.sandbox`
    and the sandbox's own :mod:`.child`): a worker with other code could run jobs otherwise."""
    here = Path(__file__).resolve().parent
    paths = [here / "dask_pool.py", here / "run.py", here / "sandbox.py"]
    paths += sorted((here / "child").glob("*.py"))
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.relative_to(here).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def worker_info(level: str) -> dict:
    """What the parent checks before sending jobs to a worker: its code, its sandbox."""
    info = {"grader": code_version(), "host": socket.gethostname(), "pid": os.getpid()}
    try:
        info["isolation"] = _isolation(level).describe()
    except sandbox.SandboxError as err:
        info["unconfined"] = str(err)
    return info


def run_job(payload: dict) -> dict:
    """Run one encoded job in this process's sandbox; plain data back (see the module doc).

    Pure in effect: the same payload gives the same frames (up to timing), nothing is kept but
    the warm zygotes, so Dask may run it again elsewhere."""
    host = socket.gethostname()
    if payload["grader"] != code_version():
        return {
            "status": "grader_error",
            "detail": f"the Dask worker on {host} runs other grading code ({code_version()}, "
            f"the grader {payload['grader']}): install the same version of the course",
            "stream": b"",
            "seconds": 0.0,
        }
    limits = sandbox.Limits(**payload["limits"])
    try:
        slots = _get_slots(payload["isolation"], limits, bool(payload["torch"]))
    except sandbox.SandboxError as err:
        return {
            "status": "unconfined",
            "detail": f"on the Dask worker on {host}: {err}",
            "stream": b"",
            "seconds": 0.0,
        }
    worker = slots.idle.get()
    try:
        result = worker.run_encoded(
            payload["header"], payload["blobs"], payload["cases"], payload["timeout"]
        )
        stream = b"".join(worker.frames)
        worker.frames = []
    finally:
        slots.idle.put(worker)
    return {
        "status": result.status,
        "detail": result.detail,
        "stream": stream,
        "seconds": result.seconds,
        "host": host,
    }


# --------------------------------------------------------------------------------------------
# In the parent


class _Present:
    """A process that is always there: the replayed zygote never ends on its own."""

    pid = -1

    def poll(self):
        return None


class _Replay(Worker):
    """Reads a Dask worker's frames from a file as :meth:`Worker.run` reads a zygote's pipe,
    so every check of a local run applies again, here, with this process's limits."""

    def __init__(self, limits: sandbox.Limits, stream: bytes):
        super().__init__(sandbox.Isolation("replay"), limits)
        self._file = tempfile.TemporaryFile()
        self._file.write(stream)
        self._file.flush()
        self._file.seek(0)
        self.proc = _Present()
        self.reader = wire.FrameReader(self._file.fileno(), wire.SMALL_FRAME)

    def _send(self, header: dict, blobs: list) -> None:
        pass  # the Dask worker sent the job

    def close(self) -> None:
        self.proc = None
        if self._file is not None:
            self._file.close()
            self._file = None


def replay(job: Job, limits: sandbox.Limits, returned: Any) -> RunResult:
    """The RunResult of ``job`` from what a Dask worker returned (checked as a local run)."""
    if not isinstance(returned, dict) or not isinstance(returned.get("stream"), bytes):
        return RunResult(status="grader_error", detail="a Dask worker returned no frames")
    detail = str(returned.get("detail", ""))[:2000]
    if returned.get("status") == "unconfined" and not returned["stream"]:
        return RunResult(status="unconfined", detail=detail)
    worker = _Replay(limits, returned["stream"])
    worker.torch = job.torch  # the kind of worker the job ran on, so none is started here
    try:
        result = worker.run(job)
    finally:
        worker.close()
    if result.status == "grader_error" and returned.get("status") == "grader_error":
        result.detail = detail or result.detail  # the worker's own account of its failure
    seconds = returned.get("seconds")
    if type(seconds) in (int, float) and 0 <= seconds < 1e6:
        result.seconds = float(seconds)
    return result


def _payload(job: Job, level: str, limits: sandbox.Limits, grader: str) -> dict:
    header, blobs = encode_job(job)
    return {
        "header": header,
        "blobs": [bytes(b) for b in blobs],
        "cases": [len(calls) for calls in job.tests],
        "timeout": job.timeout,
        "torch": job.torch,
        "isolation": level,
        "limits": asdict(limits),
        "grader": grader,
    }


def parse_local(address: str) -> int | None:
    """N for ``local:N`` (a LocalCluster of N worker processes started for the run), else
    None; ValueError when N is not a positive integer."""
    if not address.startswith(LOCAL_PREFIX):
        return None
    count = address[len(LOCAL_PREFIX) :]
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"--dask {address}: write local:N with N >= 1 worker processes")
    return int(count)


class DaskPool:
    """Jobs run on the Dask cluster at ``address`` (a scheduler's, e.g. tcp://host:8786), or on
    a LocalCluster of N single-threaded worker processes for ``local:N``."""

    def __init__(self, address: str, isolation: sandbox.Isolation, limits: sandbox.Limits):
        self.address = address
        self.local = parse_local(address)
        self.isolation = isolation
        self.limits = limits
        self.client = None
        self.cluster = None
        self.ready = False
        self.warnings: list[str] = []
        self.hosts: dict[str, int] = {}  # jobs run per Dask worker host

    def start(self) -> DaskPool:
        return self

    def wait(self) -> DaskPool:
        """Connect and check every worker runs this grader; WorkerError otherwise."""
        if self.ready:
            return self
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise WorkerError(
                "--dask needs the packages dask and distributed: pip install 'rnn-course[cluster]'"
            ) from None
        try:
            if self.local is not None:
                self.cluster = LocalCluster(
                    n_workers=self.local,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                )
                self.client = Client(self.cluster, timeout=_CONNECT_SECONDS)
            else:
                self.client = Client(self.address, timeout=_CONNECT_SECONDS)
            self.client.wait_for_workers(1, timeout=_CONNECT_SECONDS)
            infos = list(self.client.run(worker_info, self.isolation.level).values())
        except (OSError, TimeoutError, ValueError) as err:
            self.close()
            raise WorkerError(f"no Dask cluster at {self.address} ({err})") from None
        here = code_version()
        other = sorted({f"{i['host']}: {i['grader']}" for i in infos if i["grader"] != here})
        unconfined = sorted({f"{i['host']}: {i['unconfined']}" for i in infos if "unconfined" in i})
        problem = None
        if other:
            problem = f"Dask workers run another grader than this one ({here}): " + ", ".join(other)
        elif unconfined:
            problem = (
                f"Dask workers cannot give submissions the sandbox this machine uses "
                f"({self.isolation.level}): " + "; ".join(unconfined)
            )
        if problem:
            self.close()
            raise WorkerError(problem)
        mine = self.isolation.describe()
        for description in sorted({i["isolation"] for i in infos} - {mine}):
            self.warnings.append(f"some Dask workers confine submissions with {description}")
        self.ready = True
        return self

    def __enter__(self) -> DaskPool:
        return self.wait()

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def _room(self) -> int:
        threads = sum(self.client.nthreads().values()) or 1
        return max(2, _IN_FLIGHT_PER_THREAD * threads)

    def map(self, jobs: Iterable[tuple[Any, Job]]) -> Iterator[tuple[Any, RunResult]]:
        """Yield ``(key, result)`` as jobs finish (not in order), each result replayed here."""
        from distributed import as_completed

        self.wait()
        grader = code_version()
        batch = uuid.uuid4().hex[:12]
        todo = iter(jobs)
        # On this pool's client's loop: another client of the same process (the default one)
        # may run on another loop.
        running = as_completed(loop=self.client.loop)
        owner: dict[str, tuple[Any, Job]] = {}
        numbers = itertools.count()

        def submit_more() -> None:
            room = self._room()
            while len(owner) < room:
                item = next(todo, None)
                if item is None:
                    return
                key, job = item
                future = self.client.submit(
                    run_job,
                    _payload(job, self.isolation.level, self.limits, grader),
                    key=f"rnn-course-grade-{batch}-{next(numbers)}",
                    pure=False,
                    retries=1,
                )
                owner[future.key] = (key, job)
                running.add(future)

        submit_more()
        for future in running:
            key, job = owner.pop(future.key)
            started = time.monotonic()
            try:
                returned = future.result()
            except Exception as err:  # noqa: BLE001 - a lost job is reported, never raised
                returned = {"status": "grader_error", "detail": f"on Dask: {err!r}", "stream": b""}
            future.release()
            result = replay(job, self.limits, returned)
            if result.seconds == 0:
                result.seconds = time.monotonic() - started
            host = str(returned.get("host", "?")) if isinstance(returned, dict) else "?"
            self.hosts[host] = self.hosts.get(host, 0) + 1
            submit_more()
            yield key, result
