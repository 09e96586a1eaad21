"""The learner's messages in Chinese (``--lang zh``): one gettext catalogue, complete, with the
glossary's terms, and the English output left as it was."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from autograder import i18n

ROOT = Path(__file__).resolve().parents[1]
# Every module and template that builds a message for a learner.
SOURCES = [
    "autograder/comparison.py",
    "autograder/grading/judges.py",
    "autograder/grading/compare.py",
    "autograder/grading/diagnose.py",
    "autograder/grading/module_checks.py",
    "autograder/grading/view.py",
    "autograder/grading/learner.py",
    "autograder/grading/feedback.py",
    "autograder/learner_cli.py",
    "autograder/grading/engine.py",
    "autograder/grading/program.py",
    "autograder/grading/choices.py",
]
# An exercise's checks may build a message of their own with i18n._() (a property's failure,
# such as Exercise 6's held-out loss): it has placeholders, so it is not a declared word.
SOURCES += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "solutions").glob("0*/checks.py"))
TEMPLATES = ["autograder/grading/templates/feedback.html.j2"]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "t": None}


def used_in_code() -> set[str]:
    """The msgids of every ``_()``, ``N_()``, ``ngettext()`` call and template ``t()``."""
    found: set[str] = set()
    for path in SOURCES:
        for _line, msg, _comments, _context in extract_from_file(
            "python", ROOT / path, keywords=KEYWORDS
        ):
            found.update([msg] if isinstance(msg, str) else [m for m in msg if m])
    for path in TEMPLATES:
        for _line, msg, _comments, _context in extract_from_file(
            "jinja2.ext:babel_extract", ROOT / path, keywords=KEYWORDS
        ):
            found.update([msg] if isinstance(msg, str) else [m for m in msg if m])
    return found


def declared() -> set[str]:
    """Words declared outside the code and looked up where they are shown: each assignment's
    title, tests' descriptions, mistakes' names and hints, training messages, layout hints, and
    the explanation of every option of every multiple-choice question (``judge.why``)."""
    from autograder.grading import assignments, view

    found = set(view.STATUS_WORDS.values()) | {"a tensor", "a gradient"}
    for folder in sorted((ROOT / "solutions").glob("0*")):
        assignment = assignments.load(folder.name)
        found.add(assignment.title)
        for test in assignment.tests:
            found.add(test.about)
            judge = test.judge
            for mistake in getattr(judge, "mistakes", ()) or ():
                found.update([mistake.says, mistake.hint])
            spec = getattr(judge, "spec", None)
            if spec is not None:
                found.add(spec.layout_hint)
            training = getattr(judge, "training", None)
            if training is not None:
                found.add(training.message)
            found.update((getattr(judge, "why", None) or {}).values())
    return {m for m in found if m}


def catalogue():
    with i18n.catalogue_path("zh").open("rb") as f:
        return read_po(f, locale="zh", domain=i18n.DOMAIN)


GLOSSARY_ROW = re.compile(r"^\| ([^|]+?) \| ([^|]+?) \|", re.M)
# Glossary terms as they appear in messages (the entry without its parenthesis), and the
# looser English forms the messages use for some of them.
ALSO = {
    "hidden state": ["hidden-state", "hidden states"],
    "backpropagation through time": ["BPTT"],
}


# A glossary word used in another sense: the computer's memory, not the RNN's (记忆).
OTHER_SENSE = {"memory": re.compile(r"out of memory|CPU time or memory")}
CODE = re.compile(r"\S*[._=()\[\]]\S*")


def glossary() -> dict[str, str]:
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    terms = {}
    for english, chinese in GLOSSARY_ROW.findall(text):
        if english in ("English", "---"):
            continue
        english = re.sub(r"\s*\(.*?\)", "", english).strip()
        chinese = re.sub(r"[（(].*?[）)]", "", chinese).strip()
        terms[english] = chinese
    return terms


def test_the_chinese_catalogue_is_complete_and_nothing_in_it_is_fuzzy():
    catalog = catalogue()
    entries = [m for m in catalog if m.id]
    assert entries
    untranslated = [
        m.id for m in entries if not (m.string if isinstance(m.string, str) else all(m.string))
    ]
    fuzzy = [m.id for m in entries if m.fuzzy]
    assert not untranslated, untranslated[:10]
    assert not fuzzy, fuzzy[:10]
    assert not catalog.fuzzy


def test_every_message_the_code_and_the_checks_use_is_in_the_catalogue():
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue() if m.id}
    missing = sorted((used_in_code() | declared()) - ids - {"a {type} of {length} items"})
    assert not missing, missing[:20]


def test_placeholders_survive_translation():
    field = re.compile(r"\{(\w*)[^{}]*\}")
    for m in catalogue():
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        wanted = set().union(*(field.findall(i) for i in ids)) - {"a"}
        for s in strings:
            assert set(field.findall(s)) <= wanted | {"a"}, (m.id, s)
            assert wanted <= set(field.findall(s)), (m.id, s)


def test_glossary_terms_in_the_chinese_catalogue_use_the_glossary_s_chinese():
    terms = glossary()
    assert terms["hidden state"] == "隐藏状态" and terms["gradient clipping"] == "梯度裁剪"
    checked = 0
    for m in catalogue():
        if not m.id or not isinstance(m.id, str):
            continue
        words = CODE.sub(" ", m.id)  # self.decoder, nn.RNN, dh_next stay code, untranslated
        for english, chinese in terms.items():
            forms = [english, *ALSO.get(english, [])]
            if english in OTHER_SENSE and OTHER_SENSE[english].search(m.id):
                continue
            if any(re.search(rf"\b{re.escape(f)}\b", words, re.I) for f in forms):
                checked += 1
                assert chinese in m.string, (english, chinese, m.id, m.string)
    assert checked >= 10


def test_chinese_is_used_inside_the_block_only_and_english_stays_as_it_was():
    import numpy as np

    from autograder.comparison import compare_numbers

    english = compare_numbers(np.zeros((2, 3)), np.ones((2, 3)), axes=("N", "Dh")).message
    with i18n.use("zh"):
        chinese = compare_numbers(np.zeros((2, 3)), np.ones((2, 3)), axes=("N", "Dh")).message
    assert english.startswith("has the right shape (N, Dh) = (2, 3) but wrong values")
    assert "Your result is all zeros" in english
    assert chinese.startswith("形状 (N, Dh) = (2, 3) 正确，但数值不对") and "全为零" in chinese
    assert compare_numbers(np.zeros((2, 3)), np.ones((2, 3))).message.startswith("has the right")


def test_wrap_counts_wide_characters_twice_and_never_starts_a_line_with_a_comma():
    text = (
        "你的输出与 rnn_cell_forward 在“漏掉了偏置 b_h”时给出的结果一致：在 tanh 内部加上 b_h，" * 3
    )
    lines = i18n.wrap(text, 40, "    ", "      ")
    assert len(lines) > 3
    assert all(i18n.width(line) <= 40 for line in lines)
    assert all(not line.strip().startswith(("，", "：", "。")) for line in lines)
    assert "".join(line.strip() for line in lines).replace(" ", "") == text.replace(" ", "")


@pytest.fixture(scope="module")
def bias_left_out(tmp_path_factory):
    """Exercise 1's solution with the bias b_h left out of rnn_cell_forward."""
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / "01_rnn_cell" / "rnn_cell.ipynb", as_version=4)
    done = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and "def rnn_cell_forward(" in cell.source:
            old = "np.tanh(x @ W_xh + h_prev @ W_hh + b_h)"
            assert old in cell.source
            cell.source = cell.source.replace(old, "np.tanh(x @ W_xh + h_prev @ W_hh)")
            done += 1
    assert done == 1
    path = tmp_path_factory.mktemp("zh") / "rnn_cell.ipynb"
    nbformat.write(nb, path)
    return path


