"""cnnkit.explorer.charts.compare: compare_curves, results_bars, per_class_scores."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from chart_figures import has_shared_look, note_text
from cnnkit.explorer import charts


# ---- compare_curves ----------------------------------------------------------------------


def two_run_history():
    return pd.DataFrame({
        "run": ["a", "a", "a", "b", "b", "b", "b"],
        "epoch": [3, 1, 2, 1, 2, 3, 4],
        "val_loss": [0.5, 1.0, 0.6, 2.0, 1.0, np.nan, 0.0],
        "accuracy": [0.5, 0.2, 0.3, 0.1, 0.2, 0.3, 0.4],
    })


def test_compare_curves_draws_one_smoothed_line_per_run_in_its_own_colour():
    fig = charts.compare_curves(two_run_history(), "val_loss", smoothing=2)
    assert [t.name for t in fig.data] == ["a", "b"] and all(isinstance(t, go.Scatter) for t in fig.data)
    assert list(fig.data[0].x) == [1, 2, 3]  # sorted by epoch
    assert list(fig.data[0].y) == pytest.approx(list(charts.moving_average([1.0, 0.6, 0.5], 2)))
    assert list(fig.data[1].x) == [1, 2, 4]  # the missing value is dropped before smoothing
    assert list(fig.data[1].y) == pytest.approx([2.0, 1.5, 0.5])
    assert fig.data[0].line.color != fig.data[1].line.color
    assert "a" in fig.data[0].hovertemplate and "%{x}" in fig.data[0].hovertemplate and "%{y" in fig.data[0].hovertemplate
    assert fig.layout.xaxis.title.text == "Epoch" and fig.layout.yaxis.title.text == "Validation loss"
    assert "average of the last 2" in fig.layout.title.text
    assert has_shared_look(fig)


def test_compare_curves_draw_a_forks_parent_part_dashed_in_the_forks_colour():
    fig = charts.compare_curves(two_run_history(), "val_loss", continued={"a": "b"})
    lines = {trace.name: trace.line for trace in fig.data}
    assert lines["a"].dash == "dash" and lines["a"].color == lines["b"].color and lines["b"].dash is None


def test_compare_curves_shows_accuracy_in_percent_and_steps_on_a_log_axis():
    accuracy = charts.compare_curves(two_run_history(), "accuracy")
    assert accuracy.layout.yaxis.tickformat == ".0%" and "%{y:.2%}" in accuracy.data[0].hovertemplate
    assert list(accuracy.data[0].y) == [0.2, 0.3, 0.5]  # smoothing 1 leaves the values alone
    batches = pd.DataFrame({"run": ["a"] * 4, "step": [0, 1, 10, 100], "batch_loss": [3.0, 2.0, 1.0, 0.5]})
    fig = charts.compare_curves(batches, "batch_loss", x="step", log_x=True)
    assert fig.layout.xaxis.type == "log" and list(fig.data[0].x) == [1, 10, 100]
    assert fig.layout.xaxis.title.text.startswith("Optimizer step")
    assert list(fig.layout.xaxis.ticktext) == ["1", "2", "5", "10", "20", "50", "100"]


def test_compare_curves_tick_whole_epochs_and_keep_one_epochs_accuracy_inside_0_to_100_percent():
    fig = charts.compare_curves(pd.DataFrame({"run": ["a", "b"], "epoch": [1, 1], "val_accuracy": [0.13, 0.13]}),
                                "val_accuracy")
    assert all(trace.mode == "lines+markers" for trace in fig.data)
    assert (fig.layout.xaxis.tickmode, fig.layout.xaxis.dtick) == ("linear", 1)
    assert tuple(fig.layout.xaxis.range) == (0.5, 1.5)
    low, high = fig.layout.yaxis.range
    assert 0 <= low < 0.13 < high <= 0.25
    several = charts.compare_curves(two_run_history(), "accuracy")
    assert several.layout.xaxis.dtick == 1  # epochs 1-4: no 1.5 between them
    assert 0 <= several.layout.yaxis.range[0] < 0.1 and 0.5 < several.layout.yaxis.range[1] < 0.6


def test_compare_curves_gives_a_wide_learning_rate_a_log_axis():
    lrs = pd.DataFrame({"run": ["a"] * 3, "epoch": [1, 2, 3], "lr": [1e-2, 1e-3, 1e-5]})
    assert charts.compare_curves(lrs, "lr").layout.yaxis.type == "log"


def test_legends_of_runs_sit_under_the_plot_where_long_names_cannot_cover_the_title():
    names = [f"kaggle_mnist_cnn on fashion_mnist, run {i}" for i in range(8)]
    history = pd.DataFrame({"run": names, "epoch": 1, "loss": 1.0})
    results = pd.DataFrame({"run": names, "test_accuracy": 0.9})
    scores = pd.DataFrame({"run": names, "class": "0", "precision": 0.9, "recall": 0.8})
    for fig in (charts.compare_curves(history, "loss"), charts.results_bars(results), charts.per_class_scores(scores)):
        legend = fig.layout.legend
        assert (legend.yref, legend.y, legend.yanchor, legend.xanchor) == ("container", 0, "bottom", "left")


def test_compare_curves_without_data_says_so():
    for history in (pd.DataFrame(), two_run_history().iloc[:0], two_run_history().drop(columns="val_loss")):
        fig = charts.compare_curves(history, "val_loss")
        assert fig.data == () and note_text(fig) == ["no validation loss recorded for these runs"]


# ---- results_bars ------------------------------------------------------------------------


def test_results_bars_groups_one_colour_per_metric_in_percent_zoomed_to_the_data():
    results = pd.DataFrame({"run": ["small", "big"], "run_id": ["x", "y"], "final_accuracy": [0.99, 0.995],
                            "test_accuracy": [0.981, 0.992], "test_top3_accuracy": [0.999, np.nan]})
    fig = charts.results_bars(results)
    assert [t.name for t in fig.data] == ["train accuracy (last epoch)", "test accuracy", "test top-3 accuracy"]
    assert all(isinstance(t, go.Bar) for t in fig.data) and fig.layout.barmode == "group"
    assert list(fig.data[1].x) == ["small", "big"] and list(fig.data[1].y) == pytest.approx([98.1, 99.2])
    assert len({t.marker.color for t in fig.data}) == 3
    low, high = fig.layout.yaxis.range
    assert 90 < low < 98.1 and high > 100 and max(fig.layout.yaxis.tickvals) == 100
    assert "%" in fig.data[0].hovertemplate


def test_results_bars_write_their_values_above_the_bars_with_room_above_100_percent():
    results = pd.DataFrame({"run": ["a", "b"], "test_accuracy": [0.9, 0.95], "test_top3_accuracy": [1.0, 1.0],
                            "test_top5_accuracy": [1.0, 1.0]})
    fig = charts.results_bars(results)
    assert all(bar.textposition == "outside" and bar.cliponaxis is False and bar.textangle == 0 for bar in fig.data)
    bottom, top = fig.layout.yaxis.range
    assert top > 100 + 0.05 * (100 - bottom)  # the 100.00 labels of top-3 and top-5 fit above their bars
    assert max(fig.layout.yaxis.tickvals) == 100 and fig.layout.yaxis.ticktext[-1] == "100 %"  # no 105 % tick


def test_many_results_bars_stand_their_values_up_and_long_run_names_wrap_instead_of_slanting():
    names = [f"kaggle_mnist_cnn on digits ({i}abcdef{i})" for i in range(6)]
    results = pd.DataFrame({"run": names, **{metric: 0.9 for metric in charts.RESULT_METRICS}})
    fig = charts.results_bars(results)  # 6 runs x 5 accuracies: 30 thin bars
    assert all(bar.textangle == -90 for bar in fig.data)
    assert fig.layout.xaxis.tickangle == 0 and list(fig.data[0].x)[0] == "kaggle_mnist_cnn on<br>digits (0abcdef0)"
    bottom, top = fig.layout.yaxis.range
    assert top >= 100 + 0.2 * (100 - bottom)  # standing values need more room above 100 %


def test_test_accuracy_bars_carry_scipys_wilson_interval_of_each_runs_k_of_its_own_n():
    from scipy.stats import binomtest

    results = pd.DataFrame({"run": ["big", "small", "old"], "final_accuracy": [0.99, 0.99, 0.99],
                            "test_accuracy": [9_812 / 10_000, 350 / 360, 0.97],
                            "test_top3_accuracy": [0.999, 359 / 360, 0.99],
                            "test_images": pd.array([10_000, 360, pd.NA], dtype="Int64")})
    fig = charts.results_bars(results)
    train, test, top3 = fig.data
    assert train.error_y.array is None and train.texttemplate == "%{y:.2f}"  # no n for the training accuracy
    assert test.name == "test accuracy (95 % interval)" and test.texttemplate is None  # no value under the bar
    assert "95 % interval %{customdata[0]:.2f} to %{customdata[1]:.2f}" in test.hovertemplate
    for bar, rights in ((test, (9_812, 350)), (top3, (9_990, 359))):
        for i, (k, n) in enumerate(zip(rights, (10_000, 360))):
            wilson = binomtest(k, n).proportion_ci(method="wilson")
            assert (bar.y[i] - bar.error_y.arrayminus[i], bar.y[i] + bar.error_y.array[i]) == (
                pytest.approx(100 * wilson.low), pytest.approx(100 * wilson.high))
        assert np.isnan(bar.error_y.array[2]) and np.isnan(bar.error_y.arrayminus[2])  # n unknown: no bar
    assert fig.layout.yaxis.range[0] < 100 * binomtest(350, 360).proportion_ci(method="wilson").low  # bars fit


def test_results_bars_without_accuracies_says_so():
    for results in (pd.DataFrame(), pd.DataFrame({"run": ["a"], "test_loss": [0.1]}),
                    pd.DataFrame({"run": ["a"], "test_accuracy": [np.nan]})):
        assert note_text(charts.results_bars(results)) == ["no results yet"]


# ---- per_class_scores --------------------------------------------------------------------


def test_per_class_scores_has_precision_above_recall_with_bars_per_run():
    scores = pd.DataFrame({"run": ["r1", "r1", "r2", "r2"], "class": ["cat", "dog", "cat", "dog"],
                           "precision": [0.9, 0.8, 0.7, 0.6], "recall": [0.5, 0.4, 0.3, 0.2], "support": [10] * 4})
    fig = charts.per_class_scores(scores)
    assert [(t.name, t.yaxis) for t in fig.data] == [("r1", "y"), ("r1", "y2"), ("r2", "y"), ("r2", "y2")]
    assert list(fig.data[2].x) == ["cat", "dog"] and list(fig.data[2].y) == [0.7, 0.6]
    assert list(fig.data[3].y) == [0.3, 0.2]
    assert [t.showlegend for t in fig.data] == [True, False, True, False]
    assert fig.data[0].marker.color == fig.data[1].marker.color != fig.data[2].marker.color
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text) == ("Precision", "Recall")
    assert fig.layout.barmode == "group"
    assert note_text(charts.per_class_scores(pd.DataFrame())) == ["no per-class scores yet"]


def test_compare_curves_against_wall_time_put_each_run_at_its_own_times():
    history = two_run_history().assign(elapsed_s=[90.0, 30.0, 60.0, 100.0, 200.0, 300.0, np.nan])
    fig = charts.compare_curves(history, "val_loss", x="elapsed_s")
    assert list(fig.data[0].x) == [0.5, 1.0, 1.5] and list(fig.data[1].x) == [100 / 60, 200 / 60]  # minutes
    assert list(fig.data[1].customdata) == ["1:40", "3:20"] and "wall time %{customdata}" in fig.data[1].hovertemplate
    assert fig.layout.xaxis.title.text == "Wall time of training (min)" and fig.layout.xaxis.rangemode == "tozero"
    assert fig.layout.title.text.startswith("Validation loss over wall time")


def test_on_the_wall_time_axis_a_run_without_training_times_is_named_as_left_out():
    history = two_run_history()
    history["elapsed_s"] = np.where(history["run"] == history["run"].iloc[0], 10.0 * history["epoch"], np.nan)
    fig = charts.compare_curves(history, "val_loss", x="elapsed_s")
    (untimed,) = set(history["run"]) - {history["run"].iloc[0]}
    assert [trace.name for trace in fig.data] == [history["run"].iloc[0]]
    assert f"left out, no training times logged: {untimed}" in fig.layout.title.text
    assert "left out" not in charts.compare_curves(history, "val_loss").layout.title.text  # per epoch: all drawn
