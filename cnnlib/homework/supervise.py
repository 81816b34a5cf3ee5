"""The supervisor of one submission: runs its steps (the notebook run, one grading process
per exercise) and makes sure nothing they start outlives them.

    python -B -m cnnlib.homework.supervise < JOB.json > RESULT.json

It marks itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a process that a step
double-forks away is re-parented to the supervisor instead of to init; every step runs in
a session of its own with limits on memory, CPU time and core files; after each step every
descendant is killed (and, when the steps run as a user of their own, every process of that
user), and the supervisor checks that none is left. When the grader runs as root, the steps
run as an unprivileged user id that owns nothing but the submission's work folder, so they
cannot write the package, site-packages, the grader's files or another submission's folder,
nor signal the grader.

When the steps run as a user of their own, each runs chrooted in a minimal root of its own
(minimal_root: a mount namespace with the system folders, the interpreter, site-packages
and the submission's folder, nothing else: not /root, not the teacher's checkouts of cnnlib
with the solutions and model answers, not other submissions' folders); a step with
"network": false also gets a network namespace with no interface up.

JOB: {"cwd", "env", "uid" (or null), "keep", "newroot", "out_dir", "steps": [{"name", "argv", "stdin" (a
file or null), "timeout", "memory_mb", "cpu_seconds", "max_out"}]}. Each step's standard
output goes to out_dir/<name>.out (at most max_out bytes); RESULT says for each step its
exit code and whether it timed out, and lists any survivors.
"""

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper(on=True):
    """Re-parent orphaned descendants to this process (Linux); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def processes():
    """{pid: (ppid, uid, name)} of every process, from /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            uid = os.stat(f"/proc/{entry}").st_uid
        except (OSError, ValueError, IndexError):
            continue
        out[int(entry)] = (ppid, uid, name)
    return out


def descendants(root, procs=None):
    procs = procs if procs is not None else processes()
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def kill_tree(root, uid=None, rounds=50):
    """SIGKILL every descendant of root (and every process of uid, if given) until none is
    left; reap what becomes our zombie. Returns the survivors as [(pid, name)]."""
    for _ in range(rounds):
        if uid is not None:
            _kill_user(uid)
        procs = processes()
        left = [p for p in descendants(root, procs) if not _zombie(p)]
        if uid is not None:
            left += [p for p, (_, u, _) in procs.items() if u == uid and p not in left
                     and not _zombie(p)]
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap()
        time.sleep(0.01)
    _reap()
    procs = processes()
    left = [p for p in descendants(root, procs) if not _zombie(p)]
    if uid is not None:
        left += [p for p, (_, u, _) in procs.items() if u == uid and not _zombie(p)]
    return [(p, procs.get(p, (0, 0, "?"))[2]) for p in sorted(set(left))]


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        return stat[stat.rindex(")") + 2] in "ZX"
    except OSError:
        return True


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_user(uid):
    """kill(-1, SIGKILL) as uid: every process of that user, in one system call."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


CLONE_NEWNS, CLONE_NEWNET, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 0x40000000, 4096, 0x4000, 1 << 18


SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/dev", "/proc"]


def minimal_root(newroot, keep, cwd, network=True, mask=()):
    """Make this process's world a new root holding only the system folders and `keep`
    (the interpreter, site-packages, the submission's folder) minus `mask` (a checkout of
    cnnlib inside one of them), then chroot into it, in a
    mount namespace of its own; without network also in a network namespace with no
    interface up. Nothing else of the machine exists for the submission: not /root, not the
    teacher's checkouts of cnnlib (the solutions, the model answers), not /tmp."""
    libc = ctypes.CDLL(None, use_errno=True)

    def check(ok, what):
        if ok != 0:
            raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")
    if not network:
        check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    check(libc.mount(b"tmpfs", newroot.encode(), b"tmpfs", 0, b"mode=0755,size=16m"),
          f"mount tmpfs on {newroot}")
    for p in sorted(set(SYSTEM + list(keep)), key=lambda q: q.count(os.sep)):
        if not os.path.lexists(p):
            continue
        inside = newroot + p
        if os.path.islink(p) and p in SYSTEM:          # /bin -> usr/bin
            if not os.path.lexists(inside):
                os.symlink(os.readlink(p), inside)
            continue
        real = os.path.realpath(p)
        if os.path.isdir(real):
            os.makedirs(inside, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            if not os.path.exists(inside):
                open(inside, "a").close()
        check(libc.mount(real.encode(), inside.encode(), None, MS_BIND | MS_REC, None),
              f"bind {p}")
    for p in mask:                  # a checkout of cnnlib inside a kept folder: emptied
        if os.path.isdir(newroot + p):
            check(libc.mount(b"tmpfs", (newroot + p).encode(), b"tmpfs", 0, b"mode=0555,size=1m"),
                  f"mask {p}")
    os.makedirs(newroot + "/tmp", mode=0o1777, exist_ok=True)
    os.chmod(newroot + "/tmp", 0o1777)
    os.chroot(newroot)
    os.chdir(cwd)


def _limits(step, uid, job):
    def preexec():
        os.setsid()
        if uid is not None:
            minimal_root(job["newroot"], job["keep"], job["cwd"], step.get("network", True),
                         job.get("mask", ()))
        mem = int(step["memory_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        cpu = int(step["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
    return preexec


def run_step(step, job):
    """Run one step to the end or its time limit; returns its result dict."""
    out_path = os.path.join(job["out_dir"], step["name"] + ".out")
    stdin = open(step["stdin"], "rb") if step.get("stdin") else subprocess.DEVNULL
    start = time.monotonic()
    try:
        proc = subprocess.Popen(step["argv"], stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, cwd=job["cwd"], env=job["env"],
                                preexec_fn=_limits(step, job.get("uid"), job),
                                close_fds=True)
    except (OSError, subprocess.SubprocessError) as err:
        return {"name": step["name"], "returncode": None, "timed_out": False,
                "too_much_output": False, "seconds": 0, "survivors": [],
                "error": f"{type(err).__name__}: {err}"}
    if stdin is not subprocess.DEVNULL:
        stdin.close()
    state = {"size": 0, "over": False}

    def pump():
        with open(out_path, "wb") as out:
            while True:
                chunk = proc.stdout.read(65536)
                if not chunk:
                    return
                state["size"] += len(chunk)
                if state["size"] > step["max_out"]:
                    state["over"] = True
                    _killpg(proc.pid)
                    return
                out.write(chunk)
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=step["timeout"])
    except subprocess.TimeoutExpired:
        timed_out = True
    _killpg(proc.pid)
    survivors = kill_tree(os.getpid(), job.get("uid"))
    proc.wait()
    reader.join(timeout=5)
    return {"name": step["name"], "returncode": proc.returncode, "timed_out": timed_out,
            "too_much_output": state["over"], "seconds": round(time.monotonic() - start, 2),
            "survivors": survivors}


def _killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def main():
    job = json.loads(sys.stdin.read())
    subreaper = become_subreaper()
    results = [run_step(step, job) for step in job["steps"]]
    survivors = kill_tree(os.getpid(), job.get("uid"))
    json.dump({"subreaper": subreaper, "steps": results, "survivors": survivors}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
