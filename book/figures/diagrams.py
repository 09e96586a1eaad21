"""Schematic drawings of the book: boxes for arrays, arrows for the computations between them.

Every function returns a matplotlib Figure. The drawings share one scale (``UNIT`` inches per
unit of the drawing's coordinates), so that a box and its label have the same size on every page.
Colours mean the same thing everywhere: blue inputs, amber hidden states, violet the second
direction or the decoder, green outputs, red losses and gradients.

Every drawing with words takes ``lang`` (``"en"``, ``"zh_CN"``; default: the language of the
build) and writes its labels through :func:`figures.labels.tr`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle

from .labels import font_settings, tr

UNIT = 0.72  # inches per drawing unit
FONT = 15

KINDS = {  # face colour, edge colour
    "input": ("#dbeafe", "#1d4ed8"),
    "hidden": ("#fef3c7", "#b45309"),
    "second": ("#ede9fe", "#6d28d9"),
    "output": ("#dcfce7", "#15803d"),
    "loss": ("#fee2e2", "#b91c1c"),
    "muted": ("#f3f4f6", "#9ca3af"),
    "plain": ("#ffffff", "#374151"),
}
FORWARD = "#374151"
BACKWARD = "#dc2626"
MUTED = "#c4c8cf"


def use_book_style(lang: str | None = None) -> None:
    """Matplotlib settings shared by every figure of the book (vector output, readable fonts).

    ``lang`` (default: the language of the build) adds a CJK font for the Chinese edition.
    """
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "font.size": 12,
            "axes.titlesize": 12,
            "axes.labelsize": 12,
            "legend.fontsize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "lines.linewidth": 2,
            "svg.fonttype": "path",
        }
    )
    plt.rcParams.update(font_settings(lang))
    try:  # inside Jupyter: SVG figures stay sharp at any zoom
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("svg")
    except ImportError:
        pass


# --------------------------------------------------------------------------------------------
# Primitives.


@dataclass(frozen=True)
class Node:
    """A box in a drawing: centre (x, y), width w, height h."""

    x: float
    y: float
    w: float
    h: float

    def edge(self, toward: tuple[float, float], gap: float = 0.04) -> tuple[float, float]:
        """The point where the segment from the centre to ``toward`` leaves the box."""
        dx, dy = toward[0] - self.x, toward[1] - self.y
        if dx == 0 and dy == 0:
            return self.x, self.y
        sx = (self.w / 2 + gap) / abs(dx) if dx else math.inf
        sy = (self.h / 2 + gap) / abs(dy) if dy else math.inf
        s = min(sx, sy)
        return self.x + s * dx, self.y + s * dy

    @property
    def top(self) -> tuple[float, float]:
        return self.x, self.y + self.h / 2

    @property
    def bottom(self) -> tuple[float, float]:
        return self.x, self.y - self.h / 2


def canvas(xlim: tuple[float, float], ylim: tuple[float, float]):
    """A blank figure whose size follows the drawing's extent, at ``UNIT`` inches per unit."""
    width, height = xlim[1] - xlim[0], ylim[1] - ylim[0]
    fig, ax = plt.subplots(figsize=(width * UNIT, height * UNIT))
    fig.subplots_adjust(0, 0, 1, 1)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def box(ax, x, y, text, kind="hidden", w=1.0, h=0.62, fontsize=FONT, round_=True) -> Node:
    """Draw a labelled box centred at (x, y) and return it as a Node."""
    face, edge = KINDS[kind]
    style = "round,pad=0,rounding_size=0.14" if round_ else "square,pad=0"
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle=style, fc=face, ec=edge, lw=1.5, zorder=3
        )
    )
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)
    return Node(x, y, w, h)


