"""MNIST's preprocessing for drawn digits (cnnlib.data.preprocess) and the pen strokes (cnnlib.data.strokes).

The hand-built cases check each step against arithmetic done in the comments; the MNIST
cases check that the steps are MNIST's own: real digits go through unchanged, and digits
blown up and moved around a canvas come back as digits the shipped network reads as before.
"""
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cnnlib.data import PRETRAINED_PATH, load_mnist, to_float
from cnnlib.data.preprocess import (center_by_mass, center_of_mass, check_drawing, fit_box, ink_box,
                                preprocess, resize)
from cnnlib.data.strokes import SAMPLES_PATH, check_strokes, drawn_samples, render_strokes

REPO = Path(__file__).resolve().parent.parent
FULL_DIR = Path(os.environ.get("CNNLIB_MNIST_DIR") or REPO.parent / "shared" / "data" / "mnist")


def l_shape():
    # a 120-row by 60-column "L" of ink 255 on a 200 x 300 canvas: rows 40..159, columns 100..159
    image = np.zeros((200, 300))
    image[40:160, 100:110] = 255          # the upright, 10 columns wide
    image[150:160, 100:160] = 255         # the foot, 10 rows high
    return image


def test_ink_box_of_a_hand_built_stroke():
    assert ink_box(l_shape()) == (40, 160, 100, 160)


def test_fit_box_keeps_the_aspect_ratio_and_the_mean_ink():
    crop = l_shape()[40:160, 100:160]
    small = fit_box(crop)
    # longer side 120 -> 20 (factor 1/6), so the 60 columns -> 10
    assert small.shape == (20, 10)
    # area averaging keeps the mean: the upright's 10 columns become 10/6 = 1.67 columns
    assert small.mean() == pytest.approx(crop.mean())
    assert small[:, 0].min() == 255 and small[0, 2] == 0
    assert small[0, 1] == pytest.approx(255 * 4 / 6)     # 4 of the 6 columns under it inked


def test_preprocess_centres_the_mass_within_half_a_pixel():
    steps = preprocess(l_shape())
    assert steps.digit.shape == (28, 28) and steps.digit.dtype == np.uint8
    cy, cx = center_of_mass(steps.digit)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5, (cy, cx)
    # the network's input is the course's scaling x/255 - 0.5
    np.testing.assert_allclose(steps.x[0, 0], steps.digit / 255 - 0.5, atol=1e-6)
    assert ink_box(steps.digit)[1] - ink_box(steps.digit)[0] == 20


def test_a_lopsided_digit_keeps_all_its_ink():
    # all the mass in the top row: the centre of mass (0, 9.5) cannot reach (14, 14)
    small = np.zeros((20, 20))
    small[0] = 255
    digit, offset = center_by_mass(small)
    assert offset == (8, 4)                # clamped so the 20 rows stay in 28; 14 - 9.5 = 4.5 -> 4
    assert digit.sum() == small.sum()


def resize_loop(image, shape):
    # the definition: new pixel (i, j) covers [i, i+1) x [j, j+1) in new units; average the
    # old pixels under it, each weighted by the area it shares
    h, w = image.shape
    nh, nw = shape
    out = np.zeros(shape)
    for i in range(nh):
        for j in range(nw):
            for r in range(h):
                for c in range(w):
                    dy = min(i + 1, (r + 1) * nh / h) - max(i, r * nh / h)
                    dx = min(j + 1, (c + 1) * nw / w) - max(j, c * nw / w)
                    if dy > 0 and dx > 0:
                        out[i, j] += dy * dx * image[r, c]
    return out


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.integers(0, 99))
def test_resize_matches_the_loop_definition(h, w, nh, nw, seed):
    image = np.random.default_rng(seed).uniform(0, 255, (h, w))
    np.testing.assert_allclose(resize(image, (nh, nw)), resize_loop(image, (nh, nw)), atol=1e-9)


@pytest.mark.parametrize("image, words", [
    (np.zeros((280, 280)), "The canvas is empty: draw a digit first"),
    (np.zeros((2, 28, 28)), "one grey image of shape (H, W)"),
    (np.full((28, 28), np.nan), "NaN"),
    (np.full((28, 28), 300.0), "0..255"),
    (np.array([["a"]]), "numbers"),
])
def test_bad_drawings_get_one_clear_sentence(image, words):
    with pytest.raises(ValueError) as err:
        preprocess(image)
    assert words in str(err.value)
    message = str(err.value).replace("e.g.", "")
    assert message.count(". ") == 0 and message.endswith("."), "one sentence"


def test_render_strokes_paints_a_round_pen():
    image = render_strokes([[[50, 50], [150, 50]]], size=200, pen=20)
    # pixel centres within 10 of the segment are ink; a pixel centre 12 away is not
    assert image[50, 100] == 255 and image[59, 100] == 255 and image[62, 100] == 0
    assert image[50, 41] == 255 and image[50, 38] == 0          # round cap, radius 10
    assert image.max() == 255 and image.min() == 0
    dot = render_strokes([[[20, 20]]], size=40, pen=6)
    assert ink_box(dot) == (17, 23, 17, 23)


