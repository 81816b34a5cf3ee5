"""What the browser test needs besides the test itself: Chromium, a JupyterLab server, a page.

Chromium comes from Debian (/usr/bin/chromium): test tools cannot download browsers
here. When it is missing, chromium() installs it with apt-get if we are root in CI
($CI=true, as in .ci/run), and otherwise tells the caller why the test cannot run.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CNNLIB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic"]


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@lru_cache(maxsize=None)   # asked before every browser test: install at most once per run
def chromium():
    """Path to Chromium, installing Debian's package in CI when root; else (None, reason)."""
    if CHROMIUM.exists():
        return CHROMIUM, None
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if in_ci() and root and shutil.which("apt-get"):
        log = []
        for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            done = subprocess.run(cmd, capture_output=True, text=True,
                                  env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            log.append(done.stdout[-2000:] + done.stderr[-2000:])
        if CHROMIUM.exists():
            return CHROMIUM, None
        return None, f"apt-get install chromium did not give {CHROMIUM}:\n" + "\n".join(log)
    return None, (f"{CHROMIUM} not found; install Debian's browser with "
                  "`sudo apt-get install chromium` (CI, run as root with CI=true, installs it "
                  "itself) or point $CNNLIB_CHROMIUM at a Chromium binary")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_lab(root_dir, work_dir, timeout=120):
    """Run `jupyter lab` on 127.0.0.1 serving root_dir with the repository's settings; yield its URL.

    User settings, workspaces and runtime files go to work_dir so neither the developer's
    own JupyterLab settings nor a saved workspace change what the test sees. The server is
    always stopped, also when the test fails.
    """
    port = free_port()
    for sub in ("user-settings", "workspaces", "runtime", "config"):
        (work_dir / sub).mkdir(parents=True, exist_ok=True)
    # No "get notified about Jupyter news?" toast over the notebook in the screenshots.
    news = work_dir / "user-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(work_dir / "runtime"),
           "JUPYTER_CONFIG_DIR": str(work_dir / "config")}
    env.pop("MPLBACKEND", None)
    # homework/conftest.py sets this for nbval of the blank student editions ("every exercise
    # not implemented yet"); inherited by the kernels, it made the answered edition's progress
    # cell fail in the full run (and only there: a browser test run alone never loads it).
    env.pop("CNNLIB_HOMEWORK_EXPECT", None)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--IdentityProvider.token=",
           "--LabApp.news_url=None", "--LabApp.expose_app_in_browser=True", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--allow-root", "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root_dir}",
           f"--LabApp.app_settings_dir={ROOT / '.jupyter' / 'lab' / 'settings'}",
           f"--LabApp.user_settings_dir={work_dir / 'user-settings'}",
           f"--LabApp.workspaces_dir={work_dir / 'workspaces'}"]
    log = open(work_dir / "jupyter.log", "wb")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {server.returncode}: "
                                   f"{(work_dir / 'jupyter.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer /api/status within {timeout} s")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
