"""`rnn-course publish`: the learner repository holds the book and the exercises, and none of
the answers: no solution line, no hidden-test line, no reference implementation of a graded
function; its `rnn-course check` runs the visible tests and says where full grading happens."""

from __future__ import annotations

import ast
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import publish

REPO = Path(__file__).resolve().parents[1]
RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
SAMPLES = REPO / "book" / "instructor" / "sample_submitted"
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".yml", ".yaml", ".txt", ".toml", ".cfg", ".bib", ""}
SITE_SUFFIXES = {".html", ".txt", ".ipynb", ".md", ".py", ".js"}
# Shorter lines (`h = h0`, `for t in range(T):`, `return out`) say nothing about an answer and
# occur in any loop; imports name modules, not answers.
SHORTEST_SECRET = 20
LEARNER_URL = "https://github.com/example-course/rnn-learners"


def _notebook_lines(path: Path) -> list[str]:
    """Every line of a notebook's sources and text outputs."""
    lines = []
    for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        source = cell.get("source", "")
        lines += ("".join(source) if isinstance(source, list) else source).splitlines()
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/plain", "")
            lines += ("".join(text) if isinstance(text, list) else text).splitlines()
    return lines


def _lines(path: Path) -> list[str]:
    if path.suffix == ".ipynb":
        return _notebook_lines(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":  # highlighted code: one line of the listing per line, in tags
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    return text.splitlines()


def _between(lines: list[str], begin: str, end: str) -> list[str]:
    inside, found = False, []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(begin):
            inside = True
        elif stripped.startswith(end):
            inside = False
        elif inside:
            found.append(stripped)
    return found


def _secrets() -> tuple[set[str], set[str], dict[str, int]]:
    """(solution lines, hidden-test lines, how many were left out and why)."""
    solution, hidden = [], []
    sources = sorted(REPO.glob("solutions/*/*.ipynb")) + sorted(REPO.glob("solutions/_src/*.py"))
    for path in sources:
        lines = _lines(path)
        solution += _between(lines, "### BEGIN SOLUTION", "### END SOLUTION")
        hidden += _between(lines, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
    for path in sorted(REPO.glob("solutions/*/checks.py")):
        hidden += [line.strip() for line in _lines(path)]
    released = {line.strip() for p in REPO.glob("exercises/*/*.ipynb") for line in _lines(p)}
    left_out = {"short": 0, "no word": 0, "import": 0, "in the release": 0}

    def keep(line: str) -> bool:
        if len(line) < SHORTEST_SECRET:
            left_out["short"] += 1
        elif not any(c.isalnum() for c in line):  # a rule of dashes between sections
            left_out["no word"] += 1
        elif line.startswith(("import ", "from ")) and " import " in f" {line}":
            left_out["import"] += 1
        elif line in released:
            left_out["in the release"] += 1
        else:
            return True
        return False

    return (
        {line for line in set(solution) if keep(line)},
        {line for line in set(hidden) if keep(line)},
        left_out,
    )


def find_secrets(
    tree: Path, secrets: set[str], suffixes: set[str] = TEXT_SUFFIXES
) -> dict[str, list[str]]:
    """{secret line: the files of ``tree`` that hold it}."""
    found: dict[str, list[str]] = {}
    for path in sorted(tree.rglob("*")):
        if not path.is_file() or path.suffix not in suffixes:
            continue
        try:
            lines = _lines(path)
        except (OSError, ValueError):
            continue
        for line in {line.strip() for line in lines} & secrets:
            found.setdefault(line, []).append(str(path.relative_to(tree)))
    return found


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("publish") / "learners"
    result = subprocess.run(
        [RNN_COURSE, "publish", str(out), "--url", LEARNER_URL],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def secrets():
    return _secrets()


def test_the_tree_has_the_book_and_exercises_and_nothing_of_the_instructors(tree):
    for name in ("README.md", "_config.yml", "_toc.yml", "pyproject.toml", "book/preface.md"):
        assert (tree / name).is_file(), name
    released = sorted(p.relative_to(REPO) for p in REPO.glob("exercises/*/*.ipynb"))
    assert released and sorted(p.relative_to(tree) for p in tree.glob("exercises/*/*.ipynb")) == (
        released
    )
    for withheld in ("solutions", "autograder/grading", "book/instructor", "book/experiments"):
        assert not (tree / withheld).exists(), withheld
    assert not list(tree.rglob("checks.py"))
    assert not list(tree.rglob("instructor_guide*"))
    assert "instructor" not in (tree / "_toc.yml").read_text()
    assert not [p for p in tree.rglob("*") if p.is_symlink()]


def test_the_notebooks_install_the_course_from_the_learner_repository(tree):
    instructors = publish.course_url((REPO / "_config.yml").read_text(encoding="utf-8"))
    assert instructors and instructors.startswith("https://")
    setup = "".join(
        json.loads((tree / "exercises/01_rnn_cell/rnn_cell.ipynb").read_text())["cells"][1][
            "source"
        ]
    )
    assert f"git+{LEARNER_URL}@" in setup
    assert f"url: {LEARNER_URL}" in (tree / "_config.yml").read_text()
    holding = [
        p
        for p in tree.rglob("*")
        if p.is_file()
        and p.suffix in TEXT_SUFFIXES
        and instructors in p.read_text(errors="replace")
    ]
    assert holding == []


def test_no_solution_or_hidden_test_line_is_in_the_tree(tree, secrets):
    solution, hidden, left_out = secrets
    print(f"solution lines {len(solution)}, hidden-test lines {len(hidden)}, left out {left_out}")
    assert len(solution) > 100 and len(hidden) > 500  # the grep has something to find
    assert find_secrets(tree, solution) == {}
    assert find_secrets(tree, hidden) == {}


def test_the_built_site_of_the_tree_holds_no_solution_or_hidden_test_line(tree, secrets):
    """The learner repository's own book build (chapters not executed) leaks nothing either."""
    site = tree.parent / "site"
    shutil.copytree(tree, site)
    mathjax = REPO / "_build" / "vendor" / "mathjax"
    if (mathjax / "tex-mml-chtml.js").is_file():
        shutil.copytree(mathjax, site / "_build" / "vendor" / "mathjax")
    else:
        vendor = [sys.executable, "book/_ext/vendor_mathjax.py", "_build/vendor/mathjax"]
        subprocess.run(vendor, cwd=site, check=True, timeout=600)
    jupyter_book = str(Path(sys.executable).parent / "jupyter-book")
    result = subprocess.run(
        [jupyter_book, "build", ".", "--path-output", ".", "--keep-going"],
        cwd=site,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    built = site / "_build" / "html"
    assert (built / "exercises" / "01_rnn_cell" / "rnn_cell.html").is_file()
    assert not list(built.rglob("*instructor*"))
    solution, hidden, _ = secrets
    assert find_secrets(built, solution, SITE_SUFFIXES) == {}
    assert find_secrets(built, hidden, SITE_SUFFIXES) == {}


def test_the_grep_finds_what_the_instructor_repository_holds(secrets, tmp_path):
    solution, hidden, _ = secrets
    # The same search on what publish leaves out finds every secret line there.
    assert set(find_secrets(REPO / "solutions", solution)) == solution
    assert set(find_secrets(REPO / "solutions", hidden)) == hidden
    assert find_secrets(SAMPLES / "correct", solution)
    # and a line in a page, highlighted as Sphinx highlights code
    line = max(solution, key=len)
    words = "".join(f'<span class="n">{html.escape(w)}</span> ' for w in line.split(" "))
    (tmp_path / "page.html").write_text(f"<pre>\n{words.rstrip()}\n</pre>", encoding="utf-8")
    assert set(find_secrets(tmp_path, solution, SITE_SUFFIXES)) == {line}


def test_no_graded_function_has_its_reference_implementation(tree):
    graded = publish.graded_names(REPO / "solutions")
    for module in ("numpy_rnn", "torch_rnn"):
        source = (tree / "autograder" / "reference" / f"{module}.py").read_text()
        defined = {
            node.name
            for node in ast.parse(source).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        }
        assert not defined & set(graded), module
    probe = (
        "from autograder.reference import numpy_rnn, torch_rnn\n"
        "import numpy as np, sys\n"
        "for name in sys.argv[1:]:\n"
        "    for module in (numpy_rnn, torch_rnn):\n"
        "        if hasattr(module, name):\n"
        "            try:\n"
        "                getattr(module, name)(np.zeros((1, 1)))\n"
        "            except module.ReferenceNotShipped as err:\n"
        "                assert name in str(err) and 'full grading' in str(err)\n"
        "            else:\n"
        "                raise SystemExit(f'{name} ran')\n"
        "print(numpy_rnn.rel_error(np.ones(3), np.ones(3)))\n"
    )
    names = [n for n in graded if not n.startswith("answer_")]
    result = subprocess.run(
        [sys.executable, "-c", probe, *names], cwd=tree, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.0"


def test_every_handout_imports_from_the_tree_alone(tree):
    from autograder import handouts
    from autograder.grading import assignments as declarations

    graded = publish.graded_names(REPO / "solutions")
    probe = (
        "import importlib, os, sys\n"
        "graded = set(sys.argv[1].split(','))\n"
        "for spec in sys.argv[2:]:\n"
        "    name, _, given = spec.partition('=')\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(os.getcwd() + os.sep), module.__file__\n"
        "    for function in given.split(','):\n"
        "        assert callable(getattr(module, function)), function\n"
        "        if function in graded:\n"
        "            try:\n"
        "                getattr(module, function)()\n"
        "            except module.ReferenceNotShipped as err:\n"
        "                assert 'full grading' in str(err), err\n"
        "            else:\n"
        "                raise SystemExit(function + ' ran')\n"
        "print('ok')\n"
    )
    specs = []
    for assignment in declarations.known(REPO / "solutions"):
        loaded = declarations.load(assignment, REPO / "solutions")
        given = sorted({f for functions in loaded.givens.values() for f in functions})
        if given:
            assert not set(given) & set(loaded.required), assignment
            specs.append(f"{handouts.module_name(assignment)}={','.join(given)}")
    assert specs, "no exercise hands anything out: the test would check nothing"
    result = subprocess.run(
        [sys.executable, "-c", probe, ",".join(graded), *specs],
        cwd=tree,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert not (tree / "autograder" / "grading").exists()


def _check(tree: Path, notebook: Path) -> subprocess.CompletedProcess:
    # From the tree's root, `python -m autograder` is the learner repository's package.
    return subprocess.run(
        [sys.executable, "-m", "autograder", "check", str(notebook)],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_check_runs_the_visible_tests_and_says_where_full_grading_happens(tree):
    done = tree / "exercises" / "01_rnn_cell" / "answered.ipynb"
    shutil.copy(SAMPLES / "correct" / "01_rnn_cell" / "rnn_cell.ipynb", done)
    try:
        result = _check(tree, done)
    finally:
        done.unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {
        line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("test_")
    }
    # The visible tests compare with torch.nn and stored answers, never with the references,
    # so every one of them runs in the learner repository.
    assert len(rows) == 6, rows
    assert all(row.endswith("passed") for row in rows.values()), rows
    assert "needs the reference" not in result.stdout
    assert "rnn-course grade" in result.stdout and "Gradescope" in result.stdout


def test_check_of_an_untouched_exercise_says_nothing_is_written(tree):
    result = _check(tree, tree / "exercises" / "01_rnn_cell" / "rnn_cell.ipynb")
    assert result.returncode == 1
    rows = [line for line in result.stdout.splitlines() if line.startswith("test_")]
    # Every visible test calls the learner's functions (or reads the prediction, unmade): none
    # compares with a reference.
    assert sum(r.endswith("not written") for r in rows) == 5
    assert not any(r.endswith("needs the reference") for r in rows)
    assert "0 of 6 visible tests pass here" in result.stdout


def test_publish_never_overwrites_and_refuses_the_instructor_repository(tree, tmp_path):
    result = subprocess.run([RNN_COURSE, "publish", str(tree)], capture_output=True, text=True)
    assert result.returncode == 2 and "exists" in result.stderr
    inside = REPO / "_build" / "learners-test"
    result = subprocess.run([RNN_COURSE, "publish", str(inside)], capture_output=True, text=True)
    assert result.returncode == 2 and "inside the instructor repository" in result.stderr
    assert not inside.exists()
    result = subprocess.run(
        [RNN_COURSE, "publish", str(tmp_path / "no" / "out")], capture_output=True, text=True
    )
    assert result.returncode == 2 and "does not exist" in result.stderr
