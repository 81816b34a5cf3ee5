"""The class hub (deploy/): a real JupyterHub with two simulated students, its configuration,
the hand-out of the course, and the Kubernetes values derived from the measurements.

The class test needs jupyterhub (deploy/requirements.txt, not the students' requirements)
and configurable-http-proxy (npm ci --prefix deploy): in CI ($CI=true) it installs both
itself; elsewhere it says which command is missing and skips.
"""
import csv
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
sys.path.insert(0, str(DEPLOY))
import class_sim  # noqa: E402
import singleuser  # noqa: E402

from browser_support import in_ci  # noqa: E402


def _jupyterhub():
    """None when jupyterhub is importable (installing it in CI); else why not."""
    pip = None
    if importlib.util.find_spec("jupyterhub") is None and in_ci():
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r",
                              str(DEPLOY / "requirements.txt")], capture_output=True, text=True,
                             timeout=600)
        importlib.invalidate_caches()
    if importlib.util.find_spec("jupyterhub") is None:
        return ("jupyterhub is not installed in this environment: "
                "pip install -r deploy/requirements.txt (CI with CI=true installs it itself)"
                + (f"; pip said: {pip.stderr.strip()[-300:]}" if pip else ""))
    return None


@pytest.fixture(scope="module")
def class_of_two(tmp_path_factory):
    why = _jupyterhub()
    if why:
        pytest.skip(why)
    try:
        class_sim.ensure_proxy()
    except RuntimeError as err:
        pytest.skip(str(err))
    state = tmp_path_factory.mktemp("hub")
    return state, class_sim.simulate(2, "03_softmax_and_cross_entropy.ipynb", state, grade=True)


def test_two_students_run_their_homework_through_the_hub(class_of_two):
    state, report = class_of_two
    assert sorted(report["per_student"]) == ["student01", "student02"]
    for name, student in report["per_student"].items():
        assert student["cells_with_errors"] == 0
        assert student["lab_page"] == [200, True]          # JupyterLab itself, through the proxy
        assert 0 < student["spawn_s"] <= report["all_servers_ready_s"]
        # the sampler saw the student's own server and kernel, and they add up
        assert student["server_peak_mb"] > 30 and student["kernel_peak_mb"] > 30
        assert student["peak_mb"] <= student["server_peak_mb"] + student["kernel_peak_mb"] + 1
        # the kernel ran in the handed-out folder, on this course, with the hub's policy
        kernel = student["kernel"]
        assert kernel["user"] == name
        assert Path(kernel["cwd"]) == state / "home" / name / "cnn-course" / "homework"
        assert Path(kernel["cnnlib"]).resolve().is_relative_to(ROOT)
        assert (kernel["cnnlib_threads"], kernel["blas_threads"]) == (1, [1])
        # the notebook was saved with the outputs the kernel sent over the websocket
        saved = json.loads((Path(kernel["cwd"]) / report["notebook"]).read_text())
        assert sum(len(c.get("outputs", [])) for c in saved["cells"]) > 5
    for part in ("hub", "proxy"):
        assert report["hub"][part]["peak_mb"] > 10, part


def test_the_grader_scores_what_was_collected_through_the_hub(class_of_two):
    state, report = class_of_two
    graded = report["graded"]
    assert sorted(graded["collected"]) == [f"student0{i}_03_softmax_and_cross_entropy.ipynb"
                                           for i in (1, 2)]
    assert graded["grader_exit"] == 0
    rows = list(csv.DictReader(io.StringIO(graded["scores_csv"])))
    assert len(rows) == 2
    for row in rows:      # the student edition's stubs, untouched: nothing is implemented
        assert row["softmax reason"] == "not implemented" and row["total"] == "0"


