"""Sphinx extension for the translated editions: maths is not a message, and pages link across.

Display maths (``$$ ... $$``, ``{math}`` and amsmath blocks) is the same in every language, so it
is kept out of the message catalogues: translators never copy it, and it cannot drift.

The captions of the table of contents are translated too: Jupyter Book inserts the toctrees
after Sphinx has translated the page, so they are translated here, from the same catalogue. As
every page carries them in its sidebar, every page is written again when the root page is read
again (its catalogue changed, say), not only the pages whose own text changed.

Glued values (``{glue:text}`key```) in a translated paragraph show the page's values: Sphinx
parses each translation as a document of its own, where myst-nb would find no glue data.

Every page links to the same page in the other language.

The English site is ``_build/html/`` and each translation sits in a folder inside it
(``_build/html/zh/`` for ``language = zh_CN``; the folders are ``language_sites``). Each page
gets, at the top of its article, a link to the page with the same name in the other site, and
``<link rel="alternate" hreflang=...>`` tags naming every site's copy of it.
"""

from __future__ import annotations

import html
from os import path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.util.i18n import docname_to_domain


class MathIsNotAMessage(SphinxTransform):
    """Mark display maths untranslatable before Sphinx's Locale transform (priority 20) runs."""

    default_priority = 10

    def apply(self, **kwargs) -> None:
        for node in self.document.findall(nodes.math_block):
            node["translatable"] = False


# language -> (folder inside the English site, name of the language in itself)
DEFAULT_SITES = {"en": ("", "English"), "zh_CN": ("zh", "中文")}


class TranslateInsertedToctrees(SphinxTransform):
    """Translate the captions of the toctrees that sphinx_external_toc inserts (priority 100),
    after Sphinx's Locale transform (priority 20) has translated the rest of the page."""

    default_priority = 101

    def apply(self, **kwargs) -> None:
        if site_of(self.config.language) == "en":
            return
        toctrees = [n for n in self.document.findall(addnodes.toctree) if n.get("rawcaption")]
        if not toctrees:
            return
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        dirs = [path.join(self.env.srcdir, d) for d in self.config.locale_dirs]
        catalog, has_catalog = init_locale(dirs, self.config.language, domain)
        if not has_catalog:
            return
        for toctree in toctrees:
            original = toctree["rawcaption"]
            translated = catalog.gettext(original)
            if translated and translated != original:
                toctree.apply_translated_message(original, translated)


ROOT_REREAD = "translation_root_reread"  # on the app: env.temp_data is cleared after each page


def note_root_reread(app: Sphinx, env, docnames: list[str]) -> None:
    setattr(app, ROOT_REREAD, app.config.root_doc in docnames)


def rewrite_all_when_root_changed(app: Sphinx, env) -> list[str]:
    """Pages to write again beyond the changed ones: all of them, if the root page was read."""
    if site_of(app.config.language) != "en" and getattr(app, ROOT_REREAD, False):
        return sorted(env.found_docs)
    return []


def share_glue_data_with_translations() -> None:
    """Let a translated paragraph's glue roles read the glue data of the page it belongs to.

    myst-nb looks glued values up in the document being parsed. Each translation is parsed by
    Sphinx's Locale transform as a small document of its own, with no glue data, so its
    ``{glue:text}`` roles would render empty. The page's own roles are resolved first (while the
    page is parsed), so a successful lookup records the page's glue data, and a failed lookup
    in a translation of the same page falls back to it.
    """
    from myst_nb.core.variables import RetrievalError, VariableOutput
    from myst_nb.ext.glue import directives, roles, utils

    original = utils.retrieve_glue_data
    if getattr(original, "shares_with_translations", False):
        return

    def retrieve_glue_data(document, key):
        env = getattr(document.settings, "env", None)
        pages = env.temp_data.setdefault("glue_data_of_page", {}) if env is not None else {}
        try:
            found = original(document, key)
        except RetrievalError:
            page = pages.get(getattr(env, "docname", None))
            if page is None or key not in page[0]:
                raise
            data, renderer = page
            return VariableOutput(
                data=data[key]["data"],
                metadata=data[key].get("metadata", {}),
                nb_renderer=renderer,
                vtype="glue",
            )
        if env is not None:
            renderer = document["nb_renderer"]
            pages[env.docname] = (renderer.renderer.nb_client.glue_data, renderer)
        return found

    retrieve_glue_data.shares_with_translations = True
    for module in (utils, roles, directives):
        module.retrieve_glue_data = retrieve_glue_data


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
    app.add_transform(TranslateInsertedToctrees)
    share_glue_data_with_translations()
    app.connect("env-before-read-docs", note_root_reread)
    app.connect("env-get-updated", rewrite_all_when_root_changed)
    app.add_config_value("language_sites", DEFAULT_SITES, "html")
    app.connect("html-page-context", add_language_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
