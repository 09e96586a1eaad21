"""Gradescope: build an autograder bundle for one assignment, and run it inside Gradescope.

Gradescope's contract (its "autograder specifications"): the uploaded zip holds ``setup.sh``
and ``run_autograder`` at its root; Gradescope unpacks the zip into ``/autograder/source``, runs
``setup.sh`` once when it builds the image, and for each submission puts the student's files
in ``/autograder/submission``, runs ``/autograder/run_autograder`` and reads
``/autograder/results/results.json``: a list of ``tests`` (``score``, ``max_score``, ``name``,
``output``, ``visibility``...) and top-level ``score``, ``output`` and ``visibility``.

The bundle carries the course package's sources (installed by ``setup.sh`` after PyTorch's CPU
wheel and the pinned requirements) and the assignment's instructor folder
``solutions/<NN_topic>/`` (its ``checks.py`` and solution notebook, which the declaration reads
for its graded cells). The submission is graded by :func:`autograder.grading.engine.check`,
the engine behind ``rnn-course check`` and ``rnn-course grade``: the same sandbox, tests and
judges, so a notebook gets the same points per test here as in the instructor's batch. The
hidden tests' inputs are never shown: a test's output is the learner's message (what went
wrong, the diagnosis and what to change), as on the feedback pages.

``run_autograder`` calls ``python -m autograder.gradescope --root ROOT``; the root
(``/autograder`` on Gradescope) is an option, so the bundle can be run in any folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import textwrap
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
ROOT_ENV = "RNN_COURSE_GRADESCOPE_ROOT"  # where run_autograder finds source/, submission/
PYTHON_ENV = "RNN_COURSE_PYTHON"  # the interpreter run_autograder uses (default: setup.sh's)

# What the course package is built from (pyproject.toml's packages: autograder, and the book's
# figures and experiments packages).
PACKAGE_PARTS = ("pyproject.toml", "README.md", "autograder", "book/figures", "book/experiments")
SKIPPED = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}

EXIT_CODES = """exit status:
  0  the bundle was written
  2  nothing was written: unknown assignment, OUT exists, or a broken solutions/ folder
"""


class BundleError(Exception):
    """Nothing was written; the message says why."""


# ---------------------------------------------------------------------------------------------
# The bundle


def _requirements(pins: Path, repo: Path = REPO) -> list[str]:
    """The pinned versions (requirements.txt) of the course package's own dependencies."""
    import tomllib

    meta = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = set()
    for spec in meta["project"]["dependencies"]:
        name = spec.split(";")[0]
        for sep in "<>=!~[ ":
            name = name.split(sep)[0]
        wanted.add(name.lower().replace("_", "-"))
    wanted.discard("torch")  # installed first, from PyTorch's CPU index
    lines = []
    for line in pins.read_text(encoding="utf-8").splitlines():
        name = line.split("==")[0].strip().lower().replace("_", "-")
        if "==" in line and name in wanted:
            lines.append(line.strip())
    return lines


def setup_sh(requirements: list[str]) -> str:
    """Gradescope runs this once, as root, when it builds the autograder's image."""
    return textwrap.dedent(
        f"""\
        #!/usr/bin/env bash
        # Gradescope runs this once when it builds the image (Ubuntu base image 24.04: the
        # course needs Python >= 3.11).
        set -euo pipefail
        cd /autograder/source
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        # bubblewrap: the grader's strongest sandbox, where the container allows it.
        apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {{
            echo "the course needs Python >= 3.11: choose Gradescope's Ubuntu 24.04 base image" >&2
            exit 1
        }}
        python3 -m venv /autograder/venv
        PIP="/autograder/venv/bin/python -m pip"
        $PIP install --upgrade pip
        # PyTorch's CPU build first: a plain torch requirement can pull a CUDA build of
        # several GB.
        $PIP install {TORCH} --index-url {TORCH_INDEX}
        $PIP install -r requirements.txt
        $PIP install --no-deps ./course
        # Fail now, not on the first submission, if the course does not import.
        /autograder/venv/bin/python -c 'import autograder.grading.engine, torch'
        # The solutions and checks are the grader's alone: the sandboxed worker runs under
        # another user, which must not read them whatever isolation the container allows.
        chmod -R go-rwx /autograder/source
        """
    )


def run_autograder(assignment: str, timeout: float, memory: int, visibility: str) -> str:
    command = shlex.join(
        [
            "-m",
            "autograder.gradescope",
            "--assignment",
            assignment,
            "--timeout",
            f"{timeout:g}",
            "--memory",
            str(memory),
            "--visibility",
            visibility,
        ]
    )
    return textwrap.dedent(
        f"""\
        #!/usr/bin/env bash
        # Gradescope runs this for each submission: it grades /autograder/submission/*.ipynb
        # and writes /autograder/results/results.json. {ROOT_ENV} and {PYTHON_ENV} move it
        # elsewhere (to try the bundle on another machine).
        set -u
        ROOT="${{{ROOT_ENV}:-/autograder}}"
        PYTHON="${{{PYTHON_ENV}:-$ROOT/venv/bin/python}}"
        exec "$PYTHON" {command} --root "$ROOT" "$@"
        """
    )


