"""Start a student's Jupyter server on the class hub, after handing out the course.

JupyterHub's spawner runs this as the student (jupyterhub_config.py, c.Spawner.cmd), with
the course's Python. Before the server starts it copies into the student's home

    ~/cnn-course/notebooks/   the course notebooks (notebooks/*.ipynb and the course map)
    ~/cnn-course/homework/    the homework edition (homework/student/*.ipynb)

every file that is not there yet: the first start gets everything, a later start gets only
what the teacher added since (a new assignment), and nothing a student has edited is ever
replaced. Then it becomes `jupyterhub-singleuser` with the same arguments, reading the
course's JupyterLab settings (.jupyter/lab/settings, as the README's `jupyter lab` does).
"""
import os
import shutil
import sys
from pathlib import Path

COURSE = Path(__file__).resolve().parent.parent
HAND_OUT = {                     # where in the course -> where in the student's home
    COURSE / "notebooks": Path("cnn-course") / "notebooks",
    COURSE / "homework" / "student": Path("cnn-course") / "homework",
}
PATTERNS = ("*.ipynb", "README.md")


def hand_out(home, sources=HAND_OUT):
    """Copy every course file missing from home; returns the copied paths (relative to home)."""
    copied = []
    for source, target in sources.items():
        for pattern in PATTERNS:
            for path in sorted(source.glob(pattern)):
                dest = Path(home) / target / path.name
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dest)           # the student's own file, not a link
                    copied.append(dest.relative_to(home))
    return copied


def main(argv=None):
    home = Path(os.environ.get("HOME") or Path.home())
    copied = hand_out(home)
    if copied:
        print(f"handed out {len(copied)} course file(s) into {home / 'cnn-course'}",
              file=sys.stderr)
    args = sys.argv[1:] if argv is None else argv
    settings = COURSE / ".jupyter" / "lab" / "settings"     # the course's JupyterLab settings
    if settings.is_dir():                                   # (README: notebook windowing mode)
        args = [f"--LabApp.app_settings_dir={settings}", *args]
    os.execv(sys.executable, [sys.executable, "-m", "jupyterhub.singleuser", *args])


if __name__ == "__main__":
    main()