def test_hand_out_copies_what_is_missing_and_never_a_students_own_file(tmp_path):
    course = tmp_path / "course"
    (course / "nb").mkdir(parents=True)
    for name in ("01_a.ipynb", "02_b.ipynb", "README.md", "notes.txt"):
        (course / "nb" / name).write_text(name)
    home, sources = tmp_path / "home", {course / "nb": Path("cnn-course") / "notebooks"}
    first = singleuser.hand_out(home, sources)
    assert sorted(map(str, first)) == [f"cnn-course/notebooks/{n}" for n in
                                       ("01_a.ipynb", "02_b.ipynb", "README.md")]
    mine = home / "cnn-course" / "notebooks" / "01_a.ipynb"
    mine.write_text("the student's work")
    (course / "nb" / "03_c.ipynb").write_text("new assignment")
    assert singleuser.hand_out(home, sources) == [Path("cnn-course/notebooks/03_c.ipynb")]
    assert mine.read_text() == "the student's work"
    # the real hand-out covers every course notebook and the homework edition
    assert {s.relative_to(ROOT) for s in singleuser.HAND_OUT} == {Path("notebooks"),
                                                                  Path("homework/student")}


def _config(tmp_path, **env):
    """deploy/jupyterhub_config.py read as JupyterHub reads it, with env set."""
    from traitlets.config import Config
    config = Config()
    code = compile((DEPLOY / "jupyterhub_config.py").read_text(), "jupyterhub_config.py", "exec")
    old = dict(os.environ)
    os.environ.update({"CLASS_HUB_DIR": str(tmp_path), **env})
    try:
        exec(code, {"get_config": lambda: config, "__file__": str(DEPLOY / "jupyterhub_config.py")})
    finally:
        os.environ.clear()
        os.environ.update(old)
    return config


