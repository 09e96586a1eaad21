"""The grading pipeline: load -> isolate -> run -> compare -> diagnose -> record.

:func:`grade` is the thin imperative shell around the functional core. It finds the
submissions (``SUBMITTED/<student_id>/<assignment>/<notebook>.ipynb``), loads each notebook and
finds its code (:mod:`.notebook`, :mod:`.program`), draws fresh inputs for every submission from
the assignment's declaration (:mod:`.assignments`), runs the code in sandboxed workers
(:mod:`.sandbox`, :mod:`.run`), judges what came back against the references (:mod:`.judges`,
:mod:`.compare`, :mod:`.diagnose`) and writes grades and feedback (:mod:`.record`).

Every submission gets a row per test, whatever happened to it; only the instructor's own
mistakes (a missing folder, an unknown or inconsistent assignment) raise :class:`SetupError`.

Every output file is written atomically. A *resumable* batch (``Options.resumable``, what
``rnn-course grade`` runs) is also safe to interrupt: it holds ``OUT/.lock`` while it runs (a
second run on the same folder raises :class:`files.Busy`), saves each notebook's result in
``OUT/.state`` as soon as it is judged (:mod:`.state`), and on the next run reuses the saved
results of submissions that did not change.
"""

from __future__ import annotations

import ast
import contextlib
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import i18n
from . import assignments as declarations
from . import files, givens, late, record, sandbox, state, term
from . import notebook as nbload
from . import program as code
from .run import Call, Job, Pool, RunResult, TestRun, WorkerError
from .spec import Assignment, Case, Verdict

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"


class SetupError(Exception):
    """The instructor's mistake: nothing was graded."""


class GraderError(Exception):
    """The grader itself cannot work safely here (e.g. the sandbox could not be set up)."""


@dataclass(frozen=True)
class Options:
    workers: int | None = None  # default: the number of CPUs
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    isolation: str = "auto"
    solutions: Path = declarations.SOLUTIONS_DIR
    seed: int | None = None  # None: fresh inputs on every run
    max_notebook_mb: float = nbload.MAX_NOTEBOOK_MB
    # Called with (notebooks run so far, notebooks to run): once with 0 before the workers
    # start, then after each notebook.
    progress: Callable[[int, int], None] | None = None
    # The batch workflow of `rnn-course grade`, off for a bare call: hold OUT/.lock while
    # running, save each result in OUT/.state as it is judged, and (with ``resume``) reuse the
    # saved results of unchanged submissions.
    resumable: bool = False
    resume: bool = True
    summary_page: bool = False  # write OUT/summary.html
    gradebook: str | None = None  # nbgrader database URL to record the scores in; None: none
    # The course's nbgrader folders (handback.Folders): each graded notebook is also written to
    # autograded/ (and submitted/), where formgrader opens it; None: not written.
    nbgrader_folders: object | None = None
    # Grade these again even if unchanged: "all", a student id, an assignment, or
    # "STUDENT/ASSIGNMENT" (``resume=False`` is "all").
    regrade: tuple[str, ...] = ()
    # Run the jobs on this Dask cluster (a scheduler address, or "local:N"); None: here.
    dask: str | None = None


@dataclass
class Submission:
    student: str
    assignment: Assignment
    path: Path | None
    notes: list[str] = field(default_factory=list)
    problem: str | None = None  # why it cannot be run (unreadable, not submitted...)
    problem_status: str = "unreadable"
    cases: list[list[Case]] = field(default_factory=list)
    uses: dict = field(default_factory=dict)  # which required names each definition calls
    broken: dict = field(default_factory=dict)  # required names in a cell with a syntax error
    seed: tuple[int, int] = (0, 0)
    key: str | None = None  # what its saved result depends on (see state.submission_key)
    # Where it came from, for the term's bookkeeping (see term.Candidate).
    candidate: term.Candidate | None = None
    name: str | None = None  # the student's name, when the LMS gave one


@dataclass
class Summary:
    rows: list[record.Row]
    isolation: sandbox.Isolation
    seconds: float
    run_seconds: list[float]
    warnings: list[str]
    reports: list[record.Report] = field(default_factory=list)
    graded: int = 0  # notebooks judged in this run
    unchanged: int = 0  # results reused from an earlier run (submission unchanged)
    gradebook: dict | None = None  # what was recorded in nbgrader's gradebook
    gradebook_error: str | None = None
    groups: list[term.Group] = field(default_factory=list)  # every file's fate, per student
    due: dict[str, str | None] = field(default_factory=dict)  # assignment -> due date

    @property
    def median_run_seconds(self) -> float:
        return statistics.median(self.run_seconds) if self.run_seconds else 0.0


def _visible_dirs(folder: Path) -> list[str]:
    """Sub-folders, and links in their place (even dangling ones): a link gets a refusal row."""
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if (p.is_symlink() or p.is_dir()) and not p.name.startswith(".")
    )


