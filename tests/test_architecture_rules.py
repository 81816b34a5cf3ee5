"""The package's layout rules, read from the source with ast (nothing is imported):

- the engine (cnnlib/*.py) and cnnlib.data never import cnnlib.viz, matplotlib or
  ipywidgets, so training needs NumPy and tqdm only;
- no import cycle inside cnnlib.

Imports inside functions count too; only an `if __name__ == "__main__":` block is
skipped (it runs when the file is a script, never when it is imported).
"""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "cnnlib"
PICTURES = ("cnnlib.viz", "matplotlib", "ipywidgets")


def module_name(path):
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_main_guard(node):
    """True for `if __name__ == "__main__":`."""
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def imported_modules(source, module, is_package=False, known=None):
    """The absolute names of the modules `source` (the text of `module`) imports.

    `from .x import y` in cnnlib.data counts as cnnlib.data.x and, as y may be a
    module, as cnnlib.data.x.y too; `from .. import viz` as cnnlib.viz. With `known`
    (the package's modules), `from . import name` of a known submodule counts as that
    submodule only: it does not need the package's __init__ to have finished.
    """
    package = module if is_package else module.rpartition(".")[0]
    found = set()

    def visit(node):
        if is_main_guard(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = [f"{target}.{alias.name}" for alias in node.names]
            found.update(names)
            if known is None or not all(name in known for name in names):
                found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def package_imports():
    """{module: set of cnnlib modules it imports} for every module in cnnlib."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: imported_modules(path.read_text(encoding="utf-8"), name,
                                    path.name == "__init__.py", known=set(paths))
             for name, path in paths.items()}
    return graph, set(paths)


def find_cycle(graph):
    """One import cycle as a list [a, b, ..., a], or None. graph: {module: set of modules}."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def is_picture_module(name):
    return any(name == p or name.startswith(p + ".") for p in PICTURES)


def engine_and_data_modules():
    """The engine (the files directly in cnnlib/) and cnnlib.data, with their imports."""
    graph, _ = package_imports()
    parts = {module_name(p): p.relative_to(PACKAGE).parts for p in PACKAGE.rglob("*.py")}
    chosen = {m for m, p in parts.items() if len(p) == 1 or p[0] == "data"}
    return {m: imports for m, imports in graph.items() if m in chosen}


ENGINE = engine_and_data_modules()


def test_the_rules_see_the_whole_package():
    assert {"cnnlib.conv", "cnnlib.model", "cnnlib.train", "cnnlib.data",
            "cnnlib.data.idx", "cnnlib.data.download"} <= set(ENGINE)
    assert not any(m.startswith("cnnlib.viz") for m in ENGINE)


@pytest.mark.parametrize("module", sorted(ENGINE))
def test_engine_and_data_never_import_pictures(module):
    bad = sorted(name for name in ENGINE[module] if is_picture_module(name))
    assert not bad, (f"{module} imports {bad}: the engine and cnnlib.data must run without "
                     f"matplotlib or ipywidgets; move the picture code to cnnlib.viz.")


def test_no_import_cycle_inside_cnnlib():
    graph, modules = package_imports()
    # (a package's own "from . import x" names the package itself: not an edge)
    inside = {m: {i for i in imports if i in modules and i != m} for m, imports in graph.items()}
    assert find_cycle(inside) is None, f"import cycle: {' -> '.join(find_cycle(inside))}"


# ---------------------------------------------------------------- the checks can fail

@pytest.mark.parametrize("source, module, is_package, expected", [
    ("from ..viz import plots", "cnnlib.data.idx", False, "cnnlib.viz"),
    ("from .. import viz", "cnnlib.data", True, "cnnlib.viz"),
    ("from . import viz", "cnnlib.conv", False, "cnnlib.viz"),
    ("import matplotlib.pyplot as plt", "cnnlib.conv", False, "matplotlib.pyplot"),
    ("def f():\n    from ipywidgets import IntSlider", "cnnlib.train", False, "ipywidgets"),
    ("from .viz.digits import show", "cnnlib.model", False, "cnnlib.viz.digits"),
])
def test_imports_are_resolved(source, module, is_package, expected):
    found = imported_modules(source, module, is_package)
    assert expected in found and any(is_picture_module(name) for name in found)


def test_a_known_submodule_is_not_an_import_of_its_package():
    source = "from . import download, MIRRORS"
    assert imported_modules(source, "cnnlib.data", True, known={"cnnlib.data.download"}) == \
        {"cnnlib.data", "cnnlib.data.download", "cnnlib.data.MIRRORS"}
    assert imported_modules("from . import checks", "cnnlib.threads",
                            known={"cnnlib.checks"}) == {"cnnlib.checks"}


def test_main_guard_imports_are_skipped():
    source = 'import numpy\nif __name__ == "__main__":\n    from .cli import main\n'
    assert imported_modules(source, "cnnlib.train") == {"numpy"}


def test_cycles_are_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
