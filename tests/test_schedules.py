"""Tests for cnnlib.schedules: warm-up rises linearly to lr_max, cosine falls to lr_min,
step drops by a factor, and bad steps or settings are refused."""
import math

import pytest

from cnnlib.schedules import warmup_cosine, warmup_step


def test_cosine_without_warmup():
    rates = [warmup_cosine(k, 4, 1.0) for k in range(4)]
    # (1 + cos(pi k / 4)) / 2 for k = 0..3
    assert rates == pytest.approx([1.0, (1 + math.sqrt(0.5)) / 2, 0.5,
                                   (1 - math.sqrt(0.5)) / 2])


def test_warmup_then_cosine():
    rates = [warmup_cosine(k, 6, 0.01, warmup=2, lr_min=0.001) for k in range(6)]
    assert rates[:2] == pytest.approx([0.005, 0.01])
    assert rates[2] == pytest.approx(0.01)                   # the cosine starts at the top
    assert all(a > b for a, b in zip(rates[2:], rates[3:]))  # and only falls
    assert rates[-1] > 0.001


def test_step_schedule():
    rates = [warmup_step(k, 7, 1.0, warmup=1, drop=0.5, every=2) for k in range(7)]
    assert rates == pytest.approx([1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25])


@pytest.mark.parametrize("call, words", [
    (lambda: warmup_cosine(4, 4, 1.0), "past the schedule"),
    (lambda: warmup_cosine(0, 4, 1.0, warmup=4), "no step"),
    (lambda: warmup_cosine(0, 4, 0.0), "lr_max"),
    (lambda: warmup_cosine(0, 4, 1.0, lr_min=2.0), "lr_min"),
    (lambda: warmup_step(0, 4, 1.0, drop=1.5), "drop"),
    (lambda: warmup_step(0, 4, 1.0, every=0), "every"),
    (lambda: warmup_cosine(-1, 4, 1.0), "step"),
])
def test_bad_settings_are_refused(call, words):
    with pytest.raises(ValueError, match=words):
        call()
