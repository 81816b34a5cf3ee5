"""Course tooling for maintainers, never imported by the engine:

    site     python -m cnnlib.course.site build: the course site (Sphinx, configured in docs/)
             of every notebook, executed (kernels) with widgets as pictures (widget_pictures)
    launch   the repository's address (pyproject.toml, [project.urls]), Binder and Colab links,
             and the notebooks' setup cell (python -m cnnlib.course.launch set-repo URL)

Installed with the package (small, and its heavy tools are imported only when used), but
site and launch read and write the repository around cnnlib/: run them from a clone.
Outside one, clone_root stops them with one line (python -m cnnlib.homework build too).
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clone_root(command, root=ROOT):
    """The clone of the course around this cnnlib (root); exits with one line if there is none.

    A clone has pyproject.toml and notebooks/ beside cnnlib/; an installed copy (pip install
    without -e) sits in site-packages, where the command would find no notebooks.
    """
    root = Path(root)
    if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir():
        return root
    where = _repository_url() or "the course repository"
    sys.exit(f"{command} needs a clone of the course (notebooks/ and pyproject.toml beside "
             f"cnnlib/), but this cnnlib is installed in {root}: git clone {where}, then run "
             f"it inside the clone.")


def _repository_url():
    """The Repository URL in the installed package's metadata ([project.urls]), or None."""
    from importlib import metadata
    try:
        urls = metadata.metadata("cnnlib").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    return next((u.split(",", 1)[1].strip() for u in urls
                 if u.split(",", 1)[0].strip().lower() == "repository"), None)
