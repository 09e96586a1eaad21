"""The ``rnn-course publish`` command: write the learner repository, a tree learners can clone.

It holds the book's sources, ``exercises/`` (the released notebooks with their visible tests)
and a learner-side course package, and none of what grading keeps secret:

* no ``solutions/`` (instructor notebooks, ``checks.py`` with the hidden tests), no grading
  engine (``autograder/grading``), no sample submissions (``book/instructor``), no instructor
  guide, no ``book/experiments`` (the chapters' own from-scratch models);
* no reference implementation of a graded function: ``autograder/reference/numpy_rnn.py`` and
  ``torch_rnn.py`` are rewritten so that each graded function (and each helper that needs one)
  raises :class:`ReferenceNotShipped`, naming the exercise it answers. What carries no answer
  stays: the cache types, the input checks, the text data, and the helpers the exercises hand
  over that need no graded function (``rel_error``, ``char_rnn_init``, ``adagrad_step``...).

Its ``rnn-course check`` (:mod:`autograder.learner_cli`, installed as ``autograder/cli.py``)
runs a notebook's visible tests (:mod:`autograder.visible`) and says where full grading
happens: the instructor's ``rnn-course grade`` (run from the private instructor repository), or
Gradescope (``rnn-course gradescope``). A visible test that compares with a reference is
reported as graded there.

The chapters execute the reference library, so the learner repository's ``_config.yml`` turns
execution off: the online book (built from the instructor repository) shows them executed.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IGNORED = {"__pycache__", ".ipynb_checkpoints", ".jupyter_cache", "_build", ".pytest_cache"}

# Copied as they are, from the instructor repository (relative paths).
COPIED = (
    "_toc.yml",
    "pyproject.toml",
    "requirements.txt",
    "binder",
    "exercises",
    "book",
    "autograder/__init__.py",
    "autograder/__main__.py",
    "autograder/comparison.py",
    "autograder/i18n.py",
    "autograder/locale",
    "autograder/notebook_checks.py",
    "autograder/visible.py",
    "autograder/data",
    "autograder/reference/_checks.py",
    "autograder/reference/char_data.py",
)
# Never in the learner repository, wherever they sit in a copied folder.
# book/experiments holds the chapters' from-scratch models (a GRU's loop among them): the answers
# of exercises again, and only the chapters' execution, off here, needs them.
WITHHELD = (
    "book/instructor",
    "book/instructor_guide.ipynb",
    "book/instructor_guide.md",
    "book/experiments",
)
# Reference modules rewritten without the answers: {path: module name used in messages}.
REWRITTEN = {
    "autograder/reference/numpy_rnn.py": "autograder.reference.numpy_rnn",
    "autograder/reference/torch_rnn.py": "autograder.reference.torch_rnn",
}
# Helpers a learner may have whole (no exercise asks for them), if they need no graded function.
HELPERS = ("rel_error", "one_hot")

EXIT_CODES = """exit status:
  0  the learner repository was written
  2  nothing was written: OUT exists, or the instructor repository is incomplete
"""


class PublishError(Exception):
    """Nothing was written; the message says why."""


def graded_names(solutions: Path) -> dict[str, str]:
    """{name of a graded function or class: the assignment that asks for it}."""
    from autograder.grading import assignments as declarations

    names: dict[str, str] = {}
    for assignment in declarations.known(solutions):
        try:
            loaded = declarations.load(assignment, solutions)
        except declarations.AssignmentError as err:
            raise PublishError(str(err)) from None
        for name in loaded.required:
            names.setdefault(name, assignment)
    return names


def handed_over(solutions: Path) -> set[str]:
    """Names the exercises hand to the learner from the references (their ``givens``)."""
    from autograder.grading import assignments as declarations

    names: set[str] = set()
    for assignment in declarations.known(solutions):
        for functions in declarations.load(assignment, solutions).givens.values():
            names.update(functions)
    return names


def _is_named_tuple(node: ast.AST) -> bool:
    return isinstance(node, ast.ClassDef) and any(
        isinstance(b, ast.Name) and b.id == "NamedTuple" for b in node.bases
    )


STUB_HEADER = '''"""{module} as the learner repository ships it: without the answers.

