"""The ``rnn-course grade`` subcommand (registered by :mod:`autograder.cli`)."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path

from .. import i18n

EXIT_CODES = """exit status (every other outcome is one of these, with a one-line reason):
  0    the batch was graded (whatever the scores, whatever the submissions did)
  1    the grader itself failed (a bug, a full disk...): what was graded is saved
  2    nothing was graded: a mistake in the command, the folders or solutions/
  3    nothing was graded: the sandbox cannot be set up safely on this machine, or no
       grading worker started (tried again first; the reason says why)
  4    graded (grades.csv, feedback, summary.html written) but the gradebook was not updated
  5    another run is writing to the same OUT folder
  130  interrupted: what was graded is kept; run the same command again to finish
"""


def _wrap(text: str) -> str:
    return textwrap.fill(text, 78)


def add_grade_command(subparsers) -> None:
    p = subparsers.add_parser(
        "grade",
        help="grade a class: a folder of submitted notebooks or an LMS zip",
        description=_wrap(
            "Grade submitted notebooks laid out as SUBMITTED/<student_id>/<assignment>/"
            "<notebook>.ipynb, or collected from a Canvas or Moodle download (--zip), with the "
            "checks of the course folder (--course, or the nearest folder with an "
            "nbgrader_config.py from here upwards): its solutions/<assignment>/checks.py. Each "
            "notebook's code runs in a sandbox; its results are compared with the NumPy and "
            "PyTorch references. Writes OUT/grades.csv, OUT/feedback/<student_id>/<assignment>/"
            "<notebook>.html, OUT/summary.html (one row per student first), OUT/canvas_grades.csv "
            "(Canvas's gradebook import) and OUT/grading.json, and records the scores in "
            "nbgrader's gradebook. Each result is saved as soon as it is graded: an interrupted "
            "run loses nothing, and running the same command again grades only the submissions "
            "that are new or changed. OUT accumulates: a later download (late work, "
            "resubmissions) adds to what OUT holds; the latest submission of a student wins, "
            "several notebooks are each graded and the best counts, and late work is judged by "
            "nbgrader's due date, extensions and LateSubmissionPlugin (see the instructor guide)."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "submitted",
        type=Path,
        nargs="?",
        metavar="SUBMITTED",
        help="folder of submissions (omit it with --zip)",
    )
    p.add_argument("--out", type=Path, required=True, metavar="OUT", help="output folder")
    p.add_argument(
        "--assignment",
        action="append",
        metavar="NAME",
        help="grade only this assignment (repeatable); default: every assignment found. With "
        "--zip, the assignment the download is for",
    )
    intake = p.add_argument_group("LMS downloads")
    intake.add_argument(
        "--zip",
        type=Path,
        metavar="FILE",
        help="a zip of submissions downloaded from the LMS, collected into OUT/submitted/",
    )
    intake.add_argument(
        "--lms",
        choices=("auto", "canvas", "moodle"),
        default="auto",
        help="file-name convention of the zip: canvas (doejane_12345_6789012_rnn_cell.ipynb), "
        "moodle ('Jane Doe_12345_assignsubmission_file_/rnn_cell.ipynb'); default: the one "
        "the file names follow",
    )
    intake.add_argument(
        "--zip-regexp",
        metavar="REGEXP",
        help="any other convention: a regular expression matched against each file's path in "
        "the zip, with the named groups (?P<student_id>...) and (?P<file_id>...), as for "
        "nbgrader zip_collect",
    )
    book = p.add_argument_group("nbgrader gradebook")
    book.add_argument(
        "--gradebook",
        metavar="DB",
        help="nbgrader gradebook to record the scores in: an SQLite file or a database URL "
        "(default: the one the course's nbgrader_config.py names; .nbgrader/gradebook.db in "
        "this repository)",
    )
    book.add_argument(
        "--no-gradebook", action="store_true", help="do not record the scores in a gradebook"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help=f"notebooks graded in parallel (default: the number of CPUs, {os.cpu_count()})",
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the notebooks on a Dask cluster: its scheduler's address (tcp://host:8786), "
        "or local:N for N worker processes on this machine. Each Dask worker grades in the "
        "same sandbox as a local run; inputs, comparisons, grades and saved results stay "
        "here, so --seed, resuming and atomic writes work as without it, and the jobs of a "
        "worker that dies are graded by the others. Needs the packages of the 'cluster' "
        "extra (dask, distributed) here and on the workers, with this same course package "
        "(--workers does not apply: each Dask worker thread runs one notebook at a time)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="wall-clock and CPU limit for the notebook's code, and again for each test "
        "(default: 20)",
    )
    p.add_argument(
        "--memory", type=int, default=1024, metavar="MB", help="memory limit (default: 1024)"
    )
    p.add_argument(
        "--isolation",
        choices=("auto", "bubblewrap", "landlock", "rlimits"),
        default="auto",
        help="sandbox to use (default: the strongest this machine offers)",
    )
    p.add_argument("--solutions", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=None, help="draw the same inputs as a past run")
    p.add_argument(
        "--regrade",
        nargs="?",
        const="all",
        action="append",
        metavar="WHO",
        help="grade again, even if unchanged since the last run on OUT: all (the default "
        "when WHO is left out), a student id, an assignment, or STUDENT/ASSIGNMENT; "
        "repeatable. Without it, OUT accumulates: students graded into OUT before keep their "
        "results, and only new or changed submissions (or those of an assignment whose checks "
        "or solution changed) are graded",
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing but errors (no progress bar, no summary); for scripts",
    )
    p.add_argument(
        "--lang",
        choices=i18n.LANGUAGES,
        default="en",
        help="language of the feedback pages (the learners' messages): en (default) or zh",
    )
    p.set_defaults(handler=run_grade)


def _fail(message: str, code: int) -> int:
    line = " ".join(str(message).split())  # one line, whatever the cause's own text holds
    if len(line) > 1000:
        line = line[:997] + "..."
    print(f"rnn-course grade: {line}", file=sys.stderr)
    return code


def _gradebook_url(args) -> str | None:
    from .gradebook import as_db_url

    if args.no_gradebook:
        return None
    if args.gradebook:
        return as_db_url(args.gradebook)
    return args.course_folder.db_url


def _nbgrader_folders(args, gradebook: str | None):
    """The course's nbgrader folders, when the scores go to the course's own gradebook: the
    graded notebooks are then written to its autograded/ for formgrader."""
    from .handback import Folders

    course = args.course_folder
    if gradebook is None or gradebook != course.db_url:
        return None
    return Folders.of(course.config, course.root)


def run_grade(args) -> int:
    # The feedback pages are written (and their messages built) during the run: in --lang.
    with i18n.use(getattr(args, "lang", None)):
        return _run_grade(args)


def _run_grade(args) -> int:
    from . import engine, files, lms, sandbox
    from .progress import Progress

    if args.workers is not None and args.workers < 1:
        return _fail("--workers must be at least 1", 2)
    if args.dask is not None:
        from .dask_pool import parse_local

        try:
            parse_local(args.dask)
        except ValueError as err:
            return _fail(str(err), 2)
    if args.timeout <= 0 or args.memory < 64:
        return _fail("--timeout must be > 0 and --memory >= 64", 2)
    if (args.submitted is None) == (args.zip is None):
        return _fail("give either a SUBMITTED folder or --zip FILE (one of the two)", 2)
    if args.gradebook and args.no_gradebook:
        return _fail("--gradebook and --no-gradebook contradict each other", 2)

    solutions = args.solutions
    progress = None if args.quiet else Progress(sys.stderr)
    try:
        gradebook = _gradebook_url(args)
        options = engine.Options(
            workers=args.workers,
            dask=args.dask,
            limits=sandbox.Limits(timeout=args.timeout, memory_mb=args.memory),
            isolation=args.isolation,
            solutions=solutions,
            seed=args.seed,
            progress=progress,
            resumable=True,
            regrade=tuple(args.regrade or ()),
            summary_page=True,
            gradebook=gradebook,
            nbgrader_folders=_nbgrader_folders(args, gradebook),
        )
        with files.OutputLock(args.out):
            submitted, intake = args.submitted, None
            if args.zip is not None:
                submitted, intake = _collect_zip(args, solutions)
            summary = engine.grade(submitted, args.out, args.assignment, options, intake)
    except files.Busy as err:
        return _fail(str(err), 5)
    except (engine.SetupError, lms.ZipError) as err:
        return _fail(str(err), 2)
    except engine.GraderError as err:
        return _fail(f"cannot grade safely: {err}", 3)
    except KeyboardInterrupt:
        if progress:
            progress.close()
        return _fail(
            f"interrupted; the notebooks graded so far are saved in {args.out}/.state: run the "
            "same command again to grade the rest",
            130,
        )
    except Exception as err:  # noqa: BLE001 - an exit code and one line, never a traceback
        return _fail(
            f"the grader failed ({type(err).__name__}: {err}); the notebooks graded so far are "
            f"saved in {args.out}/.state: run the same command again to grade the rest",
            1,
        )
    finally:
        if progress:
            progress.close()
    if not args.quiet:
        engine.print_summary(summary)
    return 4 if summary.gradebook_error else 0


def _collect_zip(args, solutions: Path) -> tuple[Path, dict]:
    """Unpack the LMS download into OUT/submitted (the caller holds OUT's lock)."""
    from . import assignments as declarations
    from . import engine, lms

    names = list(dict.fromkeys(args.assignment or declarations.known(solutions)))
    candidates = {}
    for name in names:
        try:
            candidates[name] = Path(declarations.load(name, solutions).notebook).stem
        except declarations.AssignmentError as err:
            raise engine.SetupError(str(err)) from None
    if not args.zip.is_file():
        raise engine.SetupError(f"the zip file {args.zip} does not exist")
    dest = Path(args.out) / "submitted"
    intake = lms.collect(args.zip, dest, candidates, args.lms, args.zip_regexp)
    if not intake.collected:
        reasons = "; ".join(f"{u['file']}: {u['reason']}" for u in intake.unmatched[:5])
        raise engine.SetupError(
            f"no notebook in {args.zip} could be collected ({reasons or 'the zip is empty'})"
        )
    log = intake.log()
    log["names"] = intake.names
    return dest, log


FEEDBACK_EXIT_CODES = """exit status:
  0  the pages were handed back (the output lists where)
  2  nothing was handed back: no course folder, no graded OUT, or no names for --lms
"""


def add_feedback_command(subparsers) -> None:
    p = subparsers.add_parser(
        "feedback",
        help="hand the feedback pages of a graded OUT back: nbgrader's feedback/, LMS zips",
        description=_wrap(
            "Hand back the feedback pages `rnn-course grade` wrote into OUT/feedback/, in one "
            "step: (1) into the course folder's feedback/<student>/<assignment>/, with "
            "timestamp.txt and submission_secret.txt, the layout of `nbgrader "
            "generate_feedback`, so that `nbgrader release_feedback ASSIGNMENT` releases them "
            "through nbgrader's exchange; (2) when the batch came from a Canvas or Moodle "
            "download (--zip), into OUT/feedback_canvas.zip or OUT/feedback_moodle.zip, every "
            "page named as that platform names the learner's submission: Canvas's 'Re-upload "
            "submissions' or Moodle's 'Upload multiple feedback files in a zip' returns them "
            "all in one upload."
        ),
        epilog=FEEDBACK_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", type=Path, metavar="OUT", help="the output folder of rnn-course grade")
    p.add_argument(
        "--lms",
        choices=("auto", "canvas", "moodle", "none"),
        default="auto",
        help="the upload zip to write: the platform the batch was collected from (auto, the "
        "default), or none",
    )
    p.add_argument(
        "--no-nbgrader",
        action="store_true",
        help="do not write the course folder's feedback/ (only the upload zip)",
    )
    p.set_defaults(handler=run_feedback)


def run_feedback(args) -> int:
    from . import files, handback

    course = args.course_folder
    folders = None if args.no_nbgrader else handback.Folders.of(course.config, course.root)
    try:
        with files.OutputLock(args.out):
            done = handback.hand_back(args.out, folders, args.lms)
    except files.Busy as err:
        print(f"rnn-course feedback: {err}", file=sys.stderr)
        return 5
    except (handback.HandbackError, OSError) as err:
        print(f"rnn-course feedback: {err}", file=sys.stderr)
        return 2
    if folders is not None:
        where = folders.root / folders.feedback
        print(
            f"{len(done['nbgrader'])} page(s) in {where}: release them with "
            "`nbgrader release_feedback ASSIGNMENT`"
        )
    lms = done.get("lms")
    if lms:
        print(f"{lms['pages']} page(s) in {lms['zip']}: upload it to {lms['platform'].title()}")
        left = lms["left_out"]
        if left:
            shown = ", ".join(left[:3]) + (f" and {len(left) - 3} more" if len(left) > 3 else "")
            print(
                f"warning: {len(left)} page(s) not in the zip, of learners the download did not "
                f"name (graded from a folder): {shown}",
                file=sys.stderr,
            )
    return 0
