"""How long every notebook takes, alone and with other notebooks executing at the same time,
and how much memory its kernel needs: the numbers behind the shared-server section of
notebooks/README.md.

    python scripts/measure_notebooks.py [NOTEBOOK ...] [--at-once 1 2 4] [--out FILE]
                                        [--timeout 180]

For each level k of --at-once, all notebooks are executed (nbclient, a fresh kernel each,
in a copy in memory: nothing is written back) by k worker processes, so k kernels run at
once. Each notebook's wall time is measured, and its kernel's peak resident memory is read
at the end from the kernel itself (resource.getrusage, ru_maxrss), with that of the largest
worker process a split training forked (cnnlib.speed.workers.worker_peak_memory): its peak
resident memory, which counts the pages it still shares with the kernel (fork), and its
private memory, what it adds to the kernel's. The load average is
printed before and after every level: on a busy machine the times measure the machine too.
The kernels get the environment of this command (so CNNLIB_THREADS=1 applies to them).
Each notebook is printed as it finishes, so a run that stops making progress shows where;
a cell that runs longer than --timeout seconds (default 180) fails that notebook, which is
then run once more in a fresh kernel and marked "(retried)" in the table. With kernels on
TCP ports (nbclient's default) nbclient now and then saw a reply the kernel had sent only
when its wait for that cell ran out; a notebook that takes longer than --timeout is marked
"(stalled)": its time measures the harness, not the notebook, so run it again.
"""

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEAK_CODE = ("import resource as _r, cnnlib.speed.workers as _w\n"
             "print('PEAK_KB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss,"
             " *(int(v * 1024) for v in _w.worker_peak_memory()))")


def run_notebook(path, timeout=180):
    """Execute one notebook; returns (name, wall seconds, kernel peak memory in MB, (peak
    resident, private) memory of its largest training worker in MB, (0, 0) if it forked none)."""
    import nbformat
    from nbclient import NotebookClient

    from cnnlib.course.site import unix_socket_kernel

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_CODE))
    with unix_socket_kernel() as km:          # not TCP ports: see cnnlib.course.site
        client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(Path(path).parent)}})
        start = time.perf_counter()
        try:
            client.execute()
        except Exception as err:          # report the failure in the table, measure the rest
            print(f"{Path(path).name} failed: {type(err).__name__}: {str(err)[-300:]}",
                  flush=True)
            return Path(path).name, float("nan"), float("nan"), (float("nan"),) * 2
        seconds = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    peak_kb, worker_kb, private_kb = (int(v) for v in text.split("PEAK_KB")[1].split()[:3])
    return Path(path).name, seconds, peak_kb / 1024, (worker_kb / 1024, private_kb / 1024)


def load():
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def measure(paths, at_once, timeout=180):
    """{notebook name: (seconds, peak MB, worker (resident, private) MB, retried)} with
    `at_once` notebooks executing at a time. A notebook that fails (a cell past `timeout`, or an error) is run once more in a
    fresh kernel and marked as retried."""
    results = {}
    # workers are started fresh, not forked from this process
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(at_once, mp_context=context) as pool:
        pending = {pool.submit(partial(run_notebook, timeout=timeout), p): p for p in paths}
        retried = set()
        while pending:
            future = next(as_completed(pending))
            path = pending.pop(future)
            name, sec, mb, worker = future.result()
            if sec != sec and path not in retried:            # nan: failed, try once more
                retried.add(path)
                pending[pool.submit(partial(run_notebook, timeout=timeout), path)] = path
                print(f"  {at_once} at once: {name} failed, running it again", flush=True)
                continue
            results[name] = (sec, mb, worker, path in retried)
            print(f"  {at_once} at once: {name} {sec:.1f} s, {mb:.0f} MB, "
                  f"load {load()}", flush=True)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", help="default: every notebooks/NN_*.ipynb")
    p.add_argument("--at-once", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--out", default=None, help="also write the table to this file")
    p.add_argument("--timeout", type=float, default=180, help="seconds allowed per cell")
    args = p.parse_args(argv)
    paths = [str(Path(n).resolve()) for n in args.notebooks] or \
        sorted(str(n) for n in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    print(f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} cores, "
          f"CNNLIB_THREADS={os.environ.get('CNNLIB_THREADS')}", flush=True)
    runs, loads = {}, {}
    for k in args.at_once:
        before = load()
        start = time.perf_counter()
        runs[k] = measure(paths, k, args.timeout)
        loads[k] = (before, load(), time.perf_counter() - start)
        print(f"{k} at once: {loads[k][2]:.0f} s in all, load average {before} -> {loads[k][1]}",
              flush=True)
    head = " | ".join(f"{k} at once (s)" if k > 1 else "alone (s)" for k in args.at_once)
    lines = [f"| notebook | {head} | peak memory per kernel (MB) | its training worker, "
             f"resident / private (MB) |",
             "|---|" + "---:|" * (len(args.at_once) + 2)]
    for path in paths:
        name = Path(path).name
        cells = " | ".join(f"{runs[k][name][0]:.0f}{' (retried)' if runs[k][name][3] else ''}"
                           f"{' (stalled)' if runs[k][name][0] > args.timeout else ''}"
                           for k in args.at_once)
        peak = max(runs[k][name][1] for k in args.at_once)
        res, own = (max(runs[k][name][2][i] for k in args.at_once) for i in (0, 1))
        lines.append(f"| {name} | {cells} | {peak:.0f} | "
                     f"{f'{res:.0f} / {own:.0f}' if res else '-'} |")
    totals = " | ".join(f"{sum(v[0] for v in runs[k].values()):.0f}" for k in args.at_once)
    lines.append(f"| all, one after the other | {totals} | | |")
    lines.append("")
    lines += [f"load average (1/5/15 min) {'alone' if k == 1 else f'{k} at once'}: "
              f"{loads[k][0]} before, {loads[k][1]} after ({loads[k][2]:.0f} s wall)"
              for k in args.at_once]
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    sys.exit(main())