def _find_notebooks(folder: Path, expected: str) -> tuple[list[Path], list[dict], str | None]:
    """Every notebook in a submission folder, the expected one first; the files refused (with
    the reason); and, when there is nothing to grade, why.

    Symbolic links are not followed (one could point at the solutions): a student folder or an
    assignment folder that is a link gives nothing, a notebook that is one is refused.
    """
    for part, what in ((folder.parent, "student folder"), (folder, "assignment folder")):
        if part.is_symlink():
            return [], [], f"the {what} {part.name} {nbload.SYMLINK}"
    if not folder.is_dir():
        return [], [], f"no {expected} in the submission"
    found, refused = [], []
    for p in sorted(folder.iterdir(), key=lambda p: (p.name != expected, p.name)):
        if p.name.startswith(".") or p.name == "timestamp.txt":  # hidden, nbgrader's own
            continue
        if not p.name.lower().endswith(".ipynb"):
            if p.is_file() or p.is_symlink():
                refused.append({"file": p.name, "reason": "not a notebook (.ipynb)"})
            continue
        if p.is_symlink():
            refused.append({"file": p.name, "reason": f"{p.name} {nbload.SYMLINK}"})
        elif p.is_file():
            found.append(p)
    if found:
        return found, refused, None
    linked = [r for r in refused if nbload.SYMLINK in r["reason"]]
    if linked:
        return [], refused, linked[0]["reason"]
    return [], refused, f"no {expected} in the submission"


def _find_notebook(folder: Path, expected: str) -> tuple[Path | None, str]:
    """The notebook to grade first in a submission folder, and a note when it is not the
    expected one (see :func:`_find_notebooks` for all of them)."""
    found, _, problem = _find_notebooks(folder, expected)
    if not found:
        return None, problem or ""
    if found[0].name == expected:
        return found[0], ""
    return found[0], f"graded {found[0].name} (expected {expected})"


def collect(submitted: Path, wanted: list[str] | None, solutions: Path):
    """(students, assignments to grade, warnings); SetupError for the instructor's mistakes."""
    if not submitted.is_dir():
        raise SetupError(f"the submissions folder {submitted} does not exist")
    students = _visible_dirs(submitted)
    found = sorted({a for s in students for a in _visible_dirs(submitted / s)})
    warnings = []
    if wanted:
        names = list(dict.fromkeys(wanted))
    else:
        available = set(declarations.known(solutions))
        names = [a for a in found if a in available]
        for a in found:
            if a not in available:
                warnings.append(f"skipped {a!r}: no solutions/{a}/checks.py declares its checks")
    try:
        loaded = [declarations.load(name, solutions) for name in names]
    except declarations.AssignmentError as err:
        raise SetupError(str(err)) from None
    if not students:
        warnings.append(f"no student folders in {submitted}")
    return students, loaded, warnings


def make_calls(test, cases: list[Case]) -> tuple[Call, ...]:
    if test.kind == "value":
        return tuple(Call("value", test.name) for _ in cases)
    if test.kind == "module":
        return tuple(
            Call(
                "module",
                test.name,
                args=tuple(tuple(inputs) for inputs in case.args[1]),
                init=tuple(case.args[0]),
                seed=int(case.extra.get("seed", 0)),
                grad=True,
                options=dict(case.extra.get("options", {})),
            )
            for case in cases
        )
    return tuple(
        Call("call", test.name, tuple(case.args), keep_args=test.keep_args) for case in cases
    )


def prepare(
    submission: Submission, entropy: int, index: int, max_mb: float, timeout: float
) -> Job | None:
    """Read the notebook and draw the inputs; None when there is nothing to run."""
    if submission.path is None:
        return None
    try:
        cells = nbload.read_notebook(submission.path, max_mb)
    except nbload.NotebookError as err:
        submission.problem = f"the notebook could not be read: {err}"
        return None
    assignment = submission.assignment
    found = code.find_program(cells, assignment.required)
    submission.notes.extend(found.notes)
    submission.uses = found.uses
    submission.broken = found.broken
    submission.seed = (entropy, index)
    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(index,)))
    submission.cases = [test.cases(rng) for test in assignment.tests]
    tests = tuple(make_calls(t, c) for t, c in zip(assignment.tests, submission.cases, strict=True))
    given = givens.course_modules(assignment.givens, assignment.name)
    torch = not assignment.numpy_only
    return Job(found.snippets, tests, timeout, given, torch=torch, uses=found.uses)


def _program_failure(result: RunResult, timeout: float) -> tuple[str, str] | None:
    """(status, message) when the notebook's own code stopped the run before any test."""
    if result.program_finished:
        return None
    if result.status == "timeout":
        return "timeout", (
            f"the notebook's code did not finish within {timeout:g} s, so no test could run: "
            "is there a long computation or an endless loop at the top level of a cell?"
        )
    if result.status == "grader_error":
        return (
            "error",
            f"the grader failed on this notebook ({result.detail}); tell your instructor",
        )
    if result.signal:
        return "crashed", (
            f"the notebook's code was stopped ({result.signal}) before any test could run: it "
            "used too much memory or CPU time, or crashed"
        )
    if result.status == "garbled":
        return "crashed", "the notebook's code wrote garbage into the grader's results channel"
    return "crashed", (
        f"the notebook's code ended the grading process (exit code {result.exit_code}) before "
        "any test could run: remove os._exit() or exit() calls from the top level of cells"
    )