def arrow(
    ax,
    start,
    end,
    color=FORWARD,
    label=None,
    rad=0.0,
    offset=0.0,
    lw=1.6,
    ls="-",
    label_side=1,
    label_at=0.5,
    fontsize=FONT - 1,
    zorder=2,
):
    """An arrow from ``start`` to ``end`` (Nodes or points), clipped at the boxes' edges.

    ``offset`` shifts the arrow sideways (to draw a backward arrow beside a forward one);
    ``rad`` bends it; ``label`` is written beside its middle, on the side ``label_side``.
    """
    a = (start.x, start.y) if isinstance(start, Node) else start
    b = (end.x, end.y) if isinstance(end, Node) else end
    if isinstance(start, Node):
        a = start.edge(b)
    if isinstance(end, Node):
        b = end.edge(a)
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length  # unit normal, to the left of the direction of travel
    a = (a[0] + offset * nx, a[1] + offset * ny)
    b = (b[0] + offset * nx, b[1] + offset * ny)
    ax.add_patch(
        FancyArrowPatch(
            a,
            b,
            arrowstyle="-|>",
            mutation_scale=14,
            color=color,
            lw=lw,
            ls=ls,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=0,
            shrinkB=0,
            zorder=zorder,
        )
    )
    if label:
        mx = a[0] + label_at * (b[0] - a[0]) + label_side * 0.28 * nx
        my = a[1] + label_at * (b[1] - a[1]) + label_side * 0.28 * ny
        # A bent arrow passes beside its chord: move the label by the bend as well.
        mx -= rad * length * nx * 0.5
        my -= rad * length * ny * 0.5
        ax.text(mx, my, label, ha="center", va="center", fontsize=fontsize, color=color, zorder=5)


def dots(ax, x, y):
    ax.text(x, y, r"$\cdots$", ha="center", va="center", fontsize=FONT + 2)


def row_labels(ax, x, rows):
    """Names of the rows of a drawing, written right-aligned at ``x``."""
    for y, text in rows:
        ax.text(x, y, text, ha="right", va="center", fontsize=FONT - 1, color="#4b5563")


# --------------------------------------------------------------------------------------------
# Chapter 2: a feed-forward network needs a fixed window; an RNN reads one token at a time.


def feedforward_vs_recurrent(lang: str | None = None):
    words = tr(("my", "mother", "tongue", "is"), lang)
    fig, ax = canvas((-0.9, 13.3), (-0.8, 4.3))
    # Left: an MLP whose input is the concatenation of a fixed number of tokens.
    inputs = [
        box(ax, 1.2 * i + 0.3, 0, w, "input", w=1.1, fontsize=FONT - 1) for i, w in enumerate(words)
    ]
    hidden = box(ax, 2.1, 1.8, tr("hidden layer", lang), "hidden", w=3.6)
    out = box(ax, 2.1, 3.4, "?", "output")
    for node in inputs:
        arrow(ax, node, hidden, lw=1.2)
    arrow(ax, hidden, out)
    fixed = tr("input size fixed: exactly 4 tokens", lang)
    ax.text(2.1, -0.65, fixed, ha="center", fontsize=FONT - 1)
    ax.text(2.1, 4.1, tr("feed-forward network", lang), ha="center", fontsize=FONT, weight="bold")
    # Right: an RNN, the same cell at every step, the state carrying what it read.
    xs = [7.0 + 1.7 * i for i in range(len(words))]
    prev = None
    for i, (x, w) in enumerate(zip(xs, words, strict=True)):
        inp = box(ax, x, 0, w, "input", w=1.2, fontsize=FONT - 1)
        h = box(ax, x, 1.8, f"$H_{i + 1}$", "hidden")
        arrow(ax, inp, h)
        if prev is not None:
            arrow(ax, prev, h)
        prev = h
    out = box(ax, xs[-1], 3.4, tr("Chinese", lang), "output", w=1.3)
    arrow(ax, prev, out)
    carries = tr("state carries the past", lang)
    ax.text(xs[0] - 0.6, 2.45, carries, ha="left", fontsize=FONT - 1, color="#b45309")
    any_length = tr("any length: one token per step", lang)
    ax.text(xs[1] + 0.85, -0.65, any_length, ha="center", fontsize=FONT - 1)
    recurrent = tr("recurrent network", lang)
    ax.text(xs[1] + 0.85, 4.1, recurrent, ha="center", fontsize=FONT, weight="bold")
    return fig


# --------------------------------------------------------------------------------------------
# Chapter 3: the RNN, folded and unrolled.


