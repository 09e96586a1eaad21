"""The book's content against its outline and its rules, read from the sources (no build needed).

* every section of the seed document (its table of contents, in Chinese) has its chapter, in order,
  and chapter 1 covers every application the seed lists;
* every chapter ends with a summary, its exercise notebook, and questions with hidden answers;
* chapters are notebooks committed without outputs; no image files, no remote images;
* the glossary holds the required Chinese terms; citations resolve; the required works are cited;
* the notation page agrees with the reference library's docstrings.

The seed lives outside the repository, in ``shared/seed/`` beside the clone.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
SEED_DIR = ROOT.parent / "shared" / "seed"

# The seed's table of contents, heading by heading, and the chapter title that covers it.
SEED_TO_CHAPTER = {
    "1. 什么是RNN": "What an RNN is, and what it is used for",
    "1.1 RNN的应用": "What an RNN is, and what it is used for",
    "1.2 为什么有了CNN，还要RNN?": "Why RNNs when CNNs exist",
    "1.3 RNN的网络结构": "The structure of an RNN",
    "1.4 双向RNN": "Bidirectional RNNs",
    "1.5 BPTT算法": "Backpropagation through time",
    "2. 其它类型的RNN": "Types of RNN",
    "3. CNN与RNN的区别": "CNN vs RNN",
    "4. 为什么RNN 训练的时候Loss波动很大": "Why the loss oscillates when training an RNN",
    "5. 实例代码": "Example code: a character-level RNN",
}

# Seed section 1.1, item by item, and the name chapter 1 gives the application.
SEED_APPLICATIONS = {
    "文本生成(生成序列)": "Text generation",
    "机器翻译": "Machine translation",
    "看图说话": "Image captioning",
    "文本(情感)分析": "Sentiment analysis",
    "智能客服": "Customer-service bots",
    "聊天机器人": "Chatbots",
    "语音识别": "Speech recognition",
    "搜索引擎": "Search engines",
    "个性化推荐": "Personalised recommendation",
}

# Each chapter's exercise notebook.
EXERCISES = {
    "01_what_is_an_rnn": "exercises/00_concepts/concepts.ipynb",
    "02_why_rnns": "exercises/00_concepts/concepts.ipynb",
    "03_rnn_structure": "exercises/01_rnn_cell/rnn_cell.ipynb",
    "04_bidirectional_rnns": "exercises/03_bidirectional/bidirectional.ipynb",
    "05_bptt": "exercises/02_bptt/bptt.ipynb",
    "06_rnn_types": "exercises/04_sequence_types/sequence_types.ipynb",
    "07_cnn_vs_rnn": "exercises/00_concepts/concepts.ipynb",
    "08_loss_oscillation": "exercises/05_gradient_clipping/gradient_clipping.ipynb",
    "09_char_rnn": "exercises/06_char_rnn/char_rnn.ipynb",
    "10_gated_rnns": "exercises/07_gated/gated.ipynb",
    "11_attention": "exercises/04_sequence_types/sequence_types.ipynb",
}

# Chapters that go beyond the seed's outline, after all of its sections.
BEYOND_SEED = ["Gated RNNs: LSTM and GRU", "From encoder–decoder to attention"]

GLOSSARY_TERMS = [
    "循环神经网络",
    "隐藏状态",
    "通过时间反向传播",
    "梯度裁剪",
    "双向循环神经网络",
    "梯度消失",
    "梯度爆炸",
    "时间步",
    "序列",
    "权重共享",
    "编码器-解码器",
    "命名实体识别",
    "机器翻译",
    "看图说话",
    "情感分析",
    "文本生成",
    "智能客服",
    "聊天机器人",
    "语音识别",
    "搜索引擎",
    "个性化推荐",
    "卷积神经网络",
    "感受野",
    "谱半径",
    "困惑度",
    "教师强制",
]

# Works the book must cite: (first author's surname, accepted years, co-authors' surnames).
REQUIRED_WORKS = [
    ("Elman", {"1990"}, []),
    ("Werbos", {"1990"}, []),
    ("Bengio", {"1994"}, ["Simard", "Frasconi"]),
    ("Schuster", {"1997"}, ["Paliwal"]),
    ("Pascanu", {"2013"}, ["Mikolov", "Bengio"]),
    ("Sutskever", {"2014"}, ["Vinyals", "Le"]),
    ("Graves", {"2013"}, []),
    ("Hochreiter", {"1997"}, ["Schmidhuber"]),
    ("Williams", {"1989", "1995"}, ["Zipser"]),
    ("Karpathy", {"2015"}, []),
    ("Goodfellow", {"2016"}, ["Bengio", "Courville"]),
]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".tif", ".tiff"}
IMAGE_SUFFIXES |= {".pdf", ".eps", ".ico"}
# The site's icon, not a figure: provided with the book's theme setup.
ALLOWED_IMAGES = {BOOK / "_static" / "favicon.svg"}

CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


# --------------------------------------------------------------------------------------------
# Reading the sources.


@cache
def seed_text() -> str:
    files = sorted(SEED_DIR.glob("*.txt")) if SEED_DIR.is_dir() else []
    if not files:
        pytest.fail(
            f"The seed document is missing: expected shared/seed/*.txt beside the repository "
            f"({SEED_DIR}). The outline tests compare the book with it."
        )
    for path in files:
        text = path.read_text(encoding="utf-8")
        if "## 目录" in text:
            return text
    pytest.fail(f"No file in {SEED_DIR} has the seed's table of contents ('## 目录').")


def seed_toc() -> list[str]:
    """The entries of the seed's table of contents, in order."""
    lines = seed_text().split("## 目录", 1)[1].splitlines()
    entries = []
    for line in lines[1:]:
        if not line.strip():
            if entries:
                break
            continue
        match = re.match(r"\s*-\s*\[([^\]]+)\]", line)
        if not match:
            break
        entries.append(match.group(1).strip())
    return entries