def judge_submission(submission: Submission, result: RunResult, timeout: float) -> list[Verdict]:
    """One verdict per test, from what the run returned (pure apart from the judges)."""
    assignment = submission.assignment
    if result.status == "violation":
        message = (
            "the notebook's code tampered with the grader's results channel, so nothing it "
            f"returned is graded ({result.detail})"
        )
        return [Verdict(0.0, "error", message) for _ in assignment.tests]
    failure = _program_failure(result, timeout)
    if failure is not None:
        status, message = failure
        return [Verdict(0.0, status, message) for _ in assignment.tests]
    verdicts = []
    for test, cases, run in zip(assignment.tests, submission.cases, result.tests, strict=True):
        if run.status == "not_run" and all(o is None for o in run.cases):
            run = TestRun(run.cases, result.status, result.detail or "the run stopped early")
        if run.status == "after_timeout":
            verdicts.append(Verdict(0.0, "not_run", after_timeout_text(test.name, run.detail)))
            continue
        try:
            verdicts.append(test.judge(test, cases, run))
        except Exception as err:  # noqa: BLE001 - a judge bug must not stop the batch
            verdicts.append(
                Verdict(
                    0.0,
                    "error",
                    f"the grader failed to judge this test ({err!r}); tell your instructor",
                )
            )
    verdicts = blame_syntax(assignment.tests, verdicts, submission.broken)
    return blame_callees(assignment.tests, verdicts, submission.uses)


def blame_syntax(tests, verdicts: list[Verdict], broken: dict) -> list[Verdict]:
    """A test whose function is missing because the cell defining it does not parse says so,
    with the line, instead of asking the learner to keep the function's name."""
    return [
        Verdict(v.fraction, v.status, broken[t.name], v.details)
        if v.status == "missing" and t.name in broken
        else v
        for t, v in zip(tests, verdicts, strict=True)
    ]


def after_timeout_text(name: str, stuck: str) -> str:
    """Why a test was not run: a function it calls timed out in an earlier test."""
    if stuck == name or not stuck:
        return i18n._("{name} timed out in an earlier test, so this test was not run").format(
            name=name
        )
    return i18n._(
        "{name} calls {stuck}, which timed out in an earlier test, so this test was not run"
    ).format(name=name, stuck=stuck)


def blame_callees(tests, verdicts: list[Verdict], uses: dict) -> list[Verdict]:
    """A failing test with no diagnosis of its own, whose function calls another graded
    function that fails too, says so: the learner should fix the callee first."""
    failing = {t.name for t, v in zip(tests, verdicts, strict=True) if v.fraction < 1}
    out = []
    for test, verdict in zip(tests, verdicts, strict=True):
        callees = sorted(uses.get(test.name, set()) & failing)
        if verdict.fraction < 1 and not verdict.details and callees and verdict.status != "not_run":
            note = (
                f"it calls {', '.join(callees)}, which fails its own test: fix "
                f"{'that' if len(callees) == 1 else 'those'} first"
            )
            verdict = Verdict(
                verdict.fraction, verdict.status, f"{verdict.message}; {note}", (note,)
            )
        out.append(verdict)
    return out


def _isolation(options: Options, out: Path) -> sandbox.Isolation:
    try:
        isolation = sandbox.probe(options.isolation)
        sandbox.check_view(isolation, [options.solutions, REFERENCE_DIR, DATA_DIR, out])
    except sandbox.SandboxError as err:
        raise GraderError(str(err)) from None
    return isolation


def _report(sub: Submission, result: RunResult | None, timeout: float) -> record.Report:
    if sub.problem is not None:
        verdicts = [Verdict(0.0, sub.problem_status, sub.problem) for _ in sub.assignment.tests]
    else:
        verdicts = judge_submission(sub, result, timeout)
    notebook = Path(sub.assignment.notebook).stem
    notes = list(sub.notes)
    if sub.assignment.hand_marked and sub.path is not None:
        cells = ", ".join(f"{c.id} ({c.points:g})" for c in sub.assignment.hand_marked)
        notes.append(
            i18n._("marked by hand by your instructor, not in the points above: {cells}").format(
                cells=cells
            )
        )
    return record.Report(sub.student, sub.assignment, notebook, verdicts, notes, result, sub.seed)


