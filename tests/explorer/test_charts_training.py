"""cnnkit.explorer.charts.training: learning_curves, batch_loss, learning_rate, lr_finder."""

import numpy as np
import pandas as pd
import pytest

from chart_figures import has_shared_look, note_text
from cnnkit.explorer import charts


# ---- learning_curves ---------------------------------------------------------------------


def test_learning_curves_draws_train_and_validation_loss_left_and_accuracy_right():
    epochs = pd.DataFrame({"epoch": [2, 1, 3], "loss": [0.5, 0.9, 0.3], "val_loss": [0.6, 1.0, 0.5],
                           "accuracy": [0.8, 0.6, 0.9], "val_accuracy": [0.7, 0.5, 0.8], "lr": [1e-3] * 3})
    fig = charts.learning_curves(epochs)
    assert [(t.name, t.xaxis) for t in fig.data] == [("train", "x"), ("validation", "x"), ("train", "x2"), ("validation", "x2")]
    assert list(fig.data[0].x) == [1, 2, 3] and list(fig.data[0].y) == [0.9, 0.5, 0.3]  # sorted by epoch
    assert list(fig.data[3].y) == [0.5, 0.7, 0.8]
    assert [t.showlegend for t in fig.data] == [True, True, False, False]  # one legend entry per split
    assert fig.data[0].line.color == fig.data[2].line.color != fig.data[1].line.color
    assert fig.data[0].mode == "lines+markers"
    assert "validation accuracy" in fig.data[3].hovertemplate
    assert [a.text for a in fig.layout.annotations] == ["Loss", "Accuracy"]
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "Epoch"
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text) == ("Loss", "Accuracy")
    assert has_shared_look(fig)


def test_learning_curves_against_wall_time_read_seconds_minutes_or_hours_with_the_clock_in_the_hover():
    epochs = pd.DataFrame({"epoch": [2, 1, 3], "loss": [0.5, 0.9, 0.3], "val_accuracy": [0.7, 0.5, 0.8],
                           "elapsed_s": [150.0, 75.0, 225.0]})
    fig = charts.learning_curves(epochs, x="time")
    assert list(fig.data[0].x) == [1.25, 2.5, 3.75]  # minutes: the longest time is past two minutes
    assert fig.layout.xaxis.title.text == fig.layout.xaxis2.title.text == "Wall time of training (min)"
    assert list(fig.data[0].customdata) == ["1:15", "2:30", "3:45"] and list(fig.data[1].text) == ["1", "2", "3"]
    assert "%{customdata} of training, epoch %{text}" in fig.data[1].hovertemplate
    short = charts.learning_curves(epochs.assign(elapsed_s=[20.0, 10.0, 30.0]), x="time")
    assert list(short.data[0].x) == [10.0, 20.0, 30.0] and short.layout.xaxis.title.text == "Wall time of training (s)"
    hours = charts.learning_curves(epochs.assign(elapsed_s=[7200.0, 3725.0, 10800.0]), x="time")
    assert hours.layout.xaxis.title.text == "Wall time of training (h)" and hours.data[0].customdata[0] == "1:02:05"


def test_learning_curves_against_wall_time_of_a_run_without_times_say_so():
    fig = charts.learning_curves(pd.DataFrame({"epoch": [1, 2], "loss": [0.9, 0.5]}), x="time")
    assert note_text(fig) == ["no training times logged for this run: its curves are drawn per epoch only"]
    partly = charts.learning_curves(pd.DataFrame({"epoch": [1, 2], "loss": [0.9, 0.5], "elapsed_s": [None, 4.0]}),
                                    x="time")
    assert list(partly.data[0].x) == [4.0]


def test_learning_curves_skips_missing_columns_and_draws_lines_only_for_many_epochs():
    fig = charts.learning_curves(pd.DataFrame({"epoch": range(1, 101), "loss": np.linspace(2, 0.1, 100)}))
    assert [t.name for t in fig.data] == ["train"] and fig.data[0].mode == "lines"


def test_a_single_epoch_sits_on_whole_epoch_ticks_with_accuracy_axes_inside_0_to_100_percent():
    fig = charts.learning_curves(pd.DataFrame({"epoch": [1], "loss": [2.29], "val_loss": [2.27],
                                               "accuracy": [0.11], "val_accuracy": [0.0]}))
    assert all(trace.mode == "lines+markers" for trace in fig.data)  # one point shows as a marker
    for axis in (fig.layout.xaxis, fig.layout.xaxis2):
        assert (axis.tickmode, axis.dtick) == ("linear", 1) and tuple(axis.range) == (0.5, 1.5)  # not 0 ... 2 by 0.5
    low, high = fig.layout.yaxis2.range  # Plotly's own range for one value would be -100 % to 100 %
    assert -0.01 <= low <= 0 and 0.11 < high <= 1.01
    loss_low, loss_high = fig.layout.yaxis.range
    assert 0 <= loss_low < 2.27 and 2.29 < loss_high < 3


