"""Build the book in another language, or its message catalogues, from the same sources.

    python book/_ext/build_language.py gettext        # _build/gettext/**/*.pot (English messages)
    python book/_ext/build_language.py gettext --no-execute   # the same, reading only the sources
    python book/_ext/build_language.py zh_CN [--all]  # _build/html/zh, from locale/zh_CN/*.po

Both go through Jupyter Book's own Sphinx entry point with ``_config.yml`` and ``_toc.yml``, so
the configuration is the English book's with a few overrides: the language, the output folder,
and separate doctrees and execution cache. Code cells run with ``RNN_BOOK_LANG`` set to the
language, so figures are drawn with the language's labels (``book/figures/labels.py``); the
execution cache is keyed by code only, hence the separate cache. Catalogues are written from the
English execution cache, so that glued text is the same as on the English pages.

A translation is built in ``_build/<language>/html`` and then copied into the English site:
myst-nb writes the executed notebooks next to the output folder (``../jupyter_execute``), which
must not land inside the published site.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# language -> output folder and the overrides of the English configuration
LANGUAGES = {
    "zh_CN": {
        "outdir": "_build/zh_CN/html",
        "published": "_build/html/zh",
        "config": {
            "html_title": "循环神经网络：从循环单元到字符级 RNN",
            "html_theme_options": {"search_bar_text": "搜索本书……"},
        },
    },
}


def build(
    language: str,
    force_all: bool,
    warningiserror: bool,
    execute: bool = True,
    outdir: Path | None = None,
) -> int:
    from jupyter_book.sphinx import build_sphinx

    if language == "gettext":
        outdir, builder = outdir or ROOT / "_build" / "gettext", "gettext"
        overrides: dict = {
            "nb_execution_cache_path": str(ROOT / "_build" / ".jupyter_cache"),
            # A page whose code fails still has its prose: its messages are written anyway
            # (the English build is where a failing page is an error).
            "nb_execution_raise_on_error": False,
        }
        if not execute:  # no figure captions then: they belong to the outputs of code cells
            overrides["nb_execution_mode"] = "off"
        doctrees = outdir.parent / ".doctrees-gettext"
    else:
        spec = LANGUAGES[language]
        outdir, builder = ROOT / spec["outdir"], "html"
        overrides = {
            "language": language,
            "nb_execution_cache_path": str(ROOT / "_build" / f".jupyter_cache-{language}"),
            **spec["config"],
        }
        doctrees = ROOT / "_build" / f".doctrees-{language}"
        os.environ["RNN_BOOK_LANG"] = language
    overrides["external_toc_path"] = (ROOT / "_toc.yml").as_posix()
    overrides["nitpicky"] = True
    overrides["latex_individualpages"] = False
    result = build_sphinx(
        str(ROOT),
        str(outdir),
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        confoverrides=overrides,
        doctreedir=str(doctrees),
        builder=builder,
        warningiserror=warningiserror,
        keep_going=True,
        freshenv=force_all,
    )
    if isinstance(result, Exception):
        raise result
    if language != "gettext" and result == 0:
        published = ROOT / LANGUAGES[language]["published"]
        shutil.rmtree(published, ignore_errors=True)
        shutil.copytree(outdir, published)
        print(f"The {language} edition is in {published.relative_to(ROOT)}.")
    return int(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("language", choices=["gettext", *LANGUAGES])
    parser.add_argument("--all", action="store_true", help="re-read every page")
    parser.add_argument("-W", action="store_true", help="turn warnings into errors")
    parser.add_argument(
        "--no-execute", action="store_true", help="gettext only: do not run (or read cached) code"
    )
    parser.add_argument("--outdir", type=Path, help="gettext only: where the .pot files go")
    args = parser.parse_args(argv)
    outdir = args.outdir.resolve() if args.outdir else None
    os.chdir(ROOT)
    return build(args.language, args.all, args.W, execute=not args.no_execute, outdir=outdir)


if __name__ == "__main__":
    sys.exit(main())
