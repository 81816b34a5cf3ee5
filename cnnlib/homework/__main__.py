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
    g.add_argument("--grade-timeout", type=float, default=60,
                   help="seconds for grading one exercise (60)")
    g.add_argument("--jobs", type=int, default=1,
                   help="submissions graded at the same time (1; the number of cores is fastest)")
    g.add_argument("--reports", metavar="DIR",
                   help="also write one Markdown report per submission to DIR")
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
    from .grade import GradingStopped, Limits, grade_all
    limits = Limits(args.cell_timeout, args.total_timeout, args.memory_mb,
                    args.max_output_kb * 1024, args.grade_timeout)
    try:
        grade_all(args.submissions, args.csv, limits, execute=not args.no_execute,
                  jobs=args.jobs, report_dir=args.reports)
    except GradingStopped as err:
        print(f"grading stopped: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
