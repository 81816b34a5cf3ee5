"""pytest hooks for the whole repository (tests/, notebooks/, homework/student/).

Here rather than in tests/conftest.py, which pytest applies only to the tests under tests/:
nbval's notebook cells are collected from notebooks/ and homework/student/.
"""
import pytest

SKIP_REASON = "nbval-skip-reason"   # cell metadata: why a cell tagged nbval-skip never runs here


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """nbval skips a cell tagged nbval-skip with no reason ("nbval/plugin.py:592: Skipped");
    report the notebook, the cell number and the reason its metadata gives instead.
    tests/test_repository.py checks that every such cell gives one."""
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)          # nbval's cell items carry their cell
    if report.skipped and cell is not None and isinstance(report.longrepr, tuple):
        reason = cell.get("metadata", {}).get(SKIP_REASON, "no reason given (nbval-skip tag)")
        report.longrepr = (str(item.path), item.cell_num, reason)   # path:N is nbval's "Cell N"
