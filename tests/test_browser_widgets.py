"""Every notebook's widgets in JupyterLab in Chromium, as a class uses them: the course
notebooks, the student editions with the answers blank, and, for the notebooks with widgets,
the same editions answered (the homework build's instructor edition); on a projector, a laptop
and a wide screen.

Each notebook runs once, on the projector (1280x720 at 150% zoom: 853x480 CSS px at device
scale 1.5, file browser open; the smallest screen, where most goes wrong): Run All; no error
view, no traceback in a widget's Output, nothing cut or overflowing, every figure with alt
text (browser_checks). The same page is then resized to the laptop (1366x768, file browser
open) and the wide screen (1920x1080) and checked again without running the notebook again:
the layout is what changes with the width, and one run per notebook keeps CI short. Back on
the projector every slider, dropdown, toggle, checkbox, number box and button is moved once
by keyboard, each move answered by the kernel and followed by the same checks, and every
widget's picture must follow at least one of its controls (browser_controls); in 08 Start
draws the training and Stop ends it. Every widget is photographed at every size into
test-artifacts/browser/<edition>/<notebook>/ (git-ignored, kept by CI; projector shots are
1280x720 device pixels, what the projector shows). test_checkers_see_what_students_would_see
plants each problem in a notebook and proves that the checks find it.

    .venv/bin/python -m pytest -m browser tests/test_browser_widgets.py
"""
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from browser_checks import ACTIVE, kinds, problems
from browser_controls import controls, move, pictures
from browser_support import CHROMIUM_FLAGS, ROOT, chromium, jupyter_lab

pytestmark = pytest.mark.browser
SHOTS = ROOT / "test-artifacts" / "browser"
SIZES = {"projector": ({"width": 853, "height": 480}, 1.5),
         "laptop": ({"width": 1366, "height": 768}, 1),
         "wide": ({"width": 1920, "height": 1080}, 1)}
EDITIONS = {"course": ROOT / "notebooks", "student": ROOT / "homework" / "student",
            "answered": None}                  # built into the lab's folder by the lab fixture
COURSE = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The answered edition differs from the blank one only in the exercise cells, and no widget
# takes a student's function (they call cnnlib's): it is run for its widgets, to see that an
# answered notebook still shows them working; nbval and the homework tests run the rest.
SHOWS_WIDGET = re.compile(r"cnnlib\.viz\.widgets import|import ipywidgets|ipycanvas|anywidget|"
                          r"_(explorer|editor|browser|dashboard|canvas)\(")
WIDGETS = {p.name for p in COURSE if SHOWS_WIDGET.search(p.read_text(encoding="utf-8"))}
NOTEBOOKS = [(edition, p.name) for edition in EDITIONS for p in COURSE
             if edition != "answered" or p.name in WIDGETS]
# Controls that start something long: 08's Start runs a training, checked by Start then Stop.
LONG_RUNNING = {"08": {"Start", "Stop"}}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
RUN_S = 600        # a notebook takes ~10 s on an idle 2-core machine; CI may be busy


@pytest.fixture(scope="module")
def browser(request):
    path, _ = chromium()           # conftest skipped the test already when it is missing
    playwright_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(path), headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:                           # shown also when output is captured
        terminal.write_line(f"\nbrowser screenshots: {SHOTS}")


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab serving copies (autosave must not write into the repository) of the course
    notebooks, the student editions and the answered editions, one folder each."""
    from cnnlib.homework import build
    root = tmp_path_factory.mktemp("lab-root")
    for edition, folder in EDITIONS.items():
        if folder is not None:
            shutil.copytree(folder, root / edition, ignore=shutil.ignore_patterns("*.py", "*.md"))
    build.build(instructor_dir=root / "answered", student_dir=tmp_path_factory.mktemp("unused"))
    (root / "broken").mkdir()
    (root / "broken" / "broken.ipynb").write_text(json.dumps(broken_notebook()))
    with jupyter_lab(root, tmp_path_factory.mktemp("lab-work")) as url:
        yield url


@pytest.fixture(scope="module")
def projector(browser):
    viewport, scale = SIZES["projector"]
    context = browser.new_context(viewport=viewport, device_scale_factor=scale)
    yield context
    context.close()


def open_notebook(context, url, path):
    page = context.new_page()
    page.goto(f"{url}/lab/tree/{path}?reset")
    page.wait_for_function("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                           " const k = w && w.sessionContext && w.sessionContext.session"
                           " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }",
                           timeout=120_000)
    page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")
    page.wait_for_function("() => { const f = document.getElementById('filebrowser');"
                           " return f && f.getBoundingClientRect().width > 100; }", timeout=10_000)
    return page


STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget, cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    const outputs = [];
    for (let j = 0; j < c.outputs.length; j++) outputs.push(c.outputs.get(j).toJSON());
    out.push({index: i, count: c.executionCount, tags: c.getMetadata('tags') || [], outputs});
  }
  return {status: panel.sessionContext.session.kernel.status, cells: out};
}"""


