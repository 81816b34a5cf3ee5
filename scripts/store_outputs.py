"""Execute notebooks and store only the outputs nbval is meant to compare.

nbval compares a cell tagged "nbval-check-output" against the output stored in
the notebook, so those outputs must be committed; every other output (figures,
widgets, timings, progress bars) is dropped to keep the repository small and the
diffs readable.

    python scripts/store_outputs.py notebooks/03_softmax_and_cross_entropy.ipynb
    python scripts/store_outputs.py notebooks/*.ipynb

Each notebook runs top to bottom in a fresh kernel from its own folder, as
"Restart kernel and run all" would. A cell that raises stops the script, unless
it is tagged "raises-exception".
"""

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CHECK, RAISES = "nbval-check-output", "raises-exception"   # nbval's cell tags


def has_tag(cell, tag):
    return tag in cell.metadata.get("tags", [])


def is_checked(cell):
    return cell.cell_type == "code" and has_tag(cell, CHECK)


def keep_text(output):
    """Keep text outputs only: streams, and text/plain of results (no images or widgets)."""
    if output.output_type == "stream":
        return output
    if output.output_type in ("execute_result", "display_data") and "text/plain" in output.data:
        if "application/vnd.jupyter.widget-view+json" in output.data:
            return None
        output.data = {"text/plain": output.data["text/plain"]}
        output.metadata = {}
        return output
    return None


def store(path, timeout=600):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    kept = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = [o for o in map(keep_text, cell.outputs) if o is not None] if is_checked(cell) else []
        cell.outputs = outputs
        cell.metadata.pop("execution", None)     # nbclient's timestamps
        # nbval treats a stored output without an execution count as an error ("unrun").
        cell.execution_count = cell.execution_count if outputs else None
        for o in outputs:
            if o.output_type == "execute_result":
                o.execution_count = cell.execution_count
        kept += len(outputs)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return kept


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        print(f"{path}: kept {store(path)} checked outputs", flush=True)


if __name__ == "__main__":
    sys.exit(main())
