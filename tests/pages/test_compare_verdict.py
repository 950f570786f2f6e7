"""Compare's verdict through Streamlit's AppTest: the Results tab says whether one run is really
better than another, with a table for more runs and a reason where the test images differ. The runs
are logged with evaluations as `train` logs them, without training."""

import numpy as np
import pytest
import streamlit as st
from scipy.special import softmax

from cnnkit import tracking
from cnnkit.config import TrainConfig
from cnnkit.explorer import plain_text
from cnnkit.tracking import run_schema
from cnnkit.training import evaluate

pytestmark = pytest.mark.slow
DIGITS = [str(d) for d in range(10)]


def evaluated_run(store: tracking.RunStore, name: str, y_test: np.ndarray, wrong: np.ndarray, test_set: str) -> str:
    """A FINISHED run tested on images `test_set` (its fingerprint) with labels `y_test`, wrong exactly on
    the images `wrong`; its id."""
    scores = np.full((len(y_test), 10), -2.0)
    scores[np.arange(len(y_test)), np.where(np.isin(np.arange(len(y_test)), wrong), (y_test + 1) % 10, y_test)] = 2.0
    result = evaluate(y_test, softmax(scores, axis=1), DIGITS)
    logger = store.start_run(TrainConfig(dataset="digits"), run_name=name)
    logger.set_tags({run_schema.DATA_FINGERPRINT_TAG: test_set, run_schema.TEST_FINGERPRINT_TAG: test_set})
    logger.log_metrics(result.metrics(), step=1)
    logger.log_json({"class_names": DIGITS, "matrix": result.confusion.tolist()}, run_schema.CONFUSION_MATRIX)
    logger.log_table(result.per_class, run_schema.PER_CLASS)
    logger.log_table(result.mistakes, run_schema.MISTAKES)
    logger.log_arrays({"index": np.zeros(0, np.int64), "images": np.zeros((0, 8, 8, 1), np.uint8)},
                      run_schema.MISTAKE_IMAGES)
    logger.finish("FINISHED")
    return logger.run_id


@pytest.fixture()
def runs(app, tmp_path, monkeypatch):
    """Runs small (30 wrong of 1,000), big (the 5 hardest of those wrong) and twin (31 wrong), on one test
    set, and other on another; their ids by name."""
    uri = f"sqlite:///{tmp_path / 'verdict.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    store = tracking.RunStore(uri)
    y_test = np.arange(1_000) % 10
    made = {name: evaluated_run(store, name, y_test, wrong, "digits-test")
            for name, wrong in (("small", np.arange(30)), ("big", np.arange(25, 30)), ("twin", np.arange(31)))}
    made["other"] = evaluated_run(store, "other", np.arange(500) % 10, np.arange(20), "other-test")
    st.cache_data.clear()
    return made


def results_tab(at, runs: list[str]):
    at.session_state["compare_runs"] = runs
    at = at.switch_page("app_pages/compare.py")
    at.session_state["compare.tab"] = "Results"
    return at.run()


def texts(at) -> list[str]:
    return [element.value for kind in ("markdown", "caption", "info") for element in at.get(kind)]


def test_two_runs_on_the_same_images_get_the_sentence_and_the_discordant_counts(app, runs):
    at = results_tab(app, [runs["small"], runs["big"]])
    assert not at.exception
    sentence = next(text for text in texts(at) if "better than" in text)
    assert sentence.startswith(f"**{plain_text.markdown('big is better than small by 2.50 points (95 % interval ')}")
    assert plain_text.markdown("would arise by chance less than 1 time in 10,000.") in sentence
    counts = next(frame.value for frame in at.dataframe if "big right" in frame.value.columns)
    assert counts.to_numpy().tolist() == [[970, 0], [25, 5]]
    assert any("97.00 % (95 % interval" in text and "99.50 % (95 % interval" in text for text in texts(at))


def test_more_runs_get_holms_table_and_a_run_on_other_images_is_told_apart(app, runs):
    at = results_tab(app, [runs[name] for name in ("small", "big", "twin", "other")])
    assert not at.exception
    table = next(frame.value for frame in at.dataframe if "p (Holm)" in frame.value.columns)
    assert list(zip(table["A"], table["B"], table["verdict"])) == [
        ("small", "big", "big better"), ("small", "twin", "don't conclude"), ("big", "twin", "big better")]
    assert any(text.startswith("other was tested on other images than every other run here") for text in texts(at))


def test_two_runs_on_different_images_say_why_no_test_applies(app, runs):
    at = results_tab(app, [runs["small"], runs["other"]])
    assert not at.exception
    assert any(text.startswith(plain_text.markdown("No paired test: small and other were tested on different images")) for text in texts(at))
    assert not any("better than" in text for text in texts(at))
