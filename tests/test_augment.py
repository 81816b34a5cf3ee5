"""Tests for cnnlib.augment: moving one digit (transform_digit) and random shifts of a
batch (random_shifts, the augmentation behind resources/lenet_mnist.npz)."""
import numpy as np
import pytest

from cnnlib.augment import random_shifts, transform_digit
from bad_input_support import X4, check_raises


def pattern():
    img = np.zeros((5, 5))
    img[0, 0], img[0, 1], img[1, 0], img[2, 0] = 1.0, 2.0, 3.0, 4.0   # asymmetric "L"
    return img


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_no_shift_no_angle_is_identity(interpolation):
    img = np.random.default_rng(1).uniform(0, 255, size=(28, 28))
    out = transform_digit(img, (0, 0), 0.0, interpolation)
    assert out.shape == img.shape
    np.testing.assert_array_equal(out, img)


def test_shift_down_one_row_moves_content_down():
    out = transform_digit(pattern(), shift=(1, 0))
    expected = np.zeros((5, 5))
    expected[1:] = pattern()[:-1]
    np.testing.assert_allclose(out, expected)


def test_shift_right_and_negative_shift():
    img = pattern()
    np.testing.assert_allclose(transform_digit(img, shift=(0, 2))[:, 2:], img[:, :-2])
    np.testing.assert_allclose(transform_digit(img, shift=(0, 2))[:, :2], 0)
    np.testing.assert_allclose(transform_digit(img, shift=(-1, 0))[:-1], img[1:])


def test_half_pixel_shift_interpolates():
    img = np.zeros((3, 3))
    img[1, 1] = 1.0
    out = transform_digit(img, shift=(0, 0.5))
    assert out[1, 1] == pytest.approx(0.5) and out[1, 2] == pytest.approx(0.5)
    assert out.sum() == pytest.approx(1.0)


def test_rotation_by_90_turns_pattern_counter_clockwise():
    img = pattern()
    out = transform_digit(img, angle=90)
    # top row 1, 2 (left to right) becomes the left column read upwards: 1 bottom-left
    assert out[4, 0] == pytest.approx(1.0) and out[3, 0] == pytest.approx(2.0)
    assert out[4, 1] == pytest.approx(3.0) and out[4, 2] == pytest.approx(4.0)
    np.testing.assert_allclose(out, np.rot90(img), atol=1e-9)
    np.testing.assert_allclose(transform_digit(img, angle=-90), np.rot90(img, -1), atol=1e-9)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_rotation_by_360_is_identity(interpolation):
    img = np.random.default_rng(2).uniform(0, 255, size=(28, 28))
    np.testing.assert_allclose(transform_digit(img, angle=360, interpolation=interpolation),
                               img, atol=1e-6)


def test_shift_larger_than_image_gives_blank():
    out = transform_digit(pattern(), shift=(40, -40))
    assert out.shape == (5, 5) and not out.any()


@pytest.mark.parametrize("bad, match", [
    (dict(image=np.full((4, 4), np.nan)), "NaN"),
    (dict(image=np.zeros(4)), "shape"),
    (dict(image=np.zeros((4, 4)), angle=np.inf), "finite"),
    (dict(image=np.zeros((4, 4)), interpolation="cubic"), "interpolation"),
])
def test_transform_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        transform_digit(**bad)


def test_random_shifts_moves_each_image_by_at_most_shift_pixels():
    rng = np.random.default_rng(0)
    xb = np.full((50, 1, 12, 12), -0.5, np.float32)
    xb[:, 0, 5, 6] = 1.0                                   # one bright pixel per image
    out = random_shifts(xb, rng, shift=2)
    assert out.shape == xb.shape and out.dtype == xb.dtype
    rows, cols = np.nonzero(out[:, 0] == 1.0)[1:]
    assert len(rows) == 50                                 # the pixel survives in every image
    assert np.all(np.abs(rows - 5) <= 2) and np.all(np.abs(cols - 6) <= 2)
    assert len(set(zip(rows, cols))) > 10                  # and the offsets really vary
    assert np.all((out == 1.0) | (out == -0.5))            # uncovered pixels are background


