"""Executing notebooks with nbclient: a kernel on Unix sockets, shut down without a SIGINT.

    execute(path) -> the executed notebook (nbformat), widget state stored

Used by python -m cnnlib.course.site build (the course site runs every notebook first) and
by scripts/measure_notebooks.py. Needs nbclient (the [course] extra).
"""
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def unix_socket_kernel():
    """A KernelManager whose kernel talks over Unix sockets in a temporary folder of its own
    (removed afterwards); None where there are no Unix sockets (Windows: nbclient's default).

    Why: with kernels on TCP ports, nbclient now and then saw the reply to a cell only when
    the cell's time ran out; scripts/measure_notebooks.py ran 72 notebooks this way without
    one stall. Used by execute and by scripts/measure_notebooks.py.
    """
    if os.name != "posix":
        yield None
        return
    folder = tempfile.mkdtemp(prefix="cnnlib-kernel-")
    try:
        yield quiet_shutdown_manager()(kernel_name="python3", transport="ipc",
                                       ip=os.path.join(folder, "k"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def quiet_shutdown_manager():
    """A KernelManager class that shuts a kernel down without interrupting it first.

    Why: jupyter_client's shutdown_kernel sends SIGINT before the shutdown request, and
    ipykernel logs "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel." whenever that
    signal lands while it is still inside a message handler (ipykernel 6 turns SIGINT into
    KeyboardInterrupt only there). After a notebook's last cell, nbclient shuts the kernel
    down at once; the figure-heavy widgets that end most notebooks leave the kernel busy
    long enough for the signal to land now and then (more often on a loaded machine). The
    kernel is between cells then, so there is nothing to interrupt: the shutdown request
    alone stops it, and jupyter_client still kills it if it has not stopped within
    shutdown_wait_time. An interrupt asked for at any other time is sent as before.
    """
    from jupyter_client.manager import KernelManager

    class QuietShutdownKernelManager(KernelManager):
        async def _async_interrupt_kernel(self):
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return QuietShutdownKernelManager


def execute(path, timeout=600, attempts=2):
    """Run a notebook top to bottom in its own folder; cells tagged raises-exception may fail.

    The kernel is shut down when the notebook is done (nbclient keeps a kernel it did not
    start running until this process exits; then it finds its parent gone and says so).
    A cell that times out (a kernel that stopped answering: the reply to one cell now and
    then never reaches nbclient, with ipykernel 7.4 and 6.31 alike) is retried once in a
    fresh kernel, from the top; a second time-out is raised.
    """
    import nbclient
    import nbformat
    for attempt in range(1, attempts + 1):
        nb = nbformat.read(path, as_version=4)
        try:
            with unix_socket_kernel() as km:
                nbclient.NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3",
                                        store_widget_state=True,
                                        resources={"metadata": {"path": str(Path(path).parent)}}
                                        ).execute(cleanup_kc=True)  # stop the kernel now, not at exit
            return nb
        except nbclient.exceptions.CellTimeoutError:
            if attempt == attempts:
                raise
