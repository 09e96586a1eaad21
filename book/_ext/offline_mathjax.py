"""Sphinx extension: refuse to build pages whose maths would need a CDN.

``mathjax_path`` points at the copy that ``vendor_mathjax.py`` unpacks into ``html_extra_path``.
If that copy is missing, the build stops with a message instead of producing pages that show raw
TeX (or quietly load MathJax from the network).
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ConfigError

VENDOR_DIR = Path("_build") / "vendor"
ENTRY = Path("mathjax") / "tex-mml-chtml.js"


def check_vendored_mathjax(app: Sphinx, config) -> None:
    path = str(config.mathjax_path)
    if "://" in path or path.startswith("//"):
        raise ConfigError(f"mathjax_path must point at the vendored copy, not a URL: {path}")
    entry = Path(app.confdir) / VENDOR_DIR / ENTRY
    if not entry.is_file():
        raise ConfigError(
            f"MathJax is not vendored ({entry} is missing). Run `make book`, which fetches the npm "
            "package mathjax@3; without it the maths would render as raw TeX offline."
        )


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", check_vendored_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
