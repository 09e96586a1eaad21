"""The Chinese edition: built from the English sources and the catalogues in locale/zh_CN.

What must hold: every message of every page is translated and none is fuzzy; a translation keeps
the maths, code, roles and link targets of its English; the glossary's Chinese terms are the ones
the pages use; a Chinese page has the same display maths and figures as its English page, with
the figures' words in Chinese; every page links to its twin; and changing an English paragraph
marks its translation fuzzy, which fails the first test until it is translated again.

The catalogue tests need no build. The page tests need `make book` (English and Chinese).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po
from book_site import HTML, ROOT, book_pages, toc_files

LOCALE = ROOT / "locale" / "zh_CN" / "LC_MESSAGES"
ZH_HTML = HTML / "zh"
GLOSSARY = ROOT / "book" / "glossary.md"
KEY_TERMS = ["循环神经网络", "隐藏状态", "通过时间反向传播", "梯度裁剪"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def toc_docnames() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [Path(f).with_suffix("").as_posix() for f in toc_files(toc)]


def catalogue_of(docname: str) -> Path:
    return LOCALE / f"{docname}.po"


def read_catalogue(path: Path):
    with open(path, "rb") as f:
        return read_po(f)


def messages(path: Path) -> list:
    return [m for m in read_catalogue(path) if m.id]


# --------------------------------------------------------------------------------------------
# Catalogues: complete, not fuzzy, markup intact.

ROLE = re.compile(r"\{([\w:.-]+)\}`([^`]*)`")
MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$]+?)\$")
CODE = re.compile(r"(`+)(.+?)\1")
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")


def role_key(name: str, content: str) -> str:
    """A role as it must survive translation: its name and its target, not its visible text."""
    target = re.search(r"<([^<>]+)>\s*$", content)
    return f"{name}:{target.group(1) if target else content}"


def markup(text: str) -> dict[str, list[str]]:
    """The pieces of a message a translation must keep unchanged, each as a sorted list.

    Roles and link targets are counted (Sphinx warns when a translation has other references);
    maths and code are compared as sets, so that a translation may name $W_{hh}$ twice.
    """
    roles = sorted(role_key(n, c) for n, c in ROLE.findall(text))
    rest = ROLE.sub(" ", text)
    code = sorted(c for _, c in CODE.findall(rest))
    rest = CODE.sub(" ", rest)
    return {
        "roles": roles,
        "code": sorted(set(code)),
        "maths": sorted({m.strip() for m in MATH.findall(rest)}),
        "link targets": sorted(LINK_TARGET.findall(rest)),
    }


def catalogue_problems(path: Path) -> list[str]:
    """Every message of the catalogue that is untranslated, fuzzy, or lost some markup."""
    problems = []
    for m in messages(path):
        head = repr(m.id[:70])
        if m.fuzzy:
            problems.append(f"fuzzy: {head}")
        elif not m.string:
            problems.append(f"untranslated: {head}")
        else:
            want, got = markup(m.id), markup(m.string)
            for kind in want:
                if want[kind] != got[kind]:
                    problems.append(f"{kind} differ: {head}: {want[kind]} vs {got[kind]}")
    return problems


def test_every_page_has_its_catalogue():
    missing = [d for d in toc_docnames() if not catalogue_of(d).is_file()]
    assert not missing, f"pages without a catalogue in {LOCALE} (run `make gettext`): {missing}"
    stray = sorted(
        p.relative_to(LOCALE).with_suffix("").as_posix()
        for p in LOCALE.rglob("*.po")
        if p.relative_to(LOCALE).with_suffix("").as_posix() not in toc_docnames()
    )
    assert not stray, f"catalogues of pages that are not in _toc.yml: {stray}"


@pytest.mark.parametrize("docname", toc_docnames())
def test_catalogue_is_complete_and_keeps_the_markup(docname):
    path = catalogue_of(docname)
    assert messages(path), f"{path} holds no messages"
    problems = catalogue_problems(path)
    assert not problems, f"{path.relative_to(ROOT)}: {len(problems)} problems:\n" + "\n".join(
        problems[:40]
    )


def test_markup_check_catches_a_dropped_role_and_changed_maths(tmp_path):
    """The check above is only worth something if it fails on the mistakes it names."""
    po = tmp_path / "page.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "See {numref}`fig-a` and $W_{hh}$ in `rnn_forward`."\n'
        'msgstr "见图，以及 $W_{xh}$ 和 `rnn_forward`。"\n\n'
        'msgid "A [link](../notation.md)."\nmsgstr "一个[链接](notation.md)。"\n\n'
        '#, fuzzy\nmsgid "Old."\nmsgstr "旧的。"\n\nmsgid "New."\nmsgstr ""\n',
        encoding="utf-8",
    )
    found = "\n".join(catalogue_problems(po))
    assert "roles differ" in found and "maths differ" in found
    assert "link targets differ" in found
    assert "fuzzy: 'Old.'" in found and "untranslated: 'New.'" in found
    assert "code differ" not in found


# --------------------------------------------------------------------------------------------
# Terms: the glossary is the term base.

HEAD_NOUNS = ("网络", "机制", "模型", "矩阵")
# English words with a second, everyday sense, and the Chinese of that sense: a translation that
# uses it is taken to mean the other sense (computer memory is 内存, not 记忆).
OTHER_SENSES = {"memory": ("内存", "显存", "存储"), "temperature": ("气温",)}


@cache
def glossary() -> list[tuple[str, tuple[str, ...]]]:
    """(English term, accepted Chinese forms) for every row of the glossary's table."""
    rows = []
    lines = GLOSSARY.read_text(encoding="utf-8").splitlines()
    rule = next(i for i, line in enumerate(lines) if re.match(r"^\|\s*-{3,}", line))
    for line in lines[rule + 1 :]:  # the rows under the table's header
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not CJK.search(cells[1]):
            continue
        english = re.sub(r"\s*\([^)]*\)", "", cells[0]).strip()
        chinese = cells[1]
        forms = {re.sub(r"（[^）]*）", "", chinese).strip()}
        forms.update(re.findall(r"（([^）]*)）", chinese))
        for form in list(forms):
            for head in HEAD_NOUNS:
                if form.endswith(head) and len(form) > len(head) + 1:
                    forms.add(form[: -len(head)].strip())
        rows.append((english, tuple(sorted(f for f in forms if f))))
    return rows