def test_school_setup_limits_each_student_and_sets_the_threading_policy_from_them(tmp_path):
    c = _config(tmp_path, CLASS_HUB_CPU_LIMIT="2", CLASS_HUB_MEM_LIMIT="1.5G")
    assert c.JupyterHub.authenticator_class == "native"
    assert c.JupyterHub.spawner_class == "systemdspawner.SystemdSpawner"
    assert c.SystemdSpawner.dynamic_users is True
    assert (c.Spawner.cpu_limit, c.Spawner.mem_limit) == (2.0, "1.5G")
    env = c.Spawner.environment
    assert env["CNNLIB_THREADS"] == "2"
    assert {env[k] for k in ("CNNLIB_BLAS_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                             "MKL_NUM_THREADS")} == {"1"}
    assert c.Spawner.cmd == [sys.executable, str(DEPLOY / "singleuser.py")]
    assert "services" not in c.JupyterHub          # no API token unless one is given
    local = _config(tmp_path, CLASS_HUB="local", CLASS_HUB_API_TOKEN="x" * 32)
    assert (local.JupyterHub.authenticator_class, local.JupyterHub.spawner_class) == \
        ("dummy", "simple")
    assert local.JupyterHub.bind_url.startswith("http://127.0.0.1:")
    assert local.Spawner.environment["CNNLIB_THREADS"] == "1"
    assert local.JupyterHub.services[0]["api_token"] == "x" * 32


def test_config_refuses_an_unknown_setup_in_one_line(tmp_path):
    with pytest.raises(SystemExit) as stop:
        _config(tmp_path, CLASS_HUB="cloud")
    assert str(stop.value.code) == "CLASS_HUB must be 'school' or 'local'; got 'cloud'."


def test_school_setup_starts_with_its_sign_up_page(tmp_path):
    """The school setup's hub starts for real (NativeAuthenticator, SystemdSpawner loaded);
    no student server is started: that needs systemd."""
    why = _jupyterhub()
    if why:
        pytest.skip(why)
    try:
        class_sim.ensure_proxy()
    except RuntimeError as err:
        pytest.skip(str(err))
    import requests
    with open(tmp_path / "hub.log", "wb") as log:
        hub, url = class_sim.start_hub(tmp_path, "t" * 32, log, setup="school")
        try:
            signup = requests.get(f"{url}/hub/signup", timeout=30)
            login = requests.get(f"{url}/hub/login", timeout=30)
        finally:
            hub.terminate()
            hub.wait(60)
    assert signup.status_code == 200 and 'id="signup_submit"' in signup.text
    assert login.status_code == 200 and "/hub/signup" in login.text
    log = (tmp_path / "hub.log").read_text()
    assert "Using Authenticator: nativeauthenticator.nativeauthenticator.NativeAuthenticator" in log
    assert "Using Spawner: systemdspawner.systemdspawner.SystemdSpawner" in log


def _bytes(text):
    """KubeSpawner's memory notation ("512M", "1G", or bytes) in bytes."""
    text = str(text)
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def _values():
    import yaml
    return yaml.safe_load((DEPLOY / "z2jh-values.yaml").read_text(encoding="utf-8"))


def test_kubernetes_limits_cover_the_measured_class_and_match_the_threading_policy(tmp_path):
    """z2jh-values.yaml's memory is derived from deploy/measurements (a student's server and
    kernel through the hub) and the course map's per-kernel table (notebook 04's kernel is
    the largest); its CPU limit, threading policy and image agree with the rest of deploy/."""
    runs = [json.loads(p.read_text()) for p in sorted((DEPLOY / "measurements").glob("*.json"))]
    assert {(r["notebook"][:2], r["students"]) for r in runs} >= \
        {(nb, n) for nb in ("03", "10") for n in (2, 5, 10)}
    students = [s for r in runs for s in r["per_student"].values()]
    server = max(s["server_peak_mb"] for s in students) * 2**20
    kernel = max(s["kernel_peak_mb"] for s in students) * 2**20
    lines = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if "peak memory per kernel (MB)" in line)
    column = [c.strip() for c in lines[at].split("|")].index("peak memory per kernel (MB)")
    row04 = next(line for line in lines[at:] if line.startswith("| 04 "))
    kernel = max(kernel, int(row04.split("|")[column]) * 2**20)
    su = _values()["singleuser"]
    assert _bytes(su["memory"]["guarantee"]) >= server + kernel
    assert _bytes(su["memory"]["limit"]) >= server + 2 * kernel
    local = _config(tmp_path)                                       # the one-server defaults
    assert _bytes(su["memory"]["limit"]) == _bytes(local.Spawner.mem_limit)
    assert su["cpu"]["limit"] == local.Spawner.cpu_limit
    assert su["extraEnv"] == local.Spawner.environment
    assert su["extraEnv"]["CNNLIB_THREADS"] == str(int(su["cpu"]["limit"]))
    assert su["defaultUrl"] == local.Spawner.default_url
    from cnnlib.course import launch
    assert su["image"]["tag"] == launch.version()
    assert su["cmd"][-1] == "/opt/cnn-from-scratch/deploy/singleuser.py"
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY --chown=root:root . /opt/cnn-from-scratch" in dockerfile
    assert 'CMD ["python", "/opt/cnn-from-scratch/deploy/singleuser.py"]' in dockerfile


def test_the_course_maps_class_table_is_the_measurements():
    """The table under "A class on a real JupyterHub" in the course map is what
    `python deploy/class_sim.py --summary deploy/measurements/*.json` prints, row for row."""
    reports = [json.loads(p.read_text()) for p in sorted((DEPLOY / "measurements").glob("*.json"))]
    table = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    for row in class_sim.summary(reports).splitlines():
        assert row in table, f"the course map lacks this measured row:\n{row}"
    for report in reports:       # every run: the whole class ran its notebook without an error
        assert all(s["cells_with_errors"] == 0 and s["server_peak_mb"] > 30
                   and s["kernel"]["cnnlib_threads"] == 1 for s in report["per_student"].values())
        assert len(report["per_student"]) == report["students"]


def test_kubernetes_values_pass_the_charts_schema():
    """As helm does: the chart's defaults overlaid with ours, validated with its schema.
    Needs the chart (Z2JH_CHART=.../zero-to-jupyterhub-k8s/jupyterhub, with values.yaml and
    values.schema.yaml): it is not a package the course can install."""
    chart = Path(os.environ.get("Z2JH_CHART", "/nonexistent"))
    if not (chart / "values.schema.yaml").exists():
        pytest.skip("the Zero to JupyterHub chart is not here: set Z2JH_CHART to a clone's "
                    "jupyterhub/ folder (github.com/jupyterhub/zero-to-jupyterhub-k8s)")
    import jsonschema
    import yaml

    def overlay(base, ours):
        return {**base, **{k: overlay(base[k], v) if isinstance(v, dict)
                           and isinstance(base.get(k), dict) else v for k, v in ours.items()}}

    schema = yaml.safe_load((chart / "values.schema.yaml").read_text())
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    jsonschema.validate(overlay(defaults, _values()), schema)
    typo = overlay(_values(), {"singleuser": {"cpu": {"limt": 1}}})
    with pytest.raises(jsonschema.ValidationError, match="limt"):
        jsonschema.validate(overlay(defaults, typo), schema)
