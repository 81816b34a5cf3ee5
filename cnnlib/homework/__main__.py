"""python -m cnnlib.homework build [--instructor DIR] | grade SUBMISSION.ipynb ... [--csv FILE]"""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cnnlib.homework",
                                     description="Build the homework editions or grade submissions.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write homework/student/NN_*.ipynb from notebooks/ and cnnlib")
    b.add_argument("--instructor", metavar="DIR",
                   help="also write the instructor edition (solutions, nbgrader metadata) to DIR")
    g = sub.add_parser("grade", help="execute submissions in a sandbox and score every exercise")
    g.add_argument("submissions", nargs="+", metavar="SUBMISSION.ipynb")
    g.add_argument("--csv", metavar="FILE", help="also write the scores as CSV")
    g.add_argument("--cell-timeout", type=float, default=120, help="seconds per cell (120)")
    g.add_argument("--total-timeout", type=float, default=900,
                   help="seconds per notebook (900)")
    g.add_argument("--memory-mb", type=int, default=4096, help="memory limit (4096 MB)")
    g.add_argument("--max-output-kb", type=int, default=2048,
                   help="largest output a notebook may print (2048 kB)")
    g.add_argument("--no-execute", action="store_true",
                   help="only score the functions, do not run the notebooks")
    args = parser.parse_args(argv)
    if args.command == "build":
        from ..course import clone_root
        from .build import ROOT, build
        clone_root("python -m cnnlib.homework build", ROOT)
        for path in build(args.instructor):
            print(f"wrote {path}")
        return 0
    from .grade import Limits, grade_all
    limits = Limits(args.cell_timeout, args.total_timeout, args.memory_mb,
                    args.max_output_kb * 1024)
    grade_all(args.submissions, args.csv, limits, execute=not args.no_execute)
    return 0


if __name__ == "__main__":
    sys.exit(main())
