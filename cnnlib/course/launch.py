"""Launch the course without installing it: Binder and Colab links, and the notebooks' setup cell.

The course's public repository is one setting, `Repository` under `[project.urls]` in
pyproject.toml. Everything that points at it is generated from that setting:

    python -m cnnlib.course.launch set-repo https://github.com/OWNER/NAME   # a fork: set, then sync
    python -m cnnlib.course.launch sync     # rewrite badges and setup cells from the setting
    python -m cnnlib.course.launch check    # exit 1 and list what disagrees with the setting

sync rewrites the Binder badges in README.md and notebooks/README.md, the Colab badges in
the course map, the first code cell of notebooks 00-11 and (through the homework build)
of their student editions; the preview site reads the setting when it is built.
tests/test_launch.py runs check.

The setup cell is a few lines, collapsed (JupyterLab: source_hidden; Colab: its #@title
form). Where cnnlib imports, as after the README's install, it does nothing. On Colab it
pip-installs the course from the repository at BRANCH, then checks that what came is this
course (a package named cnnlib at this version); otherwise it stops with one line
(IPython's UsageError shows no traceback). Introduced in notebooks/README.md.
"""
import json
import re
import sys
from pathlib import Path

from . import ROOT, clone_root

BRANCH = "main"
SETUP_TAG = "colab-setup"  # cell tag marking the setup cell, so tools can find it
GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9-]+)/([A-Za-z0-9._-]+?)(?:\.git)?/?$")
URLS = re.compile(r'(?ms)^\[project\.urls\]\n(?:(?!^\[).)*?^Repository = "([^"\n]*)"')
VERSION = re.compile(r'(?m)^version = "([^"]+)"')

SETUP_CELL = '''\
#@title Setup: on Colab this installs the course; with the course installed it does nothing
try: import cnnlib
except ImportError:
    get_ipython().run_line_magic("pip", "install -q 'cnnlib[plots] @ git+https://github.com/{repository}@{branch}'")
    from importlib.metadata import distributions; from IPython.core.error import UsageError
    if [d.version for d in distributions(name="cnnlib")][:1] != ["{version}"]: raise UsageError("github.com/{repository} did not install this course (cnnlib {version}): check the Colab link")'''


def _pyproject(root=ROOT):
    return (Path(root) / "pyproject.toml").read_text(encoding="utf-8")


def repository_url(root=ROOT):
    """The course's repository, https://github.com/OWNER/NAME, read from pyproject.toml."""
    found = URLS.search(_pyproject(root))
    if not found:
        raise ValueError(f"{Path(root) / 'pyproject.toml'} has no Repository under [project.urls]")
    return found.group(1)


def repository(root=ROOT):
    """OWNER/NAME of the course's repository (from pyproject.toml)."""
    match = GITHUB.match(repository_url(root))
    if not match:
        raise ValueError(f"pyproject.toml's Repository {repository_url(root)!r} is not "
                         f"https://github.com/OWNER/NAME")
    return "/".join(match.groups())


def version(root=ROOT):
    return VERSION.search(_pyproject(root)).group(1)


def setup_cell_source(repo=None, root=ROOT):
    """The source of every notebook's first code cell."""
    return SETUP_CELL.format(repository=repo or repository(root), branch=BRANCH,
                             version=version(root))


def colab_url(notebook, repo=None, branch=BRANCH):
    """Colab link that opens notebooks/<notebook> straight from GitHub."""
    return (f"https://colab.research.google.com/github/{repo or repository()}/blob/{branch}/"
            f"notebooks/{notebook}")