def run_submissions(
    submissions: list[Submission],
    isolation: sandbox.Isolation,
    options: Options,
    entropy: int,
    known: dict[int, record.Report] | None = None,
    on_report: Callable[[int, record.Report], None] | None = None,
    pool: Pool | None = None,
) -> tuple[list[record.Report], list[float], list[str]]:
    """Prepare, run and judge: the core shared by ``grade`` (a folder of submissions) and a
    one-notebook ``check``. Each result is judged as soon as it arrives, while the workers run
    the next submissions, and handed to ``on_report`` (with its index) at once. Submissions
    whose report is ``known`` (by index) are not run again. Returns the reports (in the order
    given), the run times, warnings. ``pool``: workers the caller already started."""
    limits = options.limits
    known = known or {}
    runnable = [i for i, sub in enumerate(submissions) if i not in known and sub.path is not None]
    # The workers warm up (NumPy and PyTorch imported once each) while the jobs are prepared.
    size = min(options.workers or os.cpu_count() or 1, len(runnable))
    try:
        if runnable and options.dask:
            from .dask_pool import DaskPool

            pool = DaskPool(options.dask, isolation, limits).start()
        else:
            # Workers without PyTorch for NumPy-only exercises, with it for the others.
            kinds = {not submissions[i].assignment.numpy_only for i in runnable}
            if pool is not None and not runnable:
                pool.close()
                pool = None
            elif pool is None:
                pool = Pool(isolation, limits, size, kinds).start() if runnable else None
    except sandbox.SandboxError as err:
        raise GraderError(str(err)) from None
    # Meanwhile this process pays PyTorch's first optimiser step (seconds), which judging the
    # nn.Module exercises needs; NumPy-only exercises never import it.
    torch_needed = any(not submissions[i].assignment.numpy_only for i in runnable)
    warming = _warm_torch_in_background() if torch_needed else None
    jobs = []
    try:
        for index in runnable:
            # The index, not the position among the jobs, seeds the inputs: a resumed run draws
            # for each submission what a clean run with the same seed would.
            job = prepare(
                submissions[index], entropy, index, options.max_notebook_mb, limits.timeout
            )
            if job is not None:
                jobs.append((index, job))
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    reports: dict[int, record.Report] = dict(known)
    run_seconds: list[float] = []
    warnings: list[str] = []
    if options.progress:
        options.progress(0, len(jobs))
    if pool is not None and not jobs:
        pool.close()
    if jobs:
        try:
            pool.wait()
        except WorkerError as err:
            raise GraderError(str(err)) from None
        if warming is not None:
            warming.join()
        with pool:
            warnings.extend(pool.warnings)
            for done, (index, result) in enumerate(pool.map(jobs), start=1):
                if result.status == "unconfined":
                    raise GraderError(
                        "the sandbox could not confine a submission, so grading stopped: "
                        + result.detail
                    )
                sub = submissions[index]
                if result.status == "grader_error":
                    warnings.append(f"{sub.student}/{sub.assignment.name}: {result.detail}")
                reports[index] = _report(sub, result, limits.timeout)
                _forget_values(result)
                run_seconds.append(result.seconds)
                if on_report:
                    on_report(index, reports[index])
                if options.progress:
                    options.progress(done, len(jobs))
    for index, sub in enumerate(submissions):
        if index not in reports:  # nothing to run: missing or unreadable
            reports[index] = _report(sub, None, limits.timeout)
            if on_report:
                on_report(index, reports[index])
    return [reports[i] for i in range(len(submissions))], run_seconds, warnings


def _warm_torch() -> None:
    import torch

    layer = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(layer.parameters())
    layer(torch.zeros(1, 2)).sum().backward()
    optimizer.step()


def _warm_torch_in_background() -> threading.Thread:
    thread = threading.Thread(target=_warm_torch, daemon=True)
    thread.start()
    return thread


def _forget_values(result: RunResult) -> None:
    """Drop what the submission returned once it is judged: a report keeps the run's status
    and the program's errors only, so the grader's memory does not grow with the batch."""
    result.tests = [
        TestRun([None] * len(run.cases), run.status, run.detail) for run in result.tests
    ]


def _entropy(options: Options) -> int:
    return options.seed if options.seed is not None else int(np.random.SeedSequence().entropy)


STATE_DIR = ".state"


def _settings(options: Options) -> dict:
    """The options a verdict can depend on (part of every saved result's key)."""
    return {
        "limits": asdict(options.limits),
        "seed": options.seed,
        "max_notebook_mb": options.max_notebook_mb,
        # The messages are built in the language in use (rnn-course grade --lang).
        "lang": i18n.current_language(),
    }


def _regrade(scopes: tuple[str, ...], student: str, assignment: str) -> bool:
    """Whether ``--regrade`` asks for this student's assignment to be graded again."""
    return any(s in ("all", student, assignment, f"{student}/{assignment}") for s in scopes)


def _reuse(
    submissions: list[Submission], store: state.Store, options: Options
) -> dict[int, record.Report]:
    """Give each submitted notebook its key; the saved reports still valid, by index."""
    versions: dict[str, str] = {}
    settings = _settings(options)
    known = {}
    for index, sub in enumerate(submissions):
        if sub.path is None:
            continue
        try:
            if sub.path.stat().st_size > options.max_notebook_mb * (1 << 20):
                continue  # refused unread by prepare(); nothing worth saving
            content = sub.path.read_bytes()
        except OSError:
            continue
        name = sub.assignment.name
        if name not in versions:
            versions[name] = state.assignment_version(options.solutions / name)
        file = sub.candidate.file if sub.candidate else sub.path.name
        sub.key = state.submission_key(content, name, versions[name], {**settings, "file": file})
        if sub.candidate is not None and not sub.candidate.blob:
            sub.candidate.blob = store.keep_notebook(content)
        if options.resume and not _regrade(options.regrade, sub.student, name):
            report = store.load(sub.student, sub.assignment, sub.key)
            if report is not None:
                known[index] = report
    return known


def _unique(items: list[dict]) -> list[dict]:
    """Each file listed once, whichever run listed it (the same batch may be graded twice)."""
    seen, out = set(), []
    for item in items:
        mark = (item.get("file"), item.get("source"), item.get("submitted_at"), item["reason"])
        if mark not in seen:
            seen.add(mark)
            out.append(item)
    return out


