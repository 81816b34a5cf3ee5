"""The course site (Sphinx, myst-nb, sphinx-book-theme): its pages, titles, figures and
their alt text, maths, launch links, and that it loads nothing from the internet.

The site is built once per test run (conftest.built_site); tests/test_site_browser.py opens
the same pages in Chromium. The tests at the bottom need no build.
"""
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cnnlib.course import launch, site
from cnnlib.course.widget_pictures import WIDGET_STATE, WIDGET_VIEW, freeze_widgets

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


class Tags(HTMLParser):
    """Every start tag of a page as (tag, {attribute: value}), and the text of <title>."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.title, self._in_title = [], "", False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def page(out, name):
    return (out / name).read_text(encoding="utf-8")


def first_heading(text):
    return re.search(r"^# (.+)$", text, re.M).group(1).strip()


def notebook_title(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return first_heading("".join(next(c for c in cells if c["cell_type"] == "markdown")["source"]))


def figure_count(nb):
    """Figures a notebook shows: image outputs of its cells and of its widgets' Output areas
    and Image widgets."""
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}).values()
    in_widgets = sum("image/png" in o.get("data", {}) for m in models if m["model_name"] == "OutputModel"
                     for o in m["state"].get("outputs", []))
    images = sum(1 for m in models if m["model_name"] == "ImageModel")
    return sum(1 for _ in image_outputs(nb)) + in_widgets + images


def image_outputs(nb):
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if any(k.startswith("image/") for k in out.get("data", {})):
                yield i, out


def test_every_notebook_was_executed_without_errors(built_site):
    _, executed = built_site
    assert sorted(executed) == [p.name for p in NOTEBOOKS]
    for name, nb in executed.items():
        errors = [i for i, c in enumerate(nb.cells) for o in c.get("outputs", [])
                  if o["output_type"] == "error" and "raises-exception" not in c.metadata.get("tags", [])]
        assert not errors, f"{name}: errors in cells {errors}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_image_output_carries_alt_text(built_site, path):
    _, executed = built_site
    nb = executed[path.name]
    for i, out in image_outputs(nb):
        alt = out.get("metadata", {}).get("image/png", {}).get("alt", "")
        assert len(alt.strip()) > 10, f"{path.name} cell {i}: image without alt text"
        assert re.search(r'<img [^>]*alt="[^"]{10,}"', out["data"].get("text/html", "")), \
            f"{path.name} cell {i}: the HTML form of the figure has no alt attribute"
        assert out["metadata"]["image/png"].get("needs_background") == "light"
    # A figure inside a widget's Output is stored in the widget state, not the cell.
    for model in nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {}).values():
        for out in model["state"].get("outputs", []) if model["model_name"] == "OutputModel" else []:
            if "image/png" in out.get("data", {}):
                assert out["metadata"]["image/png"]["alt"].strip()


def test_every_page_exists_with_its_human_title_and_in_the_sidebar(built_site):
    out, _ = built_site
    expected = {f"{p.stem}.html": notebook_title(p) for p in NOTEBOOKS}
    expected["index.html"] = "Course map"
    expected["homework.html"] = first_heading((ROOT / "homework" / "README.md").read_text(encoding="utf-8"))
    for name, title in expected.items():
        parsed = Tags(page(out, name))
        assert parsed.title.split(" \u2014 ")[0].strip() == title, f"{name}: title {parsed.title!r}"
    # The sidebar lists the chapters in the course's order, then the teachers' page.
    sidebar = page(out, "index.html").split('class="bd-sidebar-primary', 1)[1]
    order = re.findall(r'href="((?:\d\d_\w+|homework)\.html)"', sidebar)
    assert list(dict.fromkeys(order)) == [f"{p.stem}.html" for p in NOTEBOOKS] + ["homework.html"]
    # previous/next: 01 links back to 00 and on to 02
    middle = page(out, "01_convolution.html")
    assert re.search(r'class="left-prev"\s+href="00_mnist.html"', middle)
    assert re.search(r'class="right-next"\s+href="02_pooling.html"', middle)


def test_pages_load_nothing_from_the_internet(built_site):
    """No script, stylesheet, font, image or frame from http(s): the site works from disk."""
    out, _ = built_site
    pages = sorted(out.glob("*.html"))
    assert len(pages) >= len(NOTEBOOKS) + 2
    for html in pages:
        for tag, attrs in Tags(page(out, html.name)).tags:
            source = attrs.get("src") if tag in ("script", "img", "iframe") else \
                attrs.get("href") if tag == "link" else None
            assert not re.match(r"(https?:)?//", source or ""), f"{html.name}: <{tag}> from {source}"
    for css in (out / "_static").rglob("*.css"):
        remote = re.findall(r"(?:url\(|@import\s)['\"]?(?:https?:)?//[^)'\"]*", css.read_text(encoding="utf-8"))
        assert not remote, f"{css.name} loads {remote[:3]}"


def test_figures_and_widget_pictures_are_on_the_pages_with_alt_text(built_site):
    out, executed = built_site
    for path in NOTEBOOKS:
        text = page(out, f"{path.stem}.html")
        images = [attrs for tag, attrs in Tags(text).tags if tag == "img"]
        figures = [i for i in images if i.get("src", "").startswith("data:image/")]
        assert len(figures) >= figure_count(executed[path.name]), \
            f"{path.stem}.html shows {len(figures)} figures, the executed notebook {figure_count(executed[path.name])}"
        assert all(len(i.get("alt", "").strip()) > 10 for i in figures), f"{path.stem}.html: a figure without alt text"
        assert all(i.get("alt", "").strip() for i in images), f"{path.stem}.html: an image without alt text"
        assert "#@title Setup" not in text, f"{path.stem}.html shows the Colab setup cell"
    # 01's kernel editor: the note naming its controls, then the picture it drew first.
    editor = page(out, "01_convolution.html").split("Interactive widget (controls: ", 1)[1]
    # Its alt text says what the picture teaches (cnnlib.viz.describe), not its layout.
    assert re.match(r'[^)]*padding[^)]*\)[^<]*</em></p>.*?<img src="data:image/png;base64,[^"]+" '
                    r'alt="A 3×3 kernel slides over the 28×28 input', editor, re.S)
    # 08's training dashboard: its picture keeps the dashboard's own alt text (empty before Start).
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="Training dashboard, empty: ',
                     page(out, "08_training.html"))


def test_maths_is_left_to_the_mathjax_shipped_with_the_site(built_site):
    out, _ = built_site
    text = page(out, "01_convolution.html")
    blocks = re.findall(r'<div class="math[^"]*"[^>]*>(.*?)</div>', text, re.S)
    assert any(r"\begin{aligned}" in b and b.count(r"\\") >= 2 for b in blocks), "01: no aligned block"
    assert any(r"\begin{pmatrix}" in b for b in blocks) and any(r"\sum_" in b for b in blocks)
    assert re.search(r'<span class="math[^"]*">\\\(', text), "01: no inline maths"
    scripts = [a.get("src", "") for tag, a in Tags(text).tags if tag == "script"]
    assert "_static/mathjax/tex-svg.js" in scripts
    assert (out / "_static" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000
    assert (out / "_static" / "mathjax" / "input" / "tex" / "extensions").is_dir()  # autoloaded macros


def test_launch_buttons_come_from_the_one_setting(built_site):
    """Every notebook's page opens that notebook on Binder and on Colab, at the repository that
    pyproject.toml names (cnnlib.course.launch), and links to no other repository to launch."""
    out, _ = built_site
    for path in NOTEBOOKS:
        links = [a["href"] for tag, a in Tags(page(out, f"{path.stem}.html")).tags if tag == "a" and "href" in a]
        binder = launch.binder_url(f"notebooks/{path.name}")
        colab = launch.colab_url(path.name)
        assert binder in links and colab in links, f"{path.stem}.html: launch links {binder}, {colab} missing"
        others = [u for u in links if re.match(r"https://(mybinder\.org/v2/gh|colab\.research\.google\.com/github)/", u)
                  and f"/{launch.repository()}/" not in u]
        assert not others, f"{path.stem}.html launches another repository: {others}"


def test_links_between_pages_stay_in_the_site(built_site):
    out, _ = built_site
    course_map = page(out, "index.html").split("<article", 1)[1]      # the text, not the sidebar
    for path in NOTEBOOKS:
        assert f'href="{path.stem}.html"' in course_map, f"the course map does not link {path.stem}.html"
    github = f"https://github.com/{launch.repository()}/blob/{launch.BRANCH}/notebooks/"
    assert not [n.name for n in out.glob("*.html") if github in page(out, n.name)], \
        "a page sends readers to GitHub for a notebook the site has"
    for html in out.glob("*.html"):
        for tag, attrs in Tags(page(out, html.name)).tags:
            href = attrs.get("href", "") if tag == "a" else ""
            if href and not re.match(r"[a-z]+:|#", href):
                assert not href.split("#")[0].endswith((".ipynb", ".md")), f"{html.name} links {href}"
                assert (out / href.split("#")[0].split("?")[0]).exists(), f"{html.name} links missing {href}"


# ---- without a build ----

def test_freeze_widgets_shows_output_pictures_and_names_controls():
    import nbformat
    png = {"output_type": "display_data", "metadata": {"image/png": {"alt": "a digit"}},
           "data": {"image/png": "iVBOR", "text/plain": "a digit"}}
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output(
        "display_data", data={WIDGET_VIEW: {"model_id": "box", "version_major": 2}})])]
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_o", "IPY_MODEL_i"]}},
        "s": {"model_name": "IntSliderModel", "state": {"description": "index"}},
        "o": {"model_name": "OutputModel", "state": {"outputs": [png]}},
        "i": {"model_name": "ImageModel", "state": {"format": "png"},
              "buffers": [{"path": ["value"], "data": "QUJD", "encoding": "base64"}]}}}}
    outputs = freeze_widgets(nb).cells[0].outputs
    assert "controls: index)" in outputs[0]["data"]["text/html"]
    assert outputs[1]["data"]["text/html"] == \
        '<img src="data:image/png;base64,iVBOR" alt="a digit" class="cnnlib-figure"/>'
    assert 'src="data:image/png;base64,QUJD" alt="Picture of the widget with index, before' \
        in outputs[2]["data"]["text/html"]
    assert len(outputs) == 3 and "widgets" not in nb.metadata


def test_freeze_widgets_keeps_a_picture_drawn_as_html_with_its_alt():
    import nbformat
    img = '<img src="data:image/png;base64,iVBOR" alt="The training loss falls"/>'
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output(
        "display_data", data={WIDGET_VIEW: {"model_id": "box", "version_major": 2}})])]
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_p"]}},
        "s": {"model_name": "IntSliderModel", "state": {"description": "epochs"}},
        "p": {"model_name": "HTMLModel", "state": {"value": img}}}}}
    outputs = freeze_widgets(nb).cells[0].outputs
    assert "epochs" in outputs[0]["data"]["text/html"]
    assert outputs[1]["data"]["text/html"] == img           # the board's own alt text kept


def test_a_progress_bar_becomes_its_last_line():
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("fit()", outputs=[nbformat.v4.new_output(
        "display_data", data={WIDGET_VIEW: {"model_id": "bar", "version_major": 2}})])]
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {
        "bar": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_t", "IPY_MODEL_p"]}},
        "t": {"model_name": "HTMLModel", "state": {"value": "epoch 1/3: 100%"}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": 1.0}}}}}
    (out,) = freeze_widgets(nb).cells[0].outputs
    assert out["data"]["text/html"] == '<pre class="cnnlib-widget-text">epoch 1/3: 100%</pre>'


def test_links_become_site_pages_or_repository_files():
    notebooks = ROOT / "notebooks"
    names = {p.name for p in NOTEBOOKS}
    rewrite = lambda text, where=notebooks: site.site_markdown(text, where, names)  # noqa: E731
    assert rewrite("[pooling](02_pooling.ipynb#max)") == "[pooling](02_pooling.ipynb#max)"
    assert rewrite("[map](README.md)") == "[map](index.md)"
    assert rewrite("[hw](../homework/README.md)") == "[hw](homework.md)"
    assert rewrite("[00](../notebooks/00_mnist.ipynb)", ROOT / "homework") == "[00](00_mnist.ipynb)"
    github = f"https://github.com/{launch.repository()}/blob/{launch.BRANCH}/resources/README.md"
    assert rewrite("[data](../resources/README.md)") == f"[data]({github})"
    assert rewrite('<a href="../cnnlib">') == \
        f'<a href="https://github.com/{launch.repository()}/tree/{launch.BRANCH}/cnnlib">'
    assert rewrite("[x](https://example.org/x.ipynb)") == "[x](https://example.org/x.ipynb)"
    assert rewrite("[![Open in Colab](https://c.org/b.svg)](https://colab/x)") == "[Open in Colab](https://colab/x)"


def test_the_course_map_links_the_pages_and_orders_the_sidebar():
    text = site.course_map(NOTEBOOKS)
    assert "[MNIST](00_mnist.ipynb)" in text and "github.com" not in text.split("## Sources")[0]
    toc = text.split("```{toctree}", 1)[1]
    assert ":hidden:" in toc
    assert re.findall(r"^(\w+)$", toc, re.M) == [p.stem for p in NOTEBOOKS] + ["homework"]


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets only")
def test_unix_socket_kernel_uses_its_own_folder_and_removes_it():
    from cnnlib.course.kernels import unix_socket_kernel
    with unix_socket_kernel() as km:
        folder = Path(km.ip).parent
        assert km.transport == "ipc" and folder.is_dir()
    assert not folder.exists()


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets only")
def test_kernels_are_shut_down_without_a_sigint():
    """jupyter_client interrupts a kernel before shutting it down; a kernel still inside a
    message handler then logs "KeyboardInterrupt caught in kernel". Ours get no SIGINT at
    shutdown (the kernel stops all the same), and an interrupt at other times still goes."""
    import asyncio
    import signal

    from cnnlib.course.kernels import unix_socket_kernel
    with unix_socket_kernel() as km:
        sent = []

        km.start_kernel()
        real_signal = km._async_signal_kernel

        async def record(signum):
            sent.append(signum)
            if signum != signal.SIGINT:
                await real_signal(signum)
        km._async_signal_kernel = record
        asyncio.run(km._async_interrupt_kernel())          # not shutting down: sent
        assert sent == [signal.SIGINT]
        km.shutdown_kernel()
        assert signal.SIGINT not in sent[1:] and not km.is_alive()


def test_execute_leaves_no_kernel_running(tmp_path):
    """The kernel stops when its notebook is done, not when the build's process exits."""
    import nbformat
    from cnnlib.course.kernels import execute
    path = tmp_path / "pid.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; os.getpid()")]), path)
    nb = execute(path, timeout=120)
    pid = int(nb.cells[0].outputs[0]["data"]["text/plain"])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)                                  # signal 0: only asks whether it exists
