"""Where the built book is, and which pages it must have: every entry of `_toc.yml`."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"


def toc_files(node) -> list[str]:
    """Every `file:` of the table of contents, in reading order."""
    if isinstance(node, dict):
        found = [node["file"]] if "file" in node else []
        if "root" in node:
            found.append(node["root"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []):
                found.extend(toc_files(child))
        return found
    return []


def book_pages() -> list[str]:
    """The HTML page of every entry of `_toc.yml`, relative to the site root."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [f"{Path(f).with_suffix('').as_posix()}.html" for f in toc_files(toc)]


CHROMIUM_MISSING = "chromium not found: apt-get install chromium (see .ci/run)"


def find_chromium() -> str | None:
    """Debian's Chromium, which the browser tests drive through Playwright."""
    import shutil

    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None