def _plan(submitted, students, loaded, store, intake, options, warnings, roster=()):
    """Every student and assignment OUT holds after this run, with the files graded, superseded
    and refused (:mod:`.term`): this intake's, those graded into OUT before, and the students of
    the gradebook's roster (missing until they hand something in). Returns the groups and the
    assignments by name (this run's and the earlier ones)."""
    info = {
        (f["student_id"], f["assignment"], f.get("file_name")): f
        for f in (intake or {}).get("files", [])
    }
    source = (intake or {}).get("zip") or str(submitted)
    earlier: dict[tuple[str, str], list[dict]] = {}  # versions the LMS intake left out
    for item in (intake or {}).get("superseded", []):
        earlier.setdefault((item["student_id"], item["assignment"]), []).append(item)
    if len(loaded) == 1:  # a file not collected from the zip, whose name says whose it is
        for item in (intake or {}).get("unmatched", []):
            if item.get("student_id"):
                key = (item["student_id"], loaded[0].name)
                earlier.setdefault(key, []).append(
                    {"file": item["file"], "reason": item["reason"], "refused": True}
                )
    entries = {(e.student, e.assignment): e for e in store.entries()} if store else {}
    by_name = {a.name: a for a in loaded}
    for _, name in sorted(entries):
        if name not in by_name:
            try:
                by_name[name] = declarations.load(name, options.solutions)
            except declarations.AssignmentError as err:
                warnings.append(f"results graded earlier for {name} are left out: {err}")
                by_name[name] = None
    by_name = {n: a for n, a in by_name.items() if a is not None}
    now_graded = {a.name for a in loaded}
    groups = []
    everyone = set(students) | {s for s, n in entries if n in by_name} | {s for s, _ in earlier}
    everyone |= set(roster)
    for student in sorted(everyone):
        for name, assignment in by_name.items():
            group = term.Group(student, name)
            new, problem, linked = [], None, False
            if student in students and name in now_graded:
                folder = submitted / student / name
                paths, refused, problem = _find_notebooks(folder, assignment.notebook)
                linked = problem is not None and nbload.SYMLINK in problem
                if problem and not folder.is_dir() and not linked:
                    problem = f"no submission for {name}"
                for path in paths:
                    meta = info.get((student, name, path.name), {})
                    new.append(
                        term.Candidate(
                            path.name,
                            path,
                            meta.get("submitted_at") or term.file_time(folder, path),
                            meta.get("submission_id"),
                            bool(meta.get("late")),
                            source,
                        )
                    )
                new, group.superseded = term.latest_versions(new)
                group.refused = [{**r, "source": source} for r in refused]
            for item in earlier.get((student, name), []) if name in now_graded else []:
                kept = {k: v for k, v in item.items() if k in ("file", "reason", "submitted_at")}
                kept["source"] = source
                if item.get("refused"):
                    group.refused.append(kept)
                else:
                    group.superseded.append({**kept, "submission_id": item.get("submission_id")})
            entry = entries.get((student, name))
            old = []
            if entry is not None:
                group.superseded = entry.superseded + group.superseded
                group.refused = entry.refused + group.refused
                for n in entry.notebooks:
                    meta = n.meta or {}
                    old.append(
                        term.Candidate(
                            n.file,
                            store.blob_path(n.blob) if n.blob else None,
                            n.submitted_at,
                            meta.get("submission_id"),
                            bool(meta.get("lms_late")),
                            n.source,
                            n.blob,
                            n.key,
                            n.report,
                        )
                    )
                same = {(c.file, c.submitted_at, c.submission_id) for c in new}
                # The same files graded again (the same batch twice) supersede nothing.
                old = [c for c in old if (c.file, c.submitted_at, c.submission_id) not in same]
            group.graded, replaced = term.merge(new, old)
            group.superseded = _unique(group.superseded + replaced)
            group.refused = _unique(group.refused)
            if not group.graded:
                group.problem = problem or f"no submission for {name}"
                group.problem_status = "unreadable" if linked else "missing"
            groups.append(group)
    return groups, by_name


def _roster(options: Options, warnings: list[str]) -> dict[str, str]:
    """The gradebook's students (id -> name), so that those who handed nothing in are listed."""
    if not options.gradebook:
        return {}
    from . import gradebook

    try:
        return gradebook.roster(options.gradebook)
    except Exception as err:  # noqa: BLE001 - SQLAlchemy, nbgrader: say it, grade on
        warnings.append(f"the gradebook's students could not be read: {err}")
        return {}


def _names(store, intake) -> dict[str, str]:
    """Student id -> name, as the LMS gave it (this download's, else an earlier one's)."""
    names = {e.student: e.name for e in (store.entries() if store else []) if e.name}
    for student, parts in (intake or {}).get("names", {}).items():
        full = " ".join(p for p in (parts.get("first_name"), parts.get("last_name")) if p)
        if full:
            names[student] = full
    return names