def test_learning_curves_tick_whole_epochs_only_and_keep_a_perfect_accuracy_in_view():
    epochs = pd.DataFrame({"epoch": range(1, 5), "accuracy": [0.5, 0.9, 1.0, 1.0]})
    fig = charts.learning_curves(epochs)
    assert fig.layout.xaxis2.dtick == 1 and fig.layout.xaxis2.tick0 == 0
    low, high = fig.layout.yaxis2.range
    assert 0.45 < low < 0.5 and 1.0 < high <= 1.03  # a hair above 100 %, for the marker, no 110 % tick
    long = charts.learning_curves(pd.DataFrame({"epoch": range(1, 301), "accuracy": np.linspace(0.1, 0.9, 300)}))
    assert long.layout.xaxis2.dtick == 50  # at most about ten whole-epoch ticks


def test_learning_curves_of_a_single_epoch_and_of_no_epochs():
    single = charts.learning_curves(pd.DataFrame({"epoch": [1], "val_accuracy": [0.4]}))
    assert [(t.name, list(t.y)) for t in single.data] == [("validation", [0.4])] and single.data[0].mode == "lines+markers"
    for empty in (pd.DataFrame(), pd.DataFrame(columns=["epoch", "loss"]), pd.DataFrame({"epoch": [1], "lr": [0.1]})):
        fig = charts.learning_curves(empty)
        assert fig.data == () and note_text(fig) == ["no epochs yet"]


# ---- batch_loss --------------------------------------------------------------------------


def test_batch_loss_draws_raw_loss_faintly_on_a_log_step_axis():
    batches = pd.DataFrame({"step": [1, 2, 3, 4], "batch_loss": [2.0, 1.0, 3.0, 0.5]})
    fig = charts.batch_loss(batches)
    assert [t.name for t in fig.data] == ["batch loss"]
    assert list(fig.data[0].x) == [1, 2, 3, 4] and list(fig.data[0].y) == [2.0, 1.0, 3.0, 0.5]
    assert fig.data[0].opacity < 0.5
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text.startswith("Optimizer step")
    assert fig.layout.yaxis.title.text == "Loss"


def test_batch_loss_adds_a_moving_average_and_can_use_a_linear_axis():
    batches = pd.DataFrame({"step": [0, 1, 2, 3], "batch_loss": [4.0, 2.0, 0.0, 2.0]})
    fig = charts.batch_loss(batches, log_x=False, smoothing=2)
    assert [t.name for t in fig.data] == ["batch loss", "average of last 2 batches"]
    assert list(fig.data[1].x) == [0, 1, 2, 3] and list(fig.data[1].y) == [4, 3, 1, 1]
    assert fig.layout.xaxis.type == "linear"
    on_log = charts.batch_loss(batches, smoothing=2)
    assert list(on_log.data[0].x) == [1, 2, 3] and list(on_log.data[1].y) == [3, 1, 1]  # step 0 has no place on log x


def test_batch_loss_writes_its_log_steps_out_in_full():
    batches = pd.DataFrame({"step": np.arange(1, 41), "batch_loss": np.linspace(2.3, 0.5, 40)})
    axis = charts.batch_loss(batches).layout.xaxis
    assert axis.type == "log" and axis.tickmode == "array"
    assert list(axis.tickvals) == [1, 2, 5, 10, 20, 50, 100]
    assert list(axis.ticktext) == ["1", "2", "5", "10", "20", "50", "100"]  # not Plotly's "1 2 5 10 2 5"
    linear = charts.batch_loss(batches.iloc[:7], log_x=False).layout.xaxis
    assert (linear.tickmode, linear.dtick) == ("linear", 1)  # whole steps


def test_log_ticks_thin_out_to_powers_of_ten_and_name_thousands_and_small_rates_readably():
    many = charts.batch_loss(pd.DataFrame({"step": np.arange(1, 20_001), "batch_loss": 1.0})).layout.xaxis
    assert list(many.ticktext) == ["1", "10", "100", "1k", "10k", "100k"]
    rates = charts.learning_rate(np.arange(1, 101), np.logspace(-1, -5, 100)).layout.yaxis
    assert rates.type == "log" and list(rates.ticktext) == ["1e-5", "1e-4", "1e-3", "1e-2", "1e-1"]
    finder = charts.lr_finder(*range_test()).layout.xaxis
    assert list(finder.ticktext) == ["1e-6", "1e-5", "1e-4", "1e-3", "1e-2", "1e-1", "1"]