def term_pattern(english: str) -> re.Pattern:
    words = [re.escape(w) for w in re.split(r"[\s\-–]+", english) if w]
    return re.compile(r"\b" + r"[\s\-–]?".join(words) + r"(?:s|es)?\b", re.IGNORECASE)


def prose_of(text: str) -> str:
    """A message without its maths, code, roles, link targets and quoted examples ("...", which
    a translation may keep in English): the words of the text itself."""
    text = ROLE.sub(" ", text)
    text = re.sub(r'"[^"\n]*"|“[^”]*”', " ", text)
    text = CODE.sub(" ", text)
    text = MATH.sub(" ", text)
    text = LINK_TARGET.sub("]", text)
    return re.sub(r"https?://\S+", " ", text)


def term_problems(message_id: str, message_str: str) -> list[str]:
    """Glossary terms of the English whose Chinese form the translation does not use."""
    prose = prose_of(message_id)
    problems = []
    for english, forms in sorted(glossary(), key=lambda row: -len(row[0])):
        pattern = term_pattern(english)
        if not pattern.search(prose):
            continue
        prose = pattern.sub(" ", prose)  # a longer term holds the shorter ones inside it
        if any(form in message_str for form in forms):
            continue
        if any(sense in message_str for sense in OTHER_SENSES.get(english, ())):
            continue
        problems.append(f"{english!r} should be {' or '.join(forms)}")
    return problems


def test_glossary_has_the_key_terms():
    chinese = {form for _, forms in glossary() for form in forms}
    assert len(glossary()) >= 60
    assert set(KEY_TERMS) <= chinese, set(KEY_TERMS) - chinese


def test_term_check_catches_a_term_translated_another_way():
    assert term_problems("The hidden state carries memory.", "隐藏状态携带记忆。") == []
    assert term_problems("The hidden state is small.", "隐层状态很小。")
    assert term_problems("Backpropagation through time (BPTT).", "随时间反向传播。")
    assert term_problems("attention weights", "注意力权重") == []
    assert term_problems("memory use grows with T", "内存占用随 T 增长") == []
    assert term_problems("`hidden state` and $x$", "`hidden state` 与 $x$") == []


