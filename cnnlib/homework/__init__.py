"""The homework edition: exercises, checks with feedback, the student and instructor
notebooks (python -m cnnlib.homework build) and a grader (python -m cnnlib.homework grade).

In a student notebook:

    from cnnlib.homework import start_homework, check, show_progress
    start_homework()          # show_source() now hides the exercises' solutions
    check("conv2d_loop", conv2d_loop)
"""

import os

from .checks import CheckResult, check, check_hidden, show_progress
from .written import check_answer

ENV_FLAG = "CNNLIB_HOMEWORK"


def start_homework():
    """Mark this kernel as a homework edition: show_source() hides exercise solutions."""
    os.environ[ENV_FLAG] = "1"


__all__ = ["CheckResult", "check", "check_hidden", "check_answer", "show_progress", "start_homework", "ENV_FLAG"]
