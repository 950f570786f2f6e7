import base64
import io

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from PIL import Image

from cnnkit.explorer import charts


def note_text(fig):
    return [a.text for a in fig.layout.annotations]


def pixels(fig, trace: int = 0) -> np.ndarray:
    """The picture an image trace shows, decoded from its PNG data URL, as (H, W, 3) uint8."""
    source = fig.data[trace].source
    assert source.startswith("data:image/png;base64,") and fig.data[trace].z is None
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB"))


def has_shared_look(fig):
    return fig.layout.template.layout.paper_bgcolor == "white" and fig.layout.legend.orientation == "h"


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


# ---- class_distribution ------------------------------------------------------------------


def test_class_distribution_has_one_bar_trace_per_split_with_counts_and_shares():
    counts = pd.DataFrame({
        "split": ["test", "train", "train", "validation", "validation", "test"],
        "class": ["cat", "cat", "dog", "cat", "dog", "dog"],
        "count": [5, 30, 10, 4, 4, 15],
    })
    fig = charts.class_distribution(counts)
    assert [t.name for t in fig.data] == ["train", "validation", "test"]  # train first, whatever the row order
    assert all(isinstance(t, go.Bar) for t in fig.data)
    train = fig.data[0]
    assert list(train.x) == ["cat", "dog"] and list(train.y) == [30, 10]
    assert list(train.customdata) == pytest.approx([0.75, 0.25])  # share of the train split
    assert "%{customdata:.1%}" in train.hovertemplate and "%{y}" in train.hovertemplate
    assert fig.layout.barmode == "group"
    assert fig.layout.xaxis.title.text == "Class" and fig.layout.xaxis.type == "category"
    assert fig.layout.yaxis.title.text == "Number of images"
    assert has_shared_look(fig)


def test_class_distribution_of_one_class_and_of_nothing():
    one = charts.class_distribution(pd.DataFrame({"split": ["train"], "class": [0], "count": [7]}))
    assert list(one.data[0].x) == ["0"] and list(one.data[0].customdata) == [1.0]
    empty = charts.class_distribution(pd.DataFrame(columns=["split", "class", "count"]))
    assert empty.data == () and note_text(empty) == ["no images counted"]


# ---- image_grid --------------------------------------------------------------------------


def test_image_grid_tiles_seven_images_in_three_columns_into_three_rows_of_one_image():
    images = np.zeros((7, 4, 5, 3), dtype=np.uint8)
    fig = charts.image_grid(images, columns=3, gap=2)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Image)
    assert pixels(fig).shape == (3 * 4 + 2 * 2, 3 * 5 + 2 * 2, 3)
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert fig.layout.yaxis.scaleanchor == "x"  # square pixels
    assert fig.layout.yaxis.constraintoward == "top"  # squeezed into a narrow column, it stays under its title


