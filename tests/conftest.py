"""Shared test setup: draw figures off-screen with Agg.

matplotlib.use() rather than setting $MPLBACKEND: an environment variable would be
inherited by the Jupyter kernels nbval starts in the same pytest run and stop their
figures from showing inline.
"""
import matplotlib

matplotlib.use("Agg")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The preview site built once per test run: (folder, {notebook name: executed notebook})."""
    import copy

    from cnnlib import site
    executed = {}
    out = site.build(tmp_path_factory.mktemp("site"), log=lambda *a: None,
                     on_executed=lambda path, nb: executed.__setitem__(path.name, copy.deepcopy(nb)))
    return out, executed