def _submissions(groups, by_name, names) -> list[Submission]:
    submissions = []
    for group in groups:
        assignment = by_name[group.assignment]
        if not group.graded:
            sub = Submission(group.student, assignment, None)
            sub.problem, sub.problem_status = group.problem, group.problem_status
            sub.name = names.get(group.student)
            submissions.append(sub)
            continue
        for candidate in group.graded:
            sub = Submission(group.student, assignment, candidate.path)
            sub.candidate, sub.name = candidate, names.get(group.student)
            if candidate.path is None or not candidate.path.is_file():
                sub.path = None
                sub.problem = (
                    f"the copy of {candidate.file} kept from an earlier run is gone: "
                    "collect the submission again"
                )
                sub.problem_status = "unreadable"
            elif candidate.file != assignment.notebook:
                sub.notes.append(
                    i18n._("graded {file} (expected {notebook})").format(
                        file=candidate.file, notebook=assignment.notebook
                    )
                )
            submissions.append(sub)
    return submissions


def _saved(sub: Submission) -> state.Saved:
    c = sub.candidate
    return state.Saved(
        c.file,
        c.blob,
        c.submitted_at,
        {"submission_id": c.submission_id, "lms_late": c.lms_late},
        c.source,
    )


def _save_entries(store, groups, submissions, known, names) -> None:
    """Write every group's entry before grading: what is live, superseded and refused, with the
    results already known; each result judged in this run is then saved into it."""
    by_group: dict[tuple[str, str], list[int]] = {}
    for index, sub in enumerate(submissions):
        by_group.setdefault((sub.student, sub.assignment.name), []).append(index)
    for group in groups:
        notebooks = []
        for index in by_group.get((group.student, group.assignment), []):
            sub = submissions[index]
            if sub.candidate is None or not sub.candidate.blob:
                continue
            saved = _saved(sub)
            if index in known:
                saved.key, saved.report = sub.key, state._report_data(known[index])
            notebooks.append(saved)
        if notebooks or group.superseded or group.refused:
            store.save_entry(
                state.Entry(
                    group.student,
                    group.assignment,
                    notebooks,
                    group.superseded,
                    group.refused,
                    names.get(group.student),
                )
            )


def _late_policy(options: Options, assignments: list[str], warnings: list[str]):
    try:
        return late.load(options.gradebook, options.solutions.resolve().parent, assignments)
    except late.LateError as err:
        warnings.append(f"no late penalty applied: {err}")
        return late.Policy()


def _settle(groups, submissions, reports, policy) -> None:
    """Give every report its file, time, name and lateness; mark which one counts per student
    and assignment (the best), and list each one's other files."""
    by_group: dict[tuple[str, str], list[record.Report]] = {}
    for sub, report in zip(submissions, reports, strict=True):
        c = sub.candidate
        report.name = sub.name
        if c is not None:
            report.file, report.submitted_at = c.file, c.submitted_at
        if c is not None:  # handed in: its lateness, when a due date or the LMS says one
            report.late = policy.judge(
                report.student,
                report.assignment.name,
                report.submitted_at,
                report.points,
                bool(c and c.lms_late),
            )
        by_group.setdefault((report.student, report.assignment.name), []).append(report)
    for group in groups:
        mine = by_group.get((group.student, group.assignment), [])
        if not mine:
            continue
        chosen = term.best(mine, mine[0].assignment.notebook)
        for report in mine:
            report.counted = report is chosen
        others = [
            {
                "file": r.file,
                "status": "graded",
                "points": r.final,
                "reason": f"graded too: {r.final:g} points; the best notebook counts",
            }
            for r in mine
            if r is not chosen
        ]
        others += [{**s, "status": "superseded"} for s in group.superseded]
        others += [{**r, "status": "refused"} for r in group.refused]
        chosen.others = others
        for report in mine:
            if report is not chosen:
                report.others = [
                    {
                        "file": chosen.file,
                        "status": "graded",
                        "points": chosen.final,
                        "reason": "this one counts",
                    }
                ]


def _dispositions(groups, reports) -> list[dict]:
    """Every file of the intake and of OUT's history, with what became of it (grading.json)."""
    points = {(r.student, r.assignment.name, r.file): r for r in reports}
    out = []
    for group in groups:
        for c in group.graded:
            report = points.get((group.student, group.assignment, c.file))
            out.append(
                {
                    "student_id": group.student,
                    "assignment": group.assignment,
                    "file": c.file,
                    "status": "graded",
                    "counted": bool(report and report.counted),
                    "points": report.final if report else None,
                    "submitted_at": c.submitted_at,
                    "source": c.source,
                }
            )
        for kind, items in (("superseded", group.superseded), ("refused", group.refused)):
            for item in items:
                out.append(
                    {
                        "student_id": group.student,
                        "assignment": group.assignment,
                        **item,
                        "status": kind,
                    }
                )
        if not group.graded and not group.refused:
            out.append(
                {
                    "student_id": group.student,
                    "assignment": group.assignment,
                    "file": None,
                    "status": group.problem_status,
                    "reason": group.problem,
                }
            )
    return out


def _early_pool(isolation, options: Options, loaded, most: int):
    """Workers for ``loaded``'s kinds (with or without PyTorch), started now; None for a Dask
    run or nothing to grade."""
    if options.dask or not most or not loaded:
        return None
    size = min(options.workers or os.cpu_count() or 1, most)
    kinds = {not assignment.numpy_only for assignment in loaded}
    try:
        return Pool(isolation, options.limits, size, kinds).start()
    except sandbox.SandboxError as err:
        raise GraderError(str(err)) from None


