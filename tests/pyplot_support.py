"""A fixture the picture tests share: each test starts with no pyplot figure open and must
leave none behind (a figure left open is memory a long notebook session never gets back)."""
import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def no_figures_left_in_pyplot():
    plt.close("all")
    yield
    assert plt.get_fignums() == []