def seed_section_items(heading_prefix: str) -> list[str]:
    """The bullet items of the seed section whose heading starts with ``heading_prefix``."""
    text = seed_text()
    start = re.search(rf"^#+ {re.escape(heading_prefix)}.*$", text, re.M)
    assert start, f"the seed has no section '{heading_prefix}'"
    body = text[start.end() :]
    end = re.search(r"^#", body, re.M)
    body = body[: end.start()] if end else body
    return [m.group(1).strip() for m in re.finditer(r"^\s*-\s+(.+)$", body, re.M)]


def chapter_files() -> list[Path]:
    """The chapter notebooks, in the order of the toc's Chapters part."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    parts = [p for p in toc.get("parts", []) if p.get("caption") == "Chapters"]
    assert parts, "_toc.yml has no part with caption 'Chapters'"
    files = [ROOT / (c["file"] + ".ipynb") for c in parts[0]["chapters"]]
    missing = [str(f.relative_to(ROOT)) for f in files if not f.is_file()]
    assert not missing, f"chapters in _toc.yml without a notebook: {missing}"
    return files


@cache
def notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def markdown(path: Path) -> str:
    """The markdown of a page: the file itself, or a notebook's markdown cells."""
    if path.suffix == ".ipynb":
        cells = notebook(path)["cells"]
        return "\n\n".join(source(c) for c in cells if c["cell_type"] == "markdown")
    return path.read_text(encoding="utf-8")


def chapter_title(path: Path) -> str:
    match = re.search(r"^# (.+)$", markdown(path), re.M)
    assert match, f"{path.name} has no '# ' title"
    return match.group(1).strip()


def sections(path: Path) -> list[tuple[str, str]]:
    """(title, text) of every '## ' section of a chapter, with code cells marked."""
    parts = []
    for cell in notebook(path)["cells"]:
        text = source(cell) if cell["cell_type"] == "markdown" else "\n<code cell>\n"
        parts.append(text)
    found = re.split(r"^## (.+)$", "\n\n".join(parts), flags=re.M)
    return list(zip(found[1::2], found[2::2], strict=True))


def book_pages() -> list[Path]:
    return sorted(BOOK.rglob("*.md")) + sorted(BOOK.rglob("*.ipynb"))


