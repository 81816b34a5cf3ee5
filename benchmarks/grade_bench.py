"""How long does the homework grader take for a class?

    python benchmarks/grade_bench.py [--students 30] [--notebook 03] [--jobs 2] [--no-execute]

Makes a class of submissions from the instructor edition of one notebook (every answer
right; a third of them with one answer broken, so the mistake catalogue runs too), grades
them in one call as a teacher would (python -m cnnlib.homework grade ... --jobs N) and
prints the wall time, the time per submission, the load average before and after (so an
idle run can be told from a busy one) and the CPU time of the grader and all it started
(CPU time / cores: the wall time an idle machine cannot beat). As root the submissions run as users of their own
in a minimal root, as in a real grading run.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--notebook", default="03")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-execute", action="store_true", help="grade without running the notebooks")
    args = p.parse_args(argv)
    from cnnlib.homework import build, exercises
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as tmp:
        tmp = Path(tmp)
        build.build(instructor_dir=tmp / "instructor", student_dir=tmp / "student")
        source = next((tmp / "instructor").glob(f"{args.notebook}_*.ipynb"))
        nb = json.loads(source.read_text())
        first = exercises.for_notebook(args.notebook)[0]
        subs = tmp / "submissions"
        subs.mkdir()
        for k in range(args.students):
            cells = json.loads(json.dumps(nb["cells"]))
            if k % 3 == 2:                       # break one answer: a flipped sign
                for c in cells:
                    if c["metadata"].get("homework") == {"exercise": first.id,
                                                         "role": "solution"}:
                        text = "".join(c["source"])
                        c["source"] = text.replace("return ", "return -1 * ", 1)
            (subs / f"student{k:02d}_{source.name}").write_text(
                json.dumps({**nb, "cells": cells}), encoding="utf-8")
        cmd = [sys.executable, "-m", "cnnlib.homework", "grade",
               *sorted(map(str, subs.glob("*.ipynb"))), "--csv", str(tmp / "scores.csv"),
               "--jobs", str(args.jobs)] + (["--no-execute"] if args.no_execute else [])
        import resource
        load = os.getloadavg()
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        seconds = time.monotonic() - start
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        if done.returncode != 0:
            print(done.stderr[-3000:])
            return done.returncode
        rows = (tmp / "scores.csv").read_text().splitlines()[1:]
        print(f"machine: {os.cpu_count()} cores, load average before {load[0]:.2f}, "
              f"after {os.getloadavg()[0]:.2f}; running as {'root' if os.geteuid() == 0 else 'a user'}")
        print(f"graded {len(rows)} submissions of notebook {args.notebook} "
              f"({'not ' if args.no_execute else ''}running the notebooks) with --jobs "
              f"{args.jobs} in {seconds:.1f} s ({seconds / len(rows):.2f} s per submission)")
        print(f"CPU time of the grader and everything it started: {cpu:.1f} s, i.e. at least "
              f"{cpu / (os.cpu_count() or 1):.1f} s of wall time on {os.cpu_count()} idle cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
