"""Shared test setup: draw figures off-screen with Agg, when matplotlib is installed.

matplotlib.use() rather than setting $MPLBACKEND: an environment variable would be
inherited by the Jupyter kernels nbval starts in the same pytest run and stop their
figures from showing inline. Imported in a hook, not at the top: the engine's tests run
without matplotlib (tests/test_architecture_rules.py checks it).
"""
import pytest


def pytest_configure(config):
    try:
        import matplotlib
    except ImportError:               # no pictures installed: the engine's tests still run
        return
    matplotlib.use("Agg")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A browser test without Chromium skips (or fails in CI) before any fixture is set up:
    pytest sets up session fixtures such as built_site (the whole site, minutes) before the
    module's browser fixture could skip. chromium() remembers its answer for the run."""
    if item.get_closest_marker("browser") is None:
        return
    from browser_support import chromium, in_ci
    path, reason = chromium()
    if path is None:
        if in_ci():
            pytest.fail(f"CI must run the browser test: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The course site built once per test run: (folder, {notebook name: executed notebook})."""
    import copy

    pytest.importorskip("myst_nb", reason="the course site's builder (Sphinx, myst-nb) needs "
                        "Python 3.11 or later and pip install -r requirements.txt")
    from cnnlib.course import site
    executed = {}
    out = site.build(tmp_path_factory.mktemp("site"), timeout=300, log=lambda *a: None,
                     on_executed=lambda path, nb: executed.__setitem__(path.name, copy.deepcopy(nb)))
    return out, executed


@pytest.fixture
def servers():
    """Start local HTTP servers on 127.0.0.1 (port 0), never the internet; all stop at the end.

    servers(routes) answers GET /<name> from routes {name: (status, body)}, 404 otherwise;
    servers(handler_get) calls handler_get(request) for every GET. Each call returns its URL.
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    def from_routes(routes):
        def handler_get(request):
            status, body = routes.get(request.path.lstrip("/"), (404, b"not found"))
            request.send_response(status)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        return handler_get

    started = []

    def start(handler):
        get = from_routes(handler) if isinstance(handler, dict) else handler

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                get(self)

            def log_message(self, *args):  # keep pytest output clean
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"
    yield start
    for server in started:
        server.shutdown()
        server.server_close()
