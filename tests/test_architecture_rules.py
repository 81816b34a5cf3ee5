"""The package's layout rules, read from the source with ast:

- cnnlib/ itself holds the teaching engine and its entry points only (ENGINE, ENTRY_POINTS);
  speed-ups go to cnnlib/speed/, tooling to cnnlib/course/ or cnnlib/homework/;
- the engine, cnnlib.data and cnnlib.speed never import cnnlib.viz, matplotlib or
  ipywidgets (training needs NumPy and tqdm only), nor the tooling (homework, course);
- only the seams (train, model, architectures) and the package's entry points (its
  __init__ and cli, which apply the threading policy) import cnnlib.speed;
- the engine never imports its entry points (cli, recipes): nothing below imports what is
  above it;
- no import cycle inside cnnlib, counting `if __name__ == "__main__":` blocks too (a module
  that runs the command line as a script still depends on it);
- no notebook displays (show_source) code from cnnlib/speed/;
- every name a notebook imports from a cnnlib module is in that module's __all__.

Imports inside functions count too. Each rule is a function that returns its violations,
and the tests at the end show each one catching a violation.
"""
import ast
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "cnnlib"
PICTURES = ("cnnlib.viz", "matplotlib", "ipywidgets")
TOOLING = ("cnnlib.homework", "cnnlib.course")
SPEED = "cnnlib.speed"
# the teaching engine, one module per idea, in cnnlib/ itself
ENGINE_MODULES = {f"cnnlib.{m}" for m in (
    "architectures", "attacks", "augment", "checks", "conv", "diagnose", "files", "gradcheck", "im2col",
    "layers", "losses", "metrics", "model", "optim", "pool", "saliency", "train",
    "batchnorm", "dropout", "residual", "schedules")}      # the last four: notebook 12
# what runs the engine: the package, python -m cnnlib, the recipes the command line takes and
# the checkpoints of their runs
ENTRY_POINTS = {"cnnlib", "cnnlib.__main__", "cnnlib.cli", "cnnlib.recipes", "cnnlib.checkpoint"}
# the engine modules that may import cnnlib.speed (train: the seam split_batches and
# forward_split; model: forward_split; architectures: FFTConv2D), and the entry points that
# apply its threading policy
SPEED_SEAMS = {"cnnlib.train", "cnnlib.model", "cnnlib.architectures", "cnnlib", "cnnlib.cli"}


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


def imported_modules(source, module, is_package=False, known=None, skip_main=True):
    """The absolute names of the modules `source` (the text of `module`) imports.

    `from .x import y` in cnnlib.data counts as cnnlib.data.x and, as y may be a
    module, as cnnlib.data.x.y too; `from .. import viz` as cnnlib.viz. With `known`
    (the package's modules), `from . import name` of a known submodule counts as that
    submodule only: it does not need the package's __init__ to have finished.
    """
    package = module if is_package else module.rpartition(".")[0]
    found = set()

    def visit(node):
        if skip_main and is_main_guard(node):
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


