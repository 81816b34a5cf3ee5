"""The course site opened from disk (file://) in headless Chromium, with every request that
is not a file of the site blocked: what a student gets offline. Checks that the sidebar and
previous/next move between chapters, that search finds a word and lists its pages, that
MathJax typesets the maths (an aligned block as one formula of several rows, pmatrix), that
code is set in a monospace font, that the dark mode changes the page, and that widget
pictures have alt text. The site is built once per run (conftest.built_site); screenshots
go to browser-screenshots/. Run alone with:

    .venv/bin/python -m pytest tests/test_site_browser.py
"""
import pytest

from browser_support import CHROMIUM_FLAGS, ROOT, chromium, in_ci

pytestmark = pytest.mark.browser
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SHOTS = ROOT / "browser-screenshots"
MATHJAX_MS = 60_000          # MathJax typesets after load; a busy CI machine may be slow


@pytest.fixture(scope="module")
def browser():
    path, reason = chromium()
    if path is None:
        if in_ci():
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    playwright_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(path), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def site_page(browser, built_site):
    """A page that may load only the site's own files; (page, site folder). At the end it
    checks that nothing was asked from elsewhere and no script failed."""
    out, _ = built_site
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    outside, errors = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def only_local(route):
        if route.request.url.startswith(("file:", "data:")):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()
    page.route("**/*", only_local)
    yield page, out
    page.close()
    assert not outside, f"the site asked the internet for {outside[:5]}"
    assert not errors, f"script errors: {errors[:5]}"


def open_page(page, out, name):
    page.goto((out / name).as_uri())
    page.wait_for_load_state("load")


def test_sidebar_and_previous_next_move_between_chapters(site_page):
    page, out = site_page
    open_page(page, out, "index.html")
    first = NOTEBOOKS[0].stem
    page.locator(f".bd-sidebar-primary a[href='{first}.html']").click()
    page.wait_for_url(f"**/{first}.html")
    assert page.locator("h1").first.inner_text().startswith("00")
    page.locator("a.right-next").click()
    page.wait_for_url(f"**/{NOTEBOOKS[1].stem}.html")
    # the sidebar marks the chapter being read
    current = page.locator(".bd-sidebar-primary li.current > a, .bd-sidebar-primary a.current").first
    assert current.get_attribute("href") in (f"{NOTEBOOKS[1].stem}.html", "#")
    page.locator("a.left-prev").click()
    page.wait_for_url(f"**/{first}.html")
    # the on-page contents lists the chapter's sections
    assert page.locator(".bd-sidebar-secondary nav a").count() >= 3
    page.screenshot(path=str(SHOTS / "site_chapter.png"))


def test_search_finds_a_word_and_lists_its_pages(site_page):
    page, out = site_page
    open_page(page, out, "index.html")
    page.keyboard.press("Control+k")                  # the theme's search shortcut
    field = page.locator("input[name='q']:visible").first
    field.fill("softmax")
    field.press("Enter")
    page.wait_for_url("**/search.html?q=softmax*")
    results = page.locator("#search-results li a")
    results.first.wait_for(timeout=30_000)
    # the results are listed one by one; the summary ("... found N pages ...") comes last
    page.wait_for_function("() => document.querySelector('#search-results')"
                           ".innerText.includes('found')", timeout=30_000)
    found = results.evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert any(h.startswith("03_softmax_and_cross_entropy.html") for h in found), found
    assert page.locator("#search-results").inner_text().count("found") == 1
    page.screenshot(path=str(SHOTS / "site_search.png"))