def unrolled_rnn(lang: str | None = None):
    fig, ax = canvas((-1.2, 11.0), (-0.65, 4.0))
    y_x, y_h, y_o = 0.0, 1.6, 3.2
    # Folded: one cell with a loop on itself.
    x0 = 0.0
    fx = box(ax, x0, y_x, "$X_t$", "input")
    fh = box(ax, x0, y_h, "$H_t$", "hidden")
    fo = box(ax, x0, y_o, "$O_t$", "output")
    arrow(ax, fx, fh, label="$W_{xh}$", label_side=-1)
    arrow(ax, fh, fo, label="$W_{hq}$", label_side=-1)
    ax.add_patch(
        FancyArrowPatch(
            (x0 + 0.5, y_h + 0.18),
            (x0 + 0.5, y_h - 0.18),
            connectionstyle="arc,angleA=0,angleB=0,armA=28,armB=28,rad=12",
            arrowstyle="-|>",
            mutation_scale=14,
            color=FORWARD,
            lw=1.6,
        )
    )
    ax.text(x0 + 1.15, y_h, "$W_{hh}$", ha="left", va="center", fontsize=FONT - 1)
    # "unroll in time"
    arrow(ax, (2.0, y_h), (3.1, y_h), color="#6b7280", lw=2.2)
    ax.text(2.55, y_h + 0.4, tr("unroll", lang), ha="center", fontsize=FONT - 1, color="#6b7280")
    # Unrolled: the same cell at every step.
    xs = [5.0, 7.2, 9.4]
    names = ["t-1", "t", "t+1"]
    hs = []
    for x, t in zip(xs, names, strict=True):
        nx_ = box(ax, x, y_x, f"$X_{{{t}}}$", "input", w=1.1)
        nh = box(ax, x, y_h, f"$H_{{{t}}}$", "hidden", w=1.1)
        no = box(ax, x, y_o, f"$O_{{{t}}}$", "output", w=1.1)
        arrow(ax, nx_, nh, label="$W_{xh}$", label_side=-1)
        arrow(ax, nh, no, label="$W_{hq}$", label_side=-1)
        hs.append(nh)
    dots(ax, 3.75, y_h)
    dots(ax, 10.6, y_h)
    arrow(ax, (4.05, y_h), hs[0])
    for a, b in zip(hs, hs[1:], strict=False):
        arrow(ax, a, b, label="$W_{hh}$")
    arrow(ax, hs[-1], (10.3, y_h))
    return fig


# --------------------------------------------------------------------------------------------
# Chapter 4: two RNNs reading in opposite directions.


def bidirectional_rnn(lang: str | None = None):
    fig, ax = canvas((-2.0, 8.6), (-0.6, 5.1))
    y_x, y_f, y_b, y_o = 0.0, 1.5, 3.0, 4.5
    xs = [1.0, 3.4, 5.8]
    names = ["t-1", "t", "t+1"]
    fs, bs = [], []
    for x, t in zip(xs, names, strict=True):
        nx_ = box(ax, x, y_x, f"$X_{{{t}}}$", "input", w=1.1)
        nf = box(ax, x, y_f, rf"$\overrightarrow{{H}}_{{{t}}}$", "hidden", w=1.1, h=0.7)
        nb = box(ax, x, y_b, rf"$\overleftarrow{{H}}_{{{t}}}$", "second", w=1.1, h=0.7)
        no = box(ax, x, y_o, f"$O_{{{t}}}$", "output", w=1.1)
        arrow(ax, nx_, nf, lw=1.3)
        # The input reaches the backward state, and the forward state the output, around the
        # box in between: one on the left, one on the right.
        arrow(ax, (x - 0.35, y_x + 0.33), (x - 0.35, y_b - 0.37), rad=-0.3, lw=1.3, color="#6d28d9")
        arrow(ax, nb, no, lw=1.3, color="#6d28d9")
        arrow(ax, (x + 0.35, y_f + 0.37), (x + 0.35, y_o - 0.33), rad=0.3, lw=1.3)
        fs.append(nf)
        bs.append(nb)
    for a, b in zip(fs, fs[1:], strict=False):
        arrow(ax, a, b, lw=1.8)
    for a, b in zip(bs[1:], bs, strict=False):
        arrow(ax, a, b, lw=1.8, color="#6d28d9")
    arrow(ax, (-0.2, y_f), fs[0], lw=1.8)
    arrow(ax, fs[-1], (7.0, y_f), lw=1.8)
    arrow(ax, bs[0], (-0.2, y_b), lw=1.8, color="#6d28d9")
    arrow(ax, (7.0, y_b), bs[-1], lw=1.8, color="#6d28d9")
    for y in (y_f, y_b):
        dots(ax, -0.5, y)
        dots(ax, 7.3, y)
    rows = [(y_x, "input"), (y_f, "forward"), (y_b, "backward"), (y_o, "output")]
    row_labels(
        ax,
        -0.85,
        [(y, tr(name, lang)) for y, name in rows],
    )
    return fig


