"""The Classify page through Streamlit's AppTest: the out-of-distribution hint, Grad-CAM, batch results.

One digits run trained for a few epochs serves every test.
"""

import json

import numpy as np
import pytest
import streamlit as st
from PIL import Image

from cnnkit import tracking
from cnnkit.explorer import charts
from cnnkit.models import predict
from files import encode, tiff
from alerts import alert_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """(tracking URI, run id) of a finished digits run."""
    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    result = train(TrainConfig(dataset="digits", epochs=3), tracking_uri=uri)
    assert result.status == "FINISHED"
    return uri, result.run_id


@pytest.fixture()
def classify(app, digits_run, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", digits_run[0])
    st.cache_data.clear()
    return app.switch_page("app_pages/classify.py").run()


def photo() -> bytes:
    """A colourful noise 'photo': nothing like an 8x8 digit."""
    return encode(Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)), "PNG")


def test_one_image_is_ranked_against_the_runs_test_images(classify, digits_run):
    at = classify
    at.file_uploader(key="classify.one").set_value(("cat.png", photo(), "image/png")).run()
    assert not at.exception
    run_store = tracking.RunStore(digits_run[0])
    model, split = run_store.load_model(digits_run[1]), run_store.test_split_of_run(digits_run[1])
    seen = predict.prepare(photo(), "cat.png", model.input_shape[1:], light_on_dark=True).model_input
    expected = predict.familiarity(model, seen, predict.test_reference(model, split.x_test))
    shown = [alert_text(warning) for warning in at.warning] if expected.unfamiliar else [caption.value for caption in at.caption]
    assert expected.message() in shown
    assert f"the run's {len(split.x_test)} test images" in expected.message()


def test_grad_cam_offers_every_conv_layer_the_last_by_default_and_explains_its_colours(classify):
    at = classify
    at.file_uploader(key="classify.one").set_value(("digit.png", encode(Image.new("L", (8, 8), 40)), "image/png")).run()
    picker = next(box for box in at.selectbox if box.label == "Grad-CAM at the layer")
    assert picker.options == ["conv1", "conv2"] and picker.value == "conv2"
    picker.set_value("conv1").run()
    assert not at.exception
    assert "Where the network looked for" in " ".join(chart.proto.spec for chart in at.get("plotly_chart"))
    assert charts.GRAD_CAM_CAPTION in [caption.value for caption in at.caption]


def test_batch_results_show_percentages_and_say_in_full_what_is_wrong_with_a_tiff(classify):
    at = classify
    scan = tiff(pages=2, bits=(32, 32, 32), sample_format=3, photometric=2)
    at.file_uploader(key="classify.batch").set_value(
        [("digit.png", encode(Image.new("L", (8, 8), 40)), "image/png"), ("scan.tif", scan, "image/tiff")]).run()
    assert not at.exception
    assert any(alert_text(error).startswith("scan.tif is a 2-page TIFF that Pillow can't decode: its pixels are 3 samples "
                                      "of 32-bit floating-point") for error in at.error)
    table = at.dataframe[0]
    assert json.loads(table.proto.columns)["confidence"]["type_config"]["format"] == "percent"
    assert list(table.value["file"]) == ["digit.png"]  # the TIFF is listed above, its message in full
    assert "error" not in table.value.columns
    # each image flagged as the one-image tab would flag it; a plain gray square is nothing like a digit
    assert table.value["out_of_distribution"].tolist() == [True]
    assert json.loads(table.proto.columns)["out_of_distribution"]["label"] == "unlike the training data"
