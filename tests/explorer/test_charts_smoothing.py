"""cnnkit.explorer.charts.smoothing: moving_average and ema."""

import numpy as np
import pytest

from cnnkit.explorer import charts


# ---- moving_average / ema ----------------------------------------------------------------


def test_moving_average_averages_up_to_window_previous_points_and_keeps_the_length():
    assert charts.moving_average([1, 2, 3, 4, 5], 3).tolist() == pytest.approx([1, 1.5, 2, 3, 4])
    assert charts.moving_average([1, 2, 3], 1).tolist() == [1, 2, 3]
    assert charts.moving_average([4, 8], 10).tolist() == [4, 6]
    assert len(charts.moving_average([], 5)) == 0


def test_moving_average_skips_nans_and_rejects_a_window_below_one():
    assert charts.moving_average([2, np.nan, 4], 2).tolist() == [2, 2, 4]
    with pytest.raises(ValueError):
        charts.moving_average([1, 2], 0)


def test_ema_is_bias_corrected_so_a_constant_stays_constant():
    assert charts.ema([3, 3, 3, 3]).tolist() == pytest.approx([3, 3, 3, 3])
    assert charts.ema([0, 10])[1] == pytest.approx((0.9 * 0 + 0.1 * 10) / (1 - 0.9**2))
