"""Runs everywhere: one repository URL, a setup cell in every notebook, Binder's environment.

* the setup cell of every chapter and exercise is the one ``book/_ext/setup_cell.py`` writes from
  ``_config.yml``'s ``repository.url`` (``--check``), and it follows that setting;
* the cell's install path works as on Colab: in a fresh virtual environment that has the
  course's dependencies but not the course, the cell's own pip command (with the repository URL
  replaced by a wheel of this checkout, since GitHub is out of reach here) makes
  ``import autograder`` and ``import figures`` work, and a second run installs nothing;
* where ``autograder`` already imports, the cell runs no command at all;
* Binder installs PyTorch's CPU build and the pinned requirements, then the package.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "book" / "_ext" / "setup_cell.py"

sys.path.insert(0, str(SCRIPT.parent))
import setup_cell  # noqa: E402

sys.path.remove(str(SCRIPT.parent))

# Refuses any further call of subprocess.run: prepended to the cell when it must do nothing.
NO_COMMANDS = textwrap.dedent(
    """\
    import subprocess

    def _refuse(*args, **kwargs):
        raise SystemExit(f"the setup cell ran a command: {args}")

    subprocess.run = _refuse
    """
)


def config_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"]


def test_every_notebook_has_the_current_setup_cell():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, (
        "setup cells missing or stale; run `python book/_ext/setup_cell.py` (then release the "
        f"exercises):\n{result.stdout}{result.stderr}"
    )
    exercises = sorted((ROOT / "exercises").glob("*/*.ipynb"))
    assert exercises
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", *map(str, exercises)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"released exercises without the setup cell:\n{result.stdout}"


def test_the_repository_url_is_one_setting(tmp_path):
    url = config_url()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    assert url != "https://github.com/rnn-course/rnn-course", "the placeholder repository is back"
    assert url in setup_cell.cell_source()
    # The cell follows the setting: another URL in a copy of the config gives another cell.
    (tmp_path / "_config.yml").write_text(
        (ROOT / "_config.yml").read_text(encoding="utf-8").replace(url, "https://example.org/a/b"),
        encoding="utf-8",
    )
    moved = setup_cell.cell_source(tmp_path)
    assert "git+https://example.org/a/b@" in moved and url not in moved
    # Nowhere else in the sources is the URL written by hand.
    written = []
    for path in [*ROOT.glob("book/**/*.md"), *ROOT.glob("*.md"), ROOT / "Makefile"]:
        if url in path.read_text(encoding="utf-8"):
            written.append(str(path.relative_to(ROOT)))
    assert not written, f"the repository URL is typed by hand in {written}"


def test_stamping_inserts_and_then_leaves_alone(tmp_path):
    source = setup_cell.cell_source()
    notebook = tmp_path / "chapter.ipynb"
    notebook.write_text(
        '{"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["# T"]}],'
        ' "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        encoding="utf-8",
    )
    assert setup_cell.stamp_notebook(notebook, source, write=True) is True
    assert setup_cell.stamp_notebook(notebook, source, write=True) is False
    exercise = tmp_path / "99_x.py"
    exercise.write_text("# %% [markdown]\n# # Title\n\n# %% [code]\nx = 1\n", encoding="utf-8")
    assert setup_cell.stamp_exercise_source(exercise, source, write=True) is True
    assert setup_cell.stamp_exercise_source(exercise, source, write=True) is False
    text = exercise.read_text(encoding="utf-8")
    assert text.index("# # Title") < text.index(setup_cell.MARKER) < text.index("x = 1")


def test_setup_cell_does_nothing_where_autograder_imports(tmp_path):
    cell = tmp_path / "cell.py"
    cell.write_text(NO_COMMANDS + setup_cell.cell_source() + "\nimport autograder\n")
    result = subprocess.run(
        [sys.executable, str(cell)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_setup_cell_installs_the_course_in_a_fresh_environment_as_on_colab(tmp_path):
    # A wheel of this checkout stands in for the repository, built outside the working tree.
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "autograder", src / "autograder", ignore=ignore)
    shutil.copytree(ROOT / "book" / "figures", src / "book" / "figures", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("rnn_course-*.whl")

    # Colab: Python with numpy, torch and the rest already there, but not the course. The fresh
    # venv sees this environment's third-party packages through a folder of links to them (all
    # but the course's own install) named in a .pth line.
    deps = tmp_path / "preinstalled"
    deps.mkdir()
    for item in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = item.name.lower()
        if not name.startswith(("rnn_course", "__editable__", "autograder", "figures")):
            (deps / item.name).symlink_to(item)
    venv = tmp_path / "colab"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # The venv's own old setuptools would shadow the one the preinstalled torch requires.
    subprocess.run(
        [str(python), "-m", "pip", "uninstall", "-y", "-q", "setuptools"],
        capture_output=True,
        timeout=300,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "preinstalled.pth").write_text(f"{deps}\n")

    workdir = tmp_path / "content"  # Colab's working folder: no checkout above it
    workdir.mkdir()
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    probe = "import autograder; print(autograder.__file__)"
    before = subprocess.run(
        [str(python), "-c", probe], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert before.returncode != 0, f"the fresh environment already has the course: {before.stdout}"

    url, branch = setup_cell.repository()
    source = setup_cell.cell_source()
    spec = setup_cell.install_spec(url, branch)
    assert spec in source
    local = source.replace(spec, f"rnn-course @ {wheel.as_uri()}")
    cell = workdir / "setup_cell.py"
    cell.write_text(local)
    first = subprocess.run(
        [str(python), str(cell)], cwd=workdir, env=env, capture_output=True, text=True, timeout=600
    )
    assert first.returncode == 0, first.stdout + first.stderr

    after = subprocess.run(
        [str(python), "-c", probe + "; import figures.diagrams"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert after.returncode == 0, after.stderr
    assert str(venv) in after.stdout, f"autograder imported from {after.stdout}, not the venv"

    cell.write_text(NO_COMMANDS + local)
    second = subprocess.run(
        [str(python), str(cell)], cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, f"the second run was not a no-op: {second.stderr}"


def test_binder_has_cpu_torch_and_the_pinned_requirements():
    binder = ROOT / "binder"
    lines = [
        line.strip()
        for line in (binder / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert "torch==2.13.0" in lines
    assert lines.index("torch==2.13.0") < lines.index("-r ../requirements.txt")
    assert (binder / "../requirements.txt").resolve() == ROOT / "requirements.txt"
    post = (binder / "postBuild").read_text(encoding="utf-8")
    assert re.search(r"pip install .*-e \.", post) and os.access(binder / "postBuild", os.X_OK)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "TORCH_PIN := torch==2.13.0" in makefile, "Binder and make pin different torch"


@pytest.mark.parametrize(
    "page", ["book/chapters/01_what_is_an_rnn", "exercises/01_rnn_cell/rnn_cell"]
)
def test_launch_buttons_open_the_notebook_from_the_repository_setting(page):
    html = ROOT / "_build" / "html" / f"{page}.html"
    if not html.is_file():
        pytest.fail("the book is not built: run `make book` (make test builds it)")
    text = html.read_text(encoding="utf-8")
    owner_repo = config_url().removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{owner_repo}/blob/main/{page}.ipynb" in text
    assert f"mybinder.org/v2/gh/{owner_repo}/main?urlpath=tree/{page}.ipynb" in text
