"""The words drawn inside the book's figures, in every language the book is built in.

A figure is drawn by the same code in every edition; only its words change. Drawing code passes
each English label through :func:`tr`, which returns it unchanged for the English book and its
translation for the others. The language is an argument (``lang``); left out, it is the language
of the build, which ``book/_ext/build_language.py`` puts in the environment variable
``RNN_BOOK_LANG`` of the kernels that execute the pages (unset: English).

Labels with numbers are templates, filled after translation:
``tr("the last output sees {seen} of {T} inputs").format(seen=3, T=12)``. A label made elsewhere
from such a template (``"norm θ=1"``, a run's name in an experiment) is matched against the
templates and translated with its values kept. A tuple of words (an example sentence) translates
as a whole, since its words need not map one to one.
A label with no translation raises ``KeyError`` in a translated build, so that no figure of the
Chinese book is drawn with English words by mistake.
"""

from __future__ import annotations

import functools
import os
import re

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
    # Chapter 5: norms of the gradient against the distance travelled back.
    "ρ = {rho}": "ρ = {rho}",
    "ρ = {rho}, saturated": "ρ = {rho}，饱和",
    "steps back, $s$": "向后传播的步数 $s$",
    # Chapter 7: the three models learning the same task.
    "causal CNN": "因果 CNN",
    "dilated causal CNN": "空洞因果 CNN",
    "RNN": "RNN",
    "chance": "随机猜测",
    "training step": "训练步数",
    "test accuracy": "测试准确率",
    # Chapter 8: a cliff, and the four clipping rules (names from book/experiments/clipping.py).
    "loss $L(w)$": "损失 $L(w)$",
    "recurrent weight $w$": "循环权重 $w$",
    "none": "不裁剪",
    "norm θ={theta}": "按范数裁剪，θ={theta}",
    "value c=θ/√P={c}": "按值裁剪，c=θ/√P={c}",
    "value c={c}": "按值裁剪，c={c}",
    "update": "更新次数",
    "loss": "损失",
    # Chapter 9: the character RNN.
    "NumPy loop": "NumPy 循环",
    "PyTorch, 32 streams": "PyTorch，32 路并行",
    "uniform guess": "均匀猜测",
    "characters read": "已读字符数",
    "loss per character": "每个字符的损失",
    "{name}: unit {unit}, correlation {corr}": "{name}：第 {unit} 号单元，相关系数 {corr}",
    "in a string": "在字符串中",
    "in a comment": "在注释中",
    "inside brackets": "在括号内",
    # Chapter 10: gradients through the gated cells, and the GRU's two pre-activations.
    "LSTM": "LSTM",
    "GRU": "GRU",
    "at initialisation": "初始化时",
    "after training": "训练之后",
    "distance $d$ (steps before the last)": "距离 $d$（距最后一步的步数）",
    r"$X_t W_x + b_x$ and $H_{t-1} W_h + b_h$  (r | z | n)": (
        r"$X_t W_x + b_x$ 和 $H_{t-1} W_h + b_h$  (r | z | n)"
    ),
}

# Chapter 11: attention weights.
ZH.update({"source position $s$": "源位置 $s$", "output step $t$": "输出步 $t$"})

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
    if text in table:
        return table[text]
    if isinstance(text, str):
        for template, pattern in _templates(lang):
            found = pattern.fullmatch(text)
            if found:
                return table[template].format(**found.groupdict())
    raise KeyError(f"no {lang} translation for the figure label {text!r}: add it to {__name__}")


@functools.cache
def _templates(lang: str) -> list[tuple[str, re.Pattern]]:
    """The table's templates as patterns, the most specific (most literal text) first."""
    found = []
    for key in TRANSLATIONS[lang]:
        if isinstance(key, str) and re.search(r"\{\w+\}", key):
            parts = re.split(r"\{(\w+)\}", key)
            regex = "".join(
                re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)"
                for i, part in enumerate(parts)
            )
            literal = sum(len(part) for part in parts[::2])
            found.append((literal, key, re.compile(regex)))
    found.sort(key=lambda item: -item[0])
    return [(key, pattern) for _, key, pattern in found]


def font_settings(lang: str | None = None) -> dict:
    """Matplotlib settings for the language: a CJK font for Chinese labels, nothing for English."""
    if resolve(lang) == ENGLISH:
        return {}
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [*CJK_FONTS, "DejaVu Sans"],
    }
