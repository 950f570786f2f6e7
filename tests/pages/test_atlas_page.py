"""The Data atlas page through Streamlit's AppTest, on a real 2-epoch digits run that recorded its
training dynamics and one trained with them off: the map and its region counts, a class filter, a box
selection's images with label and prediction, a region's, and one line for a run without a map."""

import json

import numpy as np
import pytest
import streamlit as st

from cnnkit import tracking
from cnnkit.explorer import atlas_view
from cnnkit.stats import cartography

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(tracking URI, id of a run with dynamics of 200 training images, id of one with them off)."""
    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    tiny = dict(dataset="digits", epochs=2, train_limit=300, dynamics_sample=200)
    mapped = train(TrainConfig(**tiny), tracking_uri=uri, run_name="mapped")
    off = train(TrainConfig(**{**tiny, "dynamics_sample": 0}), tracking_uri=uri, run_name="off")
    assert mapped.status == off.status == "FINISHED"
    return uri, mapped.run_id, off.run_id


@pytest.fixture()
def atlas_app(app, runs, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", runs[0])
    st.cache_data.clear()
    return app


def chart_title(at, index: int) -> str:
    return json.loads(at.get("plotly_chart")[index].proto.spec)["layout"]["title"]["text"]


def opened(app, run_id):
    app.session_state["atlas_run"] = run_id  # as the Runs page's "Data atlas" button leaves it
    return app.switch_page("app_pages/atlas.py").run()


def test_the_map_shows_the_runs_examples_and_its_region_counts(atlas_app, runs):
    at = opened(atlas_app, runs[1])
    assert not at.exception
    mapped = atlas_view.run_atlas(tracking.RunStore(runs[0]), runs[1]).data_map
    assert [metric.value for metric in at.metric] == [f"{count:,}" for count in mapped.region_counts().values()]
    assert "200 of the 300 training examples" in " ".join(caption.value for caption in at.caption)
    assert chart_title(at, 0) == "Data map · 200 examples"


def test_a_class_filter_maps_only_that_class(atlas_app, runs):
    at = opened(atlas_app, runs[1])
    at.multiselect(key=f"atlas.classes.{runs[1]}").set_value([3]).run()
    mapped = atlas_view.run_atlas(tracking.RunStore(runs[0]), runs[1]).data_map
    assert chart_title(at, 0) == f"Data map · {np.sum(mapped.labels == 3)} examples"


def test_a_box_selection_shows_those_examples_images_labels_and_predictions(atlas_app, runs):
    at = opened(atlas_app, runs[1])
    at.session_state[f"atlas.map.{runs[1]}.[]"] = {"selection": {
        "points": [{"point_index": 5}, {"point_index": 17}], "point_indices": [5, 17], "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    mapped = atlas_view.run_atlas(tracking.RunStore(runs[0]), runs[1]).data_map
    table = at.dataframe[0].value
    assert sorted(table["id"]) == sorted(mapped.ids[[5, 17]])
    assert chart_title(at, 1).startswith("given label → predicted")  # the images, one PNG


def test_a_region_shows_its_examples(atlas_app, runs):
    at = opened(atlas_app, runs[1])
    mapped = atlas_view.run_atlas(tracking.RunStore(runs[0]), runs[1]).data_map
    region = max(cartography.REGIONS, key=lambda name: mapped.region_counts()[name])
    at.session_state[f"atlas.source.{runs[1]}"] = region
    at.run()
    table = at.dataframe[0].value
    assert set(table["region"]) == {region} and len(table) == min(mapped.region_counts()[region], atlas_view.MAX_SHOWN)


def test_a_run_trained_with_the_setting_off_says_so_in_one_line(atlas_app, runs):
    at = opened(atlas_app, runs[2])
    assert not at.exception
    assert "no data map" in at.info[0].value and "at 0 (off)" in at.info[0].value
    assert not at.get("plotly_chart")


def test_the_runs_pages_open_run_and_compare_open_a_run_in_the_atlas(atlas_app, runs):
    atlas_app.session_state["open_run"] = runs[1]
    at = atlas_app.switch_page("app_pages/runs.py").run()
    next(button for button in at.button if button.label == "Data atlas").click().run()
    assert not at.exception and at.title[0].value == "Data atlas" and at.selectbox(key="atlas.run").value == runs[1]
    at.session_state["compare_runs"] = [runs[1], runs[2]]
    at.switch_page("app_pages/compare.py").run()
    at.button(key=f"atlas-link-{runs[2]}").click().run()
    assert at.title[0].value == "Data atlas" and "at 0 (off)" in at.info[0].value


def test_train_again_without_the_selected_examples_opens_train_with_the_runs_config_and_those_ids(atlas_app, runs):
    at = opened(atlas_app, runs[1])
    at.session_state[f"atlas.map.{runs[1]}.[]"] = {"selection": {
        "points": [{"point_index": 5}, {"point_index": 17}], "point_indices": [5, 17], "box": [], "lasso": []}}
    at.run()
    mapped = atlas_view.run_atlas(tracking.RunStore(runs[0]), runs[1]).data_map
    button = next(button for button in at.button if button.label.startswith("Train again without"))
    assert button.label == "Train again without these 2 examples"
    button.click().run()
    assert not at.exception and at.title[0].value == "Train"
    box = at.text_area(key="cfg.exclude_examples")
    assert sorted(box.value.splitlines()) == sorted(mapped.ids[[5, 17]].tolist())
    assert "2 examples excluded from training" in " ".join(caption.value for caption in at.caption)
    assert at.number_input(key="cfg.train_limit").value == 300 and at.number_input(key="cfg.epochs").value == 2
    assert at.number_input(key="cfg.dynamics_sample").value == 200


def test_a_complete_label_audits_suspects_are_marked_on_the_map_and_shown_as_a_source(atlas_app, runs, monkeypatch):
    """The store's audits read as `label_issues` gives them (a real audit: tests/pages/test_label_audit_panel.py)."""
    import pandas as pd

    from cnnkit.explorer import label_issues

    mapped = atlas_view.run_atlas(tracking.RunStore(runs[0]), runs[1]).data_map
    suspect_ids = [mapped.ids[7], mapped.ids[2], "not-on-the-map"]
    audits = pd.DataFrame({"label_audit_id": ["a1", "a2"], "label_audit": ["done", "half"], "folds": [3, 3],
                           "finished": [3, 1]})
    monkeypatch.setattr(label_issues, "audits_of", lambda store, config: audits)
    monkeypatch.setattr(label_issues, "complete_audit_issues",
                        lambda store, audit_id: (pd.DataFrame({"id": suspect_ids}), 300))
    at = opened(atlas_app, runs[1])
    picker = at.selectbox(key=f"atlas.audit.{runs[1]}")
    assert picker.options == ["none", "done · a1 · 3 folds"]  # an audit with a fold missing is not offered
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["marker"]["size"] == 4
    picker.set_value("a1").run()
    assert not at.exception
    import base64

    size = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["marker"]["size"]  # float32, as Plotly sends
    sizes = np.frombuffer(base64.b64decode(size["bdata"]), dtype=np.float32)
    assert np.flatnonzero(sizes > 4).tolist() == [2, 7]  # the map's points are its examples, none filtered
    at.session_state[f"atlas.source.{runs[1]}"] = "the audit's suspects"
    at.run()
    assert sorted(at.dataframe[0].value["id"]) == sorted([mapped.ids[7], mapped.ids[2]])
    assert any(button.label == "Train again without these 2 examples" for button in at.button)


def test_a_run_whose_settings_cannot_be_read_still_draws_its_map_and_says_why_in_one_line(atlas_app, runs,
                                                                                         monkeypatch):
    from cnnkit.errors import InputError

    def unreadable(store, run_id):
        raise InputError(f"Run {run_id} excluded 2, but its list of their ids (excluded_examples.txt) is missing.")

    monkeypatch.setattr(tracking.RunStore, "config_of_run", unreadable)
    at = opened(atlas_app, runs[1])
    assert not at.exception and not at.error  # the page guard's one line: the page stopped there
    assert chart_title(at, 0) == "Data map · 200 examples" and len(at.metric) == len(cartography.REGIONS)
    assert any(info.value.endswith("is missing.") for info in at.info)  # markdown escapes the underscores
