"""The notebook tools in scripts/: store_outputs.py and run_twice.py, on tiny notebooks."""
import importlib.util
from pathlib import Path

import nbformat
import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def code_cell(source):
    """A code cell; a first line "# tag: NAME" becomes the cell tag NAME."""
    first, _, rest = source.partition("\n")
    if first.startswith("# tag: "):
        return nbformat.v4.new_code_cell(rest, metadata={"tags": [first[len("# tag: "):]]})
    return nbformat.v4.new_code_cell(source)


def notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")]
    nb.cells += [code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_store_outputs_keeps_only_text_of_checked_cells(tmp_path):
    path = notebook(tmp_path / "nb.ipynb",
                    "print('not kept')",
                    "# tag: nbval-check-output\nprint('kept'); 6 * 7",
                    "# tag: nbval-check-output\nfrom IPython.display import HTML; HTML('<b>x</b>')",
                    "# tag: raises-exception\nraise ValueError('on purpose')")
    assert load("store_outputs").store(path) == 3
    cells = nbformat.read(path, as_version=4).cells
    assert cells[1].outputs == [] and cells[1].execution_count is None
    texts = [o.get("text") or o["data"]["text/plain"] for o in cells[2].outputs]
    assert texts == ["kept\n", "42"] and cells[2].execution_count is not None
    assert list(cells[3].outputs[0]["data"]) == ["text/plain"]      # HTML dropped
    assert "raises-exception" in cells[4].metadata.tags and cells[4].outputs == []
    assert all("execution" not in c.metadata for c in cells)


def test_store_outputs_stops_at_an_unexpected_error(tmp_path):
    path = notebook(tmp_path / "nb.ipynb", "1 / 0")
    with pytest.raises(Exception, match="ZeroDivisionError"):
        load("store_outputs").store(path)


def test_run_twice_finds_cells_that_break_or_change_on_a_second_run(tmp_path):
    run_twice = load("run_twice")
    good = notebook(tmp_path / "good.ipynb", "a = [1]", "# tag: nbval-check-output\nprint(len(a))")
    bad = notebook(tmp_path / "bad.ipynb", "a = [1]", "# tag: nbval-check-output\na.append(2); print(a)",
                   "b = 1", "del b")
    assert list(run_twice.problems(good)) == []
    found = list(run_twice.problems(bad))
    assert [index for index, _ in found] == [2, 4]
    assert "second run" in found[0][1] and "NameError" in found[1][1]
