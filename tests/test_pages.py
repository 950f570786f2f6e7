"""Page logic through Streamlit's AppTest: render, choose, launch a tiny digits run, see it finish."""

import pytest

from cnnkit import tracking


def opened(app, page: str, title: str):
    """`page` rendered without an exception, under its title."""
    at = app.switch_page(page).run()
    assert not at.exception
    assert at.title[0].value == title
    return at


def wait_for_jobs(timeout: float = 180) -> None:
    from pages.common import job_manager

    for job in job_manager().snapshots():
        assert not job_manager().wait(job.job_id, timeout).is_active, "the job did not finish in time"


def launch_button(at):
    return next(button for button in at.button if "Launch training" in button.label)


def test_train_page_shows_the_data_the_model_and_a_schedule_plan(app):
    at = app.run()
    assert not at.exception
    assert at.title[0].value == "Train"
    assert {m.label for m in at.metric} >= {"Train", "Validation", "Test", "Input"}
    assert any(m.label.startswith("Parameters for digits") for m in at.metric)
    assert not launch_button(at).disabled


def test_an_invalid_combination_is_explained_and_blocks_launch(app):
    at = app.run()
    at.selectbox(key="cfg.schedule").set_value("cyclic")
    at.number_input(key="cfg.max_lr").set_value(0.0001)
    at.run()
    assert any("max_lr" in error.value for error in at.error)
    assert launch_button(at).disabled


def test_a_preset_loads_into_the_form(app):
    at = app.run()
    at.sidebar.selectbox[0].set_value("seed002_augmented")
    next(b for b in at.sidebar.button if b.label == "Load preset").click()
    at.run()
    assert at.selectbox(key="cfg.arch").value == "mnist_cnn"
    assert at.slider(key="cfg.rotation").value == 10.0


def test_a_strong_preset_fills_the_speed_and_averaging_settings(app):
    at = app.run()
    at.sidebar.selectbox[0].set_value("cifar10_fast")
    next(b for b in at.sidebar.button if b.label == "Load preset").click()
    at.run()
    assert at.selectbox(key="cfg.arch").value == "airbench_cnn"
    assert at.selectbox(key="cfg.precision").value == "mixed_bfloat16"
    assert at.number_input(key="cfg.ema_momentum").value == 0.99
    assert at.checkbox(key="cfg.test_time_flip").value is True


@pytest.mark.slow
def test_launch_a_tiny_digits_run_see_it_finish_then_open_and_relaunch_it_from_the_runs_page(app):
    at = app.run()
    assert any(caption.value.startswith("Trains on **CPU") for caption in at.sidebar.caption)
    at.number_input(key="cfg.epochs").set_value(1)
    at.number_input(key="cfg.train_limit").set_value(300)
    at.selectbox(key="cfg.precision").set_value("mixed_bfloat16")
    at.run()
    launch_button(at).click()
    at.run()
    wait_for_jobs()
    at.run()
    assert any("finished after" in markdown.value for markdown in at.markdown)
    assert any(":material/memory: CPU" in markdown.value for markdown in at.markdown)  # the job card names its device
    assert not at.exception

    at.switch_page("pages/runs.py")
    at.run()
    assert at.title[0].value == "Runs"
    assert any("1 of 1 runs" in caption.value for caption in at.caption)
    run_id = tracking.runs_frame(tracking.make_client()).iloc[0]["run_id"]
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
def test_the_lr_finder_runs_in_the_background_and_its_range_can_be_applied(app):
    at = app.run()
    at.number_input(key="cfg.train_limit").set_value(300)
    at.run()
    next(button for button in at.button if "Find learning rate" in button.label).click()
    at.run()
    wait_for_jobs()
    at.run()
    assert any("Steepest descent" in caption.value for caption in at.caption)
    next(button for button in at.button if button.label.startswith("Use this range")).click()
    at.run()
    low, high = at.number_input(key="cfg.learning_rate").value, at.number_input(key="cfg.max_lr").value
    assert 0 < low <= high


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
def test_compare_shows_curves_differing_settings_results_confusions_and_galleries(app, two_runs):
    at = opened(app, "pages/compare.py", "Compare runs")
    assert set(at.multiselect(key="compare.runs").value) == set(two_runs)
    settings = next(frame.value for frame in at.dataframe if "learning_rate" in list(frame.value.index))
    assert list(settings.index) == ["learning_rate"]  # only what differs
    figures = [chart.proto.spec for chart in at.get("plotly_chart")]
    assert len(figures) >= 2 + 2 + 1 + 1 + 2  # curves, bars, two confusions + difference, per class, two galleries
    at.selectbox(key="compare.true").set_value("3").run()
    assert not at.exception


@pytest.mark.slow
def test_inspect_shows_the_dashboard_feature_maps_filters_probabilities_and_grad_cam(app, two_runs):
    at = opened(app, "pages/inspect.py", "Inspect a run")
    assert at.multiselect(key="inspect.layers").value == ["conv1", "conv2"]
    specs = " ".join(chart.proto.spec for chart in at.get("plotly_chart"))
    for expected in ("conv1", "conv2", "filters", "Computer vs human", "Where the network looked"):
        assert expected in specs, expected
    at.sidebar.radio(key="inspect.source").set_value("test set").run()
    at.sidebar.number_input(key="inspect.index").set_value(5).run()
    assert not at.exception


def test_kernels_shows_the_original_and_every_filter_including_a_custom_kernel(app):
    at = opened(app, "pages/kernels.py", "Image kernels")
    captions = [caption for image in at.image for caption in image.captions]
    for title in ("original", "sharpen", "blur", "edges", "blur_sharpen", "your kernel"):
        assert title in captions, title
    at.radio(key="kernels.sample").set_value("flower").run()
    assert not at.exception


@pytest.mark.slow
def test_classify_offers_finished_runs_and_guesses_the_training_polarity(app, two_runs):
    at = opened(app, "pages/classify.py", "Classify images")
    assert at.selectbox(key="classify.run").value.endswith(tuple(run_id[:6] for run_id in two_runs))
    assert at.toggle(key="classify.polarity").value is True  # sklearn digits are light strokes on black


@pytest.mark.slow
def test_a_model_registered_from_the_runs_page_is_offered_first_on_classify(app, two_runs):
    at = app.switch_page("pages/runs.py").run()
    at.session_state["open_run"] = two_runs[1]
    at.run()
    at.text_input(key=f"register-{two_runs[1]}").set_value("digits-best")
    next(button for button in at.button if button.label == "Register model").click()
    at.run()
    assert [message.value for message in at.success] == ["Registered as digits-best version 1."]
    assert any(caption.value == "Registered as digits-best v1." for caption in at.caption)

    at.switch_page("pages/classify.py").run()
    assert not at.exception
    picker = at.selectbox(key="classify.run")
    assert picker.options[0].startswith("digits-best v1 (registered, ")
    assert picker.options[0].endswith(f" · {two_runs[1][:6]})")  # names the run it came from
    assert picker.value == picker.options[0]
    assert len(picker.options) == 3  # the registered version, then both runs


@pytest.mark.slow
def test_drawing_offers_a_canvas_and_nothing_is_classified_before_the_first_stroke(app, two_runs):
    at = app.switch_page("pages/classify.py").run()
    at.radio(key="classify.source").set_value("Draw").run()
    assert not at.exception and not at.error
    assert len(at.get("bidi_component")) == 1  # the drawing canvas (driven in the browser by test_e2e)
    assert not at.get("plotly_chart")  # no result until something is drawn
