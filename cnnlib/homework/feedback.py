"""How a verdict looks to a student: a mark, a word and a colour, read at a glance.

    show(Verdict("passed", "softmax: passed all 6 public cases."))

In a notebook a verdict is a box coloured by its kind, starting with the mark and the word
(✓ passed, ✗ failed, … not yet); everywhere else (a terminal, nbval's text/plain, a screen
reader) it is the same line as text, so nothing depends on the colour. The colours are
from the Okabe-Ito palette (blue and orange, never red against green), which
red-green colour-blind readers tell apart; the box is a live status region (role="status")
so a screen reader announces the new verdict.

Introduced in the homework edition (homework/student/).
"""

import html

# kind -> (mark, border colour, colour of the mark and word, background). Borders are
# Okabe-Ito blue and vermilion; the word is a darker shade of it, at least 4.5:1 against
# its background (WCAG AA for text).
KINDS = {
    "passed": ("✓", "#0072B2", "#005A8C", "#E5F1FA"),
    "failed": ("✗", "#D55E00", "#A34700", "#FCEEE5"),
    "not yet": ("…", "#8C8C8C", "#5F5F5F", "#F2F2F2"),     # grey: nothing to judge yet
}
INK, PAPER = "#1A1A1A", "#FAFAFA"    # own text and background: readable under a dark theme


def _kind(kind):
    if kind not in KINDS:
        raise ValueError(f"a verdict's kind is one of {sorted(KINDS)}, got {kind!r}")
    return KINDS[kind]


def badge(kind, word):
    """The mark and the word, coloured, as HTML: <strong>✓ passed</strong>."""
    mark, _, colour, _ = _kind(kind)
    return f'<strong style="color:{colour}">{mark} {html.escape(word)}</strong>'


class Verdict:
    """One check's verdict: kind is "passed", "failed" or "not yet"; word is what the
    student reads after the mark (default: the kind); text is the feedback below it."""

    def __init__(self, kind, text, word=None, note=""):
        _kind(kind)
        self.kind, self.text, self.word, self.note = kind, text, word or kind, note

    def __str__(self):
        mark = KINDS[self.kind][0]
        return f"{mark} {self.word}: {self.text}" + (f"\n({self.note})" if self.note else "")

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        _, colour, _, background = KINDS[self.kind]
        note = (f'<div style="font-size:0.9em;margin-top:0.2em">({html.escape(self.note)})</div>'
                if self.note else "")
        return (f'<div role="status" style="border-left:0.4em solid {colour};background:'
                f'{background};color:{INK};padding:0.35em 0.7em;margin:0.2em 0;'
                f'white-space:pre-wrap;overflow-wrap:anywhere;'
                f'font-family:var(--jp-code-font-family,monospace)">'
                f'{badge(self.kind, self.word)}: {html.escape(self.text)}{note}</div>')


class Table:
    """Rows of (name, kind, word, detail) as a table with a coloured mark and word per row;
    title above, footer below. Text elsewhere, one row per line."""

    def __init__(self, title, rows, footer=""):
        self.title, self.rows, self.footer = title, list(rows), footer

    def __str__(self):
        width = max([len(r[0]) for r in self.rows] + [0])
        lines = [self.title] + [f"  {KINDS[kind][0]} {name:<{width}}  {word}"
                                + (f" ({detail})" if detail else "")
                                for name, kind, word, detail in self.rows]
        return "\n".join(lines + ([self.footer] if self.footer else []))

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self):
        cell = 'style="text-align:left;padding:0.15em 0.8em 0.15em 0"'
        body = "".join(
            f"<tr><td {cell}><code>{html.escape(name)}</code></td><td {cell}>"
            f"{badge(kind, word)}</td><td {cell}>{html.escape(detail)}</td></tr>"
            for name, kind, word, detail in self.rows)
        return (f'<div role="status" style="color:{INK};background:{PAPER};padding:0.35em 0.7em;'
                f'margin:0.2em 0;display:inline-block">'
                f'<div style="font-weight:bold">{html.escape(self.title)}</div>'
                f'<table style="border-collapse:collapse;margin:0.2em 0">'
                f'<thead><tr><th {cell}>exercise</th><th {cell}>status</th><th {cell}></th>'
                f'</tr></thead><tbody>{body}</tbody></table>'
                f'<div>{html.escape(self.footer)}</div></div>')


def show(thing):
    """Display a Verdict or Table: rich in IPython (a notebook shows the HTML, a terminal
    the text), printed elsewhere. Returns None, so a cell that ends with it echoes nothing."""
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is None:
        print(str(thing))
        return None
    from IPython.display import display
    display(thing)
    return None
