"""Alt text and an opaque background for every matplotlib figure a notebook shows.

A screen reader given a bare PNG says nothing useful ("image"), and the inline backend's
transparent figures turn black-on-black in JupyterLab's dark theme. This module fixes
both in one place, without touching the drawing functions:

    set_alt_text(fig, "what the figure shows")   # optional, per figure
    alt_text(fig) -> str                          # that text, else one made from the figure
    figure_png(fig) -> (png_bytes, {"alt": ..., "needs_background": "light"})
    figure_html(fig) -> '<img src="data:image/png;base64,..." alt="...">'

register_formatter() installs them (and the alt text as text/plain) for matplotlib
Figures in the running IPython kernel; importing cnnlib.viz calls it. The HTML form is
there because JupyterLab 4.6 and nbconvert 7.17's lab template build <img> from
image/png without reading an "alt" from its metadata; both prefer text/html.

No notebook introduces it: every notebook uses it through import cnnlib.viz.
"""
import base64
import html
import io

ALT_ATTRIBUTE = "cnnlib_alt_text"   # where set_alt_text stores a figure's own description
MAX_CHARS = 400                     # long enough to be useful, short enough to be read out


def set_alt_text(fig, text):
    """Give fig (a matplotlib Figure) its own alt text; returns fig so it can be chained.

    Drawing functions or notebooks call this when the generated description is not enough.
   
    """
    text = str(text).strip()
    if not text:
        raise ValueError("alt text must say what the figure shows; got an empty string")
    setattr(fig, ALT_ATTRIBUTE, text)
    return fig


def _clean(text):
    return " ".join(str(text).split())


def _panels(fig):
    """The axes a reader would count as panels: visible, not colour bars."""
    return [ax for ax in fig.axes if ax.get_visible() and not hasattr(ax, "_colorbar")
            and getattr(ax, "get_label", lambda: "")() != "<colorbar>"]


def _describe_axes(ax):
    parts = []
    title = _clean(ax.get_title() or ax.get_title("left") or ax.get_title("right"))
    if title:
        parts.append(title)
    labels = [f"{name} axis: {_clean(text)}" for name, text in
              (("x", ax.get_xlabel()), ("y", ax.get_ylabel())) if _clean(text)]
    if labels:
        parts.append(", ".join(labels))
    if not parts:  # message panels ("Cannot show this digit: ...") have only free text
        texts = [_clean(t.get_text()) for t in ax.texts if _clean(t.get_text())]
        if texts and len(texts) <= 3:
            parts.append("; ".join(texts))
    return " (".join(parts) + (")" if len(parts) > 1 else "")


def alt_text(fig):
    """Alt text for fig: the one set with set_alt_text, else a description of its structure.

    The description names the figure's title, the number of panels and each panel's
    title and axis labels (the same panel text is said once, with a count).
   
    """
    own = getattr(fig, ALT_ATTRIBUTE, None)
    if own:
        return own
    panels = _panels(fig)
    heading = _clean(fig._suptitle.get_text()) if getattr(fig, "_suptitle", None) else ""
    count = f"{len(panels)} panel{'s' if len(panels) != 1 else ''}"
    described, seen = [], {}
    for ax in panels:
        text = _describe_axes(ax)
        if text:
            if text not in seen:
                described.append(text)
            seen[text] = seen.get(text, 0) + 1
    items = [f"{t} (x{seen[t]})" if seen[t] > 1 else t for t in described]
    text = "Figure" + (f" '{heading}'" if heading else "") + f" with {count}"
    if items:
        text += ": " + "; ".join(items)
    text += "."
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1].rstrip() + "…"


def _png(fig, dpi=None):
    buffer = io.BytesIO()
    alpha = fig.patch.get_alpha()
    fig.patch.set_alpha(None)  # an explicit alpha of 0 would beat facecolor="white"
    try:
        fig.savefig(buffer, format="png", dpi=dpi or fig.dpi, bbox_inches="tight",
                    facecolor="white", edgecolor="white", transparent=False)
    finally:
        fig.patch.set_alpha(alpha)
    return buffer.getvalue()


_last_png = {}  # id(fig) -> PNG made by figure_html, reused by figure_png right after it


def figure_png(fig, dpi=None):
    """IPython image/png formatter: (PNG on an opaque white background, metadata).

    White, not transparent, so black text and lines stay readable in JupyterLab's dark
    theme; the metadata also says so ("needs_background": "light") and carries the alt
    text for nbconvert and other front ends.
    """
    png = _last_png.pop(id(fig), None) or _png(fig, dpi)
    return png, {"alt": alt_text(fig), "needs_background": "light"}


def figure_html(fig):
    """IPython text/html formatter: <img alt="..."> around the same PNG.

    JupyterLab 4 and nbconvert's lab template ignore an "alt" in image/png metadata when
    they build the <img>, so the figure also comes as HTML that carries it; front ends
    that prefer HTML (JupyterLab, nbconvert) show this one.
    """
    png = _png(fig)
    _last_png.clear()
    _last_png[id(fig)] = png
    return (f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" '
            f'alt="{html.escape(alt_text(fig), quote=True)}" class="cnnlib-figure"/>')


def _install(shell):
    from matplotlib.figure import Figure
    formatters = shell.display_formatter.formatters
    formatters["image/png"].for_type(Figure, figure_png)
    formatters["text/html"].for_type(Figure, figure_html)
    formatters["text/plain"].for_type(Figure, lambda fig, printer, cycle: printer.text(alt_text(fig)))


def register_formatter(shell=None):
    """Make every Figure displayed in this IPython kernel use figure_png; no-op outside IPython.

    The inline backend installs its own PNG printer when it is first loaded (and again on
    %matplotlib inline), so the backend is loaded first and our printer is re-asserted
    before every cell. Returns True when a shell was found.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    from .base import figure
    figure()                     # loads the inline backend now, not at the first figure
    if getattr(shell, "_cnnlib_alt_text", False) is False:
        shell.events.register("pre_run_cell", lambda *args: _install(shell))
        shell._cnnlib_alt_text = True
    _install(shell)
    return True
