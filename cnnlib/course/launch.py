"""Launch the course without installing it: Binder and Colab links, and the notebooks' setup cell.

REPOSITORY is the one place that names the public repository; the README's Binder badge,
the course map's Colab badges and every notebook's first cell are made from it, and
tests/test_launch.py checks they still agree (after changing it, run
`python -m cnnlib.course.launch` to rewrite the notebooks' first cells and print the badges).

The setup cell does nothing (and prints nothing) where cnnlib can be imported, as after
the README's install; on Colab it clones the repository and pip-installs it.
Not part of the engine; introduced in notebooks/README.md (the course map).
"""
import json
import sys
from pathlib import Path

# Placeholder until the course is published: set it to the real GitHub owner/name.
REPOSITORY = "cnn-from-scratch/cnn-from-scratch"
BRANCH = "main"
SETUP_TAG = "colab-setup"  # cell tag marking the setup cell, so tools can find it

SETUP_CELL = '''\
# Colab (or any Python without the course): clone and install cnnlib. Here it does nothing.
def install_course(url="https://github.com/{repository}", folder="./cnn-from-scratch"):
    import importlib.util, subprocess, sys
    if importlib.util.find_spec("cnnlib") is None:
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", url, folder], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", folder], check=True)
        importlib.invalidate_caches()
    if "google.colab" in sys.modules:  # Colab draws our sliders only through this manager
        from google.colab import output
        output.enable_custom_widget_manager()

install_course()'''


def setup_cell_source(repository=REPOSITORY):
    """The source of every notebook's first code cell (a few lines, no output where installed)."""
    return SETUP_CELL.format(repository=repository)


def colab_url(notebook, repository=REPOSITORY, branch=BRANCH):
    """Colab link that opens notebooks/<notebook> straight from GitHub."""
    return (f"https://colab.research.google.com/github/{repository}/blob/{branch}/"
            f"notebooks/{notebook}")


def binder_url(path="notebooks/README.md", repository=REPOSITORY, branch=BRANCH):
    """mybinder.org link that builds the repository and opens path in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{repository}/{branch}?urlpath=lab/tree/{path}"


def write_setup_cells(notebooks):
    """Put the setup cell first in each notebook (replace it if present); returns changed paths."""
    changed = []
    for path in map(Path, notebooks):
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        lines = setup_cell_source().splitlines(keepends=True)
        cells = nb["cells"]
        first = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), None)
        if first is not None and SETUP_TAG in cells[first].get("metadata", {}).get("tags", []):
            cells[first]["source"] = lines
            cells[first].setdefault("id", SETUP_TAG)
        else:
            cell = {"cell_type": "code", "execution_count": None, "id": SETUP_TAG,
                    "metadata": {"tags": [SETUP_TAG]}, "outputs": [], "source": lines}
            cells.insert(0 if first is None else first, cell)
        new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv=None):
    root = Path(__file__).resolve().parents[2]
    changed = write_setup_cells(sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    print(f"setup cell rewritten in {len(changed)} notebook(s)")
    print("Binder:", binder_url())
    return 0


if __name__ == "__main__":
    sys.exit(main())
