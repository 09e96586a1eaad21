"""The words drawn inside the book's figures, in every language the book is built in.

A figure is drawn by the same code in every edition; only its words change. Drawing code passes
each English label through :func:`tr`, which returns it unchanged for the English book and its
translation for the others. The language is an argument (``lang``); left out, it is the language
of the build, which ``book/_ext/build_language.py`` puts in the environment variable
``RNN_BOOK_LANG`` of the kernels that execute the pages (unset: English).

Labels with numbers are templates, filled after translation:
``tr("the last output sees {seen} of {T} inputs").format(seen=3, T=12)``. A tuple of words (an
example sentence) translates as a whole, since its words need not map one to one.
A label with no translation raises ``KeyError`` in a translated build, so that no figure of the
Chinese book is drawn with English words by mistake.
"""

from __future__ import annotations

import os

LANGUAGE_VARIABLE = "RNN_BOOK_LANG"
ENGLISH = "en"
CHINESE = "zh_CN"

# Fonts for the Chinese labels, best first (Debian/Ubuntu: fonts-noto-cjk). A CJK font comes
# first, Latin included: a label that mixes words and maths ("损失 $L(w)$") is typeset by
# mathtext, whose words take the first font only, with no fallback. The maths keeps its fonts.
CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei"]

ZH: dict[str | tuple[str, ...], str | tuple[str, ...]] = {
    # Chapter 2: feed-forward network and RNN side by side.
    ("my", "mother", "tongue", "is"): ("我", "的", "母语", "是"),
    "Chinese": "汉语",
    "hidden layer": "隐藏层",
    "input size fixed: exactly 4 tokens": "输入长度固定：正好 4 个词",
    "feed-forward network": "前馈神经网络",
    "state carries the past": "状态带着过去的信息",
    "any length: one token per step": "长度任意：每步读一个词",
    "recurrent network": "循环神经网络",
    # Chapter 3: folded and unrolled.
    "unroll": "展开",
    # Chapters 4, 5, 6: names of the rows and of the passes.
    "input": "输入",
    "output": "输出",
    "state": "状态",
    # The two directions of a bidirectional RNN (the seed's 正向/反向 隐藏状态) ...
    "forward": "正向",
    "backward": "反向",
    # Chapter 6: the five input/output patterns and their examples.
    "image": "图像",
    '"cat"': "“猫”",
    "jazz": "爵士",
    ("the", "film", "was", "great"): ("这部", "电影", "真", "好看"),
    "positive": "正面",
    ("Ada", "lives", "in", "London"): ("艾达", "住", "在", "伦敦"),
    ("I", "am", "Chinese", "<eos>"): ("我", "是", "中国人", "<eos>"),
    "encoder": "编码器",
    "decoder": "解码器",
    # Chapter 7: receptive fields.
    "causal CNN: kernel {kernel}, {layers} layers": "因果 CNN：卷积核宽 {kernel}，共 {layers} 层",
    "dilated causal CNN: kernel {kernel}, dilations {dilations}": (
        "空洞因果 CNN：卷积核宽 {kernel}，空洞率 {dilations}"
    ),
    "RNN: one state, carried from step to step": "RNN：一个状态，逐步向后传递",
    "the last output sees {seen} of {T} inputs": "最后一步的输出能看到 {T} 个输入中的 {seen} 个",
    # Chapter 8: clipping in two dimensions.
    r"value clip: $|g_i| \leq {threshold}$": r"按值裁剪：$|g_i| \leq {threshold}$",
    r"norm clip: $\|g\| \leq {threshold}$": r"按范数裁剪：$\|g\| \leq {threshold}$",
    "clipped by value": "按值裁剪后",
    "clipped by norm": "按范数裁剪后",
    # Chapter 10: the GRU's two pre-activations.
    r"$X_t W_x + b_x$ and $H_{t-1} W_h + b_h$  (r | z | n)": (
        r"$X_t W_x + b_x$ 和 $H_{t-1} W_h + b_h$  (r | z | n)"
    ),
}

# ... and the two passes of backpropagation: the same English word, another Chinese one. A label
# whose translation depends on where it is drawn is looked up with its context, as in gettext.
ZH_IN_CONTEXT: dict[tuple[str, str], str] = {
    ("pass", "forward"): "前向传播",
    ("pass", "backward"): "反向传播",
}

TRANSLATIONS = {CHINESE: ZH}
TRANSLATIONS_IN_CONTEXT = {CHINESE: ZH_IN_CONTEXT}


def book_language() -> str:
    """The language of the build: ``RNN_BOOK_LANG`` if it names a translation, else English."""
    value = os.environ.get(LANGUAGE_VARIABLE, "").strip().replace("-", "_")
    if value.lower().startswith("zh"):
        return CHINESE
    return ENGLISH


def resolve(lang: str | None) -> str:
    """``lang`` as one of the book's languages (``None``: the language of the build)."""
    if lang is None:
        return book_language()
    lang = lang.replace("-", "_")
    if lang.lower().startswith("zh"):
        return CHINESE
    if lang.lower().startswith("en"):
        return ENGLISH
    raise ValueError(f"the book has no {lang!r} edition; languages: en, {', '.join(TRANSLATIONS)}")


def tr(text, lang: str | None = None, context: str | None = None):
    """``text`` (a label, a template, or a tuple of words) in the language ``lang``.

    ``context`` tells apart labels that read the same in English and not in the translation.
    """
    lang = resolve(lang)
    if lang == ENGLISH:
        return text
    if context is not None:
        return TRANSLATIONS_IN_CONTEXT[lang][(context, text)]
    table = TRANSLATIONS[lang]
    if text not in table:
        raise KeyError(f"no {lang} translation for the figure label {text!r}: add it to {__name__}")
    return table[text]


def font_settings(lang: str | None = None) -> dict:
    """Matplotlib settings for the language: a CJK font for Chinese labels, nothing for English."""
    if resolve(lang) == ENGLISH:
        return {}
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [*CJK_FONTS, "DejaVu Sans"],
    }