def test_every_image_figure_sends_its_pixels_as_one_png_not_as_numbers():
    rows, cols = np.mgrid[0:427, 0:640]
    photo = np.stack([rows * 255 // 426, cols * 255 // 639, (rows + cols) % 256], axis=-1).astype(np.uint8)
    grid = charts.image_grid(photo[None])
    assert len(grid.to_json()) < photo.size / 10  # as JSON numbers the pixels alone took ~3.5 bytes each
    small = np.zeros((4, 6, 6, 1), np.uint8)
    figures = [grid, charts.samples_by_class(small, np.arange(4) % 2, ["a", "b"]),
               charts.feature_map_grid(np.ones((5, 5, 3)), "conv"),
               charts.gallery(small, ["a"] * 4), charts.computer_vs_human(small, list("aabb"), list("abab"), per_row=2)]
    for fig in figures:
        assert [type(trace) for trace in fig.data] == [go.Image]
        assert fig.data[0].source.startswith("data:image/png;base64,") and fig.data[0].z is None


def test_png_encodes_gray_and_colour_images_losslessly():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    decoded = np.asarray(Image.open(io.BytesIO(charts.png(gray))))
    assert decoded.shape == (3, 4) and (decoded == gray[..., 0]).all()
    colour = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert (np.asarray(Image.open(io.BytesIO(charts.png(colour)))) == colour).all()


def test_image_grid_uses_no_more_columns_than_images_and_grows_taller_with_rows():
    assert pixels(charts.image_grid(np.zeros((3, 8, 8, 3), np.uint8), columns=10, gap=1)).shape == (8, 26, 3)
    short = charts.image_grid(np.zeros((10, 8, 8, 3), np.uint8), columns=10)
    tall = charts.image_grid(np.zeros((50, 8, 8, 3), np.uint8), columns=10)
    assert tall.layout.height > short.layout.height


def test_a_clickable_confusion_matrix_has_one_invisible_point_per_cell_carrying_its_classes_and_value():
    matrix = np.array([[5, 1, 0], [2, 7, 0], [0, 0, 9]])
    fig = charts.confusion_matrix(matrix, ["cat", "dog", "owl"], clickable=True)
    heatmap, cells = fig.data
    assert heatmap.hoverinfo == "skip" and cells.marker.opacity == 0
    assert list(zip(cells.x, cells.y))[:4] == [("cat", "cat"), ("dog", "cat"), ("owl", "cat"), ("cat", "dog")]
    assert list(cells.customdata) == matrix.ravel().tolist()  # row by row: true class, then predicted
    assert "%{customdata:,d}" in cells.hovertemplate
    assert len(charts.confusion_matrix(matrix, ["cat", "dog", "owl"]).data) == 1


def test_a_grid_for_a_narrower_column_is_proportionally_shorter():
    images = np.zeros((20, 32, 32, 3), np.uint8)
    full, half = (charts.gallery(images, ["cat"] * 20, columns=5, width=width) for width in (720, 360))
    margins = full.layout.margin.t + full.layout.margin.b
    assert (half.layout.height - margins) == pytest.approx((full.layout.height - margins) / 2, abs=1)


def test_a_gray_tile_appears_unchanged_in_every_channel_with_white_gaps():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (4, 6, 6, 1), dtype=np.uint8)
    z = pixels(charts.image_grid(gray, columns=2, gap=1))
    tile = z[7:13, 7:13]  # second row, second column
    assert (tile == np.repeat(gray[3], 3, axis=-1)).all()
    assert (z[6, :] == 255).all() and (z[:, 6] == 255).all()
    assert "gray value" in charts.image_grid(gray).data[0].hovertemplate
    assert "RGB" in charts.image_grid(np.repeat(gray, 3, axis=-1)).data[0].hovertemplate


def test_image_grid_accepts_rgb_and_float_images():
    rgb = np.zeros((1, 2, 2, 3), np.uint8)
    rgb[0, 0, 0] = [255, 0, 0]
    assert pixels(charts.image_grid(rgb))[0, 0].tolist() == [255, 0, 0]
    floats = np.full((1, 2, 2, 3), 99.6, dtype=np.float32)
    assert pixels(charts.image_grid(floats))[0, 0].tolist() == [100, 100, 100]
    with pytest.raises(ValueError, match="1 or 3"):
        charts.image_grid(np.zeros((1, 2, 2, 4), np.uint8))


def test_titles_sit_in_a_band_above_their_tile_and_row_labels_left_of_the_row():
    images = np.zeros((4, 10, 10, 3), np.uint8)
    fig = charts.image_grid(images, titles=["a", "b"], columns=2, row_labels=["first", "second"], gap=2)
    z = pixels(fig)
    band = 3  # ceil(0.3 * 10): only the first row has titles
    assert z.shape == (band + 10 + 2 + 10, 22, 3)
    assert (z[:band] == 255).all() and (z[band : band + 10, :10] == 0).all()
    titles = [a for a in fig.layout.annotations if a.text in ("a", "b")]
    assert [a.x for a in titles] == [4.5, 16.5]  # tile centres
    assert all(-0.5 < a.y < band - 0.5 for a in titles)  # inside the band
    labels = [a for a in fig.layout.annotations if a.text in ("first", "second")]
    assert [a.xanchor for a in labels] == ["right", "right"] and labels[0].y < labels[1].y
    assert fig.layout.margin.l > 40


def test_image_grid_of_no_images_says_so():
    fig = charts.image_grid(np.zeros((0, 8, 8, 3), np.uint8))
    assert fig.data == () and note_text(fig) == ["no images to show"]


def test_a_hundred_cifar_sized_images_make_one_grid_with_every_row_titled():
    images = np.random.default_rng(0).integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    fig = charts.image_grid(images, titles=[f"#{i}" for i in range(100)])
    assert pixels(fig).shape[:2] == (10 * 32 + 9 * 2 + 10 * 10, 10 * 32 + 9 * 2)  # every row titled


# ---- samples_by_class --------------------------------------------------------------------


def class_coded_images(per_class=8, classes=3, size=4):
    """Images whose every pixel is 10 * (class + 1), so a tile tells which class it came from."""
    labels = np.repeat(np.arange(classes), per_class)
    images = np.broadcast_to((10 * (labels + 1)).astype(np.uint8)[:, None, None, None], (len(labels), size, size, 1))
    shuffle = np.random.default_rng(1).permutation(len(labels))
    return images[shuffle].copy(), labels[shuffle]


def tile(z, row, col, size=4, gap=2, band=3):
    top, left = band + row * (size + gap), col * (size + gap)
    return z[top : top + size, left : left + size]


def test_samples_by_class_puts_only_images_of_each_class_in_its_column():
    images, labels = class_coded_images()
    fig = charts.samples_by_class(images, labels, ["zero", "one", "two"], per_class=5)
    z = pixels(fig)
    assert z.shape == (3 + 5 * 4 + 4 * 2, 3 * 4 + 2 * 2, 3)
    for col in range(3):
        for row in range(5):
            assert (tile(z, row, col) == 10 * (col + 1)).all()
    assert [a.text for a in fig.layout.annotations] == ["zero", "one", "two"]
    assert fig.layout.title.text == "Random examples of each class"
    assert "gray value" in fig.data[0].hovertemplate  # gray stays gray


def test_samples_by_class_is_reproducible_by_seed_and_random_across_seeds():
    images = np.random.default_rng(0).integers(0, 256, (40, 4, 4, 3), dtype=np.uint8)
    labels = np.arange(40) % 2
    z = lambda seed: pixels(charts.samples_by_class(images, labels, ["a", "b"], per_class=3, seed=seed))
    assert (z(0) == z(0)).all() and not (z(0) == z(1)).all()


def test_samples_by_class_caps_classes_and_says_so_and_leaves_missing_examples_blank():
    images, labels = class_coded_images(per_class=2, classes=3)
    fig = charts.samples_by_class(images, labels, ["a", "b", "c"], per_class=3, max_classes=2)
    assert fig.layout.title.text.endswith("(first 2 of 3 classes)")
    z = pixels(fig)
    assert z.shape[1] == 2 * 4 + 2
    assert (tile(z, 2, 0) == 255).all()  # class "a" has only two images: third tile blank
    assert (z != 30).all()  # nothing from the class left out


def test_samples_by_class_with_one_class_or_no_images():
    images, labels = class_coded_images(per_class=3, classes=1)
    assert pixels(charts.samples_by_class(images, labels, ["only"])).shape[1] == 4
    empty = charts.samples_by_class(np.zeros((0, 4, 4, 1), np.uint8), np.zeros(0, int), ["a"])
    assert note_text(empty) == ["no images to show"]


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


def test_results_bars_without_accuracies_says_so():
    for results in (pd.DataFrame(), pd.DataFrame({"run": ["a"], "test_loss": [0.1]}),
                    pd.DataFrame({"run": ["a"], "test_accuracy": [np.nan]})):
        assert note_text(charts.results_bars(results)) == ["no results yet"]


# ---- confusion_matrix / confusion_difference ---------------------------------------------


def test_confusion_matrix_puts_true_labels_top_to_bottom_and_predictions_across():
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 0]])
    fig = charts.confusion_matrix(matrix, ["cat", "dog", "eel"])
    heatmap = fig.data[0]
    assert isinstance(heatmap, go.Heatmap) and np.array_equal(heatmap.z, matrix)
    assert list(heatmap.x) == list(heatmap.y) == ["cat", "dog", "eel"]
    assert tuple(fig.layout.yaxis.range) == (2.5, -0.5)  # first class on top
    assert fig.layout.xaxis.title.text == "Predicted label" and fig.layout.yaxis.title.text == "True label"
    assert heatmap.texttemplate == "%{text}"
    assert np.array_equal(heatmap.text, [["5", "1", ""], ["2", "7", "1"], ["", "", ""]])  # counts; no "0" clutter
    assert all(s in heatmap.hovertemplate for s in ("true: %{y}", "predicted: %{x}", "%{z"))
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.title.text == "Confusion matrix"


