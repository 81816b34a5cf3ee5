"""What deploy/class_sim.py measures and how it reports it.

Sampler walks the process tree under the hub every 0.2 s (psutil): the hub, its proxy, and
for each student (the JUPYTERHUB_USER in a process's environment) the single-user server,
which the hub started, and everything below it: the kernel and any worker it forks. Memory
is resident memory summed over a student's processes at each sample, and its peak; CPU is
each process's user + system time when last seen. table() prints one run per student;
summary() prints the course map's table from the --json files of several runs.
"""
import csv
import io
import threading
import time
from pathlib import Path

import psutil


class Sampler(threading.Thread):
    """Peak resident memory and CPU time of the hub, the proxy and each student's tree."""

    def __init__(self, hub_pid, every=0.2):
        super().__init__(daemon=True)
        self.hub, self.every, self.running = psutil.Process(hub_pid), every, True
        self.peak, self.cpu, self.owner = {}, {}, {}    # role -> MB; pid -> s; pid -> role

    def role(self, proc):
        if proc.pid not in self.owner:
            if proc.pid == self.hub.pid:
                self.owner[proc.pid] = "hub"
            elif "configurable-http-proxy" in " ".join(proc.cmdline()):
                self.owner[proc.pid] = "proxy"
            else:            # a student's server (the hub's child) or its kernel (and workers)
                user = proc.environ().get("JUPYTERHUB_USER")
                if user is None:         # forked by the hub, not yet the student's server
                    return None
                part = "server" if proc.ppid() == self.hub.pid else "kernel"
                self.owner[proc.pid] = f"{part}:{user}"
        return self.owner[proc.pid]

    def sample(self):
        now = {}
        for proc in [self.hub] + self.hub.children(recursive=True):
            try:
                with proc.oneshot():
                    role, mb = self.role(proc), proc.memory_info().rss / 2**20
                    if role is None:
                        continue
                    for key in {role, role.replace("server:", "user:").replace("kernel:", "user:")}:
                        now[key] = now.get(key, 0) + mb
                    times = proc.cpu_times()
                    self.cpu[proc.pid] = (role, times.user + times.system)
            except psutil.Error:
                continue
        for role, mb in now.items():
            self.peak[role] = max(self.peak.get(role, 0), mb)

    def cpu_of(self, role):
        return sum(t for r, t in self.cpu.values() if r == role or r.endswith(":" + role))

    def run(self):
        while self.running:
            self.sample()
            time.sleep(self.every)


def table(report):
    rows = ["| student | server ready (s) | notebook ran (s) | peak memory: all, server, kernel "
            "(MB) | CPU: all, kernel (s) | cells that raised |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in report["per_student"].items():
        rows.append(f"| {name} | {r['spawn_s']:.1f} | {r['run_s']:.1f} | {r['peak_mb']:.0f}, "
                    f"{r['server_peak_mb']:.0f}, {r['kernel_peak_mb']:.0f} | {r['cpu_s']:.1f}, {r['kernel_cpu_s']:.1f} | "
                    f"{r['cells_with_errors'] if 'failed' not in r else r['failed']} |")
    h = report["hub"]
    rows.append(f"\nservers ready after {report['all_servers_ready_s']:.1f} s; class ran in "
                f"{report['class_run_s']:.1f} s; hub {h['hub']['peak_mb']:.0f} MB, "
                f"{h['hub']['cpu_s_during_run']:.1f} s CPU during the run; proxy "
                f"{h['proxy']['peak_mb']:.0f} MB, {h['proxy']['cpu_s_during_run']:.1f} s CPU; "
                f"load {report['load_before'][0]:.2f} before, {report['load_after'][0]:.2f} after")
    if "graded" in report and report["graded"]["grader_exit"]:
        rows.append("the grader failed: " + report["graded"]["scores_csv"].strip()[-300:])
    elif "graded" in report:
        scores = csv.DictReader(io.StringIO(report["graded"]["scores_csv"]))
        rows.append(f"collected {len(report['graded']['collected'])} notebook(s) through the hub; "
                    "built-in grader: " + ", ".join(f"{Path(r['submission']).name.split('_')[0]} "
                                                    f"{r['total']}/{r['out of']}" for r in scores))
    return "\n".join(rows)


def summary(reports):
    """The course map's table: one row per run (--json files), what a class would see."""
    rows = ["| notebook | students | all servers ready (s) | notebook ran, slowest student (s) | "
            "peak memory per student, server + kernel (MB) | CPU per student, server + kernel (s) | "
            "cores the kernels got | hub + proxy memory (MB) | hub + proxy CPU during the run (s) "
            "| load before, after |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in sorted(reports, key=lambda r: (r["notebook"], r["students"])):
        s, h = list(r["per_student"].values()), r["hub"]
        server = max(x["server_peak_mb"] for x in s)
        kernel = max(x["kernel_peak_mb"] for x in s)
        kcpu = max(x["kernel_cpu_s"] for x in s)
        scpu = max(x["cpu_s"] - x["kernel_cpu_s"] for x in s)
        rows.append(
            f"| {r['notebook'][:2]} | {r['students']} | {r['all_servers_ready_s']:.0f} | "
            f"{max(x['run_s'] for x in s):.0f} | {server:.0f} + {kernel:.0f} | "
            f"{scpu:.1f} + {kcpu:.1f} | {sum(x['kernel_cpu_s'] for x in s) / r['class_run_s']:.1f} | "
            f"{h['hub']['peak_mb']:.0f} + {h['proxy']['peak_mb']:.0f} | "
            f"{h['hub']['cpu_s_during_run'] + h['proxy']['cpu_s_during_run']:.1f} | "
            f"{r['load_before'][0]:.1f}, {r['load_after'][0]:.1f} |")
    return "\n".join(rows)
