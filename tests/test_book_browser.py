"""The built book, read in headless Chromium as a reader would, with no network.

Needs `make book` first (`make test` builds it). Chromium is Debian's (`apt-get install
chromium`, done by `.ci/run`), driven by Playwright for Python through `executable_path`.
"""

from __future__ import annotations

import functools
import http.server
import re
import sys
import threading
import time
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


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The browser drops requests it no longer needs (a page left before its fonts arrived):
        # not an error of the book. Anything else is still printed.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def site():
    chromium_path()  # without a browser there is nothing to check: say so first
    if not (HTML / "index.html").is_file():
        pytest.fail("The book is not built: run `make book` (or `make test`, which builds it).")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = QuietServer(("127.0.0.1", 0), handler)
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


def visit(browser, site: str, page_path: str, width: int | None = None):
    """Open one page (at a viewport ``width`` if given); return what it requested, logged and
    rendered.

    The page counts as loaded when the requests it made have all been answered (or failed) and
    none was made for half a second: counted here from Playwright's request events, because
    Chromium's own "network idle" now and then never comes for a long page although every
    request has been answered. If the page still has requests open after the timeout, it is
    opened once more, in a new tab, and everything is recorded again from the start; a second
    time fails naming the requests that never finished.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return _visit_once(browser, site, page_path, width)
    except (PlaywrightTimeout, PageNotSettled):
        return _visit_once(browser, site, page_path, width)


class PageNotSettled(AssertionError):
    """A page still had requests open after the timeout."""


def _visit_once(browser, site: str, page_path: str, width: int | None):
    page = browser.new_page()
    # MathJax typesets a long chapter in a second or two, but far slower on a loaded machine.
    page.set_default_timeout(120_000)
    if width is not None:
        page.set_viewport_size({"width": width, "height": 844})
    requests: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    in_flight: dict[object, str] = {}
    last_change = [time.monotonic()]

    def started(request):
        requests.append(request.url)
        in_flight[request] = request.url
        last_change[0] = time.monotonic()

    def ended(request):
        in_flight.pop(request, None)
        last_change[0] = time.monotonic()

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
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
    try:
        deadline = time.monotonic() + 120
        while in_flight or time.monotonic() - last_change[0] < 0.5:
            if time.monotonic() > deadline:
                raise PageNotSettled(f"{page_path}: requests never answered: {in_flight.values()}")
            page.wait_for_timeout(100)  # lets Playwright deliver the request events
    except BaseException:
        page.close()
        raise
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


# --------------------------------------------------------------------------------------------
# Reading on a phone and on a desktop: layout, maths, alt text, citations.

PHONE, DESKTOP = 390, 1280
PHONE_SHOTS = SCREENSHOTS / "phone"

# Measured in the page once MathJax has typeset it.
LAYOUT_JS = """
() => {
  const vw = document.documentElement.clientWidth;
  const scrolls = el => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX;
      if (o === 'auto' || o === 'scroll') return true;
    }
    return false;
  };
  const article = document.querySelector('main') || document.body;
  const cutMaths = [];
  for (const m of document.querySelectorAll('mjx-container[display="true"]')) {
    const box = m.getBoundingClientRect();
    const parent = m.parentElement.getBoundingClientRect();
    const wider = m.scrollWidth > m.clientWidth + 1 || box.width > parent.width + 1;
    const outside = box.right > vw + 1;
    if ((wider && !scrolls(m)) || outside) {
      cutMaths.push((m.getAttribute('aria-label') || m.textContent || '').slice(0, 60));
    }
  }
  const overlaps = [];
  for (const n of document.querySelectorAll('div.math span.eqno')) {
    const maths = n.parentElement.querySelector('mjx-container');
    if (!maths) continue;
    const a = n.getBoundingClientRect(), b = maths.getBoundingClientRect();
    const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (x > 1 && y > 1) overlaps.push(n.textContent.trim());
  }
  return {
    viewport: vw,
    scrollWidth: document.documentElement.scrollWidth,
    cutMaths,
    overlaps,
    images: Array.from(article.querySelectorAll('img')).map(i => ({
      src: i.getAttribute('src') || '', alt: i.getAttribute('alt')})),
    citations: Array.from(document.querySelectorAll('a[href*="references.html#"]'))
      .map(a => a.textContent.trim()),
    bibLabels: Array.from(document.querySelectorAll(
      '.citation .label, dl.citation > dt, div.citation > span.label'))
      .map(e => e.textContent.trim()),
    text: article.innerText,
  };
}
"""

PATHLIKE_ALT = re.compile(r"\.(png|jpe?g|svg|gif|webp)\b|^[./]|/_build/|_images/", re.I)
ALPHA_LABEL = re.compile(r"\[[A-Z][A-Za-z+]{1,12}\d{2}[a-z]?\]")
AUTHOR_YEAR = re.compile(
    r"^\[?[A-Z][\w\u00C0-\u024F' .-]*(?: et al\.| and [\w' .-]+)? \d{4}[a-z]?\]?$"
)


@pytest.mark.parametrize("width", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("page_path", book_pages())
def test_page_fits_its_width(browser, site, page_path, width):
    page, seen = visit(browser, site, page_path, width=width)
    try:
        layout = page.evaluate(LAYOUT_JS)
        if width == PHONE:
            PHONE_SHOTS.mkdir(parents=True, exist_ok=True)
            shot = PHONE_SHOTS / (page_path.replace("/", "__") + ".png")
            page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()

    assert layout["scrollWidth"] <= layout["viewport"], (
        f"{page_path} scrolls sideways at {width} px: the document is "
        f"{layout['scrollWidth']} px wide"
    )
    assert not layout["cutMaths"], (
        f"{page_path} at {width} px: display maths wider than its box with nowhere to scroll: "
        f"{layout['cutMaths']}"
    )
    assert not layout["overlaps"], (
        f"{page_path} at {width} px: equation numbers overlap their maths: {layout['overlaps']}"
    )
    bad_alt = [i for i in layout["images"] if not (i["alt"] or "").strip()]
    bad_alt += [i for i in layout["images"] if PATHLIKE_ALT.search((i["alt"] or "").strip())]
    assert not bad_alt, f"{page_path}: images without a real alt text: {bad_alt}"
    assert not ALPHA_LABEL.findall(layout["text"]), (
        f"{page_path} shows alpha-style citation labels: {ALPHA_LABEL.findall(layout['text'])}"
    )
    not_author_year = [c for c in layout["citations"] if not re.search(r"\b\d{4}[a-z]?\b", c)]
    assert not not_author_year, (
        f"{page_path}: citations that are not author-year: {not_author_year}"
    )


def test_bibliography_labels_are_author_year(browser, site):
    page, _ = visit(browser, site, "book/references.html")
    try:
        layout = page.evaluate(LAYOUT_JS)
    finally:
        page.close()
    labels = layout["bibLabels"]
    assert len(labels) >= 20, f"the references page lists {labels}"
    wrong = [label for label in labels if not AUTHOR_YEAR.match(label)]
    assert not wrong, f"bibliography labels that are not 'Author year': {wrong}"
    assert "doi.org/" in layout["text"] or "https://" in layout["text"]


def test_citations_in_the_text_match_the_bibliography(browser, site):
    """Every author-year citation of a chapter names a work listed with that label."""
    page, _ = visit(browser, site, "book/references.html")
    try:
        labels = page.evaluate(LAYOUT_JS)["bibLabels"]
    finally:
        page.close()
    keys = {re.sub(r"[\[\]]", "", label) for label in labels}
    page, _ = visit(browser, site, "book/chapters/01_what_is_an_rnn.html")
    try:
        cited = page.evaluate(LAYOUT_JS)["citations"]
    finally:
        page.close()
    assert cited, "chapter 1 cites nothing"
    for text in cited:
        year = re.search(r"\d{4}[a-z]?", text).group(0)
        surname = text.split(",")[0].split(" et al")[0].split(" and ")[0].strip("( ")
        assert any(surname in k and k.endswith(year) for k in keys), (
            f"citation {text!r} has no bibliography entry labelled '{surname} ... {year}'"
        )


def test_glossary_keeps_chinese_terms_whole(browser, site):
    page = browser.new_page()
    try:
        page.set_viewport_size({"width": PHONE, "height": 844})
        page.goto(urljoin(site, "book/glossary.html"), wait_until="load")
        broken = page.evaluate(
            """() => Array.from(document.querySelectorAll('table tbody tr'))
                 .map(r => r.children[1]).filter(Boolean)
                 .filter(td => /[\u4e00-\u9fff]{2,}/.test(td.textContent))
                 .filter(td => {
                   const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
                   for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                     const range = document.createRange();
                     range.selectNodeContents(n);
                     const tops = new Set(Array.from(range.getClientRects())
                       .map(r => Math.round(r.top)));
                     if (tops.size > 1) return true;
                   }
                   return false;
                 })
                 .map(td => td.textContent.trim())"""
        )
    finally:
        page.close()
    assert not broken, f"Chinese terms broken over lines at {PHONE} px: {broken}"


# --------------------------------------------------------------------------------------------
# The Chinese edition (_build/html/zh): a maths-heavy page and a page of figures.

ZH_PAGES = ["book/chapters/05_bptt.html", "book/chapters/06_rnn_types.html"]
ZH_SHOTS = SCREENSHOTS / "zh"

# Tofu: a character no installed font has is drawn as the font's empty box (.notdef). Draw each
# CJK character of the page on a canvas, in the font its element uses, and compare with what
# the same font draws for characters that no font has (private use area): equal means tofu.
CJK_CHARS = "[\\u4e00-\\u9fff\\u3000-\\u303f\\uff01-\\uff5e]"
TOFU_JS = """
(pattern) => {
  const canvas = document.createElement('canvas');
  canvas.width = 48; canvas.height = 48;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (text, font) => {
    ctx.clearRect(0, 0, 48, 48);
    ctx.font = font; ctx.fillStyle = '#000'; ctx.textBaseline = 'top';
    ctx.fillText(text, 4, 4);
    const data = ctx.getImageData(0, 0, 48, 48).data;
    let hash = 0;
    for (let i = 3; i < data.length; i += 4) hash = (hash * 31 + data[i]) | 0;
    return hash;
  };
  const byFont = new Map();
  const root = document.querySelector('main') || document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const chars = n.textContent.match(new RegExp(pattern, 'g'));
    if (!chars || !n.parentElement) continue;
    const s = getComputedStyle(n.parentElement);
    const font = `${s.fontStyle} ${s.fontWeight} 32px ${s.fontFamily}`;
    if (!byFont.has(font)) byFont.set(font, new Set());
    chars.forEach(c => byFont.get(font).add(c));
  }
  const result = {checked: 0, tofu: [], boxesAgree: true, fonts: byFont.size};
  for (const [font, chars] of byFont) {
    const box1 = draw('\\ue000', font), box2 = draw('\\ue3a7', font);
    if (box1 !== box2) result.boxesAgree = false;
    for (const c of chars) {
      result.checked += 1;
      if (draw(c, font) === box1) result.tofu.push(c);
    }
  }
  return result;
}
"""


def zh_visit(browser, site, page_path, width=None):
    return visit(browser, site, "zh/" + page_path, width=width)


@pytest.mark.parametrize("page_path", ZH_PAGES)
def test_chinese_page_has_no_tofu(browser, site, page_path):
    page, seen = zh_visit(browser, site, page_path)
    try:
        tofu = page.evaluate(TOFU_JS, CJK_CHARS)
        ZH_SHOTS.mkdir(parents=True, exist_ok=True)
        name = page_path.replace("/", "__")
        page.screenshot(path=str(ZH_SHOTS / f"{name}.png"))
        figures = page.locator("figure")
        if figures.count():  # the first figure with its Chinese labels and caption
            figures.first.screenshot(path=str(ZH_SHOTS / f"{name}__figure.png"))
    finally:
        page.close()
    assert tofu["boxesAgree"], "characters no font has are drawn differently: the check is blind"
    assert tofu["checked"] > 200, f"zh/{page_path} has only {tofu['checked']} CJK characters"
    assert not tofu["tofu"], f"zh/{page_path} draws these as empty boxes: {tofu['tofu'][:40]}"
    assert seen["math"] is None or (seen["math"]["rendered"] > 0 and not seen["math"]["errors"])
    assert not seen["broken_images"], seen["broken_images"]
    unexpected = [e for e in seen["errors"] if KNOWN_CONSOLE_ERROR not in e]
    assert not unexpected, f"zh/{page_path} logged console errors: {unexpected}"


def test_tofu_check_sees_tofu(browser, site):
    """The check finds a character that no font has (private use area), among Chinese text."""
    page, _ = zh_visit(browser, site, ZH_PAGES[1])
    try:
        page.evaluate(
            "() => { const p = document.createElement('p'); p.textContent = '\\ue001 中文';"
            " (document.querySelector('main') || document.body).prepend(p); }"
        )
        found = page.evaluate(TOFU_JS, CJK_CHARS[:-1] + "\\ue001]")
    finally:
        page.close()
    assert found["boxesAgree"] and found["tofu"] == ["\ue001"], found


@pytest.mark.parametrize("page_path", ZH_PAGES)
def test_chinese_page_fits_a_phone(browser, site, page_path):
    page, _ = zh_visit(browser, site, page_path, width=PHONE)
    try:
        layout = page.evaluate(LAYOUT_JS)
        ZH_SHOTS.mkdir(parents=True, exist_ok=True)
        shot = ZH_SHOTS / ("phone__" + page_path.replace("/", "__") + ".png")
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()
    assert layout["scrollWidth"] <= layout["viewport"], (
        f"zh/{page_path} scrolls sideways at {PHONE} px: {layout['scrollWidth']} px wide"
    )
    assert not layout["cutMaths"], f"zh/{page_path}: maths cut at {PHONE} px: {layout['cutMaths']}"


@pytest.mark.parametrize("page_path", ZH_PAGES)
def test_language_link_goes_both_ways(browser, site, page_path):
    page, _ = visit(browser, site, page_path)
    try:
        link = page.locator("a.language-switch-link")
        assert link.count() == 1 and link.inner_text().strip() == "中文"
        link.click()
        page.wait_for_load_state("load")
        assert page.url == urljoin(site, "zh/" + page_path), page.url
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        back = page.locator("a.language-switch-link")
        assert back.count() == 1 and back.inner_text().strip() == "English"
        back.click()
        page.wait_for_load_state("load")
        assert page.url == urljoin(site, page_path), page.url
        assert page.evaluate("document.documentElement.lang") != "zh-CN"
    finally:
        page.close()