The course's reference implementations are the grader's oracles, and each graded function's
is the answer to an exercise, so they stay in the instructor's repository. Calling one here
raises ReferenceNotShipped, which names the exercise; full grading (the instructor's
`rnn-course grade`, or Gradescope) compares with them. The cache types, input checks and
helpers that hold no answer are here as in the course.
"""

from __future__ import annotations

'''

STUB_TAIL = '''

class ReferenceNotShipped(RuntimeError):
    """A reference implementation that the learner repository does not ship."""


def _not_shipped(name: str, assignment: str | None):
    where = (
        f"the answer to exercise {{assignment}}"
        if assignment
        else "part of the course's reference library"
    )
    message = (
        f"{module}.{{name}} is {{where}}, so the learner repository does not ship it: a test "
        "that compares with it runs in full grading (your instructor's `rnn-course grade`, or "
        "Gradescope). Where an exercise hands it to you, use your own version."
    )

    def stub(*args, **kwargs):
        raise ReferenceNotShipped(message)

    stub.__name__ = stub.__qualname__ = name
    stub.__doc__ = message
    return stub

'''


def learner_module(source: str, module: str, graded: dict[str, str], helpers: set[str]) -> str:
    """The reference module ``source`` without the answers (see the module's docstring)."""
    tree = ast.parse(source)
    defs = {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
    }

    def uses(node: ast.AST) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & set(defs) - {node.name}

    def closure(name: str, seen: frozenset) -> set[str] | None:
        """The definitions ``name`` needs, or None when one of them carries an answer."""
        if name in graded:
            return None
        if _is_named_tuple(defs[name]):
            return {name}
        needed = {name}
        for other in uses(defs[name]):
            if other in seen:
                continue
            if (
                not other.startswith("_")
                and other not in helpers
                and not _is_named_tuple(defs[other])
            ):
                return None
            more = closure(other, seen | {name})
            if more is None:
                return None
            needed |= more
        return needed

    kept: set[str] = set()
    for name in defs:
        if _is_named_tuple(defs[name]) or name in helpers:
            found = closure(name, frozenset())
            if found is not None:
                kept |= found
    lines = [STUB_HEADER.format(module=module)]
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not (
            isinstance(node, ast.ImportFrom) and node.module == "__future__"
        ):
            lines.append(ast.get_source_segment(source, node) + "\n")
    lines.append(STUB_TAIL.format(module=module))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in kept:
            decorators = "".join(
                "@" + ast.get_source_segment(source, d) + "\n" for d in node.decorator_list
            )
            lines.append("\n" + decorators + ast.get_source_segment(source, node) + "\n\n")
    stubbed = [n for n in defs if n not in kept and not n.startswith("_")]
    lines.append("\n")
    for name in stubbed:
        lines.append(f"{name} = _not_shipped({name!r}, {graded.get(name)!r})\n")
    return "".join(lines)


def _ignore(root: Path):
    withheld = {(REPO / w).resolve() for w in WITHHELD}

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).resolve()
        return {
            n
            for n in names
            if n in IGNORED or n.endswith(".pyc") or (here / n).resolve() in withheld
        }

    return ignore


def _copy(relative: str, out: Path) -> None:
    source, target = REPO / relative, out / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, ignore=_ignore(REPO), symlinks=False)
    elif source.is_file():
        shutil.copy2(source, target)
    else:
        raise PublishError(f"{source} is missing")


def learner_toc(text: str) -> str:
    """_toc.yml without the part for instructors."""
    return re.sub(r"  - caption: For instructors\n(?:(?!  - caption:).*\n)*", "", text)


