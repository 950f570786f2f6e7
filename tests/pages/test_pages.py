"""Page logic through Streamlit's AppTest: render, choose, launch a tiny digits run, see it finish."""

import re

import pytest
from app_script import APP
from streamlit.testing.v1 import AppTest

from cnnkit import tracking
from alerts import alert_text
from test_train_jobs_panel import manager_on  # noqa: F401  (fixture)


def opened(app, page: str, title: str):
    """`page` rendered without an exception, under its title."""
    at = app.switch_page(page).run()
    assert not at.exception
    assert at.title[0].value == title
    return at


def on_tab(at, label: str, key: str = "compare.tab"):
    """`at` rerun with its tab `label` open, as a click on it: only the open tab is drawn."""
    at.session_state[key] = label
    at.run()
    assert not at.exception, label
    return at


def wait_for_jobs(timeout: float = 180) -> None:
    from app_pages.common import job_manager

    for job in job_manager().snapshots():
        assert not job_manager().wait(job.job_id, timeout).is_active, "the job did not finish in time"


def tab_marks(at) -> dict[str, str]:
    """Tab label -> the mark the page's CSS draws after it, e.g. {"4 · Optimiser": "1 problem"}."""
    labels = [tab.label for tab in at.tabs]
    css = " ".join(element.proto.body for element in at.get("html"))
    return {labels[int(index)]: text for index, text in re.findall(r'data-key="(\d)"\] p::after \{content: " \((.*?)\)"', css)}


def launch_button(at):
    return next(button for button in at.button if "Launch training" in button.label)


def test_train_page_shows_the_data_the_model_and_a_schedule_plan(app):
    at = app.run()
    assert not at.exception
    assert at.title[0].value == "Train"
    assert {m.label for m in at.metric} >= {"Train", "Validation", "Test", "Input"}
    assert any(m.label.startswith("Parameters for digits") for m in at.metric)
    assert not launch_button(at).disabled


def test_an_invalid_setting_is_named_by_its_label_counted_on_its_tab_and_in_the_launch_bar(app):
    at = app.run()
    at.selectbox(key="cfg.schedule").set_value("cyclic").run()
    at.number_input(key="cfg.max_lr").set_value(0.0001).run()
    assert [alert_text(error) for error in at.error] == [
        "Peak rate: the cyclic schedule climbs from the Learning rate (0.001) to the Peak rate, so it must be larger "
        "(it is 0.0001)."]
    assert launch_button(at).disabled
    assert tab_marks(at) == {"4 · Optimiser": "1 problem"}
    assert any("1 problem to fix: **Peak rate** (4 · Optimiser)" in text.value for text in at.markdown)
    assert not any("max_lr" in alert_text(element) for element in [*at.error, *at.markdown])


@pytest.fixture()
def offline_data(monkeypatch, tmp_path):
    """Downloadable datasets are missing, as on a machine without their files and without network."""
    from cnnkit.datasets import official

    def no_network(name):
        raise OSError("no network")

    monkeypatch.setattr(official, "_download_with_keras", no_network)
    monkeypatch.setenv("CNNKIT_DATA_DIR", str(tmp_path / "no-data-here"))


def test_fewer_training_images_than_classes_blocks_launch_naming_the_limit(app):
    at = app.run()
    at.number_input(key="cfg.train_limit").set_value(5).run()
    assert [alert_text(error) for error in at.error] == [
        "Limit training images: 5 training images can't cover 10 classes: use at least 10 (one per class), or 0 for all."]
    assert launch_button(at).disabled
    assert tab_marks(at) == {"1 · Data": "1 problem"}


def test_the_limit_applies_to_training_images_only(app):
    at = app.run()
    limit = at.number_input(key="cfg.train_limit")
    assert limit.label == "Limit training images (0 = all)"
    limit.set_value(100).run()
    assert {m.label: m.value for m in at.metric if m.label in ("Train", "Validation", "Test")} == {
        "Train": "100", "Validation": "144", "Test": "359"}


