"""A simulated class on a real JupyterHub, measured: python deploy/class_sim.py --students 2

Starts the hub of deploy/jupyterhub_config.py in its local setup (CLASS_HUB=local) on
127.0.0.1 in a temporary folder, creates N students through the hub's REST API, starts all
their servers at once, and then, all at the same time, every student opens JupyterLab and
runs a notebook of their own (the homework copy deploy/singleuser.py handed out; default 03)
through the hub's proxy: a session, its kernel's websocket, every code cell, the notebook
saved. Meanwhile
the process tree under the hub is sampled (psutil, every 0.2 s). It reports per student the
time to start the server and to run the notebook, the peak memory (resident, summed over
the student's server, kernel and any worker the kernel forks) and CPU time, and the hub's
own overhead (hub and proxy: peak memory, CPU time). --json writes it all; --grade also
collects the notebooks and grades them with the built-in grader. Needs jupyterhub
(pip install -r deploy/requirements.txt) and the proxy (npm ci --prefix deploy, which
this script runs when npm is there and the proxy is not).
"""
import argparse
import importlib.util
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import websocket

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from class_measure import Sampler, summary, table  # noqa: E402
from classroom import HOMEWORK, Hub, collect  # noqa: E402

PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"


def ensure_proxy():
    """The proxy's path; installs it from deploy/package-lock.json with npm when missing."""
    if not PROXY.exists():
        npm = shutil.which("npm")
        if not npm:
            raise RuntimeError("configurable-http-proxy is not installed and npm is not found: "
                               "install Node.js and npm, then run npm ci --prefix deploy")
        done = subprocess.run([npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"],
                              capture_output=True, text=True, timeout=600)
        if not PROXY.exists():
            raise RuntimeError(f"npm ci --prefix deploy did not install the proxy: "
                               f"{(done.stderr or done.stdout).strip()[-500:]}")
    return PROXY


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_hub(state, token, log, setup="local"):
    """Start deploy/jupyterhub_config.py's hub (setup: local or school) on free ports of
    127.0.0.1 with its state in state; returns (its process, its URL) once it answers."""
    ports = {"CLASS_HUB_PORT": free_port(), "CLASS_HUB_HUB_PORT": free_port(),
             "CLASS_HUB_PROXY_API_PORT": free_port()}
    url = f"http://127.0.0.1:{ports['CLASS_HUB_PORT']}"
    env = {**os.environ, "CLASS_HUB": setup, "CLASS_HUB_DIR": str(state), "CLASS_HUB_URL": url,
           "CLASS_HUB_API_TOKEN": token, **{k: str(v) for k, v in ports.items()}}
    hub = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f",
                            str(HERE / "jupyterhub_config.py")], cwd=state, env=env,
                           stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        if hub.poll() is not None:
            raise RuntimeError(f"the hub stopped at start (exit {hub.returncode}); see {log.name}")
        try:
            if requests.get(f"{url}/hub/api/", timeout=2).ok:
                return hub, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the hub did not answer within 120 s; see {log.name}")


def student(hub, name, notebook):
    """One student: their own token (as logging in gives), their notebook run in their server."""
    server = hub.server(name, hub.token_for(name, "class_sim"))
    lab = server.http.get(f"{server.base}/lab/tree/{HOMEWORK}", timeout=120)  # as a browser opens it
    began = time.monotonic()
    try:
        _, errors, probe = server.run_notebook(f"{HOMEWORK}/{notebook}", probe=PROBE)
    except (websocket.WebSocketException, OSError, RuntimeError) as err:
        # reported, not raised: the other students' figures still count (one run in seven
        # on the crowded 2-core machine lost a kernel's websocket once)
        return {"run_s": time.monotonic() - began, "cells_with_errors": None, "kernel": None,
                "failed": f"{type(err).__name__}: {str(err)[:200]}"}
    return {"run_s": time.monotonic() - began, "cells_with_errors": errors,
            "kernel": json.loads(probe), "lab_page": [lab.status_code, "JupyterLab" in lab.text]}


# Run in each student's kernel after the notebook: what the threading policy gave it.
PROBE = """import json, os, cnnlib, threadpoolctl
from cnnlib.speed.threads import num_threads
print(json.dumps({"cnnlib_threads": num_threads(), "blas_threads": sorted({p["num_threads"]
      for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"}),
      "cwd": os.getcwd(), "cnnlib": cnnlib.__file__, "user": os.environ["JUPYTERHUB_USER"]}))"""


