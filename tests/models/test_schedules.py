"""The learning-rate schedules (cyclic, one-cycle, the range test's ramp) and the range test's suggestion."""

import keras
import numpy as np
import pytest

from cnnkit.models.schedules import CyclicLR, ExponentialRamp, OneCycle, suggest_lr_range


def values(schedule, steps):
    return keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(np.array(steps)))).tolist()


def test_triangular_cycle_rises_to_max_at_half_cycle_and_returns():
    clr = CyclicLR(0.001, 0.007, step_size=10)
    assert values(clr, [0, 5, 10, 15, 20, 30]) == pytest.approx([0.001, 0.004, 0.007, 0.004, 0.001, 0.007])


def test_triangular2_halves_the_amplitude_every_cycle():
    clr = CyclicLR(0.001, 0.007, step_size=10, mode="triangular2")
    assert values(clr, [10, 30, 50]) == pytest.approx([0.007, 0.004, 0.0025])


def test_exp_range_decays_the_amplitude_by_gamma_per_step():
    clr = CyclicLR(0.001, 0.007, step_size=10, mode="exp_range", gamma=0.9)
    assert values(clr, [10])[0] == pytest.approx(0.001 + 0.006 * 0.9**10, rel=1e-5)


def test_one_cycle_warms_up_to_the_peak_then_anneals_to_the_floor():
    schedule = OneCycle(0.01, 0.1, 1e-5, total_steps=100, warmup=0.3)
    assert values(schedule, [0, 15, 30, 100]) == pytest.approx([0.01, 0.055, 0.1, 1e-5], rel=1e-4)


def test_exponential_ramp_spans_the_range_geometrically():
    ramp = ExponentialRamp(1e-6, 1.0, steps=7)
    assert values(ramp, [0, 3, 6]) == pytest.approx([1e-6, 1e-3, 1.0], rel=1e-4)


def test_lr_suggestion_finds_the_steep_descent_before_the_blow_up():
    lrs = np.logspace(-6, 0, 60)
    log_lr = np.log10(lrs)
    losses = 2.3 - 2.0 / (1 + np.exp(-(log_lr + 3) * 3))  # falls fastest near 1e-3 ...
    losses[log_lr > -1] += (log_lr[log_lr > -1] + 1) * 20  # ... and explodes past 1e-1
    suggestion = suggest_lr_range(lrs, losses)
    assert 1e-4 < suggestion.steepest < 1e-2
    assert suggestion.lower <= suggestion.upper < 1e-1


def test_lr_suggestion_range_contains_the_steepest_point_when_the_loss_falls_fastest_just_before_its_minimum():
    lrs = np.logspace(-6, 0, 100)
    log_lr = np.log10(lrs)
    losses = 2.3 - 2.0 / (1 + np.exp(-(log_lr + 2) * 4))  # falls fastest near 1e-2 ...
    losses[log_lr > -1] += (log_lr[log_lr > -1] + 1) * 30  # ... and turns at 1e-1: a tenth of that is below 1e-2
    suggestion = suggest_lr_range(lrs, losses)
    assert suggestion.lower <= suggestion.steepest <= suggestion.upper
    assert 1e-2 < suggestion.steepest < 3e-2 and suggestion.upper == suggestion.steepest
    assert suggestion.lower == pytest.approx(suggestion.upper / 3)


@pytest.mark.parametrize("seed", range(20))
def test_lr_suggestion_always_contains_its_steepest_point(seed):
    rng = np.random.default_rng(seed)
    lrs = np.logspace(-6, 0, int(rng.integers(5, 120)))
    losses = 2.3 + np.cumsum(rng.normal(0, 0.1, len(lrs)))
    suggestion = suggest_lr_range(lrs, losses)
    assert suggestion.lower <= suggestion.steepest <= suggestion.upper