def learner_config(text: str) -> str:
    """_config.yml with the chapters' execution off (they run the reference library)."""
    changed = re.sub(
        r"execute_notebooks: \w+",
        "# The chapters run the course's reference library, which this repository does not\n"
        "  # ship: their pages show no outputs here; the online book shows them executed.\n"
        '  execute_notebooks: "off"',
        text,
        count=1,
    )
    return changed.replace("  - solutions/*\n", "")


README = """\
# Recurrent neural networks, from the cell to the char-RNN: learner repository

The course's book and its exercise notebooks, for learners. The answers, the grader's hidden
tests and its reference implementations are kept by your instructor, in the instructor
repository.

## Set up

```
python3 -m venv .venv
.venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
.venv/bin/pip install -r requirements.txt
.venv/bin/pip install -e .
```

## Work on an exercise

Open `exercises/<NN_topic>/<topic>.ipynb` in Jupyter, fill the cells marked for you and run
the visible tests in the notebook. From a terminal:

```
.venv/bin/rnn-course check exercises/01_rnn_cell/rnn_cell.ipynb
```

runs the notebook's visible tests and prints one row per graded test. A test that compares
with one of the course's reference implementations says so: it runs in full grading.

## Full grading

The points, the hidden tests and the comparisons with the references come from full grading:
your instructor grades the submitted notebooks with `rnn-course grade`, or your course grades on
Gradescope (upload the notebook there and read each test's message).

## The book

The chapters are in `book/`; the online book shows them with their outputs. A local build
shows the pages without executing the chapters, which run the reference library this
repository does not ship, so their outputs and the numbers they put in the text are missing:

```
.venv/bin/pip install jupyter-book==1.0.4.post1
.venv/bin/python book/_ext/vendor_mathjax.py _build/vendor/mathjax   # MathJax 3, with npm
.venv/bin/jupyter-book build . --path-output .
```
"""

GITIGNORE = "_build/\n.venv/\n__pycache__/\n.ipynb_checkpoints/\n.jupyter_cache/\n*.egg-info/\n"


def course_url(config: str) -> str | None:
    """The repository URL of _config.yml (``repository: url:``)."""
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", config, re.M)
    return match.group(1) if match else None


def point_at(tree: Path, old: str, new: str) -> int:
    """Replace the instructor repository's URL by the learner repository's in every text file
    (the notebooks' setup cells install the course from it; the launch buttons open it)."""
    changed = 0
    for path in sorted(tree.rglob("*")):
        if path.is_file() and path.suffix in {".ipynb", ".md", ".yml", ".py", ".toml", ".txt"}:
            text = path.read_text(encoding="utf-8", errors="strict")
            if old in text:
                path.write_text(text.replace(old, new), encoding="utf-8")
                changed += 1
    return changed