def binder_url(path="notebooks/README.md", repo=None, branch=BRANCH):
    """mybinder.org link that builds the repository and opens path in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{repo or repository()}/{branch}?urlpath=lab/tree/{path}"


# Any Binder or Colab link to some repository: sync points them all at the setting.
BINDER_LINK = re.compile(r"https://mybinder\.org/v2/gh/[^/\s)]+/[^/\s)]+/[^?\s)]+\?urlpath=")
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/")


def rewrite_links(text, repo):
    text = BINDER_LINK.sub(f"https://mybinder.org/v2/gh/{repo}/{BRANCH}?urlpath=", text)
    return COLAB_LINK.sub(f"https://colab.research.google.com/github/{repo}/blob/{BRANCH}/", text)


def _setup_cell(lines):
    return {"cell_type": "code", "execution_count": None, "id": SETUP_TAG,
            "metadata": {"cellView": "form", "jupyter": {"source_hidden": True},
                         "tags": [SETUP_TAG]},
            "outputs": [], "source": lines}


def write_setup_cells(notebooks, source=None):
    """Put the setup cell first in each notebook (replace it if present); returns changed paths."""
    source = source or setup_cell_source()
    changed = []
    for path in map(Path, notebooks):
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        lines = source.splitlines(keepends=True)
        cells = nb["cells"]
        first = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), None)
        if first is not None and SETUP_TAG in cells[first].get("metadata", {}).get("tags", []):
            cell = _setup_cell(lines)
            cell["id"] = cells[first].get("id", SETUP_TAG)
            cells[first] = cell
        else:
            cells.insert(0 if first is None else first, _setup_cell(lines))
        new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def link_files(root=ROOT):
    return [Path(root) / "README.md", Path(root) / "notebooks" / "README.md"]


def notebooks(root=ROOT):
    return sorted((Path(root) / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def sync(root=ROOT):
    """Rewrite every badge and setup cell from the setting; returns the changed paths."""
    repo, changed = repository(root), []
    for path in link_files(root):
        text = path.read_text(encoding="utf-8")
        if rewrite_links(text, repo) != text:
            path.write_text(rewrite_links(text, repo), encoding="utf-8")
            changed.append(path)
    changed += write_setup_cells(notebooks(root), setup_cell_source(repo, root))
    return changed


def disagreements(root=ROOT):
    """Every place that does not point at the setting, as 'file: what'; [] when all agree."""
    repo, found = repository(root), []
    for path in link_files(root):
        text = path.read_text(encoding="utf-8")
        for link in BINDER_LINK.findall(text) + COLAB_LINK.findall(text):
            if f"/{repo}/" not in link:
                found.append(f"{path.relative_to(root)}: {link}")
    readme, course_map = (p.read_text(encoding="utf-8") for p in link_files(root))
    if binder_url(repo=repo) not in readme:
        found.append("README.md: no Binder badge for notebooks/README.md")
    if binder_url(repo=repo) not in course_map:
        found.append("notebooks/README.md: no Binder badge")
    expected = setup_cell_source(repo, root)
    student = Path(root) / "homework" / "student"
    for path in notebooks(root) + sorted(student.glob("[0-9][0-9]_*.ipynb")):
        if path.parent == Path(root) / "notebooks" and colab_url(path.name, repo) not in course_map:
            found.append(f"notebooks/README.md: no Colab badge for {path.name}")
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = next((c for c in cells if c["cell_type"] == "code"), None)
        if first is None or "".join(first["source"]) != expected:
            found.append(f"{path.relative_to(root)}: first code cell is not the setup cell")
    return found


def set_repository(url, root=ROOT):
    """Write url as the Repository in pyproject.toml (https://github.com/OWNER/NAME)."""
    if not GITHUB.match(url):
        raise ValueError(f"expected https://github.com/OWNER/NAME, got {url!r}")
    url = "https://github.com/" + "/".join(GITHUB.match(url).groups())
    text = _pyproject(root)
    found = URLS.search(text)
    if not found:
        raise ValueError("pyproject.toml has no Repository under [project.urls]")
    (Path(root) / "pyproject.toml").write_text(text[:found.start(1)] + url + text[found.end(1):],
                                               encoding="utf-8")
    return url


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="python -m cnnlib.course.launch",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("set-repo", help="set the repository (a fork's address), then sync")
    s.add_argument("url", help="https://github.com/OWNER/NAME")
    sub.add_parser("sync", help="rewrite badges and setup cells from pyproject.toml (default)")
    sub.add_parser("check", help="list what does not agree with pyproject.toml; exit 1 if any")
    args = parser.parse_args(argv)
    command = args.command or "sync"
    root = clone_root(f"python -m cnnlib.course.launch {command}")
    try:
        if command == "set-repo":
            print(f"repository: {set_repository(args.url, root)} (pyproject.toml)")
        if command == "check":
            found = disagreements(root)
            for line in found:
                print(line, file=sys.stderr)
            print(f"{len(found)} place(s) disagree with {repository_url(root)}"
                  + ("; run python -m cnnlib.course.launch sync" if found else ""))
            return 1 if found else 0
        changed = sync(root)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"rewrote {len(changed)} file(s) for {repository_url(root)}")
    if any(p.suffix == ".ipynb" for p in changed):
        from ..homework.build import build
        build()
        print("rebuilt the homework edition (homework/student/); commit both")
    print("Binder:", binder_url(repo=repository(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