def _add_tree(archive: zipfile.ZipFile, source: Path, name: str) -> None:
    if source.is_symlink():
        return
    if source.is_dir():
        for child in sorted(source.iterdir()):
            if child.name not in SKIPPED and not child.name.endswith(".pyc"):
                _add_tree(archive, child, f"{name}/{child.name}")
    elif source.is_file():
        archive.write(source, name)


def _add_text(archive: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def build_bundle(
    assignment: str,
    out: Path,
    solutions: Path | None = None,
    timeout: float = 20.0,
    memory: int = 1024,
    visibility: str = "visible",
    repo: Path = REPO,
) -> list[str]:
    """Write the autograder zip for ``assignment`` to ``out``; the names it holds. The course
    package's sources and pins come from ``repo`` (a checkout of the course repository)."""
    from autograder.grading import assignments as declarations

    solutions = Path(solutions or declarations.SOLUTIONS_DIR)
    if out.exists() or out.is_symlink():
        raise BundleError(f"{out} exists: remove it or choose another --out")
    if not out.parent.is_dir():
        raise BundleError(f"the folder {out.parent} does not exist")
    if visibility not in VISIBILITIES:
        raise BundleError(f"--visibility must be one of {', '.join(VISIBILITIES)}")
    try:
        declarations.load(assignment, solutions)
    except declarations.AssignmentError as err:
        raise BundleError(str(err)) from None
    pins = repo / "requirements.txt"
    if not pins.is_file():
        raise BundleError(f"{pins} is missing: the bundle pins its requirements from it")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            _add_text(archive, "setup.sh", setup_sh(_requirements(pins, repo)), executable=True)
            _add_text(
                archive,
                "run_autograder",
                run_autograder(assignment, timeout, memory, visibility),
                executable=True,
            )
            _add_text(
                archive,
                "requirements.txt",
                "\n".join([TORCH, *_requirements(pins, repo)]) + "\n",
            )
            for part in PACKAGE_PARTS:
                _add_tree(archive, repo / part, f"course/{part}")
            _add_tree(archive, solutions / assignment, f"solutions/{assignment}")
            names = archive.namelist()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return names


# ---------------------------------------------------------------------------------------------
# Inside Gradescope: grade the submission, write results.json


def _pick_notebook(submission: Path, expected: str) -> tuple[Path | None, str]:
    """The notebook to grade, and a note; (None, why) when there is none to grade."""
    if (submission / expected).is_file() and not (submission / expected).is_symlink():
        return submission / expected, ""
    found = sorted(
        p
        for p in submission.rglob("*.ipynb")
        if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts
    )
    named = [p for p in found if p.name == expected]
    if len(named) == 1:
        return named[0], ""
    if len(found) == 1:
        return found[
            0
        ], f"graded {found[0].name}, the only notebook submitted (expected {expected})"
    if found:
        names = ", ".join(p.name for p in found)
        return None, f"no {expected} in the submission (found {names}): submit it under its name"
    return None, f"no notebook in the submission: upload {expected}"


def _test_output(row) -> str:
    if row.passed:
        return "passed"
    lines = [row.problem]
    for d in row.diagnoses:
        lines.append(f"diagnosis: {d.said}")
        if d.hint:
            lines.append(f"hint: {d.hint}")
    return "\n".join(lines)


def results(report, visibility: str = "visible", seconds: float = 0.0) -> dict:
    """Gradescope's results.json for one graded notebook: one test per graded cell."""
    from autograder.grading import view

    shown = view.build(report)
    tests = []
    for number, (test, row) in enumerate(
        zip(report.assignment.tests, shown.rows, strict=True), start=1
    ):
        name = row.test_id if not test.about else f"{row.test_id}: {test.about}"
        tests.append(
            {
                "score": row.points,
                "max_score": row.max_points,
                "status": "passed" if row.passed else "failed",
                "name": name,
                "number": str(number),
                "output": _test_output(row),
                "visibility": visibility,
            }
        )
    output = [
        f"{shown.title}: {shown.points:g} of {shown.max_points:g} points; "
        f"{shown.passing} of {len(shown.rows)} tests pass."
    ]
    if shown.notes:
        output += ["", "Notes on running your notebook:", *(f"- {n}" for n in shown.notes)]
    return {
        "score": shown.points,
        "execution_time": round(seconds, 1),
        "output": "\n".join(output),
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _no_notebook(assignment, why: str, visibility: str) -> dict:
    tests = [
        {
            "score": 0.0,
            "max_score": float(t.points),
            "status": "failed",
            "name": t.id if not t.about else f"{t.id}: {t.about}",
            "number": str(i),
            "output": why,
            "visibility": visibility,
        }
        for i, t in enumerate(assignment.tests, start=1)
    ]
    return {"score": 0.0, "output": why, "visibility": visibility, "tests": tests}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def grade_submission(
    root: Path,
    assignment: str,
    timeout: float = 20.0,
    memory: int = 1024,
    visibility: str = "visible",
    isolation: str = "auto",
    seed: int | None = None,
) -> dict:
    """Grade ``ROOT/submission`` against ``ROOT/source/solutions/ASSIGNMENT``; write and return
    ``ROOT/results/results.json``."""
    from autograder.grading import assignments as declarations
    from autograder.grading import engine, sandbox

    started = time.monotonic()
    solutions = root / "source" / "solutions"
    # As in setup.sh: the worker's user (another uid when graded as root) cannot read them.
    os.chmod(root / "source", 0o700)
    loaded = declarations.load(assignment, solutions)
    notebook, note = _pick_notebook(root / "submission", loaded.notebook)
    if notebook is None:
        data = _no_notebook(loaded, note, visibility)
    else:
        options = engine.Options(
            workers=1,
            limits=sandbox.Limits(timeout=timeout, memory_mb=memory),
            isolation=isolation,
            solutions=solutions,
            seed=seed,
        )
        report = engine.check(notebook, assignment, options)
        if note:
            report.notes.insert(0, note)
        data = results(report, visibility, time.monotonic() - started)
    _write_json(root / "results" / "results.json", data)
    return data


def main(argv: list[str] | None = None) -> int:
    """What the bundle's ``run_autograder`` runs."""
    from autograder.grading import assignments as declarations
    from autograder.grading import engine

    p = argparse.ArgumentParser(
        prog="python -m autograder.gradescope",
        description="Grade a Gradescope submission and write results/results.json.",
    )
    p.add_argument("--root", type=Path, default=Path("/autograder"))
    p.add_argument("--assignment", required=True)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--memory", type=int, default=1024)
    p.add_argument("--visibility", choices=VISIBILITIES, default="visible")
    p.add_argument("--isolation", default="auto")
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args(argv)
    try:
        data = grade_submission(
            args.root,
            args.assignment,
            args.timeout,
            args.memory,
            args.visibility,
            args.isolation,
            args.seed,
        )
    except (declarations.AssignmentError, engine.SetupError) as err:
        print(f"run_autograder: the bundle is broken: {err}", file=sys.stderr)
        return 2
    except engine.GraderError as err:
        # No results.json: Gradescope shows the submission as failed to grade, not as zero.
        print(f"run_autograder: cannot grade safely: {err}", file=sys.stderr)
        return 3
    print(data["output"])
    return 0


# ---------------------------------------------------------------------------------------------
# The `rnn-course gradescope` command


def add_gradescope_command(subparsers) -> None:
    p = subparsers.add_parser(
        "gradescope",
        help="build a Gradescope autograder zip for one assignment",
        description=textwrap.fill(
            "Build the autograder zip of ASSIGNMENT for Gradescope (a 'Programming "
            "Assignment' with a zip-file autograder, Ubuntu 24.04 base image). setup.sh installs "
            "PyTorch's CPU build, the pinned requirements and this course package; "
            "run_autograder grades the submitted notebook with the same engine, sandbox and "
            "tests as `rnn-course grade`, and writes results.json: one test per graded cell, "
            "with its points and the learner's message (never the hidden tests' inputs).",
            78,
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("assignment", metavar="ASSIGNMENT", help="e.g. 01_rnn_cell")
    p.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="the zip to write (not overwritten)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="limit for the notebook's code, and again for each test (default: 20)",
    )
    p.add_argument(
        "--memory", type=int, default=1024, metavar="MB", help="memory limit (default: 1024)"
    )
    p.add_argument(
        "--visibility",
        choices=VISIBILITIES,
        default="visible",
        help="when students see the results (Gradescope's visibility; default: visible)",
    )
    p.add_argument("--solutions", type=Path, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_gradescope)


def _package_sources(args) -> Path:
    """Where the bundle takes the course package from: the course folder when it is a checkout
    of the course repository (its own sources), else the checkout this package runs from."""
    folder = getattr(args, "course_folder", None)
    if folder is not None and all((folder.root / p).exists() for p in PACKAGE_PARTS):
        return folder.root
    return REPO


def run_gradescope(args) -> int:
    if args.timeout <= 0 or args.memory < 64:
        print("rnn-course gradescope: --timeout must be > 0 and --memory >= 64", file=sys.stderr)
        return 2
    try:
        names = build_bundle(
            args.assignment,
            args.out,
            args.solutions,
            args.timeout,
            args.memory,
            args.visibility,
            _package_sources(args),
        )
    except BundleError as err:
        print(f"rnn-course gradescope: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out} ({len(names)} files): upload it as the autograder of {args.assignment}"
    )
    return 0


def unpack(bundle: Path, root: Path) -> None:
    """Lay the bundle out as Gradescope does: ROOT/source (the zip), ROOT/run_autograder."""
    source = root / "source"
    source.mkdir(parents=True)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(source)
        for info in archive.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(source / info.filename, mode)
    (root / "run_autograder").write_bytes((source / "run_autograder").read_bytes())
    os.chmod(root / "run_autograder", 0o755)
    (root / "submission").mkdir()
    (root / "results").mkdir()


if __name__ == "__main__":
    sys.exit(main())
