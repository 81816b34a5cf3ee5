"""Sphinx configuration of the course site: python -m cnnlib.course.site build runs Sphinx
with this folder as its configuration (-c docs) on a staging folder it fills with the
executed notebooks (widgets frozen to their first pictures), the course map as index.md and
the teachers' homework page as homework.md. Not meant for sphinx-build on its own.

Builder: Sphinx with myst-nb (notebooks and Markdown) and sphinx-book-theme (chapter
sidebar, previous/next, search, on-page contents, light/dark, Binder and Colab buttons).
MathJax 3 comes from the sphinx-mathjax-offline package and is copied into _static, so the
pages need no internet, also opened from disk (file://).
"""
import importlib.util
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))     # this clone's cnnlib, whatever else is installed
from cnnlib.course import launch  # noqa: E402

project = "CNN from scratch"
author = "the cnn-from-scratch authors"
html_title = "CNN from scratch"
copyright = "the cnn-from-scratch authors: code MIT, course text and figures CC BY 4.0"

# githubpages: a .nojekyll file, so GitHub Pages serves _static/ as it is
extensions = ["myst_nb", "sphinx.ext.mathjax", "sphinx.ext.githubpages"]
root_doc = "index"
exclude_patterns = ["_build", ".doctrees", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]      # course map and notebooks start at level-1 headings

# The staging folder holds notebooks that site.py has just executed: never run them again.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3                 # [text](05_backprop_softmax.ipynb#some-heading)

# MathJax 3 with SVG output (no web fonts to load), from the site's own _static/mathjax.
mathjax_path = "mathjax/tex-svg.js"
MATHJAX_PARTS = ["tex-svg.js", "input", "ui", "a11y", "sre"]   # a11y and sre: the menu's speech

html_theme = "sphinx_book_theme"
html_static_path = [str(HERE / "_static")]
html_css_files = ["course.css"]
html_js_files = ["course.js"]            # search from file:// without excerpts (see the file)
html_context = {"default_mode": "auto"}  # light or dark as the reader's system is set
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": launch.repository_url(),
    "repository_branch": launch.BRANCH,
    "path_to_docs": "notebooks",         # launch buttons open notebooks/<page>.ipynb
    "use_repository_button": True,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "launch_buttons": {"binderhub_url": "https://mybinder.org",
                       "colab_url": "https://colab.research.google.com",
                       "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
    "navigation_with_keys": True,
}


def mathjax_folder():
    """The MathJax 3 files (tex-svg.js and the extensions it loads) that the package ships."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("the course site needs MathJax from the sphinx-mathjax-offline "
                           "package: pip install -r requirements.txt")
    return Path(spec.origin).parent / "static" / "mathjax"


def copy_mathjax(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    source, target = mathjax_folder(), Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def setup(app):
    mathjax_folder()                     # fail at the start, not after the whole build
    app.connect("build-finished", copy_mathjax)
