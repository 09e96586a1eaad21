"""Sphinx extension: every figure's image gets its caption as alt text, not its file path.

myst-nb writes a notebook's plot as an image whose ``alt`` is the image's path in the build
folder, which is what a screen reader would read out. For an image inside a figure, this replaces
an alt text that is missing or looks like a path with the figure's caption, as plain text (TeX
commands and braces dropped: ``$W_{xh}$`` reads "W_xh"). An explicit alt text
(``mystnb: image: alt:`` in the cell's metadata, or ``![text](...)``) is kept.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.application import Sphinx

PATHLIKE = re.compile(r"(^|[\\/])[^\s]*\.(png|jpe?g|svg|gif|webp)$|^[./\\]|[\\/]_build[\\/]", re.I)


def looks_like_path(alt: str | None) -> bool:
    return not alt or not alt.strip() or bool(PATHLIKE.search(alt.strip()))


def plain(text: str) -> str:
    """Caption text without TeX markup, on one line."""
    text = re.sub(r"\\(mathrm|text|operatorname|mathbf|mathit)\b", "", text)
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text)
    text = text.replace("{", "").replace("}", "").replace("$", "")
    return " ".join(text.split())


def caption_alt(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        if not captions:
            continue
        text = plain(captions[0].astext())
        for image in figure.findall(nodes.image):
            if looks_like_path(image.get("alt")):
                image["alt"] = text


def setup(app: Sphinx) -> dict:
    app.connect("doctree-resolved", caption_alt)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
