"""The pre-warmed worker: imports NumPy (and PyTorch, unless its exercises are NumPy only) once,
then forks one child per submission.

Started by the parent (inside bubblewrap when available) as::

    python -I -c "import sys; sys.path.insert(0, ROOT); from child.zygote import main; main()"

It reads frames on stdin: one ``config`` frame, then ``job`` frames, one at a time. For each job
it makes an empty mount point for the scratch directory and forks the child as the first
process of a PID namespace of its own (``config["namespaces"]``, root or bubblewrap). The child
confines itself (:mod:`.confine`: a private tmpfs scratch in a mount namespace of its own,
limits, uid, Landlock) and says so on a handshake pipe that it closes before any student code
runs: only that pipe can report ``unconfined``. The zygote then relays the child's frames to
stdout wrapped as ``{"type": "child", "inner": ...}``, checking each against the protocol
(:class:`.wire.Expect`), so that only the zygote can say ``done``.

The job has one deadline, fixed from its start on the zygote's clock; no frame moves it. When
the job ends (or breaks the protocol), the zygote kills the child: as it is the namespace's
first process, the kernel kills every process the submission started with it, whatever those
did to their sessions or to the submission's copy of ``os.kill``. The scratch tmpfs goes with
the namespace; the zygote then removes the empty mount point relative to a descriptor of the
scratch root, following no path the submission could have changed.

Forking costs a few tens of milliseconds where starting Python and importing PyTorch costs
seconds, and every child starts from the same clean, already-imported state.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import select
import signal
import socket
import sys
import time
import traceback

from . import confine, execute, wire

MAX_JOB_BYTES = 64 << 20
# Saved before any student code runs: a child's code may replace os._exit in its own process.
_exit = os._exit
_PR_SET_CHILD_SUBREAPER = 36
_CLONE_NEWPID = 0x20000000
_SLACK = 2.0
_MAX_ERROR = 3000


def _warm_up(with_torch: bool = True) -> None:
    """Import and exercise the libraries once, so that children start warm. Without PyTorch
    (a NumPy-only exercise) it is not imported: its folders are hidden from such a worker,
    and a worker that starts without it is ready in a fraction of the time."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    import numpy as np

    x = np.ones((3, 4))
    np.tanh(x @ x.T).sum()
    np.random.default_rng(0).choice(3, p=[0.2, 0.3, 0.5])
    if not with_torch:
        return
    import torch

    torch.set_num_threads(1)
    # The first optimiser step imports much of PyTorch's compiler machinery (seconds): pay it
    # here once rather than in every child.
    embed, rnn = torch.nn.Embedding(5, 4), torch.nn.RNN(4, 3, batch_first=True)
    cell = torch.nn.RNNCell(3, 3)
    params = [*embed.parameters(), *rnn.parameters(), *cell.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    H, _ = rnn(embed(torch.zeros(2, 5, dtype=torch.long)))
    loss = torch.nn.functional.cross_entropy(H.reshape(-1, 3), torch.zeros(10, dtype=torch.long))
    loss = loss + torch.nn.functional.mse_loss(cell(H[:, 0], None), torch.zeros(2, 3))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    torch.nn.utils.clip_grad_value_(params, 1.0)
    optimizer.step()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _kill_everything_below(pid: int) -> None:
    """Kill the child's process group and every process re-parented to us; reap them all."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    me = os.getpid()
    for _ in range(100):
        left = _children(me)
        for child in left:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:
            try:
                reaped, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                reaped = 0
            if reaped == 0:
                break
        if not left:
            return
        time.sleep(0.01)


def _remove_at(parent_fd: int, name: str) -> None:
    """Remove ``name`` (a file or a folder tree) below ``parent_fd`` without following links.

    Only needed without namespaces (with them, the mount point is empty): every step opens
    relative to a folder already open, with O_NOFOLLOW, and nothing is chmod-ed by path.
    """
    try:
        os.unlink(name, dir_fd=parent_fd)
        return
    except FileNotFoundError:
        return
    except (IsADirectoryError, PermissionError):
        pass
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    try:
        for entry in list(os.scandir(fd)):
            _remove_at(fd, entry.name)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)


class _Namespaces:
    """Forks children as the first process of a new PID namespace each (the zygote's own PID
    namespace stays the same: it joins it back after every fork)."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    def fork(self) -> int:
        if self.libc.unshare(_CLONE_NEWPID) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"unshare(CLONE_NEWPID): {os.strerror(err)}")
        try:
            pid = os.fork()
        except BaseException:
            self._rejoin()
            raise
        if pid != 0:
            self._rejoin()
        return pid

    def _rejoin(self) -> None:
        if self.libc.setns(self.own, _CLONE_NEWPID) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns(CLONE_NEWPID): {os.strerror(err)}")


def _handshake(fd: int, deadline: float) -> str | None:
    """None when the child says it is confined; otherwise why it is not."""
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        if data[:1] == b"K":
            return None
    if data[:1] == b"E":
        return data[1:].decode(errors="replace")[:500]
    return "the child ended before it was confined"