def test_maths_is_typeset_by_mathjax(site_page):
    page, out = site_page
    open_page(page, out, "01_convolution.html")
    page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 0 && "
                           "[...document.querySelectorAll('.math')].every(m => m.querySelector('mjx-container'))",
                           timeout=MATHJAX_MS)
    # Each formula MathJax found: its TeX, and what it drew (one mjx-container per formula).
    formulas = page.evaluate("""() => Array.from(MathJax.startup.document.math).map(m => {
        const root = m.typesetRoot, glyphs = [...root.querySelectorAll('[data-c]')].map(g => g.dataset.c);
        return {tex: m.math, display: m.display, container: root.tagName.toLowerCase(),
                in_one: root.parentElement.querySelectorAll('mjx-container').length,
                rows: root.querySelectorAll('[data-mml-node="mtr"]').length,
                errors: root.querySelectorAll('[data-mml-node="merror"]').length, glyphs}; })""")
    on_page = page.locator("span.math, div.math").count()
    assert len(formulas) == on_page and on_page > 10, (len(formulas), on_page)
    assert all(f["container"] == "mjx-container" and f["errors"] == 0 for f in formulas)

    def drawn(command):
        found = [f for f in formulas if command in f["tex"]]
        assert found, f"01 has no formula with {command}"
        return found
    # aligned: one formula in one container, a row per line, no literal "&" (U+0026)
    for f in drawn(r"\begin{aligned}"):
        assert f["display"] and f["in_one"] == 1 and f["rows"] >= f["tex"].count(r"\\") + 1 >= 3, f
        assert "26" not in f["glyphs"], "a literal & in an aligned block"
    # pmatrix: the parentheses are stretched over the rows (drawn from the pieces U+239B-23A0)
    for f in drawn(r"\begin{pmatrix}"):
        assert {"239B", "239D", "239E", "23A0"} <= set(f["glyphs"]), f
    for f in drawn(r"\sum"):
        assert "2211" in f["glyphs"]
    aligned = page.locator("div.math", has=page.locator('[data-mml-node="mtr"]')).last
    aligned.scroll_into_view_if_needed()
    aligned.screenshot(path=str(SHOTS / "site_maths.png"))


def test_code_is_set_in_a_monospace_font(site_page):
    """Not the CSS name alone: in a monospace font "iiiiiiii" is as wide as "MMMMMMMM"."""
    page, out = site_page
    open_page(page, out, "00_mnist.html")
    blocks = page.locator(".cell_input pre, .cell_output .highlight pre")
    assert blocks.count() > 3
    # show_source's listing (IPython's Code display) is one of them
    assert page.locator(".cell_output .highlight pre").count() >= 1
    widths = page.evaluate("""() => [...document.querySelectorAll('.cell_input pre, .cell_output .highlight pre')]
        .map(pre => ['iiiiiiii', 'MMMMMMMM'].map(text => {
            const s = document.createElement('span'); s.textContent = text; pre.appendChild(s);
            const w = s.getBoundingClientRect().width; s.remove(); return w; }))""")
    assert all(abs(i - m) < 0.5 for i, m in widths), widths


def test_dark_mode_changes_the_page_and_keeps_figures_on_white(site_page):
    page, out = site_page
    open_page(page, out, "01_convolution.html")
    background = "() => getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.locator(".theme-switch-button:visible").first.click()
    page.locator(".dropdown-menu.show .theme-change-button[data-mode='dark']").click()
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
    dark = page.evaluate(background)
    rgb = lambda css: [int(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3]]  # noqa: E731
    assert sum(rgb(light)) / 3 > 200 and sum(rgb(dark)) / 3 < 80, (light, dark)
    figure = page.locator("img.cnnlib-figure").first
    assert figure.evaluate("i => getComputedStyle(i).backgroundColor") == "rgb(255, 255, 255)"
    figure.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "site_dark.png"))
    # The choice is kept for the next page (the theme stores it).
    open_page(page, out, "02_pooling.html")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_picture_has_alt_text(site_page, path):
    page, out = site_page
    open_page(page, out, f"{path.stem}.html")
    alts = page.locator("img").evaluate_all("is => is.map(i => (i.getAttribute('alt') || '').trim())")
    assert all(alts), f"{path.stem}.html: {alts.count('')} image(s) without alt text"
    notes = page.locator(".cnnlib-widget-note")
    for i in range(notes.count()):          # each widget's note is followed by its pictures
        following = notes.nth(i).locator("xpath=following::img[1]")
        assert following.count() and following.get_attribute("alt").strip()