def test_a_normalised_confusion_matrix_shows_the_share_of_each_true_class():
    matrix = np.array([[3, 1], [0, 0]])
    fig = charts.confusion_matrix(matrix, ["0", "1"], normalize=True, title="run 1")
    assert np.array_equal(fig.data[0].z, [[0.75, 0.25], [0, 0]])  # a class with no images stays 0
    assert np.array_equal(fig.data[0].text, [["0.75", "0.25"], ["", ""]]) and (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)
    rare = charts.confusion_matrix(np.array([[999, 1], [0, 1]]), ["0", "1"], normalize=True)
    assert rare.data[0].text[0][1] == "<.01"  # one image in a thousand is not "0.00"
    assert fig.layout.xaxis.type == "category" and fig.layout.title.text == "run 1"


def test_confusion_matrix_rejects_a_wrong_shape_and_drops_cell_text_for_many_classes():
    with pytest.raises(ValueError):
        charts.confusion_matrix(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError):
        charts.confusion_matrix(np.zeros((3, 3)), ["a", "b"])
    assert charts.confusion_matrix(np.eye(21), [str(i) for i in range(21)]).data[0].texttemplate is None


def test_a_cifar100_confusion_matrix_is_drawn_whole():
    matrix = np.random.default_rng(0).integers(0, 50, (100, 100))
    names = [f"class {i}" for i in range(100)]
    fig = charts.confusion_matrix(matrix, names, normalize=True)
    assert np.asarray(fig.data[0].z).shape == (100, 100)