def _report(notebook: Path, lang: str):
    from autograder.grading import engine

    with i18n.use(lang):
        return engine.check(notebook, "01_rnn_cell", engine.Options(workers=1, seed=7))


@pytest.fixture(scope="module")
def reports(bias_left_out):
    return {lang: _report(bias_left_out, lang) for lang in ("zh", "en")}


def _table(report, lang: str) -> str:
    from autograder.grading import learner

    with i18n.use(lang):
        return learner.render(report, "rnn_cell.ipynb", learner._("given with --assignment"), 80)


def test_check_in_chinese_names_the_mistake_at_80_columns(reports):
    text = _table(reports["zh"], "zh")
    print(text)
    assert all(i18n.width(line) <= 80 for line in text.splitlines()), text
    flat = "".join(text.split())
    assert "练习 1：逐步实现 RNN 单元" in text
    assert "诊断：" in text and "漏掉了偏置b_h" in flat
    assert "提示：" in text and "在tanh内部加上b_h" in flat
    assert "测试" in text and "得分" in text and "数值不对" in text
    assert "(用例" in text


def test_the_feedback_page_in_chinese_names_the_mistake(reports):
    from autograder.grading import feedback

    with i18n.use("zh"):
        page = feedback.render(reports["zh"])
    assert '<html lang="zh">' in page
    assert "需要修改的地方" in page and "漏掉了偏置 b_h" in page and "在 tanh 内部加上 b_h" in page
    assert "部分正确" in page or "未通过" in page


def test_check_in_english_is_unchanged_by_the_catalogue(reports):
    text = _table(reports["en"], "en")
    flat = " ".join(text.split())
    assert (
        "diagnosis: your output matches what rnn_cell_forward gives with the bias b_h left out"
        in flat
    )
    assert "hint: add b_h inside the tanh" in flat and "4 of 8 points; 4 of 6 tests pass." in flat
    assert not i18n.is_wide(text)
    from autograder.grading import feedback

    page = feedback.render(reports["en"])
    assert '<html lang="en">' in page and "What to change" in page
    assert "<strong>Change:</strong> add b_h inside the tanh" in page


