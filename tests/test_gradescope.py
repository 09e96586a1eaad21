"""`rnn-course gradescope`: the bundle follows Gradescope's contract, and its run_autograder
gives each test the points `rnn-course grade` gives the same notebook."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import gradescope

REPO = Path(__file__).resolve().parents[1]
RNN_COURSE = str(Path(sys.executable).parent / "rnn-course")
SAMPLES = REPO / "book" / "instructor" / "sample_submitted"
A = "01_rnn_cell"
SEED = 11


def _run(*args, env=None, timeout=600):
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    result = _run(RNN_COURSE, "gradescope", A, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def _run_bundle(bundle: Path, root: Path, notebooks: dict[str, Path]) -> tuple[dict, str]:
    """Run the bundle's run_autograder as Gradescope would, with ROOT in place of /autograder
    and this virtual environment in place of the one setup.sh makes."""
    gradescope.unpack(bundle, root)
    for name, source in notebooks.items():
        shutil.copy(source, root / "submission" / name)
    env = {
        **os.environ,
        gradescope.ROOT_ENV: str(root),
        gradescope.PYTHON_ENV: sys.executable,
    }
    result = _run(root / "run_autograder", "--seed", SEED, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(
        (root / "results" / "results.json").read_text(encoding="utf-8")
    ), result.stdout


def _graded_by_the_batch(tmp_path: Path, notebook: Path) -> dict[str, tuple[float, float]]:
    submitted = tmp_path / "submitted" / "learner" / A
    submitted.mkdir(parents=True)
    shutil.copy(notebook, submitted / "rnn_cell.ipynb")
    out = tmp_path / "out"
    result = _run(
        RNN_COURSE,
        "grade",
        tmp_path / "submitted",
        "--out",
        out,
        "--seed",
        SEED,
        "--workers",
        1,
        "--no-gradebook",
        "-q",
    )
    assert result.returncode == 0, result.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {
            r["test_id"]: (float(r["points"]), float(r["max_points"])) for r in csv.DictReader(f)
        }


def test_the_zip_has_setup_and_run_autograder_at_its_root_executable(bundle):
    with zipfile.ZipFile(bundle) as archive:
        infos = {i.filename: i for i in archive.infolist()}
    for name in ("setup.sh", "run_autograder"):
        assert name in infos
        assert (infos[name].external_attr >> 16) & stat.S_IXUSR
    assert f"solutions/{A}/checks.py" in infos
    assert "course/pyproject.toml" in infos
    assert "course/autograder/grading/engine.py" in infos
    assert not any("__pycache__" in n for n in infos)


def test_setup_installs_cpu_torch_first_then_the_pins_then_the_course(bundle):
    with zipfile.ZipFile(bundle) as archive:
        setup = archive.read("setup.sh").decode()
        requirements = archive.read("requirements.txt").decode().split()
    torch_line = next(line for line in setup.splitlines() if "torch==2.13.0" in line)
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_line
    order = [setup.index(s) for s in ("torch==2.13.0", "-r requirements.txt", "./course")]
    assert order == sorted(order)
    assert "--no-deps ./course" in setup
    assert setup.rstrip().endswith("chmod -R go-rwx /autograder/source")
    pins = {
        line.split("==")[0].lower(): line
        for line in (REPO / "requirements.txt").read_text().split()
        if "==" in line
    }
    assert "torch==2.13.0" in requirements
    for name in ("numpy", "nbformat", "nbgrader", "jinja2"):
        assert pins[name] in requirements, name
    assert all("==" in line for line in requirements)


def test_a_mistake_gets_the_points_and_the_message_the_batch_gives(bundle, tmp_path):
    notebook = SAMPLES / "mistake_carry" / A / "rnn_cell.ipynb"
    data, stdout = _run_bundle(bundle, tmp_path / "root", {"rnn_cell.ipynb": notebook})
    batch = _graded_by_the_batch(tmp_path, notebook)
    tests = {t["name"].split(":")[0]: t for t in data["tests"]}
    assert set(tests) == set(batch)
    for test_id, (points, max_points) in batch.items():
        assert (tests[test_id]["score"], tests[test_id]["max_score"]) == (points, max_points)
    assert data["score"] == sum(p for p, _ in batch.values()) < sum(m for _, m in batch.values())
    assert data["visibility"] == "visible"
    for test in data["tests"]:
        assert set(test) >= {"score", "max_score", "name", "output", "visibility"}
    wrong = [t for t in data["tests"] if t["score"] < t["max_score"]]
    assert wrong and all("diagnosis: " in t["output"] and "hint: " in t["output"] for t in wrong)
    assert "carried" in wrong[0]["output"]
    assert data["output"] in stdout
    assert stat.S_IMODE((tmp_path / "root" / "source").stat().st_mode) == 0o700


def test_a_correct_notebook_under_another_name_gets_full_marks(bundle, tmp_path):
    correct = REPO / "solutions" / A / "rnn_cell.ipynb"
    data, _ = _run_bundle(bundle, tmp_path / "root", {"my_homework.ipynb": correct})
    assert data["score"] == sum(t["max_score"] for t in data["tests"]) == 8
    assert all(t["output"] == "passed" for t in data["tests"])
    assert "the only notebook submitted" in data["output"]


def test_no_notebook_gives_zero_and_says_what_to_upload(bundle, tmp_path):
    data, _ = _run_bundle(bundle, tmp_path / "root", {})
    assert data["score"] == 0
    assert all("upload rnn_cell.ipynb" in t["output"] for t in data["tests"])


def test_the_bundle_is_never_overwritten_and_mistakes_exit_with_two(bundle, tmp_path):
    before = bundle.read_bytes()
    result = _run(RNN_COURSE, "gradescope", A, "--out", bundle)
    assert result.returncode == 2 and "exists" in result.stderr
    assert bundle.read_bytes() == before
    result = _run(RNN_COURSE, "gradescope", "99_nothing", "--out", tmp_path / "x.zip")
    assert result.returncode == 2 and "unknown assignment" in result.stderr
    assert not (tmp_path / "x.zip").exists()
    result = _run(RNN_COURSE, "gradescope", A, "--out", tmp_path / "no" / "x.zip")
    assert result.returncode == 2 and "does not exist" in result.stderr