@dataclass
class _Run:
    """What ``_plan_and_run`` hands back to ``grade`` to write out."""

    reports: list
    run_seconds: float
    warnings: list
    known: dict
    submissions: list
    groups: dict
    by_name: dict
    recorder: object | None


def _plan_and_run(
    submitted, students, loaded, options, out, intake, warnings, isolation, entropy, pool
):
    """Plan the run (what to grade, what is known), start the gradebook's recorder, and run
    the notebooks; the pieces ``grade`` writes out."""
    store = state.Store(out / STATE_DIR) if options.resumable else None
    roster = _roster(options, warnings)
    groups, by_name = _plan(submitted, students, loaded, store, intake, options, warnings, roster)
    names = {**{k: v for k, v in roster.items() if v}, **_names(store, intake)}
    submissions = _submissions(groups, by_name, names)
    if options.summary_page:
        # The page's figures need matplotlib, a second of imports: taken while the workers
        # run rather than after them.
        threading.Thread(target=_import_matplotlib, daemon=True).start()
    recorder = None
    if options.gradebook:
        from . import gradebook

        recorder = gradebook.Recorder(
            options.gradebook,
            list(by_name.values()),
            options.solutions,
            expected=[(s.student, s.assignment.name) for s in submissions if s.path],
            names=(intake or {}).get("names", {}),
        )
    known = _reuse(submissions, store, options) if store else {}
    if store is not None:
        _save_entries(store, groups, submissions, known, names)

    def on_report(index: int, report: record.Report) -> None:
        # Saved before anything else: from here on, an interrupted run keeps this result.
        report.graded_at = report.graded_at or state.now()
        sub = submissions[index]
        if store is not None and sub.key is not None:
            report.file = sub.candidate.file if sub.candidate else report.file
            store.save(report, sub.key, _saved(sub))

    reports, run_seconds, run_warnings = run_submissions(
        submissions, isolation, options, entropy, known, on_report, pool
    )
    return _Run(reports, run_seconds, run_warnings, known, submissions, groups, by_name, recorder)


def _import_matplotlib() -> None:
    """Import what summary_page draws with, ahead of it. A failure here is not hidden: the
    page's own import, after the run, raises it again where it is reported."""
    with contextlib.suppress(ImportError):
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401


def grade(
    submitted: Path,
    out: Path,
    wanted: list[str] | None = None,
    options: Options = Options(),
    intake: dict | None = None,
) -> Summary:
    """Grade every submission; write grades.csv, feedback/ and grading.json into ``out``, and
    as ``options`` asks, OUT/.state (resumable runs), summary.html, the scores into nbgrader's
    gradebook.

    ``intake`` describes where the submissions came from (an LMS zip): it goes into the log and
    the summary page. Raises :class:`files.Busy` when another resumable run holds ``out``.
    """
    started = time.monotonic()
    submitted, out = Path(submitted).resolve(), Path(out).resolve()
    students, loaded, warnings = collect(submitted, wanted, options.solutions)
    out.mkdir(parents=True, exist_ok=True)
    with (
        files.OutputLock(out) if options.resumable else contextlib.nullcontext(),
        files.deferred_sync(),
    ):
        if options.resumable:
            files.remove_temporaries(out)
        isolation = _isolation(options, out)
        entropy = _entropy(options)
        # The workers boot while the run is planned (a resumed run that has nothing left to
        # grade closes them unused).
        pool = _early_pool(isolation, options, loaded, len(students) * len(loaded))
        try:
            run = _plan_and_run(
                submitted,
                students,
                loaded,
                options,
                out,
                intake,
                warnings,
                isolation,
                entropy,
                pool,
            )
        except BaseException:
            if pool is not None:
                pool.close()
            raise
        reports, run_seconds, run_warnings = run.reports, run.run_seconds, run.warnings
        known, submissions, groups = run.known, run.submissions, run.groups
        by_name, recorder = run.by_name, run.recorder
        if recorder is not None:
            # The late policy reads the same gradebook: not while the recorder may be creating
            # it (two first connections each try to add the course).
            recorder.join()
        policy = _late_policy(options, list(by_name), warnings)
        _settle(groups, submissions, reports, policy)
        feedback_dir = out / "feedback"
        counted = [r for r in reports if r.counted]
        for report in counted:
            record.write_feedback(feedback_dir, report)
        if options.nbgrader_folders is not None:
            from . import handback

            # The notebook that counts, once each is known (a student may hand in several).
            for sub, report in zip(submissions, reports, strict=True):
                if report.counted and record.submitted(report):
                    handback.write_autograded(options.nbgrader_folders, report, sub.path)
        rows = [row for report in reports for row in record.rows(report)]
        record.write_csv(out / "grades.csv", rows)
        record.write_canvas(
            out / "canvas_grades.csv",
            counted,
            {name: a.max_points for name, a in by_name.items()},
        )
        summary = Summary(
            rows,
            isolation,
            time.monotonic() - started,
            run_seconds,
            warnings + (intake or {}).get("warnings", []) + run_warnings,
            reports=reports,
            graded=len(reports) - len(known),
            unchanged=len(known),
        )
        summary.groups = groups
        summary.due = {name: late.iso(when) for name, when in policy.due.items()}
        if recorder is not None:
            from .gradebook import GradebookError

            try:
                summary.gradebook = recorder.record(
                    counted, {k: v for k, v in (intake or {}).get("names", {}).items()}
                )
            except GradebookError as err:
                summary.gradebook_error = str(err)
                summary.warnings.append(f"the gradebook was not updated: {err}")
        if options.summary_page:
            from . import summary_page

            summary_page.write(out / "summary.html", summary, intake)
        summary.seconds = time.monotonic() - started
        record.write_log(
            out / "grading.json",
            summary,
            entropy,
            options.limits,
            {
                "graded": summary.graded,
                "unchanged": summary.unchanged,
                "workers": options.workers or os.cpu_count() or 1,
                "dask": options.dask,
                "grader_version": state.grader_version(),
                "gradebook": summary.gradebook,
                "intake": {k: v for k, v in (intake or {}).items() if k != "warnings"} or None,
                "due": summary.due,
                "files": _dispositions(groups, reports),
            },
        )
    return summary


