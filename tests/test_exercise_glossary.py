"""For Chinese-speaking learners: in Exercises 0 to 7 every term of the glossary is
given with its Chinese name where the notebook first uses it, and the notebook links to the
glossary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [
    "00_concepts/concepts.ipynb",
    "01_rnn_cell/rnn_cell.ipynb",
    "02_bptt/bptt.ipynb",
    "03_bidirectional/bidirectional.ipynb",
    "04_sequence_types/sequence_types.ipynb",
    "05_gradient_clipping/gradient_clipping.ipynb",
    "06_char_rnn/char_rnn.ipynb",
    "07_gated/gated.ipynb",
]
WINDOW = 80  # characters after the English term in which its Chinese name must appear


def glossary() -> list[tuple[str, str]]:
    """(English term without its parenthesis, Chinese term) for every row of book/glossary.md."""
    rows = []
    for line in (ROOT / "book" / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or cells[0] in ("English", "") or set(cells[0]) <= {"-"}:
            continue
        rows.append((re.sub(r"\s*\(.*?\)", "", cells[0]).strip(), cells[1]))
    return rows


def markdown(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_the_glossary_is_read():
    terms = dict(glossary())
    assert terms["hidden state"] == "隐藏状态" and len(terms) > 50


@pytest.mark.parametrize("name", NOTEBOOKS)
@pytest.mark.parametrize("folder", ["exercises", "solutions"])
def test_each_glossary_term_comes_with_its_chinese_name_at_first_use(folder, name):
    text = markdown(ROOT / folder / name)
    assert "../../book/glossary.md" in text, "no link to the glossary"
    missing = []
    for english, chinese in glossary():
        found = re.search(rf"(?<![\w-]){re.escape(english)}(s|es)?(?![\w-])", text, re.I)
        if found and chinese not in text[found.start() : found.end() + WINDOW]:
            missing.append(f"{english} ({chinese}): {text[found.start() : found.end() + 30]!r}")
    assert not missing, "\n".join(missing)