def test_launch_is_disabled_with_the_reason_and_no_plan_is_made_up_when_the_data_cannot_load(app, offline_data):
    at = app.run()
    at.selectbox(key="cfg.dataset").set_value("cifar10").run()
    assert launch_button(at).disabled
    assert any("Dataset 'cifar10' is not in CNNKIT_DATA_DIR and could not be downloaded" in alert_text(error) for error in at.error)
    assert any("**Dataset** (1 · Data)" in text.value for text in at.markdown)
    assert not any("Planned learning rate" in chart.proto.spec for chart in at.get("plotly_chart"))
    assert any(info.value.startswith("The plan appears once the data loads") for info in at.info)


def test_relaunching_a_run_whose_file_is_gone_says_so_under_its_path_and_blocks_launch(app, tmp_path):
    from cnnkit.config import TrainConfig

    gone = tmp_path / "deleted-upload.csv"
    app.session_state["relaunch_config"] = TrainConfig(dataset="csv", dataset_path=str(gone)).to_dict()
    at = app.run()
    assert at.text_input(key="cfg.dataset_path").value == str(gone)
    assert [alert_text(error) for error in at.error if str(gone) in alert_text(error)] != []
    assert launch_button(at).disabled
    assert any("**Path on this machine** (1 · Data)" in text.value for text in at.markdown)


def test_the_test_share_is_greyed_out_where_the_dataset_has_an_official_test_split(app, offline_data):
    at = app.run()
    assert not at.slider(key="cfg.test_fraction").disabled  # digits: the share makes the test split
    at.selectbox(key="cfg.dataset").set_value("mnist").run()
    share = at.slider(key="cfg.test_fraction")
    assert share.disabled and "official test images" in share.help


def test_pickers_show_the_architecture_default_and_only_the_settings_in_use(app):
    at = app.run()
    activation, batch_norm = at.selectbox(key="cfg.activation"), at.selectbox(key="cfg.batch_norm")
    assert (activation.index, activation.options[0]) == (batch_norm.index, batch_norm.options[0]) == (
        0, "architecture default")
    assert any(caption.value.endswith("Architecture defaults: relu, batch normalisation off.") for caption in at.caption)
    shown = {widget.key for widget in [*at.number_input, *at.selectbox, *at.slider]}
    assert not shown & {"cfg.momentum", "cfg.weight_decay", "cfg.max_lr", "cfg.plateau_patience", "cfg.min_lr"}

    at.selectbox(key="cfg.schedule").set_value("cyclic").run()
    at.selectbox(key="cfg.optimizer").set_value("sgd").run()
    shown = {widget.key for widget in [*at.number_input, *at.selectbox, *at.slider]}
    assert {"cfg.max_lr", "cfg.cycle_epochs", "cfg.cyclic_mode", "cfg.momentum"} <= shown
    assert not shown & {"cfg.plateau_monitor", "cfg.plateau_factor", "cfg.plateau_patience", "cfg.min_lr",
                        "cfg.cyclic_gamma", "cfg.weight_decay"}
    at.selectbox(key="cfg.activation").set_value("elu").run()
    assert at.session_state["train_form"]["activation"] == "elu"


def test_the_form_comes_back_from_the_address_after_a_reload(app):
    at = app.run()
    at.number_input(key="cfg.epochs").set_value(2).run()
    at.selectbox(key="cfg.schedule").set_value("cyclic").run()
    at.selectbox(key="cfg.activation").set_value("elu").run()
    assert at.query_params == {"epochs": "2", "schedule": "cyclic", "activation": "elu"}  # only what differs

    reloaded = AppTest.from_file(APP, default_timeout=120)  # a new browser session on the same address
    reloaded.query_params = {**at.query_params, "seed": "ten"}
    reloaded.run()
    assert not reloaded.exception
    assert reloaded.number_input(key="cfg.epochs").value == 2
    assert reloaded.selectbox(key="cfg.schedule").value == "cyclic"
    assert reloaded.selectbox(key="cfg.activation").value == "elu"
    assert [alert_text(warning) for warning in reloaded.warning] == [
        "Left out of the address's settings: Seed: 'ten' is not a valid whole number."]
    assert reloaded.query_params == at.query_params