def package_imports(skip_main=True):
    """{module: set of modules it imports} for every module in cnnlib, and the module names."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: imported_modules(path.read_text(encoding="utf-8"), name,
                                    path.name == "__init__.py", known=set(paths),
                                    skip_main=skip_main)
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
    graph, modules = package_imports(skip_main=False)
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


def test_main_guard_imports_are_skipped_only_when_asked():
    source = 'import numpy\nif __name__ == "__main__":\n    from .cli import main\n'
    assert imported_modules(source, "cnnlib.train") == {"numpy"}
    assert imported_modules(source, "cnnlib.train", skip_main=False) == \
        {"numpy", "cnnlib.cli", "cnnlib.cli.main"}


def test_the_old_command_line_alias_was_a_cycle():
    # train.py used to end with the command line's alias; counted, it closes a circle
    graph, modules = package_imports(skip_main=False)
    inside = {m: {i for i in imports if i in modules and i != m} for m, imports in graph.items()}
    inside["cnnlib.train"] = inside["cnnlib.train"] | {"cnnlib.cli"}
    assert find_cycle(inside) is not None


def test_cycles_are_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


# ---------------------------------------------------------------- the layers of the package

def is_under(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def top_level_violations(modules):
    """Modules directly in cnnlib/ that are neither engine nor entry point."""
    top = {m for m in modules if m.count(".") <= 1 and not is_under(m, (
        "cnnlib.data", "cnnlib.viz", "cnnlib.speed", "cnnlib.homework", "cnnlib.course"))}
    return sorted(top - ENGINE_MODULES - ENTRY_POINTS)


def tooling_violations(graph):
    """(module, import) where the engine, cnnlib.data or cnnlib.speed imports pictures or
    tooling."""
    low = {m for m in graph if m in ENGINE_MODULES or is_under(m, ("cnnlib.data", SPEED))}
    return sorted((m, i) for m in low for i in graph[m]
                  if is_under(i, TOOLING) or is_picture_module(i))


def speed_violations(graph):
    """(module, import) where a module outside the speed wing and its seams imports it."""
    return sorted((m, i) for m, imports in graph.items() for i in imports
                  if is_under(i, (SPEED,)) and not is_under(m, (SPEED,))
                  and m not in SPEED_SEAMS)


def layer_violations(graph):
    """(module, import) where the engine imports one of its entry points."""
    return sorted((m, i) for m in ENGINE_MODULES & set(graph) for i in graph[m]
                  if is_under(i, ENTRY_POINTS - {"cnnlib"}))


GRAPH, MODULES = package_imports(skip_main=False)


def test_the_top_level_holds_the_engine_and_its_entry_points_only():
    assert ENGINE_MODULES | ENTRY_POINTS <= MODULES
    assert not top_level_violations(MODULES), (
        f"{top_level_violations(MODULES)} sit in cnnlib/ beside the teaching engine: put a "
        f"speed-up in cnnlib/speed/, course tooling in cnnlib/course/ (or cnnlib/homework/), "
        f"or, if it is engine a notebook teaches, add it to ENGINE_MODULES here.")


def test_the_engine_data_and_speed_never_import_pictures_or_tooling():
    assert not tooling_violations(GRAPH), tooling_violations(GRAPH)


def test_only_the_seams_import_the_speed_wing():
    assert not speed_violations(GRAPH), (
        f"{speed_violations(GRAPH)}: only {sorted(SPEED_SEAMS)} may import cnnlib.speed.")


def test_the_engine_never_imports_its_entry_points():
    assert not layer_violations(GRAPH), layer_violations(GRAPH)


def test_the_layer_rules_catch_violations():
    assert top_level_violations(MODULES | {"cnnlib.site"}) == ["cnnlib.site"]
    assert tooling_violations({"cnnlib.conv": {"cnnlib.homework.checks"},
                               "cnnlib.speed.steps": {"matplotlib.pyplot"},
                               "cnnlib.viz.show": {"cnnlib.homework.source"}}) == \
        [("cnnlib.conv", "cnnlib.homework.checks"), ("cnnlib.speed.steps", "matplotlib.pyplot")]
    assert speed_violations({"cnnlib.conv": {"cnnlib.speed.fftconv"},
                             "cnnlib.viz.trained": {"cnnlib.speed.parallel"},
                             "cnnlib.train": {"cnnlib.speed.steps"},
                             "cnnlib.speed.steps": {"cnnlib.speed.parallel"}}) == \
        [("cnnlib.conv", "cnnlib.speed.fftconv"), ("cnnlib.viz.trained", "cnnlib.speed.parallel")]
    assert layer_violations({"cnnlib.train": {"cnnlib.cli.main"},
                             "cnnlib.cli": {"cnnlib.train"}}) == [("cnnlib.train", "cnnlib.cli.main")]


# ---------------------------------------------------------------- what notebooks see

NOTEBOOK_PATHS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")) + \
    sorted((REPO / "homework" / "student").glob("[0-9][0-9]_*.ipynb"))


def notebook_code(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def cnnlib_imports(code):
    """{name: module} for every `from cnnlib... import name` in code (cells that do not
    parse are skipped one by one)."""
    found = {}
    for chunk in code.split("\n\n"):
        try:
            tree = ast.parse(chunk)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnnlib"):
                found.update({a.asname or a.name: node.module for a in node.names})
    return found


def shown_objects(code):
    """(expression, object) for every show_source(expression) in code whose expression is a
    name (or name.attr) imported from cnnlib."""
    imports, shown = cnnlib_imports(code), []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_source":
            expr = ast.unparse(node.args[0])
            root, *attrs = expr.split(".")
            if root in imports:
                obj = getattr(importlib.import_module(imports[root]), root)
                for attr in attrs:
                    obj = getattr(obj, attr)
                shown.append((expr, obj))
    return shown


def speed_sources_shown(code):
    """The show_source expressions in code whose source lives in cnnlib/speed/."""
    speed = PACKAGE / "speed"
    return [expr for expr, obj in shown_objects(code)
            if speed in Path(inspect.getsourcefile(inspect.unwrap(obj))).resolve().parents]


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_notebook_shows_the_speed_wing(path):
    code = notebook_code(path)
    assert not speed_sources_shown(code), (
        f"{path.name} shows {speed_sources_shown(code)} from cnnlib/speed/: notebooks show "
        f"teaching code; show the plain version it is tested against instead.")


def test_the_notebooks_show_sources_at_all():
    shown = [expr for p in NOTEBOOK_PATHS for expr, _ in shown_objects(notebook_code(p))]
    assert {"train_step", "fit", "conv2d_im2col", "Conv2D.forward"} <= set(shown)


def test_a_shown_speed_source_is_caught():
    code = ("from cnnlib.speed.fftconv import FFTConv2D\n"
            "from cnnlib.conv import Conv2D\n"
            "show_source(FFTConv2D.forward)\nshow_source(Conv2D.forward)")
    assert speed_sources_shown(code) == ["FFTConv2D.forward"]


def missing_from_all(code):
    """(module, name) for every name code imports from a cnnlib module whose __all__ lacks it
    (or that has no __all__)."""
    return sorted((module, name) for name, module in cnnlib_imports(code).items()
                  if name not in getattr(importlib.import_module(module), "__all__", ()))


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda p: p.name)
def test_every_name_a_notebook_imports_is_in_the_modules_all(path):
    assert not missing_from_all(notebook_code(path))


def test_a_name_missing_from_all_is_caught():
    assert missing_from_all("from cnnlib.conv import Conv2D, check_conv_args") == \
        [("cnnlib.conv", "check_conv_args")]


# ---------------------------------------------------------------- the engine without pictures

# Run first in a fresh Python: every import of matplotlib or ipywidgets fails, as where they
# are not installed.
BLOCK_PICTURES = """
import sys
class NoPictures:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("matplotlib", "ipywidgets"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None
sys.meta_path.insert(0, NoPictures())
"""


def run_without_pictures(code, timeout=300):
    return subprocess.run([sys.executable, "-c", BLOCK_PICTURES + code], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def test_the_engine_imports_and_trains_without_matplotlib():
    low = sorted(m for m in MODULES if m in ENGINE_MODULES | ENTRY_POINTS - {"cnnlib.__main__"}
                 or is_under(m, ("cnnlib.data", SPEED)))     # (__main__ would run the CLI)
    code = (f"import importlib\nfor m in {low!r}:\n    importlib.import_module(m)\n"
            "import numpy as np\nfrom cnnlib.architectures import lenet\n"
            "from cnnlib.train import fit\n"
            "x = np.random.default_rng(0).normal(size=(64, 1, 28, 28)).astype(np.float32)\n"
            "h = fit(lenet(), x, np.arange(64) % 10, epochs=1, progress=False)\n"
            "print(len(h['batch_loss']))")
    done = run_without_pictures(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1"]


def test_engine_tests_run_without_matplotlib():
    # conftest.py must not need matplotlib: run two engine test files through pytest
    code = ("import pytest\nsys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-x', "
            "'tests/test_losses.py', 'tests/test_optim.py']))")
    done = run_without_pictures(code)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


def test_the_blocker_blocks():
    done = run_without_pictures("import cnnlib.viz.digits")
    assert done.returncode != 0 and "blocked by the test" in done.stderr
