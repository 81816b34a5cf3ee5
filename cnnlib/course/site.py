"""The course site: every notebook executed on the bundled sample and built with Sphinx.

    python -m cnnlib.course.site build [--out site] [--timeout 600] [NOTEBOOK ...]

gives site/index.html (the course map, notebooks/README.md), one page per notebook with
all its figures and homework.html (homework/README.md, for teachers). Sphinx with myst-nb
and sphinx-book-theme (configuration in docs/conf.py) gives the chapter sidebar,
previous/next, full-text search, the on-page contents, light and dark modes and a
Binder/Colab button per page, made from pyproject.toml's Repository (cnnlib.course.launch).
Formulas are typeset by the MathJax copy in _static. A widget cannot run in a static page,
so each shows the pictures it drew first, with their alt text (widget_pictures.py). Links
between notebooks stay inside the site; links to other repository files go to GitHub.
Nothing is loaded from the internet: the pages open from disk (file://), and any static
host can serve the folder. Needs the [course] extra (requirements.txt installs it).
Described in README.md, "Course site".
"""
import argparse
import importlib.util
import multiprocessing
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import ROOT, clone_root
from .kernels import execute, unix_socket_kernel  # noqa: F401  (scripts/measure_notebooks.py)
from .launch import BRANCH, SETUP_TAG, repository
from .widget_pictures import freeze_widgets

DOCS = ROOT / "docs"
# Repository files that are pages of the site, by the name of their page.
PAGES = {"notebooks/README.md": "index.md", "homework/README.md": "homework.md"}
LINK = re.compile(r"(\]\(|\b(?:href|src)=\")([^)\"\s]+)")
REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\((?:https?:)?//[^)]*\)")


def site_target(target, source_dir, notebooks):
    """Where a link of a page whose source is in source_dir points on the site: another page
    (by its source name, which myst-nb resolves), or the file on GitHub; else unchanged."""
    if re.match(r"^([a-z][a-z0-9+.-]*:|#|//)", target, re.I):
        return target
    path, hash_, anchor = target.partition("#")
    resolved = (source_dir / path).resolve()
    try:
        rel = resolved.relative_to(ROOT).as_posix()
    except ValueError:
        return target
    if rel in PAGES:
        return PAGES[rel] + hash_ + anchor
    if rel.startswith("notebooks/") and resolved.name in notebooks:
        return resolved.name + hash_ + anchor
    if not resolved.exists():
        return target
    kind = "tree" if resolved.is_dir() else "blob"
    return f"https://github.com/{repository()}/{kind}/{BRANCH}/{rel}{hash_}{anchor}"


def site_markdown(text, source_dir, notebooks):
    """Markdown with its links made site links and remote images (badges) replaced by their alt text."""
    text = REMOTE_IMAGE.sub(lambda m: m.group(1), text)
    return LINK.sub(lambda m: m.group(1) + site_target(m.group(2), source_dir, notebooks), text)


def course_map(notebooks):
    """index.md: the course map, with the (hidden) table of contents that orders the sidebar."""
    source = ROOT / "notebooks" / "README.md"
    text = site_markdown(source.read_text(encoding="utf-8"), source.parent, {Path(n).name for n in notebooks})
    pages = [Path(n).stem for n in notebooks] + ["homework"]
    return text + "\n\n```{toctree}\n:hidden:\n:maxdepth: 1\n\n" + "\n".join(pages) + "\n```\n"


def _run(path, timeout):
    start = time.perf_counter()
    return execute(path, timeout), time.perf_counter() - start


def executed(notebooks, timeout, jobs):
    """Yield (path, executed notebook, seconds) in the order given, jobs notebooks at a time
    (each in a fresh kernel, driven from a process of its own)."""
    if jobs <= 1:
        for path in notebooks:
            yield (path, *_run(path, timeout))
        return
    context = multiprocessing.get_context("spawn")     # fresh processes, nothing forked
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        runs = [pool.submit(_run, path, timeout) for path in notebooks]
        for path, run in zip(notebooks, runs):
            yield (path, *run.result())


def stage(folder, notebooks, timeout, log, on_executed, jobs=2):
    """Fill folder with Sphinx's sources: executed notebooks (widgets frozen) and the two pages."""
    import nbformat
    names = {Path(p).name for p in notebooks}
    for path, nb, seconds in executed([Path(p) for p in notebooks], timeout, jobs):
        log(f"ran {path.name} in {seconds:.0f} s")
        if on_executed is not None:
            on_executed(path, nb)
        nb = freeze_widgets(nb)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = site_markdown(cell.source, path.parent, names)
            elif SETUP_TAG in cell.metadata.get("tags", []):   # Colab's setup: not for readers
                cell.metadata["tags"].append("remove-cell")
        nbformat.write(nb, folder / path.name)
    (folder / "index.md").write_text(course_map(notebooks), encoding="utf-8")
    homework = ROOT / "homework" / "README.md"
    (folder / "homework.md").write_text(
        site_markdown(homework.read_text(encoding="utf-8"), homework.parent, names), encoding="utf-8")


def sphinx(source, out, doctrees, log):
    """Run Sphinx (a process of its own) on the staged sources; its warnings are printed."""
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(DOCS),
                           "-d", str(doctrees), str(source), str(out)],
                          capture_output=True, text=True)
    for line in (done.stdout + done.stderr).splitlines():
        log(line)
    if done.returncode != 0:
        raise RuntimeError(f"Sphinx failed (exit {done.returncode}); its messages are above")


def build(out=None, notebooks=None, timeout=600, log=print, on_executed=None, jobs=2):
    """Execute every notebook (or the given paths), jobs at a time, and build the site into
    out (default ROOT/site).

    on_executed(path, nb), if given, sees each executed notebook before its widgets are
    frozen (the tests check its image outputs). Returns the folder.
    """
    out = Path(out or ROOT / "site")
    notebooks = sorted(notebooks or (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="cnnlib-site-") as work:
        source, doctrees = Path(work) / "source", Path(work) / "doctrees"
        source.mkdir()
        start = time.perf_counter()
        stage(source, notebooks, timeout, log, on_executed, jobs)
        ran = time.perf_counter()
        log(f"ran {len(notebooks)} notebooks in {ran - start:.0f} s; building the pages with Sphinx")
        sphinx(source, out, doctrees, log)
    log(f"Sphinx took {time.perf_counter() - ran:.0f} s; "
        f"site written to {out}/index.html ({len(notebooks) + 2} pages)")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cnnlib.course.site", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute the notebooks and write the static site")
    b.add_argument("--out", default=str(ROOT / "site"), help="folder for the site (default: site/)")
    b.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    b.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default: 2)")
    b.add_argument("notebooks", nargs="*", help="only these notebooks (default: all)")
    args = parser.parse_args(argv)
    clone_root("python -m cnnlib.course.site build")
    missing = [m for m in ("sphinx", "myst_nb", "sphinx_book_theme") if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"python -m cnnlib.course.site build needs {', '.join(missing)} (Python 3.11 or "
                 f"later): pip install -r requirements.txt")
    build(args.out, args.notebooks or None, args.timeout, jobs=args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
