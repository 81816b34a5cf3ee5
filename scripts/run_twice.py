"""Check that running any cell of a notebook a second time does no harm.

Students re-run cells all the time. This executes a notebook top to bottom in a
fresh kernel, running every code cell twice in a row, and reports each cell whose
second run raised an error, or (for cells tagged "nbval-check-output") printed
something different from its first run.

    python scripts/run_twice.py notebooks/*.ipynb

Exit status 1 if any notebook has such a cell.
"""

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

CHECK, RAISES = "nbval-check-output", "raises-exception"   # nbval's cell tags


def has_tag(cell, tag):
    return tag in cell.metadata.get("tags", [])


def text_of(outputs):
    parts = []
    for out in outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"])
    return "".join(parts)


def problems(path, timeout=600):
    """Yield (cell index, what went wrong) for one notebook."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(path).parent)}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            runs = []
            for attempt in (1, 2):
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as err:
                    if not has_tag(cell, RAISES):
                        yield index, f"run {attempt} raised: {str(err).splitlines()[-1]}"
                        break
                runs.append(text_of(cell.outputs))
            if len(runs) == 2 and has_tag(cell, CHECK) and runs[0] != runs[1]:
                yield index, "a checked cell printed something else on its second run"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    bad = 0
    for path in args.notebooks:
        found = list(problems(path))
        bad += len(found)
        print(f"{path}: {'ok' if not found else f'{len(found)} problem(s)'}", flush=True)
        for index, what in found:
            print(f"  cell {index}: {what}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