def run_all(page):
    """Run All; the notebook's state, or an AssertionError naming the cells that raised."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    deadline = time.monotonic() + RUN_S
    while True:
        state = page.evaluate(STATE_JS)
        errors = [f"cell {c['index']}: " + ", ".join(f"{o['ename']}: {o['evalue']}" for o in c["outputs"]
                                                     if o["output_type"] == "error")
                  for c in state["cells"] if "raises-exception" not in c["tags"]
                  and any(o["output_type"] == "error" for o in c["outputs"])]
        assert not errors, "Run All raised: " + "; ".join(errors)
        if state["status"] == "idle" and all(c["count"] is not None for c in state["cells"]):
            return state
        assert time.monotonic() < deadline, f"Run All did not finish in {RUN_S} s"
        time.sleep(0.5)


def wait_for_widgets(page, state):
    expected = sum(WIDGET_MIME in o.get("data", {}) for c in state["cells"] for o in c["outputs"])
    page.wait_for_function(
        """([active, n]) => {
          const outputs = [...document.querySelectorAll(active + ' .jp-OutputArea-output')];
          return outputs.filter(o => o.querySelector(':scope > .jupyter-widgets')).length >= n
              && !outputs.some(o => o.textContent.startsWith('Loading widget'));
        }""", arg=[ACTIVE, expected], timeout=60_000)
    time.sleep(0.5)                                     # the figures' images decode
    return expected


def exercise(page, stem, report):
    """Move every control once; report(stage, problems) after each move. Every widget with a
    picture must redraw it for at least one of its controls (a picture that follows no control
    is a widget that does nothing). How many controls were found."""
    skip = LONG_RUNNING.get(stem[:2], set())
    found = controls(page)
    drew, shown = set(), pictures(page)
    for control in found:
        if control["label"] in skip or control["disabled"]:
            continue
        failure = move(page, control)
        report(f"projector, after moving {control['type']} \"{control['label']}\"",
               ([failure] if failure else []) + problems(page))
        now = pictures(page)
        drew |= {i for i, (a, b) in enumerate(zip(shown, now)) if a != b}
        shown = now
    moved = {c["root"] for c in found if c["label"] not in skip and not c["disabled"]}
    moved -= {c["root"] for c in found if c["label"] in skip}  # dashboard(): Start draws
    report("projector, after the controls",
           [f"widget {i}: picture never changed: none of its controls redrew it"
            for i in sorted(moved - drew) if shown[i]])
    return len(found)


def dashboard(page):
    """08: Start draws the training into the picture; Stop ends it and the drawing stops."""
    start = page.locator(f"{ACTIVE} .jupyter-widgets button", has_text=re.compile(r"^\s*Start\s*$")).first
    stop = page.locator(f"{ACTIVE} .jupyter-widgets button", has_text=re.compile(r"^\s*Stop\s*$")).first
    start.scroll_into_view_if_needed()
    before = pictures(page)
    start.press("Enter")
    page.wait_for_function("(b) => b.disabled", arg=start.element_handle(), timeout=10_000)
    deadline = time.monotonic() + 120
    while pictures(page) == before:
        assert time.monotonic() < deadline, "Start did not draw the training within 120 s"
        time.sleep(0.3)
    stop.press("Enter")
    page.wait_for_function("(b) => !b.disabled", arg=start.element_handle(), timeout=60_000)
    after = pictures(page)
    time.sleep(2)
    assert pictures(page) == after, "the dashboard kept drawing after Stop"


def missing_alt(page):
    """Figures without alt text (ipywidgets.Image, 08's dashboard picture, has no alt attribute
    yet: issue 24's accessibility part adds one)."""
    count = page.evaluate(f"""() => [...document.querySelectorAll(
        '{ACTIVE} .jp-OutputArea-output img:not(.widget-image)')]
        .filter(img => !(img.getAttribute('alt') || '').trim()).length""")
    return [f"{count} figure(s) without alt text"] if count else []


def photograph(page, folder, size):
    """One screenshot per widget: scrolled to the top of the screen, the way it is shown."""
    folder.mkdir(parents=True, exist_ok=True)
    widgets = page.locator(f"{ACTIVE} .jp-OutputArea-output:has(> .jupyter-widgets)")
    for i in range(widgets.count()):
        widgets.nth(i).evaluate("el => el.scrollIntoView({block: 'start'})")
        time.sleep(0.2)
        page.screenshot(path=str(folder / f"{size}-widget{i}.png"),
                        scale="device" if size.startswith("projector") else "css")  # projector: 1280x720
    return widgets.count()


def resize(page, size):
    page.set_viewport_size(SIZES[size][0])
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    time.sleep(0.5)                                    # JupyterLab's panels re-lay themselves out


def stop_kernels(url):
    import urllib.request
    with urllib.request.urlopen(f"{url}/api/sessions", timeout=10) as r:
        sessions = json.load(r)
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


@pytest.mark.parametrize("edition, name", NOTEBOOKS, ids=[f"{e}-{n[:2]}" for e, n in NOTEBOOKS])
def test_widgets_at_every_size(projector, lab, edition, name):
    stem = Path(name).stem
    page = open_notebook(projector, lab, f"{edition}/{name}")
    folder = SHOTS / edition / stem
    found = {}                  # problem: where it was first seen

    def report(stage, lines):
        for line in lines:
            # one report per size and element: a control that moved changes the numbers only
            found.setdefault((stage.split(",")[0], *line.split(": ")[:3]), (stage, line))
    try:
        state = run_all(page)
        if not wait_for_widgets(page, state):
            assert name not in WIDGETS, f"{name} imports a widget but shows none"
            assert not problems(page) + missing_alt(page)
            return
        assert name in WIDGETS, f"{name} shows a widget: add its maker to SHOWS_WIDGET"
        report("projector, after Run All", problems(page) + missing_alt(page))
        photograph(page, folder, "projector")
        for size in ("laptop", "wide"):        # the figures Run All drew, on other screens
            resize(page, size)
            report(size, problems(page))
            photograph(page, folder, size)
        resize(page, "projector")
        assert exercise(page, stem, report), f"{name} shows widgets but no control was found"
        if stem.startswith("08"):
            dashboard(page)
        report("projector, after the controls", problems(page))
        photograph(page, folder, "projector-after-controls")
        assert not found, f"{len(found)} problem(s) in {edition}/{name}:\n" + "\n".join(
            f"{stage}: {line}" for stage, line in found.values())
    finally:
        page.close()
        stop_kernels(lab)


# A notebook with each thing that goes wrong for students, one per cell, and a widget that works.
BROKEN_CELLS = {
    "error view": """import ipywidgets as W
from traitlets import Unicode
from ipywidgets._version import __jupyter_widgets_controls_version__ as version

class Broken(W.DOMWidget):   # a view class the front end does not have: an error view
    _view_name = Unicode("NoSuchView").tag(sync=True)
    _view_module = Unicode("@jupyter-widgets/controls").tag(sync=True)
    _view_module_version = Unicode(version).tag(sync=True)

Broken()""",
    "traceback in Output": """out = W.Output()
fails = W.IntSlider(description="fails", max=5)

def callback(change):
    with out:                # the exception is shown in the Output, Run All stays green
        raise RuntimeError("a callback failed")

fails.observe(callback, names="value")
W.VBox([fails, out])""",
    "overflow": """tall = W.Output(layout=W.Layout(height="100px"))
with tall:
    display(W.HTML('<div style="height: 300px; background: #ccc">300 px tall</div>'))
W.VBox([W.IntSlider(description="size"), tall,
        W.HBox([W.Button(description="wide", layout=W.Layout(width="600px", flex="0 0 auto"))],
               layout=W.Layout(width="300px"))])""",
    "text cut": """W.IntSlider(description="a description far too long for its label")""",
    "not moved": """stuck = W.IntSlider(description="stuck", max=5)
stuck.observe(lambda change: setattr(stuck, "value", 0), names="value")
stuck""",
    "works": """good_out = W.Output(layout=W.Layout(min_height="40px"))
good = W.IntSlider(description="works", max=5)
good.observe(lambda change: (good_out.clear_output(wait=True),
                             good_out.append_stdout(f"value {change['new']}")), names="value")
W.VBox([good, W.Dropdown(options=["a", "b"], description="menu"),
        W.ToggleButtons(options=["x", "y"]), W.Checkbox(description="box"),
        W.BoundedIntText(value=1, max=9, description="number"), good_out])""",
}


def broken_notebook():
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in BROKEN_CELLS.values()]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_checkers_see_what_students_would_see(projector, lab):
    """Each kind of problem, planted in its own cell, is found in that cell and nowhere else:
    the suite fails when students would see an error view, a traceback, a cut picture or
    label, or a control that does not move; the widget that works passes every check."""
    page = open_notebook(projector, lab, "broken/broken.ipynb")
    try:
        wait_for_widgets(page, run_all(page))
        found = problems(page)
        for control in controls(page):
            failure = move(page, control)
            found += ([failure] if failure else []) + problems(page)
        cells = kinds(found)
        print("\n".join(sorted(set(found))))
        for cell, kind in enumerate(BROKEN_CELLS):
            if kind == "works":
                assert cell not in cells, f"the working widget was reported: {cells[cell]}"
            else:
                assert kind in cells.get(cell, set()), f"{kind} in cell {cell} was not found"
    finally:
        page.close()
        stop_kernels(lab)
