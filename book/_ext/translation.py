"""Sphinx extension for the translated editions: maths is not a message, and pages link across.

Display maths (``$$ ... $$``, ``{math}`` and amsmath blocks) is the same in every language, so it
is kept out of the message catalogues: translators never copy it, and it cannot drift.

Every page links to the same page in the other language.

The English site is ``_build/html/`` and each translation sits in a folder inside it
(``_build/html/zh/`` for ``language = zh_CN``; the folders are ``language_sites``). Each page
gets, at the top of its article, a link to the page with the same name in the other site, and
``<link rel="alternate" hreflang=...>`` tags naming every site's copy of it.
"""

from __future__ import annotations

import html

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform


class MathIsNotAMessage(SphinxTransform):
    """Mark display maths untranslatable before Sphinx's Locale transform (priority 20) runs."""

    default_priority = 10

    def apply(self, **kwargs) -> None:
        for node in self.document.findall(nodes.math_block):
            node["translatable"] = False


# language -> (folder inside the English site, name of the language in itself)
DEFAULT_SITES = {"en": ("", "English"), "zh_CN": ("zh", "中文")}


def site_of(language: str | None) -> str:
    return "zh_CN" if language and language.replace("-", "_").startswith("zh") else "en"


def relative_url(pagename: str, from_language: str, to_language: str, sites: dict) -> str:
    """URL of ``pagename`` in the site of ``to_language``, relative to the same page in ``from_language``."""
    up = pagename.count("/") + (1 if sites[from_language][0] else 0)
    folder = sites[to_language][0]
    return "../" * up + (folder + "/" if folder else "") + pagename + ".html"


def add_language_links(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree
) -> None:
    sites = app.config.language_sites
    here = site_of(app.config.language)
    others = [lang for lang in sites if lang != here]
    if not others:
        return
    links = []
    for lang in others:
        url = html.escape(relative_url(pagename, here, lang, sites))
        tag = lang.replace("_", "-")
        name = html.escape(sites[lang][1])
        links.append(
            f'<a class="language-switch-link" href="{url}" hreflang="{tag}" lang="{tag}">{name}</a>'
        )
        context["metatags"] = context.get("metatags", "") + (
            f'\n<link rel="alternate" hreflang="{tag}" href="{url}" />'
        )
    style = "text-align: right; font-size: 0.9em; margin: 0 0 0.5em 0"
    bar = f'<nav class="language-switch" aria-label="Language" style="{style}">'
    bar += " · ".join(links) + "</nav>\n"
    if "body" in context:
        context["body"] = bar + context["body"]


def setup(app: Sphinx) -> dict:
    app.add_transform(MathIsNotAMessage)
    app.add_config_value("language_sites", DEFAULT_SITES, "html")
    app.connect("html-page-context", add_language_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