# --------------------------------------------------------------------------------------------
# Chapter 5: the computation graph of BPTT, forward and backward.


def bptt_graph(T: int = 4, lang: str | None = None):
    dx = 2.3
    fig, ax = canvas((-1.6, dx * T + 0.4), (-0.6, 6.5))
    y_x, y_h, y_o, y_l = 0.0, 1.7, 3.4, 5.1
    h0 = box(ax, -0.6, y_h, "$H_0$", "hidden", w=0.9)
    prev = h0
    for t in range(1, T + 1):
        x = dx * t - 1.0
        nx_ = box(ax, x, y_x, f"$X_{t}$", "input", w=0.9)
        nh = box(ax, x, y_h, f"$H_{t}$", "hidden", w=0.9)
        no = box(ax, x, y_o, f"$O_{t}$", "output", w=0.9)
        nl = box(ax, x, y_l, f"$L_{t}$", "loss", w=0.9)
        arrow(ax, nx_, nh)
        arrow(ax, nh, no, offset=0.17)
        arrow(ax, no, nl, offset=0.17)
        arrow(ax, prev, nh, offset=0.14)
        # Backward: from each loss down to the state, and along the chain to the left.
        arrow(ax, nl, no, color=BACKWARD, offset=0.17)
        arrow(ax, no, nh, color=BACKWARD, offset=0.17)
        arrow(ax, nh, prev, color=BACKWARD, offset=0.14)
        prev = nh
    ax.text(
        dx * T / 2 - 0.4,
        6.05,
        r"$L = L_1 + L_2 + \cdots + L_T$",
        ha="center",
        va="center",
        fontsize=FONT + 1,
    )
    ax.text(-0.6, 4.1, tr("forward", lang, "pass"), color=FORWARD, ha="center", fontsize=FONT - 1)
    ax.text(-0.6, 3.7, tr("backward", lang, "pass"), color=BACKWARD, ha="center", fontsize=FONT - 1)
    return fig


# --------------------------------------------------------------------------------------------
# Chapter 6: the five input/output patterns.

SEQUENCE_TYPES = (
    "one-to-one",
    "one-to-many",
    "many-to-one",
    "many-to-many-aligned",
    "encoder-decoder",
)