def bibliography() -> dict:
    from pybtex.database import parse_file

    return parse_file(str(BOOK / "references.bib")).entries


def cited_keys() -> set[str]:
    keys = set()
    for page in book_pages():
        for match in CITE.finditer(markdown(page)):
            keys |= {k.strip() for k in match.group(1).split(",")}
    return keys


# --------------------------------------------------------------------------------------------
# (a) The seed's outline.


def test_seed_table_of_contents_is_fully_mapped():
    toc = seed_toc()
    assert len(toc) >= 9, f"could not read the seed's table of contents: {toc}"
    unmapped = [entry for entry in toc if entry not in SEED_TO_CHAPTER]
    assert not unmapped, f"seed sections with no chapter in SEED_TO_CHAPTER: {unmapped}"
    stale = sorted(set(SEED_TO_CHAPTER) - set(toc))
    assert not stale, f"SEED_TO_CHAPTER names sections the seed does not have: {stale}"


def test_every_seed_section_has_its_chapter_in_order():
    titles = [chapter_title(path) for path in chapter_files()]
    positions = []
    for entry in seed_toc():
        expected = SEED_TO_CHAPTER[entry]
        assert expected in titles, (
            f"seed section '{entry}' needs a chapter titled '{expected}'; chapters: {titles}"
        )
        positions.append(titles.index(expected))
    assert positions == sorted(positions), (
        "the chapters are not in the seed's order: "
        f"{[(e, titles[p]) for e, p in zip(seed_toc(), positions, strict=True)]}"
    )
    uncovered = [t for t in titles if t not in SEED_TO_CHAPTER.values() and t not in BEYOND_SEED]
    assert titles[-len(BEYOND_SEED) :] == BEYOND_SEED, "chapters beyond the seed come last"
    assert not uncovered, f"chapters that cover no seed section: {uncovered}"


def test_chapter_one_gives_an_example_for_every_seed_application():
    items = seed_section_items("1.1")
    assert len(items) >= 9, f"could not read the applications of seed section 1.1: {items}"
    unmapped = [item for item in items if item not in SEED_APPLICATIONS]
    assert not unmapped, f"applications of seed section 1.1 with no English name: {unmapped}"
    text = markdown(chapter_files()[0])
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and len(cells) >= 3:
            rows[cells[0].lower()] = cells
    for item in items:
        name = SEED_APPLICATIONS[item]
        assert name.lower() in rows, f"chapter 1 has no table row for '{name}' ({item})"
        application, example_in, example_out = rows[name.lower()][:3]
        assert example_in and example_out, f"'{name}' needs an input and an output example"


# --------------------------------------------------------------------------------------------
# (b) How every chapter ends.


@pytest.mark.parametrize("path", chapter_files(), ids=lambda p: p.stem)
def test_chapter_ends_with_summary_exercise_and_hidden_answers(path):
    found = sections(path)
    titles = [title for title, _ in found]
    assert titles[-3:] == ["Summary", "Exercise", "Check your understanding"], (
        f"{path.name} must end with Summary, Exercise, Check your understanding; has {titles}"
    )
    summary, exercise, questions = (text for _, text in found[-3:])
    assert "<code cell>" not in summary + exercise + questions, "no code after the summary"
    assert len(re.findall(r"^\* ", summary, re.M)) >= 3, "the summary is a list of points"

    expected = EXERCISES[path.stem]
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", exercise)
    linked = [(path.parent / link).resolve() for link in links]
    assert (ROOT / expected).resolve() in linked, f"{path.name} must link to {expected}: {links}"
    assert all(p.is_file() for p in linked), f"{path.name} links to missing files {links}"

    asked = re.findall(r"^\d+\. ", questions, re.M)
    hidden = re.findall(r"^\s*(?::::|```)\{dropdown\}|:class: dropdown", questions, re.M)
    assert len(asked) >= 3, f"{path.name} asks {len(asked)} questions"
    assert len(hidden) >= len(asked), (
        f"{path.name}: {len(asked)} questions but {len(hidden)} answers behind a dropdown"
    )


