"""Show the real source code of a cnnlib function or class inside a notebook.

Notebooks call show_source(fn) instead of pasting a copy of the code, so what the
students read is exactly what runs.

Introduced in notebooks/00_mnist.ipynb.
"""
import inspect
import os

__all__ = ["show_source", "source_text"]


def source_text(obj):
    """Return the source code of a function, class or method as a string.

    Raises ValueError if Python cannot find it (built-ins, objects made at run time).
    In a homework edition (CNNLIB_HOMEWORK=1) the bodies of the exercises are hidden.
    """
    try:
        text = inspect.getsource(obj)
    except (TypeError, OSError) as err:
        raise ValueError(f"cannot show the source of {obj!r}: {err}") from None
    if os.environ.get("CNNLIB_HOMEWORK") == "1":      # set by a homework notebook's first cell
        from ..homework.source import redact_source   # never show an exercise's solution
        text = redact_source(obj, text)
    return text


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def show_source(obj):
    """Display obj's source: syntax-highlighted in Jupyter, printed as plain text elsewhere.

    Input: a function, class or method. Returns None (the display is the output).
    Introduced in notebooks/00_mnist.ipynb.
    """
    text = source_text(obj)
    if _in_notebook():
        from IPython.display import Code, display
        display(Code(text, language="python"))
    else:
        print(text, end="" if text.endswith("\n") else "\n")
