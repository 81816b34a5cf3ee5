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
1280x720 device pixels, what the projector shows). tests/test_browser_checkers.py
plants each problem in a notebook and proves that the checks find it.

    .venv/bin/python -m pytest -m browser tests/test_browser_widgets.py
"""
import re
import shutil
import time
from pathlib import Path

import pytest

from browser_checks import ACTIVE, problems
from browser_controls import exercise, pictures
from browser_page import (SHOTS, browser, missing_alt, open_notebook, photograph,  # noqa: F401
                          projector, resize, run_all, stop_kernels, wait_for_widgets)
from browser_support import ROOT, jupyter_lab

pytestmark = pytest.mark.browser
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
    with jupyter_lab(root, tmp_path_factory.mktemp("lab-work")) as url:
        yield url


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
        moved = exercise(page, LONG_RUNNING.get(stem[:2], set()),
                         lambda label, lines: report(f"projector, after moving {label}", lines))
        assert moved, f"{name} shows widgets but no control was found"
        if stem.startswith("08"):
            dashboard(page)
        report("projector, after the controls", problems(page))
        photograph(page, folder, "projector-after-controls")
        assert not found, f"{len(found)} problem(s) in {edition}/{name}:\n" + "\n".join(
            f"{stage}: {line}" for stage, line in found.values())
    finally:
        page.close()
        stop_kernels(lab)