# --------------------------------------------------------------------------------------------
# (c) Sources: notebooks without outputs, figures drawn by code, numbered and referenced.


@pytest.mark.parametrize("path", chapter_files(), ids=lambda p: p.stem)
def test_chapter_notebook_is_committed_without_outputs(path):
    for i, cell in enumerate(notebook(path)["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} was executed"
        assert not cell.get("attachments"), f"{path.name} cell {i} has attachments"


def test_chapters_are_notebooks_without_a_markdown_twin():
    chapters = BOOK / "chapters"
    twins = [p.name for p in chapters.glob("*.md") if p.with_suffix(".ipynb").exists()]
    assert not twins, f"a chapter exists both as .md and .ipynb: {twins}"
    assert all(p.suffix == ".ipynb" for p in chapter_files())


@pytest.mark.parametrize("path", chapter_files(), ids=lambda p: p.stem)
def test_chapter_code_uses_the_reference_library(path):
    code = "\n".join(source(c) for c in notebook(path)["cells"] if c["cell_type"] == "code")
    assert re.search(r"^\s*(from|import) autograder\.reference", code, re.M), (
        f"{path.name} must compute with autograder.reference"
    )


def test_no_image_files_under_book():
    images = [
        str(p.relative_to(ROOT))
        for p in BOOK.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p not in ALLOWED_IMAGES
    ]
    assert not images, f"figures must be drawn by code, not committed: {images}"


def test_no_remote_images_in_book_sources():
    remote = re.compile(
        r"!\[[^\]]*\]\(\s*(https?:)?//|<img[^>]+src=[\"']?(https?:)?//"
        r"|\{(figure|image)\}\s*(https?:)?//",
        re.I,
    )
    offenders = [str(p.relative_to(ROOT)) for p in book_pages() if remote.search(markdown(p))]
    assert not offenders, f"hot-linked images in {offenders}"


def test_every_figure_has_a_caption_a_name_and_a_reference():
    names, referenced = [], set()
    for path in chapter_files():
        for cell in notebook(path)["cells"]:
            figure = cell.get("metadata", {}).get("mystnb", {}).get("figure")
            if figure is not None:
                assert figure.get("caption") and figure.get("name"), f"{path.name}: {figure}"
                names.append(figure["name"])
        referenced |= set(re.findall(r"\{numref\}`([^`<]+)`", markdown(path)))
    assert len(names) >= 12, f"expected the book's figures, found {names}"
    assert len(names) == len(set(names)), f"figure names must be unique: {names}"
    unreferenced = sorted(set(names) - referenced)
    assert not unreferenced, f"figures never referenced with {{numref}}: {unreferenced}"


@pytest.mark.parametrize("path", chapter_files(), ids=lambda p: p.stem)
def test_display_equations_are_labelled(path):
    blocks = re.findall(r"^\$\$\n.*?\n\$\$([^\n]*)$", markdown(path), re.M | re.S)
    assert blocks, f"{path.name} has no display equation"
    unlabelled = [tail for tail in blocks if not re.match(r"\s*\([\w-]+\)\s*$", tail)]
    assert not unlabelled, f"{path.name} has display equations without a label"


# --------------------------------------------------------------------------------------------
# (d) Glossary, (e) references, and the notation page.


def test_glossary_holds_the_required_chinese_terms():
    text = (BOOK / "glossary.md").read_text(encoding="utf-8")
    missing = [term for term in GLOSSARY_TERMS if term not in text]
    assert not missing, f"glossary.md lacks {missing}"
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) >= len(GLOSSARY_TERMS), "the glossary is a table, one term per row"


def test_every_cited_key_is_in_the_bibliography():
    keys = cited_keys()
    assert keys, "the book cites nothing"
    missing = sorted(keys - set(bibliography()))
    assert not missing, f"cited but not in book/references.bib: {missing}"


@pytest.mark.parametrize("surname, years, coauthors", REQUIRED_WORKS, ids=lambda w: str(w))
def test_required_work_is_in_the_bibliography_and_cited(surname, years, coauthors):
    matches = []
    for key, entry in bibliography().items():
        authors = [p.last_names[-1] if p.last_names else "" for p in entry.persons["author"]]
        if authors and authors[0] == surname and entry.fields.get("year") in years:
            if all(c in authors for c in coauthors):
                matches.append(key)
    assert matches, f"book/references.bib lacks {surname} {sorted(years)} with {coauthors}"
    assert set(matches) & cited_keys(), f"{surname} ({matches}) is never cited"


def test_references_page_prints_the_bibliography():
    text = (BOOK / "references.md").read_text(encoding="utf-8")
    assert "```{bibliography}" in text


def test_notation_table_matches_the_reference_docstrings():
    reference = ROOT / "autograder" / "reference"
    docs = "\n".join(
        (reference / name).read_text(encoding="utf-8") for name in ("numpy_rnn.py", "torch_rnn.py")
    )
    checked = 0
    for line in (BOOK / "notation.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or len(cells) < 3:
            continue
        name = re.fullmatch(r"`([A-Za-z_]\w*)`", cells[1])
        shape = re.fullmatch(r"`(\([^`]*\))`", cells[2])
        if name and shape:
            pattern = rf"\b{re.escape(name.group(1))}:? {re.escape(shape.group(1))}"
            assert re.search(pattern, docs), (
                f"notation.md says {name.group(1)} has shape {shape.group(1)}, "
                "but no reference docstring does"
            )
            checked += 1
    assert checked >= 20, f"only {checked} rows of notation.md could be checked"


def test_every_reference_has_a_doi_or_url():
    missing = [
        key
        for key, entry in bibliography().items()
        if not (entry.fields.get("doi") or entry.fields.get("url"))
    ]
    assert not missing, f"book/references.bib entries without a DOI or URL: {missing}"
    bad = [
        (key, entry.fields["doi"])
        for key, entry in bibliography().items()
        if entry.fields.get("doi") and not re.fullmatch(r"10\.\d{4,9}/\S+", entry.fields["doi"])
    ]
    assert not bad, f"malformed DOIs (write the bare 10.xxxx/... form): {bad}"


def test_citations_and_bibliography_are_both_author_year():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]
    assert config["config"]["bibtex_reference_style"] == "author_year"
    assert config["config"]["bibtex_default_style"] == "authoryear"
    assert "bibstyle" in config["local_extensions"]


def test_printed_text_is_shown_as_printed_however_the_kernel_chunks_it():
    """The kernel may split one cell's prints at any byte; the page must not depend on where.

    myst-nb's own merge strips each chunk, so ``"a"`` then ``"\\nb"`` showed a blank line between
    the two lines on some builds and not on others (book/_ext/stream_chunks.py).
    """
    import sys

    import nbformat
    from myst_nb.core import render

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]
    assert "stream_chunks" in config["local_extensions"]
    assert config["config"]["nb_merge_streams"] is True
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        import stream_chunks
    finally:
        sys.path.remove(str(ROOT / "book" / "_ext"))
    saved = render.coalesce_streams
    try:
        stream_chunks.setup(None)
        printed = "step  1: 3.63e-03\nstep  2: 2.88e-03\nstep  5: 2.83e-04\n"
        for cut in range(1, len(printed)):
            chunks = [printed[:cut], printed[cut:]]
            outputs = [nbformat.v4.new_output("stream", name="stdout", text=c) for c in chunks]
            merged = render.coalesce_streams(outputs)
            assert [o["text"] for o in merged] == [printed], f"cut at {cut}: {merged}"
        figure = nbformat.v4.new_output("display_data", data={"text/plain": "<Figure>"})
        outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="before\n"),
            figure,
            nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
        ]
        kinds = [(o["output_type"], o.get("name")) for o in render.coalesce_streams(outputs)]
        assert kinds == [("stream", "stdout"), ("display_data", None), ("stream", "stderr")]
        # Set up twice (English and Chinese builds in one process): still one join, no nesting.
        stream_chunks.setup(None)
        assert render.coalesce_streams.__wrapped__ is saved
    finally:
        render.coalesce_streams = saved
