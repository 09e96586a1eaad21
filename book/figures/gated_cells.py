"""Drawings of the gated cells of chapter 10: one LSTM step and one GRU step.

They use the primitives and colours of :mod:`figures.diagrams`: amber states, blue inputs, and
white boxes for the gates; a circle is an elementwise product (⊙) or sum (+). The thick line is
the path along which the state is carried from step to step.
"""

from __future__ import annotations

from matplotlib.patches import Circle

from .diagrams import FONT, FORWARD, Node, arrow, box, canvas
from .labels import tr

STATE_PATH = "#b45309"


def _op(ax, x, y, text, r=0.27):
    """An elementwise operation: a small circle holding its symbol."""
    ax.add_patch(Circle((x, y), r, fc="white", ec=FORWARD, lw=1.5, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=FONT - 1, zorder=4)
    return _Circle(x, y, 2 * r, 2 * r)


class _Circle(Node):
    """An operation circle: arrows stop at its rim rather than at a bounding box."""

    def edge(self, toward, gap=0.04):
        dx, dy = toward[0] - self.x, toward[1] - self.y
        d = (dx * dx + dy * dy) ** 0.5 or 1.0
        r = self.w / 2 + gap
        return self.x + r * dx / d, self.y + r * dy / d


def _bus(ax, nodes, y, x_from, x_to, label):
    """The pre-activation box along the bottom, with an arrow up to every gate above it."""
    bus = box(
        ax, (x_from + x_to) / 2, y, label, "plain", w=x_to - x_from, h=0.62, fontsize=FONT - 2
    )
    for node in nodes:
        arrow(ax, (node.x, y + 0.33), node, lw=1.3)
    return bus


def lstm_cell():
    """One LSTM step: four gates from one pre-activation, the cell state along the top."""
    fig, ax = canvas((-1.3, 10.2), (-2.6, 3.9))
    y_c, y_mid, y_g, y_bus = 3.0, 1.75, 0.55, -0.75
    c_prev = box(ax, -0.4, y_c, "$C_{t-1}$", "hidden", w=1.2)
    times_f = _op(ax, 2.0, y_c, "×")
    plus = _op(ax, 4.6, y_c, "+")
    c_next = box(ax, 9.2, y_c, "$C_t$", "hidden", w=1.0)
    f = box(ax, 2.0, y_g, r"$F_t$  $\sigma$", "plain", w=1.2)
    i = box(ax, 3.5, y_g, r"$I_t$  $\sigma$", "plain", w=1.2)
    g = box(ax, 5.0, y_g, r"$G_t$ tanh", "plain", w=1.35)
    o = box(ax, 6.55, y_g, r"$O_t$  $\sigma$", "plain", w=1.2)
    times_ig = _op(ax, 4.25, y_mid, "×")
    tanh_c = box(ax, 7.8, 2.1, "tanh", "plain", w=0.95, h=0.5, fontsize=FONT - 2)
    times_o = _op(ax, 7.8, y_g, "×")
    h_next = box(ax, 9.2, y_g, "$H_t$", "hidden", w=1.0)
    # The cell-state path: multiplied by F_t, added to, nothing else.
    arrow(ax, c_prev, times_f, color=STATE_PATH, lw=3)
    arrow(ax, times_f, plus, color=STATE_PATH, lw=3)
    arrow(ax, plus, c_next, color=STATE_PATH, lw=3)
    arrow(ax, f, times_f)
    arrow(ax, i, times_ig)
    arrow(ax, g, times_ig)
    arrow(ax, times_ig, plus)
    arrow(ax, (7.8, y_c), tanh_c)
    arrow(ax, tanh_c, times_o)
    arrow(ax, o, times_o)
    arrow(ax, times_o, h_next)
    _bus(ax, (f, i, g, o), y_bus, 1.3, 7.25, r"$A_t = X_t W_x + H_{t-1} W_h + b$  (i | f | g | o)")
    h_prev = box(ax, -0.4, y_bus, "$H_{t-1}$", "hidden", w=1.2)
    x_t = box(ax, 4.3, -2.05, "$X_t$", "input", w=1.0)
    arrow(ax, h_prev, (1.26, y_bus))
    arrow(ax, x_t, (4.3, y_bus - 0.33))
    ax.text(3.3, 3.55, r"$C_t = F_t \odot C_{t-1} + I_t \odot G_t$", ha="center", fontsize=FONT - 2)
    ax.text(9.2, -0.15, r"$O_t \odot \tanh(C_t)$", ha="center", fontsize=FONT - 3)
    return fig


def gru_cell(lang: str | None = None):
    """One GRU step (PyTorch's equations): the hidden state itself is the carried path.

    ``lang``: the language of the one word in the drawing (default: the language of the build).
    """
    fig, ax = canvas((-1.3, 10.2), (-2.6, 3.9))
    y_h, y_mid, y_g, y_bus = 3.0, 1.75, 0.55, -0.75
    h_prev = box(ax, -0.4, y_h, "$H_{t-1}$", "hidden", w=1.2)
    times_z = _op(ax, 2.2, y_h, "×")
    plus = _op(ax, 6.6, y_h, "+")
    h_next = box(ax, 9.2, y_h, "$H_t$", "hidden", w=1.0)
    z = box(ax, 2.2, y_g, r"$Z_t$  $\sigma$", "plain", w=1.2)
    r = box(ax, 3.65, y_g, r"$R_t$  $\sigma$", "plain", w=1.2)
    times_r = _op(ax, 5.05, y_g, "×")
    n = box(ax, 6.6, y_g, r"$N_t$ tanh", "plain", w=1.35)
    one_minus = box(ax, 5.05, y_mid, "1 − ·", "plain", w=0.95, h=0.5, fontsize=FONT - 2)
    times_n = _op(ax, 6.6, y_mid, "×")
    arrow(ax, h_prev, times_z, color=STATE_PATH, lw=3)
    arrow(ax, times_z, plus, color=STATE_PATH, lw=3)
    arrow(ax, plus, h_next, color=STATE_PATH, lw=3)
    arrow(ax, z, times_z)
    arrow(ax, z, one_minus)
    arrow(ax, one_minus, times_n)
    arrow(ax, n, times_n)
    arrow(ax, times_n, plus)
    # R_t scales the recurrent part of the candidate, after its product with W_hn.
    arrow(ax, r, times_r)
    arrow(ax, times_r, n)
    _bus(ax, (z, r, times_r, n), y_bus, 1.5, 7.4, "")
    ax.text(
        4.45,
        y_bus,
        tr(r"$X_t W_x + b_x$ and $H_{t-1} W_h + b_h$  (r | z | n)", lang),
        ha="center",
        va="center",
        fontsize=FONT - 2,
        zorder=4,
    )
    for x, text in ((2.2, "z"), (3.65, "r"), (5.05, "$h_n$"), (6.6, "$x_n$")):
        ax.text(x + 0.12, y_bus + 0.55, text, ha="left", va="center", fontsize=FONT - 3)
    hp = box(ax, -0.4, y_bus, "$H_{t-1}$", "hidden", w=1.2)
    x_t = box(ax, 4.45, -2.05, "$X_t$", "input", w=1.0)
    arrow(ax, hp, (1.46, y_bus))
    arrow(ax, x_t, (4.45, y_bus - 0.33))
    ax.text(
        4.4,
        3.55,
        r"$H_t = (1 - Z_t) \odot N_t + Z_t \odot H_{t-1}$",
        ha="center",
        fontsize=FONT - 2,
    )
    return fig
