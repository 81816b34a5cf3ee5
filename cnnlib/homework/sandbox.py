"""What runs on the untrusted side of the grader, always under cnnlib.homework.supervise
(its own session, limits, an unprivileged user when the grader is root).

    python -B -m cnnlib.homework.sandbox run NOTEBOOK CELL_S TOTAL_S MAX_OUT
        executes a copy of a submission in a fresh kernel; writes how far it got, as JSON,
        to its standard output (a copy of it kept from the kernel, so the notebook cannot
        write there).
    python -I -S -B -c "<sys.path = grading build + site-packages>; grade_main()"
        reads a job (one JSON line, then the cases' inputs as .npz) from its standard
        input, runs the cells the answer needs in an IPython InteractiveShell, calls the
        answer on every case and writes the raw outputs (.npz) and errors (JSON) back.
        It imports the grading build of cnnlib, in which the solutions are removed, and
        compares nothing: the grader does, in its own process.

Only JSON and .npz (allow_pickle=False) cross the process boundary: nothing is unpickled.
"""

import io
import json
import os
import struct
import sys
import time


class OutputTooLarge(Exception):
    pass


def _private_stdout():
    """A copy of fd 1 that children do not inherit; fds 1 and 2 then go to /dev/null."""
    out = os.dup(1)                        # os.dup makes it non-inheritable
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    return out


def run_notebook(path, cell_timeout, total_timeout, max_output):
    out_fd = _private_stdout()
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

    start, result, index = time.monotonic(), {"status": "ok", "cell": None, "detail": ""}, -1
    try:
        nb = nbformat.read(path, as_version=4)
        folder = os.path.dirname(os.path.abspath(path))
        client = Capped(nb, timeout=int(cell_timeout), allow_errors=True,
                        kernel_name="python3", resources={"metadata": {"path": folder}})
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
    os.write(out_fd, json.dumps(result).encode())
    os._exit(0)                          # do not wait for a kernel the notebook left behind


# ---------------------------------------------------------------- grading one exercise
def pack(meta, arrays):
    """meta (JSON) and arrays (.npz) in one byte string: 8-byte length, JSON, npz."""
    import numpy as np
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    head = json.dumps(meta).encode()
    return struct.pack("<Q", len(head)) + head + buf.getvalue()


def unpack(data, max_json=1_000_000):
    """(meta, {name: array}) from pack's bytes; ValueError if malformed."""
    import numpy as np
    if len(data) < 8:
        raise ValueError("no result")
    n = struct.unpack("<Q", data[:8])[0]
    if n > max_json or 8 + n > len(data):
        raise ValueError("malformed result")
    meta = json.loads(data[8:8 + n].decode())
    with np.load(io.BytesIO(data[8 + n:]), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return meta, arrays


def grade_main():
    """The grading process: see the module docstring."""
    import numpy as np
    stdin = sys.stdin.buffer
    job = json.loads(stdin.readline().decode())
    with np.load(io.BytesIO(stdin.read()), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    out_fd = _private_stdout()
    cases = [{k.split("/", 1)[1]: _plain(v) for k, v in arrays.items()
              if k.split("/", 1)[0] == str(i)} for i in range(job["n_cases"])]
    meta = {"errors": [], "cells": {}, "answer_error": ""}
    outputs = {}
    try:
        obj = _run_context(job, meta)
        if obj is None:
            meta["errors"] = [meta["answer_error"] or
                              f"the answer cell does not define {job['name']}"] * len(cases)
        else:
            from .runners import RUNNERS
            for i, inputs in enumerate(cases):
                work = {k: (np.copy(v) if isinstance(v, np.ndarray) else v)
                        for k, v in inputs.items()}
                error = None
                try:
                    with np.errstate(all="ignore"):
                        got = RUNNERS[job["exercise"]](obj, work)
                except NotImplementedError:
                    got, error = None, "not implemented"
                except BaseException as err:           # noqa: B902 the student's code
                    got, error = None, f"{type(err).__name__}: {err}"[:500]
                meta["errors"].append(error)
                for key, value in (got or {}).items():
                    try:
                        value = np.asarray(value) if value is not None else None
                    except Exception:
                        value = None
                    if value is not None and value.dtype.kind in "fiub":
                        outputs[f"{i}/{key}"] = value
                for key, value in work.items():      # the inputs after the call
                    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
                        outputs[f"{i}/input after: {key}"] = value
    except BaseException as err:               # noqa: B902
        meta["errors"] = [f"the grading process stopped: {type(err).__name__}: {err}"[:500]]
    os.write(out_fd, pack(meta, outputs))
    os._exit(0)                              # no atexit hooks from the answer's code


def _run_context(job, meta):
    """Run the cells the answer needs; return the answer object (captured right after its
    own cell ran) or None."""
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    obj = None
    for index, source in job["cells"]:
        res = shell.run_cell(source, store_history=False, silent=True)
        err = res.error_before_exec or res.error_in_exec
        if err is not None:
            meta["cells"][str(index)] = f"{type(err).__name__}: {err}"[:300]
        if index == job["answer"]:
            obj = shell.user_ns.get(job["name"])
            if err is not None:
                meta["answer_error"] = f"the answer cell raised {type(err).__name__}: {err}"[:500]
                if not _defined_here(obj, job):
                    obj = None
    return obj


def _defined_here(obj, job):
    """True if obj is a function or class made by the notebook (not cnnlib's)."""
    mod = getattr(obj, "__module__", "") or ""
    return obj is not None and not mod.startswith("cnnlib")


def _plain(value):
    if value.ndim == 0 and value.dtype.kind in "iu":
        return int(value)
    if value.ndim == 0 and value.dtype.kind == "f":
        return float(value)
    return value


if __name__ == "__main__":
    if sys.argv[1] == "run":
        p, c, t, o = sys.argv[2:6]
        run_notebook(p, float(c), float(t), int(o))