def publish(out: Path, solutions: Path | None = None, url: str | None = None) -> list[Path]:
    """Write the learner repository into ``out`` (which must not exist); its files. With
    ``url``, the learner repository's address replaces the instructor repository's."""
    from autograder.grading.assignments import SOLUTIONS_DIR

    solutions = Path(solutions or SOLUTIONS_DIR)
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise PublishError(f"{out} exists: remove it or choose another folder")
    if not out.parent.is_dir():
        raise PublishError(f"the folder {out.parent} does not exist")
    if out.resolve().is_relative_to(REPO.resolve()):
        raise PublishError(f"{out} is inside the instructor repository: publish elsewhere")
    graded = graded_names(solutions)
    helpers = (handed_over(solutions) | set(HELPERS)) - set(graded)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir()
        for relative in COPIED:
            _copy(relative, tmp)
        (tmp / "_config.yml").write_text(
            learner_config((REPO / "_config.yml").read_text(encoding="utf-8")), encoding="utf-8"
        )
        (tmp / "_toc.yml").write_text(
            learner_toc((REPO / "_toc.yml").read_text(encoding="utf-8")), encoding="utf-8"
        )
        (tmp / "autograder" / "cli.py").write_text(
            (REPO / "autograder" / "learner_cli.py").read_text(encoding="utf-8"),
            encoding="utf-8",
        )
        (tmp / "autograder" / "reference" / "__init__.py").write_text(
            '"""The course\'s reference library, without the answers (see numpy_rnn)."""\n',
            encoding="utf-8",
        )
        for relative, module in REWRITTEN.items():
            text = (REPO / relative).read_text(encoding="utf-8")
            (tmp / relative).write_text(
                learner_module(text, module, graded, helpers), encoding="utf-8"
            )
        write_handouts(tmp / "autograder" / "handouts", graded, helpers)
        (tmp / "README.md").write_text(README, encoding="utf-8")
        (tmp / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        instructors = course_url((REPO / "_config.yml").read_text(encoding="utf-8"))
        if url and instructors:
            point_at(tmp, instructors.rstrip("/"), url.rstrip("/"))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return sorted(p for p in out.rglob("*") if p.is_file())


def write_handouts(folder: Path, graded: dict[str, str], helpers: set[str]) -> list[Path]:
    """Each exercise's handout as a plain module, without the answers of earlier exercises.

    In the instructor repository a handout prunes the reference library when it is imported
    (:mod:`autograder.handouts`) and hands an exercise the earlier answers it builds on (Exercise
    3 runs Exercise 2's ``rnn_backward``). The learner repository has neither that library nor
    the pruner, and keeps no answer: it gets the pruned source with every graded function
    stubbed as in the reference modules (:func:`learner_module`), so a visible test that runs one
    says that it runs in full grading, and the learner may paste in their own earlier answer.
    """
    import importlib
    import pkgutil

    from autograder import handouts

    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "__init__.py"]
    written[0].write_text(
        '"""What each exercise hands to the learner from earlier ones."""\n', encoding="utf-8"
    )
    for info in pkgutil.iter_modules(handouts.__path__):
        module = importlib.import_module(f"{handouts.__name__}.{info.name}")
        text = handouts.source(tuple(module.__all__), (module.__doc__ or "").strip())
        path = folder / f"{info.name}.py"
        path.write_text(learner_module(text, module.__name__, graded, helpers), encoding="utf-8")
        written.append(path)
    return written


def add_publish_command(subparsers) -> None:
    p = subparsers.add_parser(
        "publish",
        help="write the learner repository: book, exercises, no answers",
        description=textwrap.fill(
            "Write into OUT a repository learners can clone: the book's sources, exercises/ "
            "with their visible tests, and a course package whose `rnn-course check` runs them. "
            "It has no solutions/, no hidden tests, no reference implementation of a graded "
            "function and no sample submissions; keep this repository private, and publish OUT.",
            78,
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("out", type=Path, metavar="OUT", help="the folder to write (must not exist)")
    p.add_argument(
        "--url",
        metavar="URL",
        help="the learner repository's address on GitHub, GitLab or Bitbucket "
        "(https://github.com/ORG/NAME): the notebooks' setup cells install the course from it "
        "and the book's buttons open it, instead of this repository's",
    )
    p.add_argument("--solutions", type=Path, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=run_publish)


def run_publish(args) -> int:
    if args.url is not None and not re.fullmatch(r"https://\S+", args.url):
        print("rnn-course publish: --url must be an https:// address", file=sys.stderr)
        return 2
    try:
        written = publish(args.out, args.solutions, args.url)
    except PublishError as err:
        print(f"rnn-course publish: {err}", file=sys.stderr)
        return 2
    print(f"wrote the learner repository {args.out} ({len(written)} files)")
    if args.url is None:
        print(
            "warning: the notebooks' setup cells and the book's buttons still point at this "
            "repository: pass --url with the learner repository's address",
            file=sys.stderr,
        )
    return 0