if __name__ == "__main__":  # print the msgids the Chinese catalogue lacks, for translators
    held = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue() if m.id}
    for msgid in sorted(used_in_code() | declared()):
        if msgid not in held and msgid != "a {type} of {length} items":
            print(repr(msgid))
    sys.exit(0)


def test_the_learner_repository_s_check_speaks_chinese_too():
    """``rnn-course check --lang zh`` of the learner repository (visible tests only)."""
    from types import SimpleNamespace

    from autograder import learner_cli

    outcomes = [
        SimpleNamespace(test_id="test_rnn_cell_forward", points=2, status="passed", message=""),
        SimpleNamespace(
            test_id="test_rnn_forward", points=2, status="failed", message="rnn_forward: wrong"
        ),
    ]
    english = learner_cli.render(outcomes, "rnn_cell.ipynb", 80)
    with i18n.use("zh"):
        chinese = learner_cli.render(outcomes, "rnn_cell.ipynb", 80)
    assert "1 of 2 visible tests pass here." in english and "failed" in english
    assert "本地 2 项可见测试中 1 项通过。" in chinese and "未通过" in chinese and "测试" in chinese
    assert all(i18n.width(line) <= 80 for line in chinese.splitlines()), chinese
    parser = learner_cli.build_parser()
    assert parser.parse_args(["check", "x.ipynb", "--lang", "zh"]).lang == "zh"
    assert parser.parse_args(["check", "x.ipynb"]).lang == "en"


def test_check_and_grade_take_lang():
    from autograder import cli

    parser = cli.build_parser()
    assert parser.parse_args(["check", "x.ipynb", "--lang", "zh"]).lang == "zh"
    assert parser.parse_args(["check", "x.ipynb"]).lang == "en"
    assert parser.parse_args(["grade", "sub", "--out", "o", "--lang", "zh"]).lang == "zh"
    with pytest.raises(SystemExit):
        parser.parse_args(["check", "x.ipynb", "--lang", "fr"])


def test_the_sandbox_s_own_sentences_and_the_timeout_skip_are_in_chinese_too():
    from autograder.grading import engine, judges
    from autograder.grading.child.execute import NUMPY_ONLY

    refused = {"type": "ModuleNotFoundError", "message": NUMPY_ONLY, "where": None}
    with i18n.use("zh"):
        assert "本练习只用 NumPy" in judges.error_text("rnn_cell_forward", refused)
        assert "超时" in engine.after_timeout_text("rnn_forward", "rnn_cell_forward")
        assert "超时" in engine.after_timeout_text("rnn_forward", "rnn_forward")
    assert NUMPY_ONLY in judges.error_text("rnn_cell_forward", refused)
    assert "timed out" in engine.after_timeout_text("rnn_forward", "rnn_cell_forward")


def test_where_wrong_gives_the_array_index_and_the_step_in_both_languages():
    """Index from 0 for the array, t = 1..T for the maths, several ranges each."""
    import numpy as np

    from autograder.comparison import where_wrong

    bad = np.zeros((2, 7), dtype=bool)
    bad[0, [0, 1, 4]] = True
    english = where_wrong(bad, ("N", "T"))
    assert english == [
        "Along T: wrong at array index 0..1, 4 (t = 1..2, 5), "
        "right at array index 2..3, 5..6 (t = 3..4, 6..7)."
    ]
    with i18n.use("zh"):
        chinese = where_wrong(bad, ("N", "T"))
    assert chinese == [
        "沿 T 轴：数组下标 0..1, 4（时间步 t = 1..2, 5）处有错，"
        "数组下标 2..3, 5..6（时间步 t = 3..4, 6..7）处正确。"
    ]


def test_a_wrong_prediction_is_explained_in_chinese(tmp_path):
    """The explanation of the option chosen (WHY in the notebook) goes through the catalogue."""
    from autograder.grading import engine, learner

    source = (ROOT / "solutions" / "00_concepts" / "concepts.ipynb").read_text(encoding="utf-8")
    right = '"answer_q3 = \\"C\\"\\n",'
    assert source.count(right) == 1
    notebook = tmp_path / "concepts.ipynb"
    notebook.write_text(source.replace(right, '"answer_q3 = \\"A\\"\\n",'), encoding="utf-8")
    texts = {}
    for lang in ("zh", "en"):
        with i18n.use(lang):
            report = engine.check(notebook, "00_concepts", engine.Options(workers=1, seed=7))
            texts[lang] = "".join(learner.render(report, "concepts.ipynb", "", 80).split())
    assert "A：W_xh是权重，每一步都相同" in texts["zh"], texts["zh"]
    assert "W_xhisaweight" not in texts["zh"]
    assert "A:W_xhisaweight,thesameateverystep" in texts["en"], texts["en"]
