"""Preview site: every notebook executed on the bundled sample and rendered to static HTML.

    python -m cnnlib.course.site build [--out site] [--timeout 600]

gives site/index.html (the course map, notebooks/README.md) and one page per notebook
with all its figures. A widget cannot run in a static page, so each widget shows the
picture it drew when its cell ran (its Output's figures, an Image widget's PNG) and a
line naming its controls. Formulas become MathML, links between notebooks point at the
.html pages, other repository files at GitHub, and no page has a script: the site opens
from file:// and any static host (GitHub Pages, GitLab Pages, a school web server) can
serve the folder as it is. Not part of the engine (needs nbclient, nbconvert, latex2mathml).
Introduced in notebooks/README.md (the course map).
"""
import argparse
import base64
import html
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from . import clone_root
from .launch import BRANCH, repository

ROOT = Path(__file__).resolve().parents[2]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$", re.S)


@contextmanager
def unix_socket_kernel():
    """A KernelManager whose kernel talks over Unix sockets in a temporary folder of its own
    (removed afterwards); None where there are no Unix sockets (Windows: nbclient's default).

    Why: with kernels on TCP ports, nbclient now and then saw the reply to a cell only when
    the cell's time ran out; scripts/measure_notebooks.py ran 72 notebooks this way without
    one stall. Used by execute and by scripts/measure_notebooks.py.
    """
    if os.name != "posix":
        yield None
        return
    folder = tempfile.mkdtemp(prefix="cnnlib-kernel-")
    try:
        yield quiet_shutdown_manager()(kernel_name="python3", transport="ipc",
                                       ip=os.path.join(folder, "k"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def quiet_shutdown_manager():
    """A KernelManager class that shuts a kernel down without interrupting it first.

    Why: jupyter_client's shutdown_kernel sends SIGINT before the shutdown request, and
    ipykernel logs "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." whenever that
    signal lands while it is still inside a message handler (ipykernel 6 turns SIGINT into
    KeyboardInterrupt only there). After a notebook's last cell, nbclient shuts the kernel
    down at once; the figure-heavy widgets that end most notebooks leave the kernel busy
    long enough for the signal to land now and then (more often on a loaded machine). The
    kernel is between cells then, so there is nothing to interrupt: the shutdown request
    alone stops it, and jupyter_client still kills it if it has not stopped within
    shutdown_wait_time. An interrupt asked for at any other time is sent as before.
    """
    from jupyter_client.manager import KernelManager

    class QuietShutdownKernelManager(KernelManager):
        async def _async_interrupt_kernel(self):
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


def execute(path, timeout=600, attempts=2):
    """Run a notebook top to bottom in its own folder; cells tagged raises-exception may fail.

    A cell that times out (a kernel that stopped answering: the reply to one cell now and
    then never reaches nbclient, with ipykernel 7.4 and 6.31 alike) is retried once in a
    fresh kernel, from the top; a second time-out is raised.
    """
    import nbclient
    import nbformat
    for attempt in range(1, attempts + 1):
        nb = nbformat.read(path, as_version=4)
        try:
            with unix_socket_kernel() as km:
                nbclient.NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3",
                                        store_widget_state=True,
                                        resources={"metadata": {"path": str(Path(path).parent)}}
                                        ).execute()
            return nb
        except nbclient.exceptions.CellTimeoutError:
            if attempt == attempts:
                raise


def _model_id(ref):
    return ref[len("IPY_MODEL_"):] if isinstance(ref, str) and ref.startswith("IPY_MODEL_") else None


def _walk(model_id, models, seen=None):
    """Yield the widget models under model_id, depth first (a box's children in order)."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in models:
        return
    seen.add(model_id)
    yield models[model_id]
    for ref in models[model_id]["state"].get("children", []):
        yield from _walk(_model_id(ref), models, seen)


def _static_outputs(model_id, models):
    """A widget's view replaced by what it drew plus a line naming its controls."""
    controls, pictures, texts = [], [], []
    for model in _walk(model_id, models):
        name, state = model["model_name"], model["state"]
        label = state.get("description") or ""
        if name == "OutputModel":
            pictures.extend(state.get("outputs", []))
        elif name == "ImageModel":
            data = next((b["data"] for b in model.get("buffers", []) if b["path"] == ["value"]), None)
            if data:
                pictures.append({"output_type": "display_data", "metadata": {}, "data": {
                    "text/html": f'<img src="data:image/{state.get("format", "png")};base64,{data}" '
                                 'alt="{alt}" class="cnnlib-figure"/>'}})
        elif name == "HTMLModel" and "<img" in str(state.get("value", "")):
            # a picture with its own alt text (08's training dashboard, widgets.picture_html)
            pictures.append({"output_type": "display_data", "metadata": {},
                             "data": {"text/html": str(state["value"])}})
        elif name in ("LabelModel", "HTMLModel"):
            texts.append(re.sub(r"<[^>]+>", "", str(state.get("value", ""))).strip())
        elif label:
            controls.append(label)
    if not pictures and not controls:  # a progress bar (tqdm): its last text is enough
        line = html.escape(html.unescape(" ".join(t for t in texts if t)))
        return [{"output_type": "display_data", "metadata": {},
                 "data": {"text/html": f'<pre class="cnnlib-widget-text">{line}</pre>'}}]
    what = ", ".join(controls) if controls else "its controls"
    note = (f"Interactive widget (controls: {html.escape(what)}). This static page shows the "
            "picture it drew first; run the notebook to use the controls.")
    for out in pictures:  # an Image widget's picture is described by its controls
        if "text/html" in out.get("data", {}):
            out["data"]["text/html"] = out["data"]["text/html"].replace(
                'alt="{alt}"', f'alt="Picture of the widget with {html.escape(what)}, before any '
                               'control is used"')
    return [{"output_type": "display_data", "metadata": {},
             "data": {"text/html": f'<p class="cnnlib-widget-note"><em>{note}</em></p>'}}] + pictures


def freeze_widgets(nb):
    """Replace every widget view output by its static outputs; drop the widget state."""
    import nbformat
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(out)
            else:
                outputs.extend(nbformat.from_dict(o) for o in _static_outputs(view["model_id"], models))
        if cell.cell_type == "code":
            cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return nb


def _mathml(tex, display):
    import latex2mathml.converter
    try:
        return latex2mathml.converter.convert(html.unescape(tex.strip()),
                                              display="block" if display else "inline")
    except Exception:  # a construct latex2mathml lacks: show the TeX source instead
        return f"<code>{html.escape(tex)}</code>"


def math_to_placeholders(nb):
    """Swap $...$ and $$...$$ in markdown cells for tokens; returns {token: MathML}."""
    found = {}

    def swap(match):
        token = f"CNNLIBMATH{len(found)}X"
        found[token] = _mathml(match.group(1) or match.group(2), match.group(1) is not None)
        return token
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = MATH.sub(swap, cell.source)
    return found


def _rewrite_link(match, source_dir):
    attr, target = match.group(1), html.unescape(match.group(2))
    if re.match(r"^([a-z][a-z0-9+.-]*:|#|//)", target, re.I):
        return match.group(0)
    path, _, anchor = target.partition("#")
    anchor = f"#{anchor}" if anchor else ""
    if path.endswith(".ipynb") and "/" not in path:
        return f'{attr}="{html.escape(path[:-len(".ipynb")] + ".html" + anchor)}"'
    if path in ("README.md", "./README.md") and source_dir.name == "notebooks":
        return f'{attr}="index.html{html.escape(anchor)}"'
    resolved = (source_dir / path).resolve()
    try:
        rel = resolved.relative_to(ROOT).as_posix()
    except ValueError:
        return match.group(0)
    kind = "tree" if resolved.is_dir() else "blob"
    url = f"https://github.com/{repository()}/{kind}/{BRANCH}/{rel}{anchor}"
    return f'{attr}="{html.escape(url)}"'


def finish_html(text, math, source_dir):
    """Math back in, links rewritten, no scripts, no image or stylesheet from the internet."""
    for token, mathml in math.items():
        text = text.replace(token, mathml)
    text = re.sub(r"<script\b[^>]*>.*?</script>", "", text, flags=re.S | re.I)
    text = re.sub(r'<link\b[^>]*href="(https?:)?//[^"]*"[^>]*>', "", text, flags=re.I)
    text = re.sub(r'<img\b[^>]*src="(?:https?:)?//[^"]*"[^>]*>',
                  lambda m: html.escape(html.unescape(re.search(r'alt="([^"]*)"', m.group(0))
                                                      .group(1)) if 'alt="' in m.group(0) else ""),
                  text, flags=re.I)
    return re.sub(r'\b(href|src)="([^"]*)"', lambda m: _rewrite_link(m, source_dir), text)


def render(nb, title, source_dir):
    from nbconvert import HTMLExporter
    math = math_to_placeholders(nb)
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return finish_html(body, math, source_dir)


def build(out=None, notebooks=None, timeout=600, log=print, on_executed=None):
    """Execute and render every notebook (or the given paths) into out (default ROOT/site).

    on_executed(path, nb), if given, sees each executed notebook before its widgets are
    frozen (the tests check its image outputs). Returns the folder.
    """
    import nbformat
    out = Path(out or ROOT / "site")
    out.mkdir(parents=True, exist_ok=True)
    notebooks = sorted(notebooks or (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in map(Path, notebooks):
        log(f"running {path.name}")
        nb = execute(path, timeout)
        if on_executed is not None:
            on_executed(path, nb)
        nb = freeze_widgets(nb)
        (out / f"{path.stem}.html").write_text(render(nb, path.stem, path.parent), encoding="utf-8")
    course_map = ROOT / "notebooks" / "README.md"
    index = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        course_map.read_text(encoding="utf-8"))])
    (out / "index.html").write_text(render(index, "Course map", course_map.parent), encoding="utf-8")
    log(f"site written to {out}/index.html ({len(notebooks) + 1} pages)")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cnnlib.course.site", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute the notebooks and write the static site")
    b.add_argument("--out", default=str(ROOT / "site"), help="folder for the site (default: site/)")
    b.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    b.add_argument("notebooks", nargs="*", help="only these notebooks (default: all)")
    args = parser.parse_args(argv)
    clone_root("python -m cnnlib.course.site build")
    build(args.out, args.notebooks or None, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
