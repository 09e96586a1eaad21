"""Stamp the setup cell that opens every chapter and exercise notebook, from one setting.

    python book/_ext/setup_cell.py            # stamp every chapter and exercise source
    python book/_ext/setup_cell.py PATH ...   # stamp only these files
    python book/_ext/setup_cell.py --check    # exit 1 and list the files whose cell is missing or stale

The repository URL lives in one place, ``repository.url`` (and ``repository.branch``) of
``_config.yml``; the launch buttons read it there, and this script writes it into the cell. The
cell makes the course package importable wherever the notebook is opened:

* in a checkout of the repository, it puts the checkout (and its ``book/`` folder, for the
  figures) on ``sys.path``;
* where ``autograder`` still does not import (Colab, a bare Jupyter), it installs the package with
  ``pip install "rnn-course @ git+<url>@<branch>"``;
* where ``autograder`` already imports, it changes nothing, so running it twice is harmless.

Targets: the chapter notebooks (``book/chapters/*.ipynb``, where the cell is hidden from the page
with the ``remove-cell`` tag) and the exercise sources (``solutions/_src/NN_*.py``, where it is a
``[code]`` cell folded with ``hide-input``; regenerate the exercise with ``rnn-course release``).
The generated exercise notebooks are only checked, never written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MARKER = "# Course setup:"
# The first line of the setup cells written before this script existed.
OLD_MARKERS = ("# Setup: make the course's code importable",)
SRC_HEADER = "# %% [code] tags=hide-input"

TEMPLATE = """\
{marker} make the course package `autograder` importable. In a checkout of the
# repository it is imported from there; on Colab, or any machine without it, it is first
# installed with pip from {url}
# Where it already imports, this cell changes nothing.
import importlib.util
import subprocess
import sys
from pathlib import Path

for _root in (Path.cwd(), *Path.cwd().parents):
    if (_root / "autograder" / "__init__.py").is_file():
        for _path in (str(_root / "book"), str(_root)):
            if _path not in sys.path:
                sys.path.insert(0, _path)
        break
if importlib.util.find_spec("autograder") is None:
    _spec = "{spec}"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", _spec], check=True)"""


def repository(root: Path = ROOT) -> tuple[str, str]:
    """``repository.url`` and ``repository.branch`` of ``_config.yml``."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config.get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch", "main")
    if not url or not re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+", url):
        raise SystemExit(
            f"_config.yml: repository.url must be https://HOST/OWNER/REPO, got {url!r}"
        )
    return url, branch


def install_spec(url: str, branch: str) -> str:
    """What pip installs: the course package from the repository, at the book's branch."""
    return f"rnn-course @ git+{url}@{branch}"


def cell_source(root: Path = ROOT) -> str:
    url, branch = repository(root)
    return TEMPLATE.format(marker=MARKER, url=url, spec=install_spec(url, branch))


def _is_setup(text: str) -> bool:
    return text.startswith(MARKER) or text.startswith(OLD_MARKERS)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def stamp_notebook(path: Path, source: str, write: bool) -> bool:
    """Put the cell right after the title cell of a chapter; True if the file changed."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    lines = source.splitlines(keepends=True)
    found = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and _is_setup(_source(c))]
    if found:
        cell = cells[found[0]]
        if _source(cell) == source and "remove-cell" in cell.get("metadata", {}).get("tags", []):
            return False
        cell["source"] = lines
        cell.setdefault("metadata", {})["tags"] = ["remove-cell"]
    else:
        cell = {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {"tags": ["remove-cell"]},
            "outputs": [],
            "source": lines,
        }
        if nb.get("nbformat_minor", 0) >= 5:
            cell["id"] = "course-setup"
        cells.insert(1 if cells and cells[0]["cell_type"] == "markdown" else 0, cell)
    if write:
        path.write_text(
            json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return True


def stamp_exercise_source(path: Path, source: str, write: bool) -> bool:
    """Put the cell after the first markdown cell of an exercise source; True if it changed."""
    text = path.read_text(encoding="utf-8")
    block = f"{SRC_HEADER}\n{source}\n"
    parts = re.split(r"(?m)^(?=# %% \[)", text)
    head, cells = parts[0], parts[1:]
    setup = [i for i, c in enumerate(cells) if _is_setup(c.split("\n", 1)[1] if "\n" in c else "")]
    if setup:
        i = setup[0]
        if cells[i].rstrip("\n") + "\n" == block:
            return False
        trailing = "\n" * (len(cells[i]) - len(cells[i].rstrip("\n")))
        cells[i] = block.rstrip("\n") + (trailing or "\n")
    else:
        first_md = next(i for i, c in enumerate(cells) if c.startswith("# %% [markdown]"))
        cells.insert(first_md + 1, block + "\n")
    if write:
        path.write_text(head + "".join(cells), encoding="utf-8")
    return True


def generated_exercise_is_current(path: Path, source: str) -> bool:
    """A released exercise notebook holds the cell exactly (it is generated, never stamped)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return any(c["cell_type"] == "code" and _source(c) == source for c in nb["cells"])


def default_targets(root: Path = ROOT) -> list[Path]:
    return sorted((root / "book" / "chapters").glob("*.ipynb")) + sorted(
        (root / "solutions" / "_src").glob("[0-9][0-9]_*.py")
    )


def stamp(path: Path, source: str, write: bool) -> bool:
    if path.suffix == ".ipynb" and "exercises" in path.parts:
        return not generated_exercise_is_current(path, source)
    if path.suffix == ".ipynb":
        return stamp_notebook(path, source, write)
    if path.suffix == ".py":
        return stamp_exercise_source(path, source, write)
    raise SystemExit(f"{path}: not a chapter notebook or an exercise source")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files to stamp (default: all)")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    source = cell_source()
    targets = [p.resolve() for p in args.paths] or default_targets()
    changed = [p for p in targets if stamp(p, source, write=not args.check)]
    for path in changed:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(("stale setup cell: " if args.check else "stamped: ") + str(shown))
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
