"""Figures and widgets for the notebooks (needs matplotlib and ipywidgets).

Importing any cnnlib.viz module in a Jupyter kernel registers cnnlib.viz.alt_text's
PNG formatter: every figure then carries alt text and an opaque white background.
"""
from .alt_text import register_formatter as _register_formatter

_register_formatter()