def test_batch_loss_of_one_batch_and_of_none():
    one = charts.batch_loss(pd.DataFrame({"step": [1], "batch_loss": [2.3]}), smoothing=5)
    assert list(one.data[0].y) == [2.3] and list(one.data[1].y) == [2.3]
    empty = charts.batch_loss(pd.DataFrame(columns=["step", "batch_loss"]))
    assert empty.data == () and note_text(empty) == ["no batches yet"]


# ---- learning_rate -----------------------------------------------------------------------


def test_learning_rate_plots_rate_per_step_with_dotted_lines_at_epoch_ends():
    steps = np.arange(30)
    rates = np.full(30, 0.01)
    fig = charts.learning_rate(steps, rates, epoch_length=10, title="Planned schedule")
    assert fig.layout.title.text == "Planned schedule"
    assert [t.name for t in fig.data] == ["learning rate"] and list(fig.data[0].y) == list(rates)
    assert [s.x0 for s in fig.layout.shapes] == [10, 20]
    assert all(s.line.dash == "dot" for s in fig.layout.shapes)
    assert fig.layout.yaxis.type == "linear" and fig.layout.yaxis.title.text == "Learning rate"
    assert "epoch" in fig.layout.xaxis.title.text


def test_learning_rate_switches_to_a_log_axis_beyond_two_decades():
    assert charts.learning_rate([0, 1, 2], [1e-1, 1e-2, 1.1e-3]).layout.yaxis.type == "linear"
    assert charts.learning_rate([0, 1, 2], [1e-1, 1e-2, 1e-4]).layout.yaxis.type == "log"
    assert charts.learning_rate([0, 1], [1e-1, 0.0]).layout.yaxis.type == "linear"  # zero can't be on a log axis


def test_learning_rate_thins_epoch_lines_and_handles_one_or_no_points():
    assert len(charts.learning_rate(np.arange(1000), np.ones(1000), epoch_length=5).layout.shapes) <= 50
    one = charts.learning_rate([0], [0.1], epoch_length=10)
    assert list(one.data[0].y) == [0.1] and one.layout.shapes == ()
    assert tuple(one.layout.xaxis.range) == (-0.5, 0.5) and one.layout.xaxis.dtick == 1
    assert note_text(charts.learning_rate([], [])) == ["no learning-rate values yet"]


# ---- lr_finder ---------------------------------------------------------------------------


def range_test():
    lrs = np.logspace(-6, 0, 61)
    losses = np.r_[np.full(20, 2.3), np.linspace(2.3, 0.4, 30), np.linspace(0.5, 9.0, 10), np.inf]
    return lrs, losses


def test_lr_finder_draws_raw_and_smoothed_loss_on_a_log_lr_axis():
    lrs, losses = range_test()
    fig = charts.lr_finder(lrs, losses)
    assert [t.name for t in fig.data] == ["loss", "smoothed loss"]
    assert list(fig.data[0].x) == list(lrs[:-1])  # the diverged (inf) point is left out
    assert list(fig.data[1].y) == pytest.approx(list(charts.ema(losses[:-1])))
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text.startswith("Learning rate")
    assert fig.layout.yaxis.title.text == "Training loss"
    assert fig.layout.yaxis.range[1] < 2 * 2.3 * 1.1  # the explosion doesn't squash the curve


def test_lr_finder_shades_the_suggested_range_and_marks_the_steepest_rate():
    lrs, losses = range_test()
    fig = charts.lr_finder(lrs, losses, steepest=1e-3, lower=1e-4, upper=1e-2)
    band = fig.layout.shapes[0]
    assert (band.type, band.x0, band.x1, band.yref) == ("rect", 1e-4, 1e-2, "paper")
    assert band.showlegend and "suggested range" in band.name
    marker = fig.data[-1]
    assert marker.name == "suggested" and list(marker.x) == [1e-3]
    smoothed_at_steepest = charts.ema(losses[:-1])[list(lrs).index(1e-3)]
    assert marker.y[0] == pytest.approx(smoothed_at_steepest)
    assert marker.text[0].startswith("suggested")


def test_lr_finder_with_one_point_or_nothing_finite():
    one = charts.lr_finder([1e-3], [2.0])
    assert list(one.data[1].y) == [2.0]
    nothing = charts.lr_finder([1e-3, 1e-2], [np.nan, np.inf])
    assert nothing.data == () and note_text(nothing) == ["no range-test results yet"]


def test_a_constant_learning_rate_is_drawn_on_an_axis_starting_at_zero():
    fig = charts.learning_rate([1, 2, 3], [0.001, 0.001, 0.001])
    assert tuple(fig.layout.yaxis.range) == pytest.approx((0, 0.00115))