@pytest.mark.parametrize("docname", [d for d in toc_docnames() if d != "book/glossary"])
def test_pages_use_the_glossary_terms(docname):
    problems = []
    for m in messages(catalogue_of(docname)):
        if m.string and not m.fuzzy:
            problems += [f"{m.id[:60]!r}: {p}" for p in term_problems(m.id, m.string)]
    assert not problems, f"{docname}: terms not as in the glossary:\n" + "\n".join(problems[:40])


# --------------------------------------------------------------------------------------------
# Kept in step: an English change makes the translation fuzzy.

EDITION_FILES = ["_config.yml", "_toc.yml", "book", "exercises", "locale"]


def test_changing_an_english_paragraph_marks_its_translation_fuzzy(tmp_path):
    """Run the real pipeline (gettext build, then sphinx-intl update) on a copy with one
    translated paragraph of the preface changed."""
    for name in EDITION_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("*.mo"))
        else:
            shutil.copy2(source, tmp_path / name)
    vendored = tmp_path / "_build" / "vendor" / "mathjax" / "tex-mml-chtml.js"
    vendored.parent.mkdir(parents=True)
    vendored.write_text("// the gettext builder never loads it\n")

    po = tmp_path / "locale" / "zh_CN" / "LC_MESSAGES" / "book" / "preface.po"
    source = tmp_path / "book" / "preface.md"
    text = source.read_text(encoding="utf-8")
    paragraphs = [m for m in messages(po) if m.string and len(m.id.split()) > 25]
    assert paragraphs, "the preface has no translated paragraph to change"
    chosen = paragraphs[0]
    span = re.search(r"\s+".join(re.escape(w) for w in chosen.id.split()), text)
    assert span, f"paragraph not found in the preface's source: {chosen.id[:60]!r}"
    changed = chosen.id + " This sentence is new."
    source.write_text(
        text[: span.start()] + span.group(0) + " This sentence is new." + text[span.end() :],
        encoding="utf-8",
    )
    assert catalogue_problems(po) == []

    for command in (
        [sys.executable, "book/_ext/build_language.py", "gettext", "--no-execute"],
        [
            str(Path(sys.executable).with_name("sphinx-intl")),
            "update",
            "-p",
            "_build/gettext",
            "-l",
            "zh_CN",
            "-d",
            "locale",
        ],
    ):
        run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, f"{command} failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"

    entry = {m.id: m for m in messages(po)}.get(changed)
    assert entry is not None, "the changed paragraph is not in the updated catalogue"
    assert entry.fuzzy or not entry.string, "the changed paragraph kept a current translation"
    assert chosen.id not in {m.id for m in messages(po)}, "the old English is still a message"
    problems = catalogue_problems(po)
    assert any(changed[:60] in p for p in problems), problems
    # The paragraphs that did not change keep their translations.
    kept = [m for m in messages(po) if m.id != changed]
    assert kept and all(m.string and not m.fuzzy for m in kept)