def test_confusion_difference_writes_b_minus_a_in_images_and_leaves_cells_where_the_runs_agree_blank():
    a = np.array([[8, 2, 0], [5, 5, 0], [0, 1, 9]])
    b = np.array([[9, 1, 0], [1, 9, 0], [0, 1, 9]])
    fig = charts.confusion_difference(a, b, ["cat", "dog", "owl"], names=("old", "new"))
    assert np.array_equal(fig.data[0].text, [["+1", "−1", ""], ["−4", "+4", ""], ["", "", ""]])  # no "+0.00"
    assert "A: old · B: new" in fig.layout.title.text
    assert "B − A: %{hovertext}" in fig.data[0].hovertemplate
    assert fig.data[0].hovertext[1][0] == "−4 images<br>B (new) is better here"


def test_confusion_difference_colours_every_cell_where_b_does_better_the_same_way():
    a = np.array([[8, 2], [5, 5]])
    b = np.array([[9, 1], [1, 9]])  # B: more right on the diagonal, fewer mistakes off it: better everywhere
    heatmap = charts.confusion_difference(a, b, ["cat", "dog"]).data[0]
    assert np.array_equal(heatmap.z, [[1, 1], [4, 4]])  # positive = B better, on and off the diagonal
    worse = charts.confusion_difference(b, a, ["cat", "dog"]).data[0]
    assert np.array_equal(worse.z, [[-1, -1], [-4, -4]])
    assert (heatmap.zmid, heatmap.zmin, heatmap.zmax) == (0, -4, 4)  # symmetric, so white means "the same"
    assert list(heatmap.colorbar.ticktext) == ["A better", "same", "B better"]
    assert list(heatmap.colorbar.tickvals) == [-4, 0, 4]
    assert heatmap.colorscale[-1][1] == "rgb(5,48,97)"  # RdBu's dark blue at the "B better" end
    assert "blue where B is better" in charts.confusion_difference(a, b, ["cat", "dog"]).layout.title.text
    assert charts.confusion_difference(a, a + np.eye(2, dtype=int), ["cat", "dog"]).data[0].zmax == 1
    same = charts.confusion_difference(a, a, ["cat", "dog"])
    assert same.data == () and note_text(same) == ["A and B put every test image in the same cell: no difference"]


