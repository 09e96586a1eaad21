"""Record: the HTML pages' Jinja2 templates, rendered with autoescaping.

Everything a page shows that came from a notebook (messages quote the learner's code and error
messages, student ids come from file names) is escaped by Jinja2, never by hand. The one filter,
``code``, shows the `backquoted` spans of a message as code.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from ...i18n import _, current_language


def translated(message: str, **values) -> Markup:
    """``message`` from the catalogue, escaped, with ``values`` put in (escaped unless Markup)."""
    return Markup(escape(_(message))).format(**values)


def strong(text) -> Markup:
    return Markup("<strong>{}</strong>").format(text)


def code(text) -> Markup:
    """Escape ``text`` and show its `backquoted` spans as <code>."""
    parts = str(text).split("`")
    return Markup("").join(
        Markup("<code>{}</code>").format(p) if i % 2 else escape(p) for i, p in enumerate(parts)
    )


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("autograder.grading", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["code"] = code
    env.filters["strong"] = strong
    env.globals["t"] = translated
    env.globals["lang"] = current_language
    return env


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)
