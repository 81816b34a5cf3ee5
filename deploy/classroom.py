"""Talk to the class hub through its REST API: students, their servers, their notebooks.

    python deploy/classroom.py collect 03 --out submissions    # then grade (deploy/README.md)

Needs the hub's address and the classroom token (jupyterhub_config.py registers it from
CLASS_HUB_API_TOKEN): --hub/--token or CLASS_HUB_URL/CLASS_HUB_API_TOKEN. Everything goes
through the hub's proxy, as a student's browser does: the hub API under /hub/api, a
student's Jupyter server under /user/<name>/api (contents, sessions, a kernel's websocket).
deploy/class_sim.py uses the same functions to run a simulated class.
"""
import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import requests
import websocket    # websocket-client

HOMEWORK = "cnn-course/homework"     # where deploy/singleuser.py hands out the homework


class Hub:
    def __init__(self, url, token):
        self.url, self.http = url.rstrip("/"), requests.Session()
        self.http.headers["Authorization"] = f"token {token}"

    def api(self, method, path, **kw):
        answer = self.http.request(method, f"{self.url}/hub/api{path}", timeout=60, **kw)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} /hub/api{path}: {answer.status_code} {answer.text[:300]}")
        return answer.json() if answer.content else None

    def create_users(self, names):
        return self.api("POST", "/users", json={"usernames": list(names)})

    def users(self):
        return self.api("GET", "/users")

    def start(self, name):
        self.api("POST", f"/users/{name}/server")

    def wait_ready(self, name, timeout=300):
        stop = time.monotonic() + timeout
        while time.monotonic() < stop:
            server = self.api("GET", f"/users/{name}").get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(0.25)
        raise TimeoutError(f"{name}'s server did not start within {timeout} s")

    def stop(self, name):
        self.api("DELETE", f"/users/{name}/server")

    def token_for(self, name, note="classroom"):
        """A token of the student's own (as logging in gives), to act as that student."""
        return self.api("POST", f"/users/{name}/tokens", json={"note": note,
                                                                 "expires_in": 3600})["token"]

    def server(self, name, token=None):
        return Server(self.url, name, token or self.http.headers["Authorization"].split()[1])


class Server:
    """One student's Jupyter server, reached through the hub's proxy."""

    def __init__(self, hub_url, name, token):
        self.base, self.token = f"{hub_url}/user/{name}", token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"

    def api(self, method, path, **kw):
        answer = self.http.request(method, f"{self.base}/api{path}", timeout=120, **kw)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {self.base}/api{path}: {answer.status_code} "
                               f"{answer.text[:300]}")
        return answer.json() if answer.content else None

    def notebook(self, path):
        return self.api("GET", f"/contents/{path}", params={"content": 1})["content"]

    def save(self, path, nb):
        self.api("PUT", f"/contents/{path}", json={"type": "notebook", "content": nb})

    def listing(self, path):
        return [item["path"] for item in self.api("GET", f"/contents/{path}")["content"]]

    def run_notebook(self, path, cell_timeout=600, probe=None):
        """Open path as JupyterLab does (a session, its kernel in the notebook's folder), run
        every code cell over the kernel's websocket, store the outputs, save; then run the
        code probe (not saved) in the same kernel. Returns (the kernel's id, the number of
        cells that raised, what probe printed)."""
        nb = self.notebook(path)
        session = self.api("POST", "/sessions", json={"path": path, "name": Path(path).name,
                                                      "type": "notebook",
                                                      "kernel": {"name": "python3"}})
        kernel = session["kernel"]["id"]
        url = (self.base.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels"
               f"?session_id={uuid.uuid4().hex}")
        ws = websocket.create_connection(url, header=[f"Authorization: token {self.token}"],
                                         timeout=cell_timeout)
        errors = 0
        try:
            for cell in nb["cells"]:
                if cell["cell_type"] == "code":
                    cell["outputs"], failed = execute(ws, "".join(cell["source"]))
                    errors += failed
            printed = "".join(o.get("text", "") for o in execute(ws, probe)[0]) if probe else ""
        finally:
            ws.close()
        self.save(path, nb)
        return kernel, errors, printed


def execute(ws, code):
    """Run code in the kernel behind ws (Jupyter messaging over the websocket, JSON);
    returns (nbformat outputs, 1 if it raised else 0)."""
    msg_id, session = uuid.uuid4().hex, uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "session": session, "username": "student",
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": False}}))
    outputs, replied, idle, failed = [], False, False, 0
    while not (replied and idle):
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "execute_reply":
            replied, failed = True, int(content["status"] == "error")
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
        elif kind == "stream":
            outputs.append({"output_type": "stream", "name": content["name"],
                            "text": content["text"]})
        elif kind in ("display_data", "execute_result"):
            out = {"output_type": kind, "data": content["data"], "metadata": content["metadata"]}
            if kind == "execute_result":
                out["execution_count"] = content["execution_count"]
            outputs.append(out)
        elif kind == "error":
            outputs.append({"output_type": "error", **{k: content[k] for k in
                                                       ("ename", "evalue", "traceback")}})
    return outputs, failed


def collect(hub, number, out_dir, folder=HOMEWORK):
    """Copy every student's notebook NN_*.ipynb (number NN) from their running server into
    out_dir as <student>_NN_*.ipynb, the names the built-in grader reads; returns the paths."""
    out_dir, written = Path(out_dir), []
    out_dir.mkdir(parents=True, exist_ok=True)
    for user in hub.users():
        if not user.get("servers", {}).get("", {}).get("ready"):
            print(f"{user['name']}: no running server, skipped (start it and collect again)",
                  file=sys.stderr)
            continue
        server = hub.server(user["name"])
        for path in server.listing(folder):
            name = Path(path).name
            if name.startswith(f"{number}_") and name.endswith(".ipynb"):
                dest = out_dir / f"{user['name']}_{name}"
                dest.write_text(json.dumps(server.notebook(path), indent=1), encoding="utf-8")
                written.append(dest)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python deploy/classroom.py", description=__doc__.split("\n")[0])
    parser.add_argument("--hub", default=os.environ.get("CLASS_HUB_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("CLASS_HUB_API_TOKEN"))
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="copy every student's homework notebook NN into --out")
    c.add_argument("number", help="the notebook's two-digit number, e.g. 03")
    c.add_argument("--out", default="submissions")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("needs the classroom token: --token or CLASS_HUB_API_TOKEN")
    try:
        written = collect(Hub(args.hub, args.token), args.number, args.out)
    except (RuntimeError, requests.ConnectionError) as err:
        print(f"error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"collected {len(written)} notebook(s) into {args.out}; grade them with\n"
          f"  python -m cnnlib.homework grade {args.out}/*.ipynb --csv scores.csv --reports reports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
