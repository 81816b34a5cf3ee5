"""What a student would see go wrong in a notebook's widgets, read from the page's DOM.

problems(page) lists, for the notebook on show, every
  - error view: a widget view that failed to render. In ipywidgets 8 it still carries the
    class jupyter-widgets; its content is div.jupyter-widgets-error-widget ("Click to show
    javascript error."), or the text "Error displaying widget" when the view could not be made;
  - traceback or red stderr text inside a widget's Output (an exception in a callback lands
    there, not in the cell's output, so Run All stays green);
  - overflow: a widget Output, a row or box of controls, a control, or a widget's picture
    whose content is larger than its box (scrollWidth/scrollHeight > clientWidth/clientHeight),
    a label or readout cut to "temperat…" (scrollWidth > clientWidth), a picture wider than
    the notebook (a sideways scroll bar), or a control pushed outside its cell.
Each problem is one sentence naming the cell, the element and the sizes, so a failing test
says where to look. Sliders' inner parts (the handle hangs half outside its track by design)
and form fields' own scrolling (a <select>'s list) are not boxes a student reads.
"""

ACTIVE = ".jp-NotebookPanel:not(.lm-mod-hidden)"

# Run in the page: a list of {kind, cell, what, detail}.
PROBLEMS_JS = r"""(active) => {
  const panel = document.querySelector(active);
  if (!panel) return [{kind: 'setup', cell: -1, what: 'no notebook on show', detail: ''}];
  const cells = [...panel.querySelectorAll('.jp-Cell')];
  const out = [];
  const cellOf = el => cells.findIndex(c => c.contains(el));
  const name = el => {
    // a stable name: its own description, else the first one inside it (not its values)
    const label = el.matches('.widget-label, label') ? el :
                  el.querySelector(':scope > .widget-label, :scope > label, .widget-label, label');
    const text = (label && label.textContent.trim()) || el.getAttribute('aria-label') ||
                 (el.tagName === 'BUTTON' ? el.textContent.trim() : '');
    const cls = [...el.classList].filter(c => c.startsWith('widget-') || c.startsWith('jupyter-'));
    return `${el.tagName.toLowerCase()}.${cls.slice(0, 2).join('.')} "${text.slice(0, 40)}"`;
  };
  const add = (kind, el, detail) => out.push({kind, cell: cellOf(el), what: name(el), detail});
  const shown = el => el.getClientRects().length > 0;
  const SLOP = 1;  // sub-pixel rounding

  for (const el of panel.querySelectorAll('.jupyter-widgets-error-widget'))
    add('error view', el, 'a widget view failed to render (ipywidgets error view)');
  for (const el of panel.querySelectorAll('.jp-OutputArea-output'))
    if (el.textContent.trim().startsWith('Error displaying widget'))
      add('error view', el, el.textContent.trim().slice(0, 120));

  for (const output of panel.querySelectorAll('.widget-output')) {
    const red = output.querySelector(
      '[data-mime-type="application/vnd.jupyter.stderr"], ' +
      '[data-mime-type="application/vnd.jupyter.error"], .ansi-red-fg, .ansi-red-intense-fg');
    if (!red) continue;
    const text = (red.closest('.jp-RenderedText') || red).textContent.trim().split('\n');
    add('traceback in Output', output, text[text.length - 1].slice(0, 200));  // the exception
  }

  const roots = [...panel.querySelectorAll('.jp-OutputArea-output > .jupyter-widgets')];
  for (const root of roots) {
    const area = root.closest('.jp-OutputArea-output');
    const limit = area.getBoundingClientRect();
    for (const el of [root, ...root.querySelectorAll('*')]) {
      if (!shown(el) || el.closest('.noUi-target, .slider-container, select, input, textarea'))
        continue;
      const cls = el.classList;
      const box = cls.contains('widget-output') || cls.contains('widget-box') ||
                  cls.contains('widget-inline-hbox') || cls.contains('widget-inline-vbox') ||
                  cls.contains('jupyter-widgets') || cls.contains('jp-OutputArea');
      const text = cls.contains('widget-label') || cls.contains('widget-label-basic') ||
                   cls.contains('widget-readout') || cls.contains('widget-html-content') ||
                   (el.tagName === 'LABEL' && el.closest('.jupyter-widgets'));
      const style = getComputedStyle(el);
      const clips = /hidden|clip|auto|scroll/.test(style.overflowX + style.overflowY);
      if (!(box || text || clips)) continue;
      const dx = el.scrollWidth - el.clientWidth, dy = el.scrollHeight - el.clientHeight;
      // a description label sits on the baseline of a dropdown's text and hangs 1.5 px
      // below its row: nothing is hidden, so a row may be 2 px too short
      const rowSlop = cls.contains('widget-inline-hbox') && style.overflowY === 'visible' ? 2 : SLOP;
      if (dx > SLOP || (!text && dy > rowSlop))
        add(text ? 'text cut' : 'overflow', el,
            `content ${el.scrollWidth}x${el.scrollHeight} px in a box of ` +
            `${el.clientWidth}x${el.clientHeight} px (overflow ${style.overflowX}/${style.overflowY})`);
    }
    for (const el of root.querySelectorAll('img, button, select, input, .widget-slider')) {
      if (!shown(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.right > limit.right + SLOP || r.left < limit.left - SLOP)
        add('overflow', el, `reaches x ${Math.round(r.left)}..${Math.round(r.right)} px, ` +
            `outside its output area ${Math.round(limit.left)}..${Math.round(limit.right)} px`);
    }
  }
  return out;
}"""


def problems(page):
    """Every problem on show, as sentences; [] when the notebook looks right."""
    found = page.evaluate(PROBLEMS_JS, ACTIVE)
    seen, lines = set(), []
    for p in found:
        line = f"cell {p['cell']}: {p['kind']}: {p['what']}: {p['detail']}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


def kinds(lines):
    """{cell: {problem class}} of problems(page)'s and browser_controls.move's sentences, which
    all read "cell N: class: ..." (classes: error view, traceback in Output, overflow,
    text cut, not moved, keys to the notebook)."""
    out = {}
    for line in lines:
        cell, kind = line.split(": ")[:2]
        out.setdefault(int(cell.split()[1]), set()).add(kind)
    return out