@pytest.fixture()
def downloaded_before(offline_data, monkeypatch, tmp_path):
    """MNIST and CIFAR-10 look downloaded before (Keras' cache holds their files' names), so their
    presets may be loaded; nothing is downloaded, and loading them fails as offline."""
    cache = tmp_path / "keras" / "datasets"
    (cache / "cifar-10-batches-py-target").mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


def test_presets_whose_data_is_not_here_say_why_and_only_a_folder_out_of_reach_cannot_be_loaded(
        app, offline_data, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    at = app.run()
    picker, [load] = at.sidebar.selectbox(key="preset"), [b for b in at.sidebar.button if b.label == "Load preset"]
    assert picker.value == "mnist_quick" and "seed003_faces — data not available here" in picker.options
    assert "mnist_quick — downloads its data first" in picker.options  # training fetches it where the internet is
    assert not load.disabled and any("Not on this machine yet: mnist would have to be downloaded" in caption.value
                                     and "needs the internet" in caption.value for caption in at.sidebar.caption)
    picker.set_value("seed003_faces").run()
    [load] = [b for b in at.sidebar.button if b.label == "Load preset"]
    assert load.disabled and load.help.startswith("Path on this machine: data/faces")  # not an allowed folder here
    assert any("Its data is not available here" in caption.value for caption in at.sidebar.caption)
    data = tmp_path / "no-data-here" / "mnist"  # offline_data's CNNKIT_DATA_DIR
    data.mkdir(parents=True)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (data / f"{stem}.gz").write_bytes(b"")
    at.sidebar.selectbox(key="preset").set_value("mnist_quick").run()
    picker, [load] = at.sidebar.selectbox(key="preset"), [b for b in at.sidebar.button if b.label == "Load preset"]
    assert "mnist_quick" in picker.options and "seed000_baseline — downloads its data first" in picker.options
    assert not load.disabled and not any("Not on this machine" in caption.value for caption in at.sidebar.caption)
    assert any("99.2 % test accuracy" in caption.value for caption in at.sidebar.caption)


def test_a_preset_loads_into_the_form(app, downloaded_before):
    at = app.run()
    at.sidebar.selectbox(key="preset").set_value("seed002_augmented")
    next(b for b in at.sidebar.button if b.label == "Load preset").click()
    at.run()
    assert at.selectbox(key="cfg.arch").value == "mnist_cnn"
    assert at.slider(key="cfg.rotation").value == 10.0


def test_a_strong_preset_fills_the_speed_and_averaging_settings(app, downloaded_before):
    at = app.run()
    at.sidebar.selectbox(key="preset").set_value("cifar10_fast")
    next(b for b in at.sidebar.button if b.label == "Load preset").click()
    at.run()
    assert at.selectbox(key="cfg.arch").value == "airbench_cnn"
    assert at.selectbox(key="cfg.precision").value == "mixed_bfloat16"
    assert at.number_input(key="cfg.ema_momentum").value == 0.99
    assert at.checkbox(key="cfg.test_time_flip").value is True


@pytest.mark.slow
def test_a_visitor_over_the_cap_is_told_and_nothing_is_queued(app, monkeypatch):
    from app_pages.common import job_manager

    monkeypatch.setenv("CNNKIT_MAX_JOBS_PER_VISITOR", "1")
    at = app.run()
    at.number_input(key="cfg.epochs").set_value(200).run()
    launch_button(at).click().run()
    launch_button(at).click().run()
    assert [alert_text(toast) for toast in at.toast][-1].startswith(
        "Not launched: You already have 1 job queued or running, the most one visitor may have")
    assert len(job_manager().snapshots()) == 1
    assert not at.exception


def test_launch_a_tiny_digits_run_see_it_finish_then_open_and_relaunch_it_from_the_runs_page(app):
    at = app.run()
    assert any(caption.value.startswith("Trains on **CPU") for caption in at.sidebar.caption)
    assert "Jobs run on **this server's threads**" in [caption.value for caption in at.sidebar.caption]
    at.number_input(key="cfg.epochs").set_value(1)
    at.number_input(key="cfg.train_limit").set_value(300)
    at.selectbox(key="cfg.precision").set_value("mixed_bfloat16")
    at.text_input(key="run_name").set_value("tiny digits")
    at.run()
    launch_button(at).click()
    at.run()
    assert at.text_input(key="run_name").value == ""  # ready for the next run's name
    wait_for_jobs()
    at.run()
    assert any("finished after" in markdown.value for markdown in at.markdown)
    assert any(markdown.value.startswith("**tiny digits**  \nkaggle\\_mnist\\_cnn on digits · 300 training images · "
                                         "1 epoch · adam 0.001 · bf16") for markdown in at.markdown)  # the job card
    assert any(":material/memory: CPU" in markdown.value for markdown in at.markdown)  # the job card names its device
    assert not at.exception

    at.switch_page("app_pages/runs.py")
    at.run()
    assert at.title[0].value == "Runs"
    assert any("runs 1–1 of 1 " in caption.value for caption in at.caption)
    run_id = tracking.RunStore().runs_frame().iloc[0]["run_id"]
    at.session_state["open_run"] = run_id
    at.run()
    assert any("FINISHED" in header.value for header in at.subheader)
    next(b for b in at.button if b.label == "Edit & relaunch").click()
    at.run()
    assert at.title[0].value == "Train"
    assert at.number_input(key="cfg.train_limit").value == 300
    assert at.selectbox(key="cfg.precision").value == "mixed_bfloat16"


def test_the_app_stops_streamlit_clearing_keras_state_after_every_rerun(app):
    """Streamlit's post-run keras.backend.clear_session() would starve background training threads."""
    from streamlit.runtime.scriptrunner import script_runner

    original = script_runner._clean_problem_modules
    try:
        app.run()
        assert script_runner._clean_problem_modules is not original
        assert script_runner._clean_problem_modules() is None
    finally:
        script_runner._clean_problem_modules = original


@pytest.mark.slow
def test_the_lr_finder_runs_in_the_background_and_its_range_can_be_applied(app, offline_data):
    at = app.run()
    at.number_input(key="cfg.train_limit").set_value(300)
    at.run()
    next(button for button in at.button if "Find learning rate" in button.label).click()
    at.run()
    wait_for_jobs()
    at.run()
    assert any("Steepest descent" in caption.value for caption in at.caption)
    assert any(caption.value == "Learning-rate range test for kaggle\\_mnist\\_cnn on digits with adam, batch 64"
               for caption in at.caption)  # what it was run for, under the chart's one heading
    assert not any("range test" in header.value for header in at.subheader)
    next(button for button in at.button if button.label.startswith("Use this range")).click()
    at.run()
    low, high = at.session_state["cfg.learning_rate"], at.session_state["cfg.max_lr"]
    assert 0 < low <= high

    at.selectbox(key="cfg.arch").set_value("mnist_cnn").run()  # another network: the result no longer applies
    assert not any("Steepest descent" in caption.value or "range test" in caption.value for caption in at.caption)
    assert "lr_job" not in at.session_state


@pytest.mark.parametrize("schedule", ["constant", "one_cycle"])
def test_use_this_range_puts_the_suggested_rates_in_the_form_and_the_address(app, manager_on, monkeypatch, schedule):
    """The rates land in the form and the address bar, to the digits the caption shows. (In a browser
    the old on_click callback, run with the fragment alone, was overwritten by the form's old values at
    the next full run; AppTest always reruns the whole page, so the browser test
    test_the_range_tests_suggestion_fills_the_form_and_the_address is the one that saw that.)"""
    import numpy as np

    import cnnkit.training
    from cnnkit.models import LRSuggestion

    suggestion = LRSuggestion(steepest=0.0031, lower=0.0012345, upper=0.04567)
    monkeypatch.setattr(cnnkit.training, "lr_range_test", lambda cfg, **kwargs: cnnkit.training.RangeTest(
        np.geomspace(1e-6, 1, 5), np.linspace(2, 1, 5), suggestion))  # the manager's runner takes it when made
    manager = manager_on(None)
    at = app.run()
    at.selectbox(key="cfg.schedule").set_value(schedule).run()
    next(button for button in at.button if button.label == "Find learning rate").click().run()
    assert manager.wait(at.session_state["lr_job"], 60).state == "finished"
    at.run()
    next(button for button in at.button if button.label.startswith("Use this range")).click().run()
    assert not at.exception
    assert at.number_input(key="cfg.learning_rate").value == 0.0012
    assert at.session_state["cfg.max_lr"] == 0.046
    if schedule == "one_cycle":  # a constant schedule hides the peak rate; the form keeps it all the same
        assert at.number_input(key="cfg.max_lr").value == 0.046
    assert at.query_params["learning_rate"] == "0.0012" and at.query_params["max_lr"] == "0.046"


@pytest.fixture()
def two_runs(app):
    """Two finished tiny runs on the same data split, differing only in learning rate."""
    import os

    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    uri = os.environ["MLFLOW_TRACKING_URI"]
    results = [train(TrainConfig(dataset="digits", epochs=1, train_limit=300, learning_rate=rate), tracking_uri=uri)
               for rate in (1e-3, 3e-3)]
    assert all(result.status == "FINISHED" for result in results)
    return [result.run_id for result in results]


@pytest.mark.slow
@pytest.mark.on_jax
def test_compare_shows_curves_differing_settings_results_confusions_and_galleries(app, two_runs):
    at = opened(app, "app_pages/compare.py", "Compare runs")
    assert set(at.multiselect(key="compare.runs").value) == set(two_runs)
    assert [title.split("<br>")[0] for title in chart_titles(at)] == [  # the Curves tab only
        "Training loss per epoch", "System use during training"]
    assert any(caption.value.startswith(":material/history: No epoch slider: these runs kept no snapshots (")
               for caption in at.caption)
    settings = next(frame.value for frame in on_tab(at, "Settings").dataframe
                    if "learning_rate" in list(frame.value.index))
    assert list(settings.index) == ["learning_rate"]  # only what differs
    assert any(title.startswith("Accuracy of each run") for title in chart_titles(on_tab(at, "Results")))
    titles = chart_titles(on_tab(at, "Confusion"))
    assert len(titles) == 3 and titles[2].startswith("B − A")  # two confusions and, on the same test images, B − A
    assert len(plotly_specs(on_tab(at, "Per class"))) == 1
    assert sum("pred: " in spec for spec in plotly_specs(on_tab(at, "Mistakes"))) == 2  # two galleries
    assert any(caption.value.startswith("These runs saw the same test set") for caption in at.caption)
    at.selectbox(key="compare.true").set_value("3").run()
    on_tab(at, "Curves")
    assert on_tab(at, "Mistakes").selectbox(key="compare.true").value == "3"  # kept while its tab was closed


def three_class_csv(path) -> str:
    """A Kaggle-style CSV of 8x8 images in three classes labelled 1, 8 and 15 (a bar across, a bar down, a diagonal)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    for i in range(120):
        image = rng.integers(0, 60, (8, 8))
        label = (1, 8, 15)[i % 3]
        if label == 1:
            image[3:5, :] = 255
        elif label == 8:
            image[:, 3:5] = 255
        else:
            np.fill_diagonal(image, 255)
        rows.append([label, *image.ravel()])
    pd.DataFrame(rows, columns=["label", *(f"pixel{k}" for k in range(64))]).to_csv(path, index=False)
    return str(path)


@pytest.fixture()
def runs_on_other_data(app, tmp_path):
    """Finished tiny runs: digits twice on one split, digits split with another seed (other test images),
    and a 3-class CSV."""
    import os

    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    uri = os.environ["MLFLOW_TRACKING_URI"]
    configs = {"digits": TrainConfig(dataset="digits", epochs=1, train_limit=300),
               "digits, faster": TrainConfig(dataset="digits", epochs=1, train_limit=300, learning_rate=3e-3),
               "digits, seed 4": TrainConfig(dataset="digits", epochs=1, train_limit=300, seed=4),
               "csv": TrainConfig(dataset="csv", dataset_path=three_class_csv(tmp_path / "three.csv"), epochs=1)}
    results = {name: train(config, tracking_uri=uri, run_name=name) for name, config in configs.items()}
    assert all(result.status == "FINISHED" for result in results.values())
    return {name: result.run_id for name, result in results.items()}


def plotly_specs(at) -> list[str]:
    return [chart.proto.spec for chart in at.get("plotly_chart")]


def chart_titles(at) -> list[str]:
    import json

    return [json.loads(spec)["layout"].get("title", {}).get("text", "") for spec in plotly_specs(at)]


@pytest.mark.slow
def test_compare_shows_runs_on_other_classes_on_curves_and_results_only_and_never_mixes_class_names(app, runs_on_other_data):
    at = opened(app, "app_pages/compare.py", "Compare runs")
    assert at.multiselect(key="compare.runs").value == [runs_on_other_data["csv"], runs_on_other_data["digits, seed 4"]]
    specs = plotly_specs(at) + plotly_specs(on_tab(at, "Results"))
    assert any("Training loss per epoch" in spec for spec in specs) and any("Accuracy of each run" in spec for spec in specs)
    for tab in ("Confusion", "Per class", "Mistakes"):  # the confusion's with the difference's
        on_tab(at, tab)
        [reason] = [info.value for info in at.info
                    if info.value.startswith("Not shown: these runs classify different classes")]
        assert "csv: 1, 8, 15 (3 classes)" in reason and "digits, seed 4: 0, 1, 2, 3, …, 9 (10 classes)" in reason
        specs += plotly_specs(at)
    assert not any(label in spec for spec in specs for label in ("Predicted label", "Precision", "pred: "))


@pytest.mark.slow
def test_compare_shows_the_same_classes_on_other_test_images_side_by_side_but_neither_subtracts_nor_lines_them_up(
        app, runs_on_other_data):
    at = opened(app, "app_pages/compare.py", "Compare runs")
    at.multiselect(key="compare.runs").set_value([runs_on_other_data["digits"], runs_on_other_data["digits, seed 4"]]).run()
    assert not at.exception
    specs = plotly_specs(on_tab(at, "Confusion"))
    assert sum("Predicted label" in spec for spec in specs) == 2  # both confusion matrices, no difference matrix
    assert not any(title.startswith("B − A") for title in chart_titles(at))
    assert any(info.value.startswith("No difference matrix: A and B saw different test sets") for info in at.info)
    specs = plotly_specs(on_tab(at, "Mistakes"))
    assert any("don't line up image by image" in caption.value for caption in at.caption)
    galleries = [spec for spec in specs if "pred: " in spec]  # gallery captions: "true: 3<br>pred: 8"
    assert len(galleries) == 2  # each run's own mistakes
    assert at.selectbox(key="compare.true").value == ""  # "any"; None would read "Choose an option" in the browser
    at.selectbox(key="compare.true").set_value("3").run()
    captions = [spec for spec in plotly_specs(at) if "pred: " in spec]
    assert captions and all("true: 3" in spec and "true: 5" not in spec for spec in captions)  # the filter applies to both

    at.multiselect(key="compare.runs").set_value([runs_on_other_data[name] for name in ("digits, seed 4", "digits",
                                                                                       "digits, faster")]).run()
    on_tab(at, "Confusion")
    a, b = (next(box for box in at.selectbox if box.label == label) for label in ("Difference: A", "B"))
    assert (a.value, b.value) == (runs_on_other_data["digits"], runs_on_other_data["digits, faster"])  # they share test images
    assert any(title.startswith("B − A") for title in chart_titles(at))
    a.set_value(runs_on_other_data["digits, seed 4"]).run()
    assert any(info.value.startswith("No difference matrix: A and B saw different test sets") for info in at.info)


@pytest.mark.slow
def test_inspect_shows_the_dashboard_feature_maps_filters_probabilities_and_grad_cam(app, two_runs):
    at = opened(app, "app_pages/inspect.py", "Inspect a run")
    shown = two_runs[1]  # the newest run first; the page's widget keys carry its id
    at.sidebar.radio(key=f"inspect.source.{shown}").set_value("test set").run()
    at.sidebar.number_input(key=f"inspect.index.{shown}").set_value(5).run()
    for tab, expected in [("Dashboard", ["Confusion matrix"]), ("Feature maps", ["conv1", "conv2"]),
                          ("Filters", ["filters"]), ("Probabilities", ["Computer vs human"]),
                          ("Grad-CAM", ["Where the network looked"])]:
        at.session_state["inspect.tab"] = tab  # as a click on the tab: only the open one is drawn
        at.run()
        specs = " ".join(chart.proto.spec for chart in at.get("plotly_chart"))
        assert all(text in specs for text in expected), tab
        assert not at.exception
    at.session_state["inspect.tab"] = "Feature maps"
    assert at.run().multiselect(key=f"inspect.layers.{shown}").value == ["conv1", "conv2"]


def test_kernels_shows_the_original_and_every_filter_including_a_custom_kernel(app):
    at = opened(app, "app_pages/kernels.py", "Image kernels")
    captions = [caption for image in at.image for caption in image.captions]
    for title in ("original", "sharpen", "blur", "edges", "blur_sharpen", "your kernel"):
        assert title in captions, title
    at.radio(key="kernels.sample").set_value("flower").run()
    assert not at.exception


@pytest.mark.slow
def test_classify_offers_finished_runs_and_guesses_the_training_polarity(app, two_runs):
    at = opened(app, "app_pages/classify.py", "Classify images")
    assert at.selectbox(key="classify.run").value.endswith(tuple(run_id[:6] for run_id in two_runs))
    assert at.toggle(key="classify.polarity").value is True  # sklearn digits are light strokes on black


@pytest.mark.slow
def test_a_model_registered_from_the_runs_page_is_offered_first_on_classify(app, two_runs):
    at = app.switch_page("app_pages/runs.py").run()
    at.session_state["open_run"] = two_runs[1]
    at.run()
    at.text_input(key=f"register-{two_runs[1]}").set_value("digits-best")
    next(button for button in at.button if button.label == "Register model").click()
    at.run()
    said = [element.value for element in [*at.success, *at.caption] if element.value.startswith("Registered as")]
    assert said == ["Registered as digits-best v1."]  # once: it was said twice, as a success and as a caption
    at.run()
    assert not at.success and "Registered as digits-best v1." in [caption.value for caption in at.caption]
    serve = "Serve it with mlflow models serve -m models:/digits-best/1 --env-manager local"
    assert [caption.value for caption in at.caption if caption.value.replace("\\", "").startswith(serve)]
    assert not at.warning  # a run logged with its MLflow Model has nothing to warn of

    at.switch_page("app_pages/classify.py").run()
    assert not at.exception
    picker = at.selectbox(key="classify.run")
    assert picker.options[0].startswith("digits-best v1 (registered, ")
    assert picker.options[0].endswith(f" · {two_runs[1][:6]})")  # names the run it came from
    assert picker.value == picker.options[0]
    assert len(picker.options) == 3  # the registered version, then both runs


@pytest.mark.slow
def test_drawing_offers_a_canvas_and_nothing_is_classified_before_the_first_stroke(app, two_runs):
    at = app.switch_page("app_pages/classify.py").run()
    at.radio(key="classify.source").set_value("Draw").run()
    assert not at.exception and not at.error
    assert len(at.get("bidi_component")) == 1  # the drawing canvas (driven in the browser by test_e2e)
    assert not at.get("plotly_chart")  # no result until something is drawn
