"""`rnn-course release`: the student notebooks regenerated from solutions/ by nbgrader's
generate_assignment, and the assignment recorded in the course's gradebook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.grading import assignments

ROOT = Path(__file__).resolve().parent.parent
RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
# Fields nbgrader or Jupyter may change without changing the notebook.
VOLATILE = {"execution_count", "outputs", "id"}


def make_course(root: Path) -> Path:
    """A course folder whose nbgrader_config.py loads the repository's and only moves the
    course root, the release folder and the gradebook (solutions/ stays the source)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(ROOT / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.source_directory = {str(ROOT / 'solutions')!r}\n"
        "c.CourseDirectory.release_directory = 'exercises'\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n",
        encoding="utf-8",
    )
    return root


def comparable(path: Path) -> list[dict]:
    nb = nbformat.read(path, as_version=4)
    return [{k: v for k, v in c.items() if k not in VOLATILE} for c in nb.cells]


def release(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RNN_COURSE, "release", *map(str, args)], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return make_course(tmp_path_factory.mktemp("course"))


def test_release_regenerates_the_student_notebooks_from_the_solutions(course):
    names = ["00_concepts", "05_gradient_clipping"]
    result = release(*names, "--course", course)
    assert result.returncode == 0, result.stderr
    for name in names:
        assert f"released {name}" in result.stdout
        (notebook,) = (course / "exercises" / name).glob("*.ipynb")
        assert comparable(notebook) == comparable(ROOT / "exercises" / name / notebook.name)
        text = notebook.read_text()
        assert "### BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert sorted(p.name for p in (course / "exercises").iterdir()) == names
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        recorded = {a.name: a.max_score for a in gb.assignments}
    # The points the notebook sources state (what the grader's checks take too).
    assert recorded == {name: assignments.load(name).max_points for name in names}


def test_an_unknown_assignment_is_refused_with_the_known_ones(course):
    result = release("05_gradient_clipping", "5_clipping", "--course", course)
    assert result.returncode == 2
    assert "unknown assignment '5_clipping'" in result.stderr
    assert "05_gradient_clipping" in result.stderr.split("has", 1)[1]
    assert "Traceback" not in result.stderr


def test_a_folder_without_nbgrader_config_is_no_course(tmp_path):
    result = release("--course", tmp_path)
    assert result.returncode == 2 and "no nbgrader_config.py" in result.stderr