def test_catalogues_are_in_step_with_the_english_sources(tmp_path):
    """Every message the English pages have now is in its catalogue: English edited without
    `make gettext` would otherwise show through on the Chinese site with every test green."""
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "book" / "_ext" / "build_language.py"),
            "gettext",
            "--no-execute",
            "--outdir",
            str(tmp_path / "pot"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, f"gettext build failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    behind = {}
    for docname in toc_docnames():
        pot = tmp_path / "pot" / f"{docname}.pot"
        assert pot.is_file(), f"no messages extracted for {docname}"
        current = {m.id for m in messages(pot)}
        known = {m.id for m in messages(catalogue_of(docname))}
        if current - known:
            behind[docname] = sorted(current - known)
    assert not behind, "catalogues behind the English (run `make gettext`): " + "; ".join(
        f"{d}: {len(ids)} new, e.g. {ids[0][:60]!r}" for d, ids in behind.items()
    )


# --------------------------------------------------------------------------------------------
# The figures' words, drawn by the same code in Chinese.


def figure_texts(fig) -> list[str]:
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    return [t for t in texts if t and t.strip()]


def drawings(lang: str):
    sys.path.insert(0, str(ROOT / "book"))
    import numpy as np
    from figures import diagrams, gated_cells

    g = np.array([3.0, 1.5])
    yield "feedforward_vs_recurrent", diagrams.feedforward_vs_recurrent(lang=lang)
    yield "unrolled_rnn", diagrams.unrolled_rnn(lang=lang)
    yield "bidirectional_rnn", diagrams.bidirectional_rnn(lang=lang)
    yield "bptt_graph", diagrams.bptt_graph(lang=lang)
    for kind in diagrams.SEQUENCE_TYPES:
        yield kind, diagrams.sequence_type(kind, lang=lang)
    yield "receptive_fields", diagrams.receptive_fields(lang=lang)
    yield "clipping_in_2d", diagrams.clipping_in_2d(g, g.clip(-1, 1), g / 3.4, 1.0, lang=lang)
    yield "lstm_cell", gated_cells.lstm_cell()
    yield "gru_cell", gated_cells.gru_cell(lang=lang)


def english_words(text: str) -> list[str]:
    """Latin words of two letters or more outside maths: what a Chinese label must not show."""
    text = re.sub(r"\$[^$]*\$", " ", text)
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in LATIN_KEPT]


# Names and symbols that Chinese text writes in Latin letters too.
LATIN_KEPT = {"RNN", "CNN", "LSTM", "GRU", "PyTorch", "tanh", "eos", "bos", "PER", "LOC"}
LATIN_KEPT |= {"je", "suis", "chinois"}  # the French source sentence of the encoder-decoder


def test_figures_are_drawn_with_chinese_words():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from figures import diagrams

    with matplotlib.rc_context(), warnings.catch_warnings():
        diagrams.use_book_style("zh_CN")
        warnings.simplefilter("error")  # a missing CJK glyph warns: it would draw a box
        for name, fig in drawings("zh_CN"):
            fig.canvas.draw()
            texts = figure_texts(fig)
            plt.close(fig)
            english = [t for t in texts if english_words(t)]
            assert not english, f"{name}: English words in the Chinese drawing: {english}"
            assert any(CJK.search(t) for t in texts) or name == "lstm_cell", name


def test_english_figures_are_unchanged_by_the_language_argument():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for (name, en), (_, default) in zip(drawings("en"), drawings(None), strict=True):
        assert figure_texts(en) == figure_texts(default), name
        assert not any(CJK.search(t) for t in figure_texts(en)), name
        plt.close(en)
        plt.close(default)


