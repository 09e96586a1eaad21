"""Messages in the learner's language: one catalogue, read with Python's gettext.

Every sentence a learner reads (comparisons, diagnoses, hints, the terminal table, the feedback
page) is written in English in the code and looked up here. ``autograder/locale/<lang>/
LC_MESSAGES/rnn_course.po`` holds the translations; it is the source kept in the repository and
shipped with the package, and it is compiled in memory (Babel's ``write_mo``) the first time a
language is used, then read by :class:`gettext.GNUTranslations`. English needs no catalogue.

The language is chosen once per command (``rnn-course check --lang zh``) with :func:`use`; code
that builds a message calls :func:`_` at that moment. Strings declared elsewhere (a mistake's
words in ``solutions/<NN>/checks.py``) are looked up the same way where they are shown, so
``_(mistake.hint)`` is in the catalogue too (``tests/test_messages_zh.py`` checks both). The
environment variable ``RNN_COURSE_LANG`` sets the language of a process that has no command
line, such as a notebook kernel running the visible tests.
"""

from __future__ import annotations

import gettext
import io
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

DOMAIN = "rnn_course"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "zh")


class LanguageError(ValueError):
    """A language the course has no catalogue for, or a catalogue that cannot be read."""


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The translations of ``lang`` ("en": none), compiled from its .po file."""
    if lang == "en":
        return gettext.NullTranslations()
    if lang not in LANGUAGES:
        raise LanguageError(f"no messages in {lang!r}: choose one of {', '.join(LANGUAGES)}")
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError as err:  # pragma: no cover - Babel is pinned in requirements.txt
        raise LanguageError(f"--lang {lang} needs Babel (pip install babel): {err}") from err
    with catalogue_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


_active: gettext.NullTranslations | None = None
_lang = "en"


def _current() -> gettext.NullTranslations:
    global _active, _lang
    if _active is None:
        wanted = os.environ.get("RNN_COURSE_LANG", "en")
        _lang = wanted if wanted in LANGUAGES else "en"
        _active = translations(_lang)
    return _active


def current_language() -> str:
    _current()
    return _lang


def _(message: str) -> str:
    """``message`` in the language in use (itself in English, or when the catalogue lacks it)."""
    if not message:
        return message
    return _current().gettext(message)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for extraction only"
    """Mark a string for the catalogue where it is declared; :func:`_` translates it later."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current().ngettext(singular, plural, n)


@contextmanager
def use(lang: str | None) -> Iterator[None]:
    """Messages built inside the block are in ``lang`` (None: leave the language as it is)."""
    global _active, _lang
    if lang is None:
        yield
        return
    previous = (_current(), _lang)
    _active, _lang = translations(lang), lang
    try:
        yield
    finally:
        _active, _lang = previous


# --------------------------------------------------------------------------------------------
# Width on a terminal: CJK characters take two columns.


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide characters count two; "\x00", a space that
    :func:`wrap` must not break at, counts one)."""
    from wcwidth import wcswidth

    text = text.replace("\x00", " ")
    n = wcswidth(text)
    return n if n >= 0 else sum(max(0, _char_width(c)) for c in text)


def _char_width(char: str) -> int:
    from wcwidth import wcwidth

    n = wcwidth(char)
    return 1 if n < 0 else n


def is_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(c) in "WF" for c in text)


# A token that may not be split: characters joined by "\x00", spaces, one wide character (with the opening brackets before
# it, which must not end a line), or a run of other non-space characters (a word, a shape glued
# by the caller).
_WIDE = (
    "\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6"
)
_TOKEN = re.compile(rf"\S*\x00\S*|\s+|[(\[“‘（《「]*[{_WIDE}]|[^\s{_WIDE}]+")
# Punctuation that must not start a line (Chinese typesetting's 避头 rule).
_NO_LINE_START = set("，。、；：？！）》」』】,.;:?!)]")


def wrap(
    text: str, columns: int, initial_indent: str = "", subsequent_indent: str = ""
) -> list[str]:
    """``text`` wrapped to ``columns`` terminal columns, wide characters counted as two.

    Breaks between words and between any two CJK characters, never before closing punctuation
    nor at a "\x00" (the caller's unbreakable space, shown as a space); a word longer than a
    line is cut.
    """
    lines: list[str] = []
    line, used = initial_indent, width(initial_indent)
    fresh = True  # nothing but the indent on this line yet
    for token in _TOKEN.findall(text):
        if token.isspace():
            if not fresh:
                line, used = line + " ", used + 1
            continue
        size = width(token)
        if used + size > columns and not fresh and token[0] not in _NO_LINE_START:
            lines.append(line.rstrip())
            line, used, fresh = subsequent_indent, width(subsequent_indent), True
        while used + size > columns and fresh and len(token) > 1:
            cut = 1
            while cut < len(token) and used + width(token[: cut + 1]) <= columns:
                cut += 1
            lines.append((line + token[:cut]).rstrip())
            token = token[cut:]
            size = width(token)
            line, used = subsequent_indent, width(subsequent_indent)
        line, used, fresh = line + token, used + size, False
    if not fresh:
        lines.append(line.rstrip())
    return [line.replace("\x00", " ") for line in lines]