def _child(config, job, blobs, scratch, timeout, baseline_vm) -> None:
    """The forked child (fd 3: results, fd 4: handshake); never returns."""
    try:
        confine.confine(config, scratch, timeout, baseline_vm)
    except BaseException as exc:  # noqa: BLE001 - never run student code unconfined
        message = f"{type(exc).__name__}: {exc}"
        try:
            os.write(4, b"E" + message.encode(errors="replace")[:_MAX_ERROR])
        finally:
            _exit(71)
    code = 0
    try:
        os.write(4, b"K")
        os.close(4)
        execute.run_submission(
            job,
            blobs,
            3,
            int(config["max_frame"]),
            bool(config.get("reap_all")),
            numpy_only=not config.get("torch", True),
        )
    except BaseException as exc:  # noqa: BLE001 - reported as an abnormal end
        code = 70
        try:
            text = "".join(traceback.format_exception(exc))[-2000:]
            wire.write_frame(3, {"type": "internal", "message": text})
        except BaseException:  # noqa: BLE001 - the channel itself may be what broke
            pass
    finally:
        _exit(code)


def run_job(config, job, blobs, out_fd, baseline_vm, scratch_fd, namespaces) -> None:
    started = time.monotonic()
    timeout = float(job["timeout"])
    cases = [len(test["calls"]) for test in job["tests"]]
    # Deadlines on this process's clock, fixed from the job's start: the program's frame by
    # one phase (timeout + slack), test i's end by i + 2 phases, the child's exit soon after its
    # last frame. No frame the child sends can move one later.
    phase = timeout + _SLACK
    job_deadline = started + phase * (len(cases) + 1)
    name = f"submission-{secrets.token_hex(8)}"
    os.mkdir(name, 0o700, dir_fd=scratch_fd)
    scratch = os.path.join(config["scratch_root"], name)
    if config.get("uid") is not None and namespaces is None:
        os.chown(name, config["uid"], config["gid"], dir_fd=scratch_fd)
    mine, theirs = socket.socketpair()
    ready_r, ready_w = os.pipe()
    pid = namespaces.fork() if namespaces is not None else os.fork()
    if pid == 0:
        mine.close()
        os.close(ready_r)
        os.dup2(theirs.fileno(), 3)
        os.dup2(ready_w, 4)
        _child(config, job, blobs, scratch, timeout, baseline_vm)
    theirs.close()
    os.close(ready_w)
    status, detail = "exited", ""
    expect = wire.Expect(cases, int(config["max_test"]), int(config["max_total"]))
    stream = wire.ChildStream(mine.fileno(), pid, expect.limit())
    try:
        failure = _handshake(ready_r, started + phase)
        if failure is not None:
            status, detail = "unconfined", failure
        finished_at = None
        while failure is None:
            if expect.finished:
                finished_at = finished_at or time.monotonic()
                deadline = min(job_deadline, finished_at + wire.ChildStream.GRACE)
            else:
                deadline = min(job_deadline, started + phase * (expect.test + 2))
            stream.reader.max_bytes = min(int(config["max_frame"]), expect.limit())
            frame = stream.next(deadline)
            if frame is None:
                break
            inner, frame_blobs = frame
            expect.check(inner, [len(b) for b in frame_blobs], stream.reader.last_size)
            wire.write_frame(out_fd, {"type": "child", "inner": inner}, frame_blobs)
    except wire.FrameTimeout:
        status, detail = "timeout", f"{timeout:g} s per phase"
    except wire.FrameError as err:
        status, detail = "violation", str(err)[:500]
    finally:
        os.close(ready_r)
    if stream.wait_status is None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    code = stream.finish()
    mine.close()
    if namespaces is None:
        _kill_everything_below(pid)
    try:
        os.rmdir(name, dir_fd=scratch_fd)
    except OSError:
        _remove_at(scratch_fd, name)
    done = {"type": "done", "status": status, "detail": detail}
    if os.WIFSIGNALED(code):
        done["signal"] = signal.Signals(os.WTERMSIG(code)).name
    elif os.WIFEXITED(code):
        done["code"] = os.WEXITSTATUS(code)
    wire.write_frame(out_fd, done)


def main() -> None:
    # Frames travel on private copies of stdin and stdout; 0, 1 and 2 then point at /dev/null
    # so that nothing printed by accident can corrupt the stream.
    in_fd, out_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    reader = wire.FrameReader(in_fd, MAX_JOB_BYTES)
    frame = reader.read()
    if frame is None:
        return
    config, _ = frame
    _warm_up(bool(config.get("torch", True)))
    libc = ctypes.CDLL(None, use_errno=True)
    subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    baseline_vm = confine.virtual_memory_bytes()
    os.makedirs(config["scratch_root"], exist_ok=True)
    scratch_fd = os.open(config["scratch_root"], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    namespaces = _Namespaces() if config.get("namespaces") else None
    wire.write_frame(
        out_fd,
        {
            "type": "ready",
            "pid": os.getpid(),
            "uid": os.getuid(),
            "subreaper": subreaper,
            "baseline_vm": baseline_vm,
            "namespaces": namespaces is not None,
            "python": sys.version.split()[0],
        },
    )
    while True:
        frame = reader.read()
        if frame is None:
            return
        job, blobs = frame
        if job.get("type") != "job":
            continue
        try:
            run_job(config, job, blobs, out_fd, baseline_vm, scratch_fd, namespaces)
        except Exception as exc:  # noqa: BLE001 - report and stay up for the next job
            wire.write_frame(
                out_fd,
                {
                    "type": "done",
                    "status": "grader_error",
                    "detail": f"{type(exc).__name__}: {exc}"[:500],
                },
            )
