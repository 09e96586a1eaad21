"""The built book, read in headless Chromium as a reader would, with no network.

Needs `make book` first (`make test` builds it). Chromium is Debian's (`apt-get install
chromium`, done by `.ci/run`), driven by Playwright for Python through `executable_path`.
"""

from __future__ import annotations

import functools
import http.server
import threading
import urllib.error
import urllib.request
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from book_site import CHROMIUM_MISSING, HTML, ROOT, book_pages, find_chromium

SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# Emitted by sphinx-book-theme on every page even with Thebe off; harmless, and the only
# console error a page may show.
KNOWN_CONSOLE_ERROR = "Identifier 'THEBE_JS_URL' has already been declared"

pytestmark = pytest.mark.browser


def chromium_path() -> str:
    found = find_chromium()
    if found is None:
        pytest.fail(CHROMIUM_MISSING, pytrace=False)
    return found


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # signature fixed by the base class
        pass


@pytest.fixture(scope="session")
def site():
    chromium_path()  # without a browser there is nothing to check: say so first
    if not (HTML / "index.html").is_file():
        pytest.fail("The book is not built: run `make book` (or `make test`, which builds it).")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium_path(),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


@functools.cache
def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def visit(browser, site: str, page_path: str):
    """Open one page; return what it requested, logged and rendered."""
    page = browser.new_page()
    requests: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} -> {r.status}"))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(urljoin(site, page_path), wait_until="load")
    has_math = page.evaluate("document.querySelectorAll('.math, div.math, span.math').length > 0")
    math = None
    if has_math:
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("MathJax.startup.promise")
        math = page.evaluate(
            "({rendered: document.querySelectorAll('mjx-container').length,"
            "  errors: Array.from(document.querySelectorAll('mjx-merror'))"
            "    .map(e => e.getAttribute('data-mjx-error') || e.textContent)})"
        )
    page.wait_for_load_state("networkidle")
    links = page.evaluate(
        "Array.from(document.querySelectorAll('a[href], img[src], link[href], script[src]'))"
        ".map(e => e.href || e.src)"
    )
    broken_images = page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.src)"
    )
    return page, {
        "requests": requests,
        "failed": failed,
        "errors": errors,
        "math": math,
        "links": links,
        "broken_images": broken_images,
    }


def test_every_toc_entry_was_built():
    missing = [p for p in book_pages() if not (HTML / p).is_file()]
    assert book_pages() and not missing, f"pages in _toc.yml but not in _build/html: {missing}"


@pytest.mark.parametrize("page_path", book_pages())
def test_page_reads_offline(browser, site, page_path):
    page, seen = visit(browser, site, page_path)
    try:
        if page_path.endswith("preface.html"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "__") + ".png")))
    finally:
        page.close()

    outside = [
        u
        for u in seen["requests"]
        if urlparse(u).scheme in {"http", "https"} and not u.startswith(site)
    ]
    assert not outside, f"{page_path} sent requests off the machine: {outside}"
    assert not seen["failed"], f"{page_path} had failed requests: {seen['failed']}"

    unexpected = [e for e in seen["errors"] if KNOWN_CONSOLE_ERROR not in e]
    assert not unexpected, f"{page_path} logged console errors: {unexpected}"

    if seen["math"] is not None:
        assert seen["math"]["rendered"] > 0, f"{page_path} has maths but MathJax rendered none"
        assert not seen["math"]["errors"], (
            f"MathJax errors on {page_path}: {seen['math']['errors']}"
        )

    assert not seen["broken_images"], (
        f"{page_path} has images that did not load: {seen['broken_images']}"
    )
    same_site = {urldefrag(u)[0] for u in seen["links"] if u.startswith(site)}
    dead = sorted(u for u in same_site if status_of(u) != 200)
    assert not dead, f"{page_path} links to pages or files that do not answer 200: {dead}"


def test_math_pages_render_with_vendored_mathjax(browser, site):
    """The preface has numbered maths; it must render from the site's own copy of MathJax."""
    page, seen = visit(browser, site, "book/preface.html")
    page.close()
    assert seen["math"] is not None and seen["math"]["rendered"] > 0
    mathjax = [u for u in seen["requests"] if "/mathjax/" in u]
    assert mathjax and all(u.startswith(site) for u in mathjax), mathjax
