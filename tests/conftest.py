"""Shared test setup: draw figures off-screen with Agg.

matplotlib.use() rather than setting $MPLBACKEND: an environment variable would be
inherited by the Jupyter kernels nbval starts in the same pytest run and stop their
figures from showing inline.
"""
import matplotlib

matplotlib.use("Agg")