def test_chapter_plot_labels_have_translations():
    """Every label the chapters' own plots pass through `tr` has a Chinese form."""
    import json

    from figures.labels import tr

    calls = []
    for path in sorted((ROOT / "book" / "chapters").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                calls += [(path.name, s) for s in re.findall(r'\btr\(r?"([^"]+)"\)', source)]
    assert len(calls) >= 15, calls
    missing = []
    for page, label in calls:
        try:
            tr(label, "zh_CN")
        except KeyError:
            missing.append((page, label))
    assert not missing, missing


# --------------------------------------------------------------------------------------------
# The built sites (`make book`).


def built(site: Path, page: str) -> str:
    path = site / page
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make book`, which builds both languages.")
    return path.read_text(encoding="utf-8")


def article(html: str) -> str:
    found = re.search(r"<article[^>]*>(.*)</article>", html, re.S)
    return found.group(1) if found else html


def display_maths(html: str) -> int:
    return len(re.findall(r'<div class="math[ "]', article(html)))


def images(html: str) -> list[str]:
    return re.findall(r'<img[^>]+src="([^"]+)"', article(html))


@pytest.mark.parametrize("page", book_pages())
def test_chinese_page_matches_its_english_page(page):
    english, chinese = built(HTML, page), built(ZH_HTML, page)
    assert '<html lang="zh-CN"' in chinese or "<html lang='zh-CN'" in chinese
    assert display_maths(chinese) == display_maths(english), (
        f"{page}: {display_maths(chinese)} display equations in Chinese, "
        f"{display_maths(english)} in English"
    )
    assert len(images(chinese)) == len(images(english)), f"{page}: not the same figures"
    text = re.sub(r"<[^>]+>", " ", article(chinese))
    assert len(CJK.findall(text)) > 20, f"{page}: the Chinese page has hardly any Chinese"


@pytest.mark.parametrize(
    "page", [p for p in book_pages() if p.startswith("book/chapters/") and "01_" not in p]
)
def test_chinese_figures_are_drawn_again(page):
    """A chapter's figures have words, so the Chinese page shows other images than English."""
    english, chinese = images(built(HTML, page)), images(built(ZH_HTML, page))
    assert english, f"{page} has no figures"
    names = {Path(src).name for src in english}
    assert any(Path(src).name not in names for src in chinese), (
        f"{page}: the Chinese page shows the English figures"
    )


def glued_values(html: str) -> list[str]:
    return re.findall(r'<span class="pasted-text">([^<]*)</span>', article(html))


WALL_CLOCK = re.compile(r"\b\d+(?:\.\d+)?\s*(?:s|ms|seconds?)\b")


def printed_outputs(html: str) -> list[str]:
    """The text the code cells printed, in page order, wall-clock times left out."""
    blocks = re.findall(
        r'<div class="cell_output docutils container">(.*?)</div>\s*</div>', html, re.S
    )
    texts = [re.sub(r"<[^>]+>", "", b).strip() for b in blocks if "<pre" in b]
    return [WALL_CLOCK.sub("(time)", t) for t in texts]


@pytest.mark.parametrize("page", [p for p in book_pages() if p.startswith("book/chapters/")])
def test_chinese_page_shows_the_same_numbers(page):
    """Same code, same outputs: the glued numbers in the translated prose and what the cells
    print are those of the English page."""
    english, chinese = built(HTML, page), built(ZH_HTML, page)
    # Chinese word order may put them in another order within a sentence.
    assert sorted(glued_values(chinese)) == sorted(glued_values(english)), (
        f"{page}: glued values differ"
    )
    assert printed_outputs(chinese) == printed_outputs(english), f"{page}: printed output differs"


LANGUAGE_LINK = re.compile(r'<a class="language-switch-link" href="([^"]+)" hreflang="([^"]+)"')


@pytest.mark.parametrize("page", book_pages())
def test_every_page_links_to_its_twin(page):
    for site, other_site, lang in ((HTML, ZH_HTML, "zh-CN"), (ZH_HTML, HTML, "en")):
        links = LANGUAGE_LINK.findall(built(site, page))
        assert [hreflang for _, hreflang in links] == [lang], f"{site / page}: {links}"
        target = ((site / page).parent / links[0][0]).resolve()
        assert target == (other_site / page).resolve(), f"{site / page} links to {target}"


def test_chinese_table_of_contents_has_chinese_captions():
    """The captions of _toc.yml's parts are messages of the root page; the Chinese sidebar shows
    their translations (Jupyter Book inserts the toctree after Sphinx translated the page)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    english = [part["caption"] for part in toc["parts"]]
    translated = {m.id: m.string for m in messages(catalogue_of(toc["root"]))}
    assert all(translated.get(c) for c in english), "untranslated captions in the root catalogue"
    caption = re.compile(
        r'<p aria-level="2" class="caption" role="heading">'
        r'<span class="caption-text">([^<]*)</span>'
    )
    for page in ("book/preface.html", "book/chapters/05_bptt.html"):
        assert caption.findall(built(ZH_HTML, page)) == [translated[c] for c in english], page
        assert caption.findall(built(HTML, page)) == english, page


def test_chinese_build_leaves_nothing_else_in_the_site():
    """The Chinese build's executed notebooks stay out of the published site."""
    built(ZH_HTML, "index.html")
    for stray in ("jupyter_execute", "reports", "zh/jupyter_execute", "zh/reports"):
        assert not (HTML / stray).exists(), f"{HTML / stray} is published"


def test_chinese_site_uses_the_key_terms():
    chapters = [p for p in book_pages() if p.startswith("book/chapters/")]
    text = {p: re.sub(r"<[^>]+>", " ", article(built(ZH_HTML, p))) for p in chapters}
    glossary_page = article(built(ZH_HTML, "book/glossary.html"))
    for term in KEY_TERMS:
        assert term in glossary_page, f"{term} is not in the Chinese glossary page"
        assert any(term in t for t in text.values()), f"no Chinese chapter uses {term}"
