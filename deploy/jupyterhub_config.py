"""JupyterHub for one classroom server running the course (deploy/README.md explains it).

    jupyterhub -f deploy/jupyterhub_config.py                  # the school setup (as root)
    CLASS_HUB=local jupyterhub -f deploy/jupyterhub_config.py  # on this machine, for testing

School setup (the default): students sign up on the hub's login page and the teacher
authorizes them (NativeAuthenticator; the teacher's account, CLASS_HUB_ADMIN, is admin);
each student's server is a systemd unit under a user made for it (SystemdSpawner with
dynamic users: no system accounts to create, home in /var/lib/<name>), with the CPU and
memory limits below enforced by systemd. An OAuth or LTI login (oauthenticator,
ltiauthenticator) replaces NativeAuthenticator in one line where the school has one.

Local setup (CLASS_HUB=local): any name logs in (DummyAuthenticator) and every student's
server is a process of the user running the hub, with its home under CLASS_HUB_DIR/home
(SimpleLocalProcessSpawner). Only for this machine and the tests: it listens on 127.0.0.1.

For everyone: the course's Python (the one running the hub, with cnnlib and the course's
requirements) runs each student's server and kernel; deploy/singleuser.py copies the course
notebooks and the homework edition into the student's home when they are missing (never
over a student's own copy) and then starts the server; the threading policy of
cnnlib.speed.threads is set per server from its CPU limit.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COURSE = HERE.parent
MODE = os.environ.get("CLASS_HUB", "school")
STATE = Path(os.environ.get("CLASS_HUB_DIR", "/srv/cnn-class-hub" if MODE == "school"
                            else COURSE / "deploy" / "local-hub"))
# Per student: derived from deploy/measurements (the course map, "Sizing a JupyterHub").
CPU_LIMIT = float(os.environ.get("CLASS_HUB_CPU_LIMIT", "1"))
MEM_LIMIT = os.environ.get("CLASS_HUB_MEM_LIMIT", "1G")

c = get_config()  # noqa: F821 (JupyterHub provides get_config when it reads this file)
if MODE not in ("school", "local"):
    sys.exit(f"CLASS_HUB must be 'school' or 'local'; got {MODE!r}.")
STATE.mkdir(parents=True, exist_ok=True)

# The hub's own files: its database, cookie secret and the proxy's token.
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")

# configurable-http-proxy from npm, installed into deploy/ by `npm ci --prefix deploy`.
proxy = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
if proxy.exists():
    c.ConfigurableHTTPProxy.command = [str(proxy)]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

# Every student's server and kernel: the course's own Python, through deploy/singleuser.py.
c.Spawner.cmd = [sys.executable, str(HERE / "singleuser.py")]
c.Spawner.default_url = "/lab/tree/cnn-course/notebooks"   # the course map, README.md, is there
c.Spawner.notebook_dir = "~"
c.Spawner.http_timeout = 120          # a server may be slow to start when the class arrives at once
c.Spawner.start_timeout = 180
c.Spawner.cpu_limit = CPU_LIMIT
c.Spawner.mem_limit = MEM_LIMIT
# The threading policy (cnnlib/speed/threads.py), per server: cnnlib splits a batch across as
# many cores as the server may use (a CPU quota does not shrink the affinity mask cnnlib
# would read), and every BLAS/OpenMP pool keeps one thread.
one = "1"
c.Spawner.environment = {
    "CNNLIB_THREADS": str(max(1, int(CPU_LIMIT))), "CNNLIB_BLAS_THREADS": one,
    "OMP_NUM_THREADS": one, "OPENBLAS_NUM_THREADS": one, "MKL_NUM_THREADS": one,
}

if MODE == "school":
    c.JupyterHub.authenticator_class = "native"      # jupyterhub-nativeauthenticator
    c.NativeAuthenticator.open_signup = False        # the teacher authorizes each sign-up
    c.NativeAuthenticator.minimum_password_length = 10
    admin = os.environ.get("CLASS_HUB_ADMIN", "teacher")
    c.Authenticator.admin_users = {admin}
    c.Authenticator.allow_all = True                  # everyone the teacher authorized
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.dynamic_users = True
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.isolate_devices = True
    c.SystemdSpawner.disable_user_sudo = True
    c.JupyterHub.bind_url = os.environ.get("CLASS_HUB_URL", "http://:8000")
    # Put TLS in front (c.JupyterHub.ssl_cert/ssl_key, or a reverse proxy) before students log in.
else:
    c.JupyterHub.authenticator_class = "dummy"
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")
    if os.geteuid() == 0:             # CI runs as root; every local server is the hub's user
        c.Spawner.args = ["--allow-root"]
    c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ.get('CLASS_HUB_PORT', '8000')}"

# The hub's own API and the proxy's, both on this machine only.
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("CLASS_HUB_HUB_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = \
    f"http://127.0.0.1:{os.environ.get('CLASS_HUB_PROXY_API_PORT', '8001')}"

# A token for scripts (deploy/classroom.py collect, deploy/class_sim.py):
# it may create users, start their servers and read and write files in them.
token = os.environ.get("CLASS_HUB_API_TOKEN")
if token:
    c.JupyterHub.services = [{"name": "classroom", "api_token": token}]
    c.JupyterHub.load_roles = [{
        "name": "classroom", "services": ["classroom"],
        "scopes": ["admin:users", "admin:servers", "access:servers", "tokens", "list:users"],
    }]
