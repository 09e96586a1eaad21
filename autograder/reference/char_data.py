"""The text the character RNN learns from, and the mapping between characters and indices.

The corpus ships with the package (``autograder/data/``) so that nothing is downloaded at run time.
"""

from __future__ import annotations

import gzip
import string
import sysconfig
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

CORPORA = {
    "shakespeare": "shakespeare.txt",
    "python": "python_stdlib.txt.gz",
}

#: Size of the shipped "python" corpus, in characters (cut at the last line end before it).
PYTHON_CORPUS_SIZE = 1_000_000
#: The characters a file of the "python" corpus may hold: printable ASCII without tabs, and "\n".
PYTHON_CORPUS_ALPHABET = frozenset(string.printable) - set("\t\r\x0b\x0c")


def load_text(name: str = "shakespeare") -> str:
    """Return a shipped public-domain text.

    Args:
        name: one of ``CORPORA`` ("shakespeare": sonnets and speeches, about 27 KB; "python":
            1 MB of the Python standard library's source, see :func:`python_corpus`).

    Returns:
        the text, as a str with Unix newlines.
    """
    if name not in CORPORA:
        raise ValueError(f"name must be one of {sorted(CORPORA)}, got {name!r}")
    path = DATA_DIR / CORPORA[name]
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    return path.read_text(encoding="utf-8")


def python_corpus_files(stdlib_dir: str | Path | None = None) -> list[Path]:
    """The files of the "python" corpus: the standard library's top-level ``*.py`` files.

    Sorted by name, and only files whose characters all lie in ``PYTHON_CORPUS_ALPHABET``;
    ``_sysconfigdata*.py`` is left out (generated build settings of one machine, not source).

    Args:
        stdlib_dir: the standard library's folder; None for the running interpreter's.

    Returns:
        list of paths, in corpus order.
    """
    stdlib_dir = Path(stdlib_dir or sysconfig.get_paths()["stdlib"])
    chosen = []
    for path in sorted(stdlib_dir.glob("*.py")):
        if path.name.startswith("_sysconfigdata"):
            continue
        if set(path.read_text(encoding="utf-8")) <= PYTHON_CORPUS_ALPHABET:
            chosen.append(path)
    return chosen


def python_corpus(stdlib_dir: str | Path | None = None, size: int = PYTHON_CORPUS_SIZE) -> str:
    """Concatenate :func:`python_corpus_files` in order and cut at the last line end within ``size``.

    Every Python installation carries its standard library's source, so this rebuilds the
    shipped "python" corpus offline; the shipped copy (``load_text("python")``) was made by it
    from CPython 3.11, and other versions give a slightly different text.

    Args:
        stdlib_dir: the standard library's folder; None for the running interpreter's.
        size: the largest number of characters.

    Returns:
        the text, as a str ending with "\n".
    """
    parts, total = [], 0
    for path in python_corpus_files(stdlib_dir):
        text = path.read_text(encoding="utf-8")
        if not text.endswith("\n"):
            text += "\n"
        parts.append(text)
        total += len(text)
        if total >= size:
            break
    text = "".join(parts)[:size]
    return text[: text.rindex("\n") + 1]


def write_python_corpus(path: str | Path | None = None, stdlib_dir: str | Path | None = None):
    """Write :func:`python_corpus` gzip-compressed (reproducibly: no timestamp) and return its path."""
    path = Path(path or DATA_DIR / CORPORA["python"])
    data = python_corpus(stdlib_dir).encode("utf-8")
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return path


def build_vocab(text: str) -> tuple[list[str], dict[str, int]]:
    """The sorted list of distinct characters of ``text`` and its inverse mapping.

    Sorting makes the indices depend only on the set of characters, not on their order of
    appearance, so two runs (or NumPy and PyTorch) agree on them.

    Args:
        text: str.

    Returns:
        chars: list of V distinct characters; ``chars[i]`` is the character with index i.
        char_to_ix: dict mapping each character to its index.
    """
    chars = sorted(set(text))
    return chars, {ch: i for i, ch in enumerate(chars)}


def encode(text: str, char_to_ix: dict[str, int]) -> np.ndarray:
    """Map a string to an (L,) int64 array of indices; unknown characters raise ValueError."""
    unknown = sorted(set(text) - set(char_to_ix))
    if unknown:
        raise ValueError(f"text holds characters outside the vocabulary: {unknown[:10]}")
    return np.fromiter((char_to_ix[ch] for ch in text), dtype=np.int64, count=len(text))


def decode(indices, chars: list[str]) -> str:
    """Map a sequence of indices back to a string (the inverse of :func:`encode`)."""
    return "".join(chars[int(i)] for i in indices)