def infer_assignment(notebook: Path, solutions: Path) -> str:
    """The assignment a notebook belongs to: its folder's name (``exercises/01_rnn_cell/``),
    else its file name (``rnn_cell.ipynb``), else the names it defines (the assignment whose
    required functions and classes it defines most of, at least half). SetupError otherwise."""
    names = declarations.known(solutions)
    if notebook.parent.name in names:
        return notebook.parent.name
    loaded = {}
    for name in names:
        try:
            loaded[name] = declarations.load(name, solutions)
        except declarations.AssignmentError:
            continue
    by_file = [n for n, a in loaded.items() if a.notebook == notebook.name]
    if len(by_file) == 1:
        return by_file[0]
    try:
        cells = nbload.read_notebook(notebook)
    except nbload.NotebookError:
        cells = []
    scores = {}
    for name, assignment in loaded.items():
        defined = code.find_program(cells, assignment.required).defined if cells else frozenset()
        if len(defined) * 2 >= len(assignment.required) and defined:
            scores[name] = (len(defined) / len(assignment.required), len(defined))
    best = max(scores.values(), default=None)
    winners = [n for n, score in scores.items() if score == best]
    if len(winners) == 1:
        return winners[0]
    raise SetupError(
        f"cannot tell which assignment {notebook.name} belongs to: pass --assignment NAME "
        f"(one of {', '.join(names) or 'none'})"
    )


def check(notebook: Path, assignment: str | None = None, options: Options = Options()):
    """Grade one notebook with the same engine (for ``rnn-course check``): its Report.

    The assignment is inferred (:func:`infer_assignment`) when not given.
    """
    notebook = Path(notebook).resolve()
    if assignment is None:
        assignment = infer_assignment(notebook, options.solutions)
    isolation = _isolation(options, notebook.parent / ".rnn-course-check")
    # The worker starts while the declaration loads (which imports PyTorch for the nn.Module
    # exercises): of the kind its source names; a wrong guess costs a restart, never isolation.
    checks = options.solutions / assignment / "checks.py"
    torch = not _says_numpy_only(checks)
    early = checks.is_file() and not getattr(options, "dask", None)
    pool = Pool(isolation, options.limits, 1, {torch}).start() if early else None
    try:
        loaded = declarations.load(assignment, options.solutions)
    except declarations.AssignmentError as err:
        if pool is not None:
            pool.close()
        raise SetupError(str(err)) from None
    sub = Submission("you", loaded, notebook)
    reports, _, _ = run_submissions([sub], isolation, options, _entropy(options), pool=pool)
    return reports[0]


def _says_numpy_only(checks: Path) -> bool:
    """Whether a declaration's source passes ``numpy_only=True`` (read, not run)."""
    try:
        tree = ast.parse(checks.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, ast.keyword)
        and node.arg == "numpy_only"
        and isinstance(node.value, ast.Constant)
        and node.value.value is True
        for node in ast.walk(tree)
    )


def print_summary(summary: Summary, stream=sys.stderr) -> None:
    # One report per notebook graded (a learner may hand in several) or per missing one.
    notebooks = len(summary.reports) or len({(r.student_id, r.assignment) for r in summary.rows})
    timing = (
        f"{len(summary.rows)} row(s) in {summary.seconds:.1f} s (median "
        f"{summary.median_run_seconds:.2f} s per notebook run)"
    )
    # The progress bar counts the notebooks run; say how the others were settled.
    ran = len(summary.run_seconds)
    head = f"graded {summary.graded} notebook(s)"
    if summary.graded != ran:
        head += f" ({ran} run, {summary.graded - ran} with nothing to run: missing or unreadable)"
    if summary.unchanged:
        head += f" and reused {summary.unchanged} unchanged since the last run"
    if notebooks != summary.graded:
        head += f": {notebooks} notebook(s) in all"
    print(f"{head}, {timing}", file=stream)
    print(f"isolation: {summary.isolation.describe()}", file=stream)
    if summary.gradebook:
        print(
            f"gradebook: {summary.gradebook['submissions']} submission(s) recorded in "
            f"{summary.gradebook['url']}",
            file=stream,
        )
    for warning in summary.warnings:
        print(f"warning: {warning}", file=stream)
