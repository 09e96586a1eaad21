"""Load: read a submitted ``.ipynb`` leniently, or say in plain words why it cannot be read.

Only what grading needs is read: the type and source of each cell. Metadata, outputs and
nbgrader's cell markers are ignored, so a notebook whose cells were copied, retyped or stripped
of their metadata reads the same. Anything that is not a version-4 notebook is refused with a
message that tells the learner what happened and how to fix it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

MAX_NOTEBOOK_MB = 25


class NotebookError(Exception):
    """The file cannot be graded; the message is written for the learner."""


@dataclass(frozen=True)
class Cell:
    """One cell: its position in the notebook (1-based), its type and its source text."""

    number: int
    kind: str
    source: str


def _source_text(value, number: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    raise NotebookError(f"cell {number} is damaged: its source is not text")


def parse_notebook(data: bytes, max_mb: float = MAX_NOTEBOOK_MB) -> list[Cell]:
    """The cells of a notebook given as raw bytes; NotebookError when it is not readable."""
    if len(data) > max_mb * (1 << 20):
        raise _too_big(len(data), max_mb)
    if not data.strip():
        raise NotebookError(
            "the notebook file is empty: it was probably not saved before it was submitted"
        )
    if b"\x00" in data[:65536]:
        raise NotebookError(
            "this file is not a notebook (it holds binary data); submit the .ipynb file that "
            "Jupyter saved"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotebookError(
            "this file is not a notebook (it is not UTF-8 text); submit the .ipynb file that "
            "Jupyter saved"
        ) from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(
            f"the notebook file is not valid JSON (line {err.lineno}, column {err.colno}: "
            f"{err.msg}); it was probably cut short or edited outside Jupyter. Open it in "
            "Jupyter; if it does not open, start again from the released notebook"
        ) from None
    except RecursionError:
        raise NotebookError("the notebook file is nested too deeply to be read") from None
    except (ValueError, MemoryError) as err:
        # e.g. an integer of more digits than Python converts (sys.get_int_max_str_digits)
        raise NotebookError(
            f"the notebook file holds a value that cannot be read ({str(err)[:120]}); open it in "
            "Jupyter; if it does not open, start again from the released notebook"
        ) from None
    if not isinstance(content, dict) or "nbformat" not in content:
        raise NotebookError(
            "this file is JSON but not a Jupyter notebook (it has no 'nbformat' field)"
        )
    version = content.get("nbformat")
    if version != 4:
        if isinstance(version, int) and version < 4:
            raise NotebookError(
                f"the notebook is saved in the old notebook format {version}, which the grader "
                "does not read; open it in a current Jupyter, save it (this converts it to "
                "format 4) and submit again"
            )
        raise NotebookError(f"the notebook declares an unknown format version {version!r}")
    cells = content.get("cells")
    if not isinstance(cells, list):
        raise NotebookError("the notebook is damaged: it has no list of cells")
    out = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {number} is damaged: it is not a cell")
        kind = cell.get("cell_type")
        if not isinstance(kind, str):
            raise NotebookError(f"cell {number} is damaged: it has no cell type")
        out.append(Cell(number, kind, _source_text(cell.get("source", ""), number)))
    return out


SYMLINK = (
    "is a symbolic link, not a file: the grader does not follow links in submissions; submit "
    "the notebook file itself"
)


def read_notebook(path: Path, max_mb: float = MAX_NOTEBOOK_MB) -> list[Cell]:
    """The cells of the notebook at ``path``; NotebookError when it cannot be read or graded.

    A symbolic link is refused (it could point at the solutions): the file is opened with
    O_NOFOLLOW, so a link put in its place after the engine looked is refused too.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise NotebookError(f"the notebook {SYMLINK}") from None
        raise NotebookError(f"the notebook file cannot be opened ({err.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotebookError("the notebook is not a regular file; submit the .ipynb file")
        if info.st_size > max_mb * (1 << 20):
            raise _too_big(info.st_size, max_mb)
        try:
            data = f.read(int(max_mb * (1 << 20)) + 1)
        except OSError as err:
            raise NotebookError(f"the notebook file cannot be read ({err.strerror})") from None
    return parse_notebook(data, max_mb)


def _too_big(size: int, max_mb: float) -> NotebookError:
    return NotebookError(
        f"the notebook file is {size / (1 << 20):.1f} MB, more than the {max_mb:g} MB that can "
        "be graded; its outputs are probably very large: clear them (Kernel > Restart Kernel "
        "and Clear All Outputs), save, and submit again"
    )
