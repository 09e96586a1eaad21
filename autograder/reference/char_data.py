"""The text the character RNN learns from, and the mapping between characters and indices.

The corpus ships with the package (``autograder/data/``) so that nothing is downloaded at run time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

CORPORA = {
    "shakespeare": "shakespeare.txt",
}


def load_text(name: str = "shakespeare") -> str:
    """Return a shipped public-domain text.

    Args:
        name: one of ``CORPORA`` ("shakespeare": sonnets and speeches, about 20 KB).

    Returns:
        the text, as a str with Unix newlines.
    """
    if name not in CORPORA:
        raise ValueError(f"name must be one of {sorted(CORPORA)}, got {name!r}")
    return (DATA_DIR / CORPORA[name]).read_text(encoding="utf-8")


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
