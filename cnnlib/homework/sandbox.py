"""The grader's two sandboxes, each a separate process with resource limits.

    python -m cnnlib.homework.sandbox run NOTEBOOK RESULT.json CELL_S TOTAL_S MEMORY_MB MAX_OUT
        executes a copy of a submission in a fresh kernel (the kernel inherits the memory
        limit); writes how far it got to RESULT.json.
    python -m cnnlib.homework.sandbox score JOB.json
        executes only a submission's answer cell in a fresh namespace, runs the answer on
        the cases' inputs (JOB's npz) and writes the raw outputs (npz) and errors (json).
        It never compares anything: the grader does, in a process no submission touched.

Only JSON and .npz (allow_pickle=False) cross the process boundary: nothing is unpickled.
"""

import json
import os
import resource
import sys
import time


def limit_memory(megabytes):
    """Cap the address space of this process and every child it starts."""
    limit = int(megabytes) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class OutputTooLarge(Exception):
    pass


def run_notebook(path, result_path, cell_timeout, total_timeout, memory_mb, max_output):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    class Capped(NotebookClient):
        seen = 0

        def process_message(self, msg, cell, cell_index):
            if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
                Capped.seen += len(json.dumps(msg["content"]))
                if Capped.seen > max_output:
                    raise OutputTooLarge(cell_index)
            return super().process_message(msg, cell, cell_index)

    limit_memory(memory_mb)
    nb = nbformat.read(path, as_version=4)
    folder = os.path.dirname(os.path.abspath(path))
    client = Capped(nb, timeout=int(cell_timeout), allow_errors=True, kernel_name="python3",
                    resources={"metadata": {"path": folder}})
    start, result = time.monotonic(), {"status": "ok", "cell": None, "detail": ""}
    index = -1
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = total_timeout - (time.monotonic() - start)
                if remaining <= 0:
                    result = {"status": "total time limit", "cell": index,
                              "detail": f"the notebook took more than {total_timeout:g} s"}
                    break
                client.timeout = max(1, int(min(cell_timeout, remaining)))
                client.execute_cell(cell, index)
                errors = [o for o in cell.outputs if o.get("output_type") == "error"]
                if "raises-exception" in cell.metadata.get("tags", []):
                    errors = []                  # the course's deliberate error demos
                if errors and result["status"] == "ok":
                    result = {"status": "error", "cell": index,
                              "detail": f"{errors[0]['ename']}: {errors[0]['evalue']}"[:300]}
    except CellTimeoutError:
        result = {"status": "timeout", "cell": index,
                  "detail": f"a cell ran longer than {client.timeout} s"}
    except DeadKernelError:
        result = {"status": "kernel died", "cell": index,
                  "detail": "the kernel crashed or exited (os._exit, segfault, memory)"}
    except OutputTooLarge:
        result = {"status": "output too large", "cell": index,
                  "detail": f"more than {max_output // 1024} kB of output"}
    except Exception as err:                                   # report, never hang the grader
        result = {"status": "could not run", "cell": index, "detail": f"{type(err).__name__}: {err}"}
    result["seconds"] = round(time.monotonic() - start, 1)
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


def score(job_path):
    import numpy as np
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    limit_memory(job["memory_mb"])
    resource.setrlimit(resource.RLIMIT_CPU, (int(job["cpu_seconds"]),) * 2)
    with np.load(job["inputs"], allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    cases = [{k.split("/", 1)[1]: _plain(v) for k, v in arrays.items()
              if k.split("/", 1)[0] == str(i)} for i in range(job["n_cases"])]
    out_fd = os.dup(1)                       # results go here; the answer's prints go nowhere
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from . import exercises
    from .checks import run_case
    from .guard import calls_reference, tripwires
    ex = exercises.get(job["exercise"])
    meta, outputs = {"errors": [], "calls_reference": ""}, {}
    namespace = {"__name__": "__homework_answer__"}
    try:
        exec(compile(job["source"], "<answer cell>", "exec"), namespace)
        obj = namespace.get(ex.name)
        if obj is None:
            meta["errors"] = [f"the answer cell does not define {ex.name}"] * job["n_cases"]
        else:
            meta["calls_reference"] = calls_reference(ex, obj)
            for i, inputs in enumerate(cases):
                with tripwires(ex, [namespace]):
                    got, error = run_case(ex.id, obj, inputs)
                meta["errors"].append(error)
                for key, value in (got or {}).items():
                    value = np.asarray(value) if value is not None else None
                    if value is not None and value.dtype.kind in "fiub":
                        outputs[f"{i}/{key}"] = value
    except BaseException as err:             # the answer cell itself failed
        meta["errors"] = [f"the answer cell raised {type(err).__name__}: {err}"[:300]]
    with open(job["outputs"], "wb") as f:
        np.savez(f, **outputs)
    os.write(out_fd, json.dumps(meta).encode())
    os._exit(0)                              # no atexit hooks from the answer's code


def _plain(value):
    if value.ndim == 0 and value.dtype.kind in "iu":
        return int(value)
    if value.ndim == 0 and value.dtype.kind == "f":
        return float(value)
    return value


if __name__ == "__main__":
    if sys.argv[1] == "run":
        p, r, c, t, m, o = sys.argv[2:8]
        run_notebook(p, r, float(c), float(t), int(m), int(o))
    elif sys.argv[1] == "score":
        score(sys.argv[2])
