"""What the confined child does with one submission: run its code, then each test on its own.

The notebook's code runs once, statement group by statement group, each failure recorded and
the rest run anyway (as a notebook run with errors allowed). Every test then runs in a
grandchild forked from that state: a test that hangs, exits, crashes or patches a library
affects that test only, and every test starts from the same state.

Outputs are sent case by case as they are produced, so a test that dies halfway still reports
the cases it finished. This process runs student code, so nothing it says is trusted by the
parent: these are claims about outputs, checked there.

Once a function has timed out, the later tests that call it (directly, or through another
graded function, as the job's ``uses`` says) are not run again: each would only wait out its
own timeout. They end with status ``after_timeout``.

For a NumPy-only exercise, ``import torch`` fails with :data:`NUMPY_ONLY` (:class:`NoTorch`);
the sandbox hides PyTorch's files as well, so this guard is the message more than the wall
(except at level ``rlimits``, where it is the only layer).
"""

from __future__ import annotations

import ast
import builtins
import importlib.abc
import importlib.util
import linecache
import os
import signal
import sys
import time
import traceback
import types

# The learner's code runs in this process and may replace builtins; the grader's side keeps
# its own references, taken before any of that code runs.
from builtins import (  # noqa: UP029 - see the comment above
    BaseException,
    ChildProcessError,
    Exception,
    MemoryError,
    ModuleNotFoundError,
    OSError,
    SyntaxError,
    any,
    callable,
    compile,
    dict,
    enumerate,
    exec,
    float,
    int,
    isinstance,
    len,
    list,
    max,
    round,
    str,
    type,
)

from . import probes, wire

MAX_MESSAGE = 600
_exit = os._exit  # kept for the child's own use before the learner's code can replace it


class _ShellStub:
    """What ``get_ipython()`` returns here: magics and shell escapes do nothing."""

    def __getattr__(self, name):
        return _nothing


def _nothing(*args, **kwargs):
    return None


def _text(obj, limit: int = MAX_MESSAGE) -> str:
    try:
        text = str(obj)
    except Exception as err:  # noqa: BLE001 - a student's __str__ may raise anything
        text = f"<unprintable: {type(err).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_error(exc: BaseException) -> dict:
    """Type, message and the last line of student code that was running.

    The frames' local variables are released first: after a MemoryError they may still hold
    everything the code allocated, and describing the error needs a little memory too.
    """
    traceback.clear_frames(exc.__traceback__)
    try:
        return _describe(exc)
    except MemoryError:
        return {"type": type(exc).__name__, "message": "", "where": None}


def _describe(exc: BaseException) -> dict:
    where = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith("<cell "):
            where = {
                "origin": filename[1:-1],
                "line": lineno,
                "code": linecache.getline(filename, lineno).strip()[:200],
                "function": frame.f_code.co_name,
            }
    if where is None and isinstance(exc, SyntaxError) and (exc.filename or "").startswith("<"):
        where = {
            "origin": exc.filename[1:-1],
            "line": exc.lineno or 0,
            "code": (exc.text or "").strip()[:200],
            "function": "<module>",
        }
    return {"type": _text(type(exc).__name__, 100), "message": _text(exc), "where": where}


class CourseModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the stand-in course package sent with the job (see the parent's givens.py).

    Any other ``autograder`` module is refused, so that nothing of the real package can be
    imported even where the sandbox could reach its files.
    """

    def __init__(self, sources: dict):
        self.sources = sources

    def find_spec(self, name, path=None, target=None):
        if name in self.sources:
            package = any(other.startswith(name + ".") for other in self.sources)
            return importlib.util.spec_from_loader(name, self, is_package=package)
        if name == "autograder" or name.startswith("autograder."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        filename = f"<course {module.__name__}>"
        module.__file__ = filename
        source = self.sources[module.__name__]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)


def install_modules(sources: dict) -> None:
    for name in [m for m in sys.modules if m == "autograder" or m.startswith("autograder.")]:
        del sys.modules[name]
    sys.meta_path.insert(0, CourseModules(dict(sources)))


def new_namespace() -> dict:
    module = types.ModuleType("__main__")
    module.__dict__.update(
        {"__builtins__": builtins, "get_ipython": _ShellStub, "display": _nothing}
    )
    sys.modules["__main__"] = module
    return module.__dict__


NUMPY_ONLY = "this exercise is NumPy only: torch is not available in the grader"
_TORCH = ("torch", "functorch", "torchgen")


class NoTorch(importlib.abc.MetaPathFinder):
    """Refuses PyTorch's packages with :data:`NUMPY_ONLY` instead of "No module named"."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _TORCH:
            raise ModuleNotFoundError(NUMPY_ONLY, name=name)
        return None


def torch_names(source: str) -> set:
    """The names that the import statements of ``source`` would bind to PyTorch's packages."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in _TORCH:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _TORCH:
            names.update(alias.asname or alias.name for alias in node.names)
    return names


_REFUSED: set = set()  # names left unbound because their PyTorch import was refused


def _explain(error: dict, exc: BaseException) -> dict:
    """A NameError for a name whose PyTorch import was refused says why."""
    if isinstance(exc, NameError) and getattr(exc, "name", None) in _REFUSED:
        error["message"] = _text(f"{error['message']}: its import failed, as {NUMPY_ONLY}")
    return error


class StatementTimeout(BaseException):
    """Raised in a top-level statement that runs too long (not an Exception: a bare
    ``except Exception`` in the learner's code does not swallow it)."""


class ExitRefused(BaseException):
    """Raised instead of ending the process when the learner's code calls os._exit()."""


def _refuse_exit(*args, **kwargs):
    raise ExitRefused("os._exit() and os.abort() are not allowed while grading")


def _interrupt(signum, frame):
    # Fire again soon: an exception raised in some places is only printed, not propagated (in
    # os.fork()'s at-fork hooks, where a slow fork makes the alarm land). The statement's own
    # ``finally`` stops the timer once it has really stopped.
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    raise StatementTimeout("this statement ran too long and was stopped")


def run_program(program: list, ns: dict, budget: float) -> list:
    """Execute each snippet in order; return the errors (one per snippet that raised).

    A snippet may use at most half of the time left, so that one endless loop at the top level
    of a cell costs that statement only, and the rest of the notebook is still graded.
    """
    errors = []
    deadline = time.monotonic() + budget
    previous = signal.signal(signal.SIGALRM, _interrupt)
    try:
        for snippet in program:
            origin, source = snippet["origin"], snippet["source"]
            filename = f"<{origin}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            signal.setitimer(signal.ITIMER_REAL, max(0.01, (deadline - time.monotonic()) / 2))
            # The timer is stopped before the error is described: describing it frees what the
            # statement allocated, which takes long enough after a memory hog for the timer to
            # fire in there and take the whole program down.
            failure = None
            try:
                try:
                    exec(compile(source, filename, "exec"), ns)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt included
                failure = exc
            if failure is not None:
                errors.append({"origin": origin, **describe_error(failure)})
                if isinstance(failure, ModuleNotFoundError) and str(failure) == NUMPY_ONLY:
                    _REFUSED.update(torch_names(source))
                failure = None
    finally:
        signal.signal(signal.SIGALRM, previous)
    return errors


def _call(call: dict, blobs: list, ns: dict) -> dict:
    kind, name = call["kind"], call["name"]
    if name not in ns:
        return {"missing": True}
    target = ns[name]
    if kind == "value":
        return {"result": target}
    args = wire.load(call["args"], blobs, tagged=False, functions=probes.FUNCTIONS)
    if kind == "module":
        init = wire.load(call["init"], blobs, tagged=False)
        options = wire.load(call.get("options"), blobs, tagged=False)
        # The parent's request (weights and operations) travels as the call's options; the
        # generic runner returns raw tensors only, and the parent judges them.
        return {"result": probes.run_module(target, init, options)}
    if not callable(target):
        return {
            "error": {
                "type": "TypeError",
                "message": f"{name} is a {type(target).__name__}, not a function",
                "where": None,
            }
        }
    result = target(*args)
    return {"result": result, "args_after": args} if call.get("keep_args") else {"result": result}


def run_test(index: int, test: dict, blobs: list, ns: dict, fd: int) -> None:
    for case, call in enumerate(test["calls"]):
        started = time.monotonic()
        try:
            reply = _call(call, blobs, ns)
        except BaseException as exc:  # noqa: BLE001 - whatever the student's code raised
            reply = {"error": _explain(describe_error(exc), exc)}
        out_blobs: list = []
        header = {"type": "case", "test": index, "case": case}
        header["seconds"] = round(time.monotonic() - started, 4)
        try:
            for key in ("result", "args_after"):
                if key in reply:
                    header[key] = wire.dump(reply.pop(key), out_blobs)
        except Exception as exc:  # noqa: BLE001 - e.g. too many values to send back
            out_blobs = []
            header.pop("result", None)
            header.pop("args_after", None)
            reply = {"error": {"type": "OutputError", "message": _text(exc), "where": None}}
        header.update(reply)
        wire.write_frame(fd, header, out_blobs)


def _wait_test(pid: int, fd: int, out_fd: int, timeout: float, max_bytes: int):
    stream = wire.ChildStream(fd, pid, max_bytes)
    deadline = time.monotonic() + timeout
    status, detail = "ok", ""
    try:
        while (frame := stream.next(deadline)) is not None:
            wire.write_frame(out_fd, *frame)
    except wire.FrameTimeout:
        status, detail = "timeout", f"{timeout:g} s"
    except wire.FrameError as err:
        status, detail = "garbled", str(err)
    if status != "ok" and stream.wait_status is None:
        os.kill(pid, signal.SIGKILL)
    code = stream.finish()
    if status == "ok" and os.WIFSIGNALED(code):
        sig = os.WTERMSIG(code)
        status = {signal.SIGXCPU: "cpu", signal.SIGKILL: "killed"}.get(sig, "signal")
        detail = signal.Signals(sig).name
    elif status == "ok" and os.WIFEXITED(code) and os.WEXITSTATUS(code) != 0:
        status, detail = "exit", str(os.WEXITSTATUS(code))
    return status, detail


_PR_SET_CHILD_SUBREAPER = 36


def _clean_up(reap_all: bool) -> None:
    """Kill and reap whatever the learner's code left running (a process flood would otherwise
    use up the process limit that the next test needs to start).

    ``reap_all`` says that ``kill(-1)`` reaches only this submission's processes here (a PID
    namespace and a uid of its own, or Landlock's signal scoping); otherwise only the test's
    own process group is killed.
    """
    if reap_all:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if reap_all else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _stuck(test: dict, uses: dict, timed_out: set) -> list:
    """The functions that timed out earlier and that this test's calls reach."""
    names = {call["name"] for call in test["calls"]}
    reached = set(names)
    for name in names:
        callees = uses.get(name) if isinstance(uses, dict) else None
        if isinstance(callees, list):
            reached.update(str(c) for c in callees)
    return sorted(reached & timed_out)


def run_submission(
    job: dict,
    blobs: list,
    out_fd: int,
    max_bytes: int,
    reap_all: bool = False,
    numpy_only: bool = False,
):
    """Run one job (see zygote); results go to ``out_fd`` as frames."""
    import ctypes

    ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    timeout = float(job["timeout"])
    if numpy_only:
        for name in [m for m in sys.modules if m.split(".")[0] in _TORCH]:
            del sys.modules[name]
        sys.meta_path.insert(0, NoTorch())
    install_modules(job.get("modules") or {})
    # Ending the process would take the remaining statements and tests with it; the isolation
    # does not depend on this (a process that dies anyway only loses its own results).
    os._exit = _refuse_exit
    os.abort = _refuse_exit
    ns = new_namespace()
    errors = run_program(job["program"], ns, 0.8 * timeout)
    _clean_up(reap_all)
    wire.write_frame(out_fd, {"type": "program", "errors": errors})
    uses, timed_out = job.get("uses") or {}, set()
    for index, test in enumerate(job["tests"]):
        stuck = _stuck(test, uses, timed_out)
        if stuck:
            end = {"type": "test_end", "test": index, "status": "after_timeout"}
            wire.write_frame(out_fd, {**end, "detail": ", ".join(stuck)[:200]})
            continue
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.setpgid(0, 0)
                os.close(read_fd)
                run_test(index, test, blobs, ns, write_fd)
            except BaseException:  # noqa: BLE001 - the pipe closed; nothing left to report to
                code = 3
            finally:
                _exit(code)
        os.close(write_fd)
        status, detail = _wait_test(pid, read_fd, out_fd, timeout, max_bytes)
        os.close(read_fd)
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _clean_up(reap_all)
        if status in ("timeout", "cpu"):
            timed_out.update(call["name"] for call in test["calls"])
        end = {"type": "test_end", "test": index, "status": status, "detail": detail}
        wire.write_frame(out_fd, end)