def test_confusion_difference_needs_matrices_of_one_shape():
    with pytest.raises(ValueError, match="shape"):
        charts.confusion_difference(np.zeros((2, 2)), np.zeros((3, 3)), ["a", "b"])


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


# ---- probability_bars --------------------------------------------------------------------


def test_probability_bars_colour_the_wrong_prediction_red_and_the_true_class_blue():
    fig = charts.probability_bars([0.1, 0.6, 0.3], ["cat", "dog", "eel"], true_index=2)
    bars = fig.data[0]
    assert list(bars.x) == ["cat", "dog", "eel"] and list(bars.y) == [0.1, 0.6, 0.3]  # class order
    assert list(bars.marker.color) == [charts.OTHER, charts.WRONG, charts.RIGHT]
    assert tuple(fig.layout.yaxis.range) == (0, 1) and "%{y:.1%}" in bars.hovertemplate


def test_probability_bars_of_the_top_classes_are_sorted_and_a_right_prediction_is_blue():
    fig = charts.probability_bars([0.05, 0.7, 0.1, 0.15], ["a", "b", "c", "d"], true_index=1, top=2)
    assert list(fig.data[0].x) == ["b", "d"] and list(fig.data[0].y) == [0.7, 0.15]
    assert list(fig.data[0].marker.color) == [charts.RIGHT, charts.OTHER]
    missed = charts.probability_bars([0.05, 0.7, 0.1, 0.15], ["a", "b", "c", "d"], true_index=0, top=2)
    assert "a: 5.0%" in missed.layout.title.text  # the true class is not among the bars
    with pytest.raises(ValueError):
        charts.probability_bars([0.5, 0.5], ["a", "b", "c"])


# ---- feature_map_grid / grad_cam -------------------------------------------------------------


def test_feature_map_grid_scales_every_channel_to_the_full_gray_range_on_its_own():
    maps = np.zeros((2, 2, 3))
    maps[..., 0] = [[2, 3], [4, 4]]  # 2..4 -> 0..255
    maps[..., 1] = [[-100, 0], [0, 100]]
    maps[..., 2] = 7  # constant -> 0
    fig = charts.feature_map_grid(maps, "conv2d", columns=3)
    z = pixels(fig)
    band, gap = 3, 2  # titles "0", "1", "2" above the 2x2 tiles
    tiles = [z[band : band + 2, c * (2 + gap) : c * (2 + gap) + 2, 0] for c in range(3)]
    assert tiles[0].tolist() == [[0, 128], [255, 255]]
    assert tiles[1].tolist() == [[0, 128], [128, 255]]
    assert tiles[2].tolist() == [[0, 0], [0, 0]]
    assert [a.text for a in fig.layout.annotations] == ["0", "1", "2"]
    assert fig.layout.title.text == "conv2d: 3 feature maps (2×2)"


def test_feature_map_grid_shows_the_first_maps_says_so_and_drops_numbers_on_tiny_tiles():
    maps = np.random.default_rng(0).normal(size=(1, 5, 5, 100))  # with the batch axis
    fig = charts.feature_map_grid(maps, "block2", max_maps=64, columns=32)
    assert fig.layout.title.text == "block2: first 64 of 100 feature maps (5×5)"
    assert pixels(fig).shape == (2 * 5 + 2, 32 * 5 + 31 * 2, 3)  # no title bands
    assert fig.layout.annotations == ()
    with pytest.raises(ValueError):
        charts.feature_map_grid(np.zeros((5, 5)), "dense")


def test_grad_cam_overlay_draws_the_heat_over_a_gray_image_only_where_it_counts():
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 200  # red: the overlay shows it gray
    heat = np.zeros((4, 4), "float32")
    heat[0, 0], heat[3, 3] = 1.0, charts.HEAT_SHOWN_FROM / 2
    out = charts.grad_cam_overlay(image, heat)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    gray = round(0.299 * 200)
    assert (out[3, 3] == gray).all() and (out[1:3, 1:3] == gray).all()  # weak or no heat: the gray image alone
    red, green, blue = out[0, 0].astype(int)
    assert min(red, green) > blue + 50 and blue > gray  # pale yellow, the hot end of inferno, over the gray
    assert charts.grad_cam_overlay(image, heat, scale=3).shape == (12, 12, 3)
    with pytest.raises(ValueError):
        charts.grad_cam_overlay(image, np.zeros((2, 2)))