def simulate(n, notebook, state, grade=False):
    ensure_proxy()
    token, names = secrets.token_hex(32), [f"student{i + 1:02d}" for i in range(n)]
    report = {"students": n, "notebook": notebook, "cpus": os.cpu_count(),
              "machine": platform.processor() or platform.machine(),
              "load_before": os.getloadavg(),
              "uptime_before": subprocess.run(["uptime"], capture_output=True,
                                              text=True).stdout.strip()}
    with open(state / "hub.log", "wb") as log:
        hub_proc, url = start_hub(state, token, log)
        sampler = Sampler(hub_proc.pid)
        sampler.start()
        try:
            hub = Hub(url, token)
            hub.create_users(names)
            began = time.monotonic()

            def arrive(name):                         # the whole class logs in at once
                hub.start(name)                       # returns when ready or after 10 s
                hub.wait_ready(name)
                return time.monotonic() - began

            with ThreadPoolExecutor(n) as pool:
                spawn = dict(zip(names, pool.map(arrive, names)))
            report["all_servers_ready_s"] = max(spawn.values())
            hub_cpu0 = {r: sampler.cpu_of(r) for r in ("hub", "proxy")}
            began = time.monotonic()
            with ThreadPoolExecutor(n) as pool:
                runs = dict(zip(names, pool.map(lambda s: student(hub, s, notebook), names)))
            report["class_run_s"] = time.monotonic() - began
            sampler.sample()
            report["per_student"] = {name: {"spawn_s": spawn[name], **runs[name],
                                            "peak_mb": sampler.peak.get(f"user:{name}", 0),
                                            "server_peak_mb": sampler.peak.get(f"server:{name}", 0),
                                            "kernel_peak_mb": sampler.peak.get(f"kernel:{name}", 0),
                                            "cpu_s": sampler.cpu_of(name),
                                            "kernel_cpu_s": sampler.cpu_of(f"kernel:{name}")}
                                     for name in names}
            report["hub"] = {r: {"peak_mb": sampler.peak.get(r, 0), "cpu_s": sampler.cpu_of(r),
                                 "cpu_s_during_run": sampler.cpu_of(r) - hub_cpu0[r]}
                             for r in ("hub", "proxy")}
            if grade:
                report["graded"] = grade_class(hub, notebook[:2], state)
        finally:
            sampler.running = False
            hub_proc.terminate()
            try:
                hub_proc.wait(60)
            except subprocess.TimeoutExpired:
                hub_proc.kill()
    report["load_after"] = os.getloadavg()
    report["uptime_after"] = subprocess.run(["uptime"], capture_output=True,
                                            text=True).stdout.strip()
    return report


def grade_class(hub, number, state):
    """Collect every student's notebook through the API and grade them (built-in grader)."""
    paths = collect(hub, number, state / "submissions")
    done = subprocess.run([sys.executable, "-m", "cnnlib.homework", "grade", *map(str, paths),
                           "--csv", str(state / "scores.csv"), "--no-execute"],
                          capture_output=True, text=True, timeout=600)
    return {"collected": [p.name for p in paths], "grader_exit": done.returncode,
            "scores_csv": (state / "scores.csv").read_text() if (state / "scores.csv").exists()
            else done.stderr[-1000:]}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python deploy/class_sim.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=2)
    parser.add_argument("--notebook", default="03_softmax_and_cross_entropy.ipynb",
                        help="a notebook of homework/student/ (default: %(default)s)")
    parser.add_argument("--json", help="also write the measurements to this file")
    parser.add_argument("--grade", action="store_true",
                        help="collect the notebooks through the API and grade them")
    parser.add_argument("--keep", action="store_true", help="keep the hub's folder (logs)")
    parser.add_argument("--summary", nargs="+", metavar="JSON",
                        help="print the course map's table from earlier --json files, run nothing")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary([json.loads(Path(p).read_text(encoding="utf-8")) for p in args.summary]))
        return 0
    if args.students < 1:
        parser.error("--students must be 1 or more")
    if not (HERE.parent / "homework" / "student" / args.notebook).exists():
        parser.error(f"no homework/student/{args.notebook}")
    if importlib.util.find_spec("jupyterhub") is None:
        print(f"error: jupyterhub is not installed for {sys.executable}: "
              "pip install -r deploy/requirements.txt", file=sys.stderr)
        return 1
    state = Path(tempfile.mkdtemp(prefix="class-hub-"))
    try:
        report = simulate(args.students, args.notebook, state, args.grade)
    except (RuntimeError, TimeoutError, OSError, requests.RequestException) as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        args.keep = True                           # keep the hub's log for the reader
        return 1
    finally:
        if args.keep:
            print(f"the hub's folder (hub.log, homes): {state}", file=sys.stderr)
        else:
            shutil.rmtree(state, ignore_errors=True)
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
