"""The Train page's Search section: ranges checked against the settings, a 4-trial Optuna search on
tiny digits runs, its progress and figures, and the best trial loaded into the Train form."""

import time

import pytest

from cnnkit import tracking
from cnnkit.tracking.store_opening import make_client
from cnnkit.tracking import run_schema
from alerts import alert_text

TIMEOUT = 300  # seconds; four tiny runs on a busy machine


def test_before_any_setting_is_picked_the_search_says_what_to_do_without_an_error(app):
    at = app.run()
    assert not at.exception
    assert not [error for error in at.error if "Settings to search" in alert_text(error)]
    assert any("Pick one or more settings to vary" in caption.value for caption in at.caption)
    [launch] = [button for button in at.button if button.label == "Launch search"]
    assert launch.disabled and launch.help.startswith("Pick one or more settings to vary")
    at.multiselect(key="search.settings").set_value(["learning_rate"]).run()
    assert not any("Pick one or more settings to vary" in caption.value for caption in at.caption)
    assert [button.disabled for button in at.button if button.label == "Launch search"] == [False]


@pytest.mark.slow
def test_a_four_trial_search_runs_and_its_best_trial_fills_the_form(app):
    at = app.run()
    for key, value in (("cfg.dataset", "digits"), ("cfg.epochs", 1), ("cfg.train_limit", 100), ("cfg.width", 0.25)):
        (at.selectbox(key=key) if key == "cfg.dataset" else at.number_input(key=key)).set_value(value)
    at.run()
    at.multiselect(key="search.settings").set_value(["learning_rate", "optimizer"]).run()
    at.number_input(key="search.learning_rate.low").set_value(0.0).run()  # outside the setting's declared bounds
    assert any("Learning rate: must be above 0" in alert_text(error) for error in at.error)
    assert [button.disabled for button in at.button if button.label == "Launch search"] == [True]
    at.number_input(key="search.learning_rate.low").set_value(1e-3)
    at.number_input(key="search.trials").set_value(4)
    at.number_input(key="search.parallel").set_value(2).run()
    [launch] = [button for button in at.button if button.label == "Launch search"]
    launch.click().run()
    assert not at.exception
    name = at.session_state["search.shown"]
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(2)
        at.run()
        if any("4 of 4 trials" in (bar.proto.text or "") for bar in at.get("progress")):
            break
    assert any(bar.proto.text.startswith(f"{name}: 4 of 4 trials") for bar in at.get("progress"))
    assert at.get("plotly_chart"), "Optuna's figures are drawn"
    runs = tracking.RunStore(tracking.default_tracking_uri()).runs_frame()
    assert len(runs) == 4 and set(runs["status"]) <= {"FINISHED", "KILLED"}
    client = make_client()
    assert {client.get_run(run_id).data.tags[run_schema.SEARCH_TAG] for run_id in runs["run_id"]} == {name}
    [load] = [button for button in at.button if button.label == "Load best trial into the form"]
    load.click().run()
    assert not at.exception
    from app_pages.search_panel import searches

    best = searches().best_config(name)
    assert at.number_input(key="cfg.learning_rate").value == pytest.approx(best.learning_rate)
    assert at.selectbox(key="cfg.optimizer").value == best.optimizer
