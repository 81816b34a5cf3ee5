"""Widgets in an executed notebook replaced by the pictures they drew first, for static pages.

    freeze_widgets(nb) -> nb   (in place: no widget output and no widget state is left)

A widget needs a running kernel and the widget scripts; a static page has neither. Each
widget's output becomes a line naming its controls and the pictures its Output areas and
Image widgets held when its cell ran, each an <img> with its alt text; a progress bar
(tqdm) becomes its last line of text. The course site (cnnlib/course/site.py) renders the
result, so the site loads no widget script.
"""
import html
import re

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _model_id(ref):
    return ref[len("IPY_MODEL_"):] if isinstance(ref, str) and ref.startswith("IPY_MODEL_") else None


def _walk(model_id, models, seen=None):
    """Yield the widget models under model_id, depth first (a box's children in order)."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in models:
        return
    seen.add(model_id)
    yield models[model_id]
    for ref in models[model_id]["state"].get("children", []):
        yield from _walk(_model_id(ref), models, seen)


def _html(text):
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": text}}


def _img(png, fmt, alt):
    return _html(f'<img src="data:image/{fmt};base64,{png}" alt="{html.escape(alt, quote=True)}" '
                 'class="cnnlib-figure"/>')


def _picture(out):
    """An Output area's image output as an <img> with the alt text it carries (None if no image)."""
    data = out.get("data", {})
    if "text/html" in data and "<img" in "".join(data["text/html"]):
        return _html("".join(data["text/html"]))       # cnnlib's figures: <img alt="..."> already
    if "image/png" in data:
        alt = out.get("metadata", {}).get("image/png", {}).get("alt") or data.get("text/plain", "")
        return _img(data["image/png"], "png", "".join(alt))
    return None


def static_outputs(model_id, models):
    """A widget's view replaced by a note naming its controls and the pictures it drew."""
    controls, pictures, images, texts = [], [], [], []
    for model in _walk(model_id, models):
        name, state = model["model_name"], model["state"]
        label = state.get("description") or ""
        if name == "OutputModel":
            pictures.extend(p for p in map(_picture, state.get("outputs", [])) if p)
        elif name == "ImageModel":
            data = next((b["data"] for b in model.get("buffers", []) if b["path"] == ["value"]), None)
            if data:
                images.append((data, state.get("format", "png")))
        elif name == "HTMLModel" and "<img" in str(state.get("value", "")):
            # a picture with its own alt text (08's training dashboard, widgets.picture_html)
            pictures.append(_html(str(state["value"])))
        elif name in ("LabelModel", "HTMLModel"):
            texts.append(re.sub(r"<[^>]+>", "", str(state.get("value", ""))).strip())
        elif label:
            controls.append(label)
    if not pictures and not images and not controls:   # a progress bar: its last text is enough
        line = html.escape(html.unescape(" ".join(t for t in texts if t)))
        return [_html(f'<pre class="cnnlib-widget-text">{line}</pre>')]
    what = ", ".join(controls) if controls else "its controls"
    # An Image widget's PNG carries no alt text of its own: it is described by its controls.
    pictures += [_img(data, fmt, f"Picture of the widget with {what}, before any control is used")
                 for data, fmt in images]
    note = (f"Interactive widget (controls: {html.escape(what)}). This page shows the picture "
            "it drew first; run the notebook to use the controls.")
    return [_html(f'<p class="cnnlib-widget-note"><em>{note}</em></p>')] + pictures


def freeze_widgets(nb):
    """Replace every widget view output by its static outputs; drop the widget state."""
    import nbformat
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(out)
            else:
                outputs.extend(nbformat.from_dict(o) for o in static_outputs(view["model_id"], models))
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return nb