@pytest.mark.parametrize("strokes", [None, [[]], [["a", "b"]], [[[1, np.nan]]], [[1, 2]]])
def test_bad_strokes_say_what_is_expected(strokes):
    with pytest.raises(ValueError, match="list of"):
        check_strokes(strokes)


def test_mnist_digits_go_through_unchanged():
    # MNIST's digits are the output of these steps, so doing them again changes no pixel
    (_, _), (x, _) = load_mnist()
    same = np.array([preprocess(image).digit for image in x])
    changed = int((same != x).any(axis=(1, 2)).sum())
    print(f"{len(x) - changed} of {len(x)} MNIST test digits unchanged by preprocessing")
    assert changed == 0


def upscale(image, side):
    # bilinear blow-up of a (28, 28) digit to (side, side): a smooth digit, as a pen draws
    src = (np.arange(side) + 0.5) * len(image) / side - 0.5
    m = np.clip(1 - np.abs(src[:, None] - np.arange(len(image))[None]), 0, None)
    m /= m.sum(axis=1, keepdims=True)
    return m @ image.astype(np.float64) @ m.T


def on_canvases(x, seed=0, size=280):
    """Each digit blown up to a random side 100..280 and put at a random place of a canvas."""
    rng = np.random.default_rng(seed)
    for image in x:
        side = int(rng.integers(100, size + 1))
        r, c = rng.integers(0, size - side + 1, size=2)
        canvas = np.zeros((size, size))
        canvas[r:r + side, c:c + side] = upscale(image, side)
        yield canvas


def stretched(canvas):
    # a wrong preprocessing, to show the threshold can fail: the ink box stretched to 28x28
    r0, r1, c0, c1 = ink_box(canvas)
    return resize(canvas[r0:r1, c0:c1], (28, 28))


def agreement(net, x):
    """Share of digits x that the network reads the same after being put on a canvas and then
    (1) preprocessed, (2) shrunk to 28x28 as they are, (3) cut to the ink box and stretched."""
    before = net.predict_proba(to_float(x[:, None])).argmax(axis=1)
    ways = ([], [], [])
    for canvas in on_canvases(x):
        ways[0].append(preprocess(canvas).digit)
        ways[1].append(resize(canvas, (28, 28)))
        ways[2].append(stretched(canvas))
    read = [net.predict_proba(to_float(np.clip(np.rint(a), 0, 255).astype(np.uint8)[:, None]))
            .argmax(axis=1) for a in map(np.array, ways)]
    return [float(np.mean(r == before)) for r in read]


# The threshold: the shipped network gets about 99.3 % of MNIST's test digits right, and some
# of the digits it is unsure about may flip when a digit is blown up and shrunk again (the
# bilinear blow-up is not undone exactly). Reading 98 % of the digits as before leaves that
# room. Measured on the bundled digits: 99.8 % with preprocessing, 92 % for the ink box
# stretched to 28x28, 75 % for plain shrinking; the network, trained on digits shifted by up
# to 2 pixels, hardly minds centring the box instead of the mass (99.5 %), and stretching
# the box to 20x20 without keeping its aspect ratio costs about 2 points (97.8 %).
AGREE = 0.98


def check_agreement(net, x):
    with_steps, shrunk, wrong = agreement(net, x)
    print(f"read as before: {with_steps:.1%} with preprocessing, {shrunk:.1%} shrunk as drawn, "
          f"{wrong:.1%} with the ink box stretched to 28x28")
    assert with_steps >= AGREE
    assert shrunk < AGREE and wrong < AGREE     # the check tells a wrong preprocessing apart


@pytest.fixture(scope="module")
def net():
    from cnnlib.viz.trained import load_trained
    return load_trained(PRETRAINED_PATH)[0]


def test_drawn_mnist_digits_are_read_as_before(net):
    (_, _), (x, _) = load_mnist()                   # the bundled 1,000 test digits
    check_agreement(net, x)


@pytest.mark.skipif(not (FULL_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                    reason=f"full MNIST not found at {FULL_DIR} (set CNNLIB_MNIST_DIR)")
def test_drawn_full_mnist_digits_are_read_as_before(net):
    (_, _), (x, _) = load_mnist("full", directory=FULL_DIR)
    check_agreement(net, x[5000:])                  # 5,000 test digits, mostly not in the sample


def test_the_shipped_samples_are_read_as_the_digit_meant(net):
    samples = drawn_samples()
    assert len(samples) >= 4
    for name, strokes in samples.items():
        steps = preprocess(render_strokes(strokes))
        assert int(net.predict_proba(steps.x).argmax()) == int(name[0]), name


def test_the_shipped_samples_are_what_the_script_makes():
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_drawn_samples",
                                                  REPO / "scripts" / "make_drawn_samples.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.samples_json() == SAMPLES_PATH.read_text(encoding="utf-8"), \
        "resources/drawn_digits.json differs: run python scripts/make_drawn_samples.py"
