"""The pre-warmed worker: imports NumPy and PyTorch once, then forks one child per submission.

Started by the parent (inside bubblewrap when available) as::

    python -I -c "import sys; sys.path.insert(0, ROOT); from child.zygote import main; main()"

It reads frames on stdin: one ``config`` frame, then ``job`` frames, one at a time. For each job
it makes a scratch directory, forks, confines the child (:mod:`.confine`) and relays the child's
frames to stdout wrapped as ``{"type": "child", "inner": ...}``, so that only the zygote can say
``done``. It enforces the wall-clock limit of each phase (the program, then each test), kills the
child's whole process tree afterwards (it is their subreaper), and removes the scratch directory.

Forking costs a few tens of milliseconds where starting Python and importing PyTorch costs
seconds, and every child starts from the same clean, already-imported state.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time
import traceback

from . import confine, execute, wire

MAX_JOB_BYTES = 64 << 20
# Saved before any student code runs: a child's code may replace os._exit in its own process.
_exit = os._exit
_PR_SET_CHILD_SUBREAPER = 36
_SLACK = 2.0


def _warm_up() -> None:
    """Import and exercise the libraries once, so that children start warm."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    import numpy as np
    import torch

    torch.set_num_threads(1)
    x = np.ones((3, 4))
    np.tanh(x @ x.T).sum()
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
    np.random.default_rng(0).choice(3, p=[0.2, 0.3, 0.5])


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


def _remove(path: str) -> None:
    def unlock(func, target, _exc):
        # A student may have made a folder unreadable; its owner (or root) can open it again.
        os.chmod(os.path.dirname(target), stat.S_IRWXU)
        if os.path.isdir(target) and not os.path.islink(target):
            os.chmod(target, stat.S_IRWXU)
        func(target)

    shutil.rmtree(path, onerror=unlock)


def run_job(config: dict, job: dict, blobs: list, out_fd: int, baseline_vm: int | None) -> None:
    timeout = float(job["timeout"])
    scratch = tempfile.mkdtemp(prefix="submission-", dir=config["scratch_root"])
    if config.get("uid") is not None:
        os.chown(scratch, config["uid"], config["gid"])
    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            mine.close()
            os.dup2(theirs.fileno(), 3)  # fd 3 is the one descriptor confine() keeps
            confine.confine(config, scratch, 3, timeout, baseline_vm)
        except BaseException as exc:  # noqa: BLE001 - never run student code unconfined
            message = f"{type(exc).__name__}: {exc}"
            try:
                wire.write_frame(3, {"type": "unconfined", "message": message})
            finally:
                _exit(71)
        try:
            execute.run_submission(
                job, blobs, 3, int(config["max_frame"]), bool(config.get("reap_all"))
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
    theirs.close()
    status, detail = "exited", ""
    stream = wire.ChildStream(mine.fileno(), pid, int(config["max_frame"]))
    deadline = time.monotonic() + timeout + _SLACK
    try:
        while (frame := stream.next(deadline)) is not None:
            inner, frame_blobs = frame
            kind = inner.get("type") if isinstance(inner, dict) else None
            if kind == "unconfined":
                status, detail = "unconfined", str(inner.get("message", ""))[:500]
                break
            if kind in ("program", "test_end"):
                deadline = time.monotonic() + timeout + _SLACK
            wire.write_frame(out_fd, {"type": "child", "inner": inner}, frame_blobs)
    except wire.FrameTimeout:
        status, detail = "timeout", f"{timeout:g} s"
    except wire.FrameError as err:
        status, detail = "garbled", str(err)[:500]
    if stream.wait_status is None and status != "exited":
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    code = stream.finish()
    mine.close()
    _kill_everything_below(pid)
    _remove(scratch)
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
    _warm_up()
    libc = ctypes.CDLL(None, use_errno=True)
    subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    baseline_vm = confine.virtual_memory_bytes()
    os.makedirs(config["scratch_root"], exist_ok=True)
    wire.write_frame(
        out_fd,
        {
            "type": "ready",
            "pid": os.getpid(),
            "uid": os.getuid(),
            "subreaper": subreaper,
            "baseline_vm": baseline_vm,
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
            run_job(config, job, blobs, out_fd, baseline_vm)
        except Exception as exc:  # noqa: BLE001 - report and stay up for the next job
            wire.write_frame(
                out_fd,
                {
                    "type": "done",
                    "status": "grader_error",
                    "detail": f"{type(exc).__name__}: {exc}"[:500],
                },
            )