def test_random_shifts_is_repeatable_and_keeps_channels_together():
    xb = np.random.default_rng(1).normal(size=(8, 3, 10, 10))
    a = random_shifts(xb, np.random.default_rng(5), shift=1, background=0.0)
    b = random_shifts(xb, np.random.default_rng(5), shift=1, background=0.0)
    np.testing.assert_array_equal(a, b)
    for n in range(8):                                     # one offset per image, all channels
        found = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                 if np.allclose(np.roll(xb[n], (dy, dx), axis=(1, 2))[:, 1:-1, 1:-1],
                                a[n][:, 1:-1, 1:-1])]
        assert found


def test_random_shifts_zero_is_identity():
    xb = np.random.default_rng(2).normal(size=(4, 1, 6, 6))
    np.testing.assert_array_equal(random_shifts(xb, np.random.default_rng(0), shift=0), xb)


# ---------------------------------------------------------------- bad inputs (issue 11)
FORWARD = [
    pytest.param(lambda: random_shifts(X4, np.random.default_rng(0), -1), ValueError,
                 ["shift", ">= 0"], id="shift-1"),
    pytest.param(lambda: random_shifts(X4, np.random.default_rng(0), 28), ValueError,
                 ["out of sight", "shift=2"], id="shift28"),
]


@pytest.mark.parametrize("call, exc, words", FORWARD)
def test_bad_forward_input_says_what_to_do(call, exc, words):
    check_raises(call, exc, *words)


# ---------------------------------------------------------------- rotations of a batch (notebook 12)

def test_rotate_batch_equals_transform_digit_image_by_image():
    """The vectorised batch rotation against the one-image version (the loop)."""
    from cnnlib.augment import rotate_batch
    rng = np.random.default_rng(5)
    xb = rng.uniform(-0.5, 0.5, size=(4, 2, 9, 7))
    angles = np.array([0.0, 12.5, -30.0, 90.0])
    out = rotate_batch(xb, angles)
    for n in range(4):
        for c in range(2):
            np.testing.assert_allclose(out[n, c],
                                       transform_digit(xb[n, c] + 0.5, angle=angles[n]) - 0.5,
                                       atol=1e-12)


def test_rotate_batch_by_zero_is_identity_and_keeps_the_dtype():
    from cnnlib.augment import rotate_batch
    xb = X4.copy()
    out = rotate_batch(xb, np.zeros(len(xb)))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, xb, atol=1e-6)


def test_quarter_turn_of_a_square_moves_rows_to_columns():
    from cnnlib.augment import rotate_batch
    img = np.full((1, 1, 5, 5), -0.5)
    img[0, 0, 0, 2] = 0.5                          # top middle
    out = rotate_batch(img, np.array([90.0]))      # counter-clockwise: top goes left
    assert out[0, 0, 2, 0] == pytest.approx(0.5)
    assert out[0, 0, 0, 2] == pytest.approx(-0.5)


def test_random_rotations_stay_within_the_angle_and_repeat_from_the_seed():
    from cnnlib.augment import random_rotations, rotate_batch
    a = random_rotations(X4, np.random.default_rng(1), 10)
    b = random_rotations(X4, np.random.default_rng(1), 10)
    np.testing.assert_array_equal(a, b)
    angles = np.random.default_rng(1).uniform(-10, 10, size=len(X4))
    np.testing.assert_array_equal(a, rotate_batch(X4, angles))


@pytest.mark.parametrize("call, exc, words", [
    (lambda: __import__("cnnlib.augment").augment.rotate_batch(X4, np.zeros(3)), ValueError,
     ["one finite angle per image", "(2,)"]),
    (lambda: __import__("cnnlib.augment").augment.rotate_batch(X4, np.array([0, np.nan])),
     ValueError, ["finite"]),
    (lambda: __import__("cnnlib.augment").augment.random_rotations(
        X4, np.random.default_rng(0), 200), ValueError, ["0..180"]),
    (lambda: __import__("cnnlib.augment").augment.rotate_batch(X4[0], np.zeros(1)), ValueError,
     ["(N, C, H, W)"]),
])
def test_bad_rotation_input(call, exc, words):
    check_raises(call, exc, *words)