def sequence_type(kind: str, lang: str | None = None):
    """One of :data:`SEQUENCE_TYPES`, drawn with a concrete example on its inputs and outputs."""
    if kind not in SEQUENCE_TYPES:
        raise ValueError(f"kind must be one of {SEQUENCE_TYPES}, got {kind!r}")
    y_x, y_h, y_o = 0.0, 1.5, 3.0
    dx = 1.7
    if kind == "one-to-one":
        fig, ax = canvas((-2.4, 2.2), (-0.6, 3.6))
        x = box(ax, 0, y_x, tr("image", lang), "input", w=1.3)
        h = box(ax, 0, y_h, "", "hidden")
        o = box(ax, 0, y_o, tr('"cat"', lang), "output", w=1.3)
        arrow(ax, x, h)
        arrow(ax, h, o)
    elif kind == "one-to-many":
        notes = ["C4", "E4", "G4", "B♭4"]
        fig, ax = canvas((-2.4, dx * len(notes) - 0.6), (-0.6, 3.6))
        x = box(ax, 0, y_x, tr("jazz", lang), "input", w=1.2)
        prev = None
        for i, note in enumerate(notes):
            h = box(ax, dx * i, y_h, "", "hidden")
            o = box(ax, dx * i, y_o, note, "output")
            arrow(ax, h, o)
            if prev is None:
                arrow(ax, x, h)
            else:
                arrow(ax, prev[0], h)
                # the previous note is read back in as the next input
                arrow(ax, prev[1], h, ls=(0, (3, 2)), lw=1.2, color="#15803d", rad=0.0)
            prev = (h, o)
    elif kind == "many-to-one":
        words = tr(("the", "film", "was", "great"), lang)
        fig, ax = canvas((-2.4, dx * len(words) - 0.4), (-0.6, 3.6))
        prev = None
        for i, word in enumerate(words):
            x = box(ax, dx * i, y_x, word, "input", w=1.2)
            h = box(ax, dx * i, y_h, "", "hidden")
            arrow(ax, x, h)
            if prev is not None:
                arrow(ax, prev, h)
            prev = h
        o = box(ax, dx * (len(words) - 1), y_o, tr("positive", lang), "output", w=1.5)
        arrow(ax, prev, o)
    elif kind == "many-to-many-aligned":
        words = tr(("Ada", "lives", "in", "London"), lang)
        tags = ["PER", "O", "O", "LOC"]
        fig, ax = canvas((-2.4, dx * len(words) - 0.4), (-0.6, 3.6))
        prev = None
        for i, (word, tag) in enumerate(zip(words, tags, strict=True)):
            x = box(ax, dx * i, y_x, word, "input", w=1.3)
            h = box(ax, dx * i, y_h, "", "hidden")
            o = box(ax, dx * i, y_o, tag, "output")
            arrow(ax, x, h)
            arrow(ax, h, o)
            if prev is not None:
                arrow(ax, prev, h)
            prev = h
    else:  # encoder-decoder
        src = ["je", "suis", "chinois"]
        tgt = tr(("I", "am", "Chinese", "<eos>"), lang)
        n = len(src) + len(tgt)
        fig, ax = canvas((-2.4, dx * n - 0.5), (-0.6, 4.1))
        prev, prev_out = None, None
        for i in range(n):
            enc = i < len(src)
            h = box(ax, dx * i, y_h, "", "hidden" if enc else "second")
            if enc:
                x = box(ax, dx * i, y_x, src[i], "input", w=1.3)
                arrow(ax, x, h)
            else:
                o = box(ax, dx * i, y_o, tgt[i - len(src)], "output", w=1.3, fontsize=FONT - 1)
                arrow(ax, h, o)
                if prev_out is None:  # the decoder starts from a begin-of-sequence token
                    bos = box(ax, dx * i, y_x, "<bos>", "input", w=1.3, fontsize=FONT - 1)
                    arrow(ax, bos, h)
                else:  # then reads back what it emitted
                    arrow(ax, prev_out, h, ls=(0, (3, 2)), lw=1.2, color="#15803d")
                prev_out = o
            if prev is not None:
                arrow(ax, prev, h, color=FORWARD if i != len(src) else "#6d28d9", lw=1.8)
            prev = h
        mid = dx * (len(src) - 0.5)
        ax.plot([mid, mid], [-0.5, 3.4], color="#9ca3af", ls=":", lw=1.2)
        ax.text(dx * (len(src) - 1) / 2, 3.75, tr("encoder", lang), ha="center", fontsize=FONT - 1)
        ax.text(
            dx * (len(src) + (len(tgt) - 1) / 2),
            3.75,
            tr("decoder", lang),
            ha="center",
            fontsize=FONT - 1,
            color="#6d28d9",
        )
    rows = [(y_x, "input"), (y_h, "state"), (y_o, "output")]
    row_labels(ax, -1.0, [(y, tr(name, lang)) for y, name in rows])
    return fig


# --------------------------------------------------------------------------------------------
# Chapter 7: what the last output of a causal CNN and of an RNN can see.


