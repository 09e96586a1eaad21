"""nbgrader is imported whole, by one thread at a time, before the grader uses any of it.

The gradebook's recorder imports nbgrader in a thread while the main thread may read a timestamp
or the late-work plugin through nbgrader; two threads importing nbgrader's circular packages at
once made one of them fail with "cannot import name ... from partially initialized module"
(the book's instructor guide stopped on it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADING = ROOT / "autograder" / "grading"
GUARDS = {"load", "_nbgrader"}  # nbgrader_api.load(), or gradebook._nbgrader() which calls it


def _unguarded(path: Path) -> list[str]:
    """Functions of ``path`` that import nbgrader without calling a guard before."""
    found = []
    for func in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(func, ast.FunctionDef):
            continue
        guarded = False
        for stmt in func.body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                    if name in GUARDS:
                        guarded = True
            imports = [
                n
                for n in ast.walk(stmt)
                if isinstance(n, ast.ImportFrom | ast.Import)
                and any(
                    (getattr(n, "module", None) or alias.name).split(".")[0] == "nbgrader"
                    for alias in n.names
                )
            ]
            if imports and not guarded and func.name != "load":
                found.append(f"{path.name}:{func.name}")
    return found


def test_every_import_of_nbgrader_in_the_grader_comes_after_the_guard():
    unguarded = [f for path in sorted(GRADING.glob("*.py")) for f in _unguarded(path)]
    assert unguarded == [], unguarded


def test_two_threads_using_nbgrader_at_once_both_succeed():
    code = (
        "import threading\n"
        "from autograder.grading import gradebook, late\n"
        "errors = []\n"
        "def recorder():\n"
        "    try:\n"
        "        gradebook._nbgrader()\n"
        "    except BaseException as err:\n"
        "        errors.append(err)\n"
        "t = threading.Thread(target=recorder)\n"
        "t.start()\n"
        "late.parse_time('2026-03-01 12:00:00 UTC')\n"
        "t.join()\n"
        "assert not errors, errors\n"
        "print('ok')\n"
    )
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
