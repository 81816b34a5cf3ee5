"""Every "Introduced in notebooks/NN_name.ipynb" in a cnnlib docstring is true.

A back-link names the notebook where a reader meets the function, class or module, so
the test asks that the notebook exists and that its code cells mention the name (a
function or class by its name, a module by its dotted path, e.g. cnnlib.conv), and that
a docstring holds at most one back-link.
"""
import ast
import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
BACKLINK = re.compile(r"Introduced\s+in\s+notebooks/(\S+?\.ipynb)")
ANY_NOTEBOOK = re.compile(r"notebooks/(\d\d_\w+\.ipynb)")

# Back-links known to be wrong in files that other changes of issue 8 rewrite at the same
# time (cnnlib/viz: the pictures half). The test
# fails when one of them is fixed (remove it here) and for every wrong link not listed.
PENDING = set()


def documented():
    """(file, name, docstring) for every module, class and function (methods too) in cnnlib."""
    for path in sorted((REPO / "cnnlib").rglob("*.py")):
        file = path.relative_to(REPO).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        yield file, module.removesuffix(".__init__"), ast.get_docstring(tree) or ""
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield file, node.name, ast.get_docstring(node) or ""


@lru_cache(maxsize=None)
def code_of(notebook):
    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def mentions(code, name):
    return re.search(rf"(?<![\w]){re.escape(name)}(?!\w)", code) is not None


BACKLINKS = [(file, name, nb) for file, name, doc in documented() for nb in BACKLINK.findall(doc)]


def test_the_docstrings_hold_backlinks():
    assert len(BACKLINKS) > 50        # the parser found them (about 80 when this was written)


def test_at_most_one_backlink_per_docstring():
    several = [(file, name) for file, name, doc in documented() if len(BACKLINK.findall(doc)) > 1]
    assert not several, f"more than one 'Introduced in' in: {several}"


def test_every_notebook_a_docstring_names_exists():
    named = {(file, name, nb) for file, name, doc in documented()
             for nb in ANY_NOTEBOOK.findall(doc)}
    missing = sorted(item for item in named if not (NOTEBOOKS / item[2]).is_file())
    assert not missing, f"docstrings name notebooks that do not exist: {missing}"


def test_each_backlink_names_a_notebook_whose_code_uses_the_name():
    wrong = {(file, name): nb for file, name, nb in BACKLINKS
             if not ((NOTEBOOKS / nb).is_file() and mentions(code_of(nb), name))}
    unexpected = sorted((key, nb) for key, nb in wrong.items() if key not in PENDING)
    assert not unexpected, ("these back-links name a notebook whose code never mentions the name; "
                            f"point them at a notebook that uses it, or drop them: {unexpected}")
    fixed = sorted(PENDING - set(wrong))
    assert not fixed, f"fixed since (remove them from PENDING in this test): {fixed}"


def test_every_notebook_a_docstring_names_uses_the_name():
    # not only "Introduced in": "Behind the weights notebooks/11_...ipynb inspects" reads as
    # a back-link too, so any notebook a docstring names must use the documented name
    named = {(file, name, nb) for file, name, doc in documented()
             for nb in ANY_NOTEBOOK.findall(doc)}
    unused = sorted(item for item in named
                    if (NOTEBOOKS / item[2]).is_file() and not mentions(code_of(item[2]), item[1]))
    assert not unused, f"docstrings name notebooks whose code never uses the name: {unused}"


def test_a_notebook_named_in_any_form_is_checked():
    doc = "Behind the weights notebooks/11_what_it_learned.ipynb inspects."
    assert ANY_NOTEBOOK.findall(doc) == ["11_what_it_learned.ipynb"]
    assert not mentions(code_of("11_what_it_learned.ipynb"), "train_recipe")


@pytest.mark.parametrize("name, code, expected", [
    ("fit", "history = fit(net, x, y)", True), ("fit", "net.fit_many()", False),
    ("cnnlib.conv", "from cnnlib.conv import Conv2D", True),
    ("conv2d_loop", "conv2d_loop_v2(x)", False), ("Sequential", "# Sequential here", True),
])
def test_mentions(name, code, expected):
    assert mentions(code, name) is expected