def receptive_fields(
    T: int = 12, kernel: int = 3, layers: int = 2, dilations=(1, 2, 4), lang: str | None = None
):
    """What the output at the last step can see, in three networks of the same length T.

    Top: a causal CNN with ``layers`` layers of width ``kernel``; middle: a causal CNN whose
    layers are dilated by ``dilations``; bottom: an RNN. Units that can influence the last output
    are coloured and joined by their connections; the others are grey.
    """
    step, size, gap = 0.62, 0.42, 0.62
    panels = [
        (
            tr("causal CNN: kernel {kernel}, {layers} layers", lang).format(
                kernel=kernel, layers=layers
            ),
            (1,) * layers,
        ),
        (
            tr("dilated causal CNN: kernel {kernel}, dilations {dilations}", lang).format(
                kernel=kernel, dilations=tuple(dilations)
            ),
            tuple(dilations),
        ),
        (tr("RNN: one state, carried from step to step", lang), None),
    ]
    n_rows = [len(d) + 1 if d else 2 for _, d in panels]
    height = sum(n_rows) * gap + 0.95 * len(panels)
    fig, ax = canvas((-0.5, T * step + 0.2), (0.0, height))
    y = height - 0.35
    for title, dil in panels:
        ax.text(-0.35, y, title, fontsize=FONT - 1, weight="bold", va="center")
        rows = len(dil) + 1 if dil else 2
        ys = [y - 0.6 - (rows - 1 - r) * gap for r in range(rows)]
        if dil:
            reach = [set() for _ in range(rows)]
            reach[-1] = {T - 1}
            for r in range(rows - 1, 0, -1):
                d = dil[r - 1]
                reach[r - 1] = {t - j * d for t in reach[r] for j in range(kernel) if t >= j * d}
            for r in range(1, rows):
                d = dil[r - 1]
                for t in reach[r]:
                    for j in range(kernel):
                        if t >= j * d:
                            ax.plot(
                                [(t - j * d) * step, t * step],
                                [ys[r - 1] + size / 2, ys[r] - size / 2],
                                color=FORWARD,
                                lw=1.1,
                                zorder=2,
                            )
        else:
            reach = [set(range(T)), set(range(T))]
            for t in range(T):
                ax.plot([t * step] * 2, [ys[0] + size / 2, ys[1] - size / 2], color=FORWARD, lw=1.1)
                if t:
                    ax.plot(
                        [(t - 1) * step + size / 2, t * step - size / 2],
                        [ys[1]] * 2,
                        color=FORWARD,
                        lw=1.1,
                    )
        for r in range(rows):
            for t in range(T):
                kind = ("input" if r == 0 else "hidden") if t in reach[r] else "muted"
                face, edge = KINDS[kind]
                ax.add_patch(
                    Rectangle(
                        (t * step - size / 2, ys[r] - size / 2),
                        size,
                        size,
                        fc=face,
                        ec=edge,
                        lw=1.2,
                        zorder=3,
                    )
                )
        ax.text(
            (T - 1) * step + size / 2,
            y,
            tr("the last output sees {seen} of {T} inputs", lang).format(seen=len(reach[0]), T=T),
            ha="right",
            va="center",
            fontsize=FONT - 2,
            color="#4b5563",
        )
        y = ys[0] - 0.95
    return fig


# --------------------------------------------------------------------------------------------
# Chapter 8: clipping by value and by norm, in two dimensions.


def clipping_in_2d(g, g_value, g_norm, threshold: float, lang: str | None = None):
    """The gradient ``g`` (2-vector) and its two clipped versions, with the clipping regions."""
    fig, ax = plt.subplots(figsize=(7.6, 3.4))
    ax.add_patch(
        Rectangle(
            (-threshold, -threshold),
            2 * threshold,
            2 * threshold,
            fc="#fef3c7",
            ec="#b45309",
            lw=1.2,
            label=tr(r"value clip: $|g_i| \leq {threshold}$", lang).format(
                threshold=f"{threshold:g}"
            ),
        )
    )
    ax.add_patch(
        Circle(
            (0, 0),
            threshold,
            fc="none",
            ec="#15803d",
            lw=1.5,
            ls="--",
            label=tr(r"norm clip: $\|g\| \leq {threshold}$", lang).format(
                threshold=f"{threshold:g}"
            ),
        )
    )
    # The norm-clipped vector lies on g: draw g thin and dashed so that both stay visible.
    for vec, color, name, style in [
        (g, FORWARD, "$g$", {"lw": 1.4, "ls": "--"}),
        (g_value, "#b45309", tr("clipped by value", lang), {"lw": 2.2}),
        (g_norm, "#15803d", tr("clipped by norm", lang), {"lw": 2.6}),
    ]:
        ax.annotate(
            "",
            xy=tuple(vec),
            xytext=(0, 0),
            arrowprops={"arrowstyle": "-|>", "color": color, "mutation_scale": 16, **style},
        )
        ax.plot([], [], color=color, label=name, **style)
    ax.set_aspect("equal")
    ax.set_xlim(-threshold * 1.3, max(abs(g[0]), threshold) * 1.1)
    ax.set_ylim(-threshold * 1.3, max(abs(g[1]), threshold) * 1.6)
    ax.axhline(0, color="#9ca3af", lw=0.8)
    ax.axvline(0, color="#9ca3af", lw=0.8)
    ax.set_xlabel("$g_1$")
    ax.set_ylabel("$g_2$")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=10)
    fig.tight_layout()
    return fig