def test_grad_cam_puts_the_enlarged_image_beside_the_heat_as_pngs_with_a_colour_bar():
    image = np.full((8, 8), 50, np.uint8)
    heat = np.zeros((8, 8), "float32")
    heat[2, 5] = 1
    fig = charts.grad_cam(image, heat, title="why '3'")
    left, right = pixels(fig, 0), pixels(fig, 1)
    assert left.shape == right.shape == (296, 296, 3)  # 8 px enlarged 37 times to about GRAD_CAM_PANEL_PX
    assert (left == 50).all() and (right != 50).any()
    assert all(trace.z is None for trace in fig.data[:2])  # no pixels in the JSON
    bar = fig.data[2].marker
    assert bar.showscale and (bar.cmin, bar.cmax) == (charts.HEAT_SHOWN_FROM, 1)
    assert fig.layout.title.text == "why '3'"
    assert not any("nothing here" in annotation.text for annotation in fig.layout.annotations)


def test_grad_cam_with_no_heat_says_nothing_raises_the_score():
    fig = charts.grad_cam(np.zeros((5, 7, 3), np.uint8), np.zeros((5, 7)))
    assert any("nothing here raises" in annotation.text for annotation in fig.layout.annotations)
    assert pixels(fig).shape == (5 * 42, 7 * 42, 3)


# ---- gallery / computer_vs_human -----------------------------------------------------------


def test_gallery_captions_span_two_lines_and_are_blue_when_right_and_red_when_wrong():
    images = np.zeros((3, 10, 10, 3), np.uint8)
    fig = charts.gallery(images, ["true: cat\npred: cat 90%", "true: cat\npred: dog 87%", "x"], columns=3,
                         correct=[True, False, True], title="Mistakes")
    captions = fig.layout.annotations
    assert [a.text for a in captions] == ["true: cat<br>pred: cat 90%", "true: cat<br>pred: dog 87%", "x"]
    assert [a.font.color for a in captions] == [charts.RIGHT, charts.WRONG, charts.RIGHT]
    assert pixels(fig).shape[0] == 2 * 3 + 10  # a band two lines high
    assert fig.layout.title.text == "Mistakes"
    assert all(a.font.color is None for a in charts.gallery(images, ["a", "b", "c"]).layout.annotations)


def test_a_gallery_in_a_column_narrower_than_planned_keeps_its_images_at_the_top():
    fig = charts.gallery(np.zeros((10, 8, 8, 1), np.uint8), ["true: 1\npred: 7"] * 10, columns=5, width=500)
    assert fig.layout.yaxis.constraintoward == "top"  # not a white band above the images, under the run's name


def test_a_hundred_captioned_images_make_one_gallery_with_a_caption_each():
    images = np.random.default_rng(0).integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
    fig = charts.gallery(images, [f"true: cat\npred: dog {i}%" for i in range(100)], correct=[i % 2 == 0 for i in range(100)])
    assert len(fig.layout.annotations) == 100


def test_computer_vs_human_labels_every_tile_and_marks_the_wrong_ones_red():
    images = np.zeros((4, 6, 6, 1), np.uint8)
    fig = charts.computer_vs_human(images, ["cat", "cat", "dog", "dog"], ["cat", "dog", "dog", "dog"], per_row=2)
    captions = fig.layout.annotations
    assert captions[1].text == "computer: dog<br>human: cat"
    assert [a.font.color for a in captions] == [None, charts.WRONG, None, None]
    assert pixels(fig).shape[1] == 2 * 6 + 2  # per_row tiles in a row
    assert fig.layout.title.text == "Computer vs human: 3 of 4 right"
    with pytest.raises(ValueError):
        charts.computer_vs_human(images, ["cat"], ["cat"])
