"""The preview site and the alt text of every figure, on the notebooks as executed.

The site is built once per test run (conftest.built_site); tests/test_browser.py opens
the same pages in Chromium.
"""
import os
import re
from pathlib import Path

import pytest

from cnnlib.course import site

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def figure_count(nb):
    """Figures a notebook shows: image outputs of its cells and of its widgets' Output areas."""
    widget_outputs = [o for m in nb.metadata.get("widgets", {}).get(site.WIDGET_STATE, {})
                      .get("state", {}).values() if m["model_name"] == "OutputModel"
                      for o in m["state"].get("outputs", [])]
    return sum(1 for _ in image_outputs(nb)) + sum("image/png" in o.get("data", {})
                                                   for o in widget_outputs)


def image_outputs(nb):
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if any(k.startswith("image/") for k in out.get("data", {})):
                yield i, out


def test_every_notebook_was_executed_and_has_figures(built_site):
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
    seen = 0
    for i, out in image_outputs(nb):
        seen += 1
        alt = out.get("metadata", {}).get("image/png", {}).get("alt", "")
        assert len(alt.strip()) > 10, f"{path.name} cell {i}: image without alt text"
        html = out["data"].get("text/html", "")
        assert re.search(r'<img [^>]*alt="[^"]{10,}"', html), \
            f"{path.name} cell {i}: the HTML form of the figure has no alt attribute"
        assert out["metadata"]["image/png"].get("needs_background") == "light"
    # A figure inside a widget's Output is stored in the widget state, not the cell.
    widget_outputs = [o for m in nb.metadata.get("widgets", {}).get(site.WIDGET_STATE, {})
                      .get("state", {}).values() if m["model_name"] == "OutputModel"
                      for o in m["state"].get("outputs", [])]
    for out in widget_outputs:
        if "image/png" in out.get("data", {}):
            seen += 1
            assert out["metadata"]["image/png"]["alt"].strip()


def test_pages_are_static_and_linked(built_site):
    out, executed = built_site
    with_figures = [name for name, nb in executed.items() if figure_count(nb)]
    assert len(with_figures) >= len(NOTEBOOKS) - 2, f"only {with_figures} show figures"
    index = (out / "index.html").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f'href="{path.stem}.html"' in index, f"course map does not link {path.stem}.html"
        page = (out / f"{path.stem}.html").read_text(encoding="utf-8")
        assert "<script" not in page.lower(), f"{path.stem}.html has a script"
        assert not re.search(r'(src|href)="[^"]*\.ipynb', page), f"{path.stem}.html links an .ipynb"
        assert not re.search(r'<(img|link)\b[^>]*(src|href)="(https?:)?//', page), \
            f"{path.stem}.html loads something from the internet"
        assert page.count("<img") >= figure_count(executed[path.name]), \
            f"{path.stem}.html lost figures of the executed notebook"
    assert "<math" in (out / "03_softmax_and_cross_entropy.html").read_text(encoding="utf-8")


def test_freeze_widgets_shows_output_pictures_and_names_controls():
    import nbformat
    png = {"output_type": "display_data", "metadata": {"image/png": {"alt": "a digit"}},
           "data": {"image/png": "iVBOR", "text/plain": "a digit"}}
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output(
        "display_data", data={site.WIDGET_VIEW: {"model_id": "box", "version_major": 2}})])]
    nb.metadata["widgets"] = {site.WIDGET_STATE: {"state": {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_o"]}},
        "s": {"model_name": "IntSliderModel", "state": {"description": "index"}},
        "o": {"model_name": "OutputModel", "state": {"outputs": [png]}}}}}
    outputs = site.freeze_widgets(nb).cells[0].outputs
    assert "index" in outputs[0]["data"]["text/html"]
    assert outputs[1]["data"]["image/png"] == "iVBOR"
    assert "widgets" not in nb.metadata


def test_freeze_widgets_keeps_a_picture_drawn_as_html_with_its_alt():
    import nbformat
    img = '<img src="data:image/png;base64,iVBOR" alt="The training loss falls"/>'
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("w", outputs=[nbformat.v4.new_output(
        "display_data", data={site.WIDGET_VIEW: {"model_id": "box", "version_major": 2}})])]
    nb.metadata["widgets"] = {site.WIDGET_STATE: {"state": {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_p"]}},
        "s": {"model_name": "IntSliderModel", "state": {"description": "epochs"}},
        "p": {"model_name": "HTMLModel", "state": {"value": img}}}}}
    outputs = site.freeze_widgets(nb).cells[0].outputs
    assert "epochs" in outputs[0]["data"]["text/html"]
    assert outputs[1]["data"]["text/html"] == img           # the board's own alt text kept


def test_links_between_notebooks_and_to_the_repository():
    notebooks = ROOT / "notebooks"
    rewrite = lambda text: site.finish_html(text, {}, notebooks)  # noqa: E731
    assert rewrite('<a href="02_pooling.ipynb#max">') == '<a href="02_pooling.html#max">'
    assert rewrite('<a href="README.md">') == '<a href="index.html">'
    assert "github.com" in rewrite('<a href="../resources/README.md">')
    assert rewrite('<a href="https://example.org/x.ipynb">') == '<a href="https://example.org/x.ipynb">'
    assert rewrite('<img src="https://x.org/b.svg" alt="Open in Colab">') == "Open in Colab"
    assert rewrite('<script src="x.js"></script>ok') == "ok"


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets only")
def test_unix_socket_kernel_uses_its_own_folder_and_removes_it():
    from cnnlib.course.site import unix_socket_kernel
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

    from cnnlib.course.site import unix_socket_kernel
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
