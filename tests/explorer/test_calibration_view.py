"""cnnkit.explorer.calibration_view: a run's calibration as logged, from an older run's last snapshot, or why
none; the tables and Classify's caption. A stand-in store holds the runs (the real one: tests/pages)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.special import softmax

from cnnkit.explorer import calibration_view
from cnnkit.stats import calibration
from cnnkit.tracking import run_schema
from cnnkit.training import calibrate

RNG = np.random.default_rng(0)
TEST = softmax(RNG.normal(0, 3, (200, 10)), axis=1).astype(np.float16)
LABELS = RNG.integers(0, 10, 200)
VALIDATION = softmax(RNG.normal(0, 3, (100, 10)), axis=1).astype(np.float16)
VAL_LABELS = RNG.integers(0, 10, 100)


class Store:
    """Runs by id: (params, metrics, logged calibration JSON or None, snapshot epochs)."""

    def __init__(self, runs):
        self.runs, self.loaded = runs, []

    def run(self, run_id):
        params, metrics, _, _ = self.runs[run_id]
        return SimpleNamespace(params=params, metrics=metrics)

    def load_json_artifact(self, run_id, artifact_file):
        assert artifact_file == run_schema.CALIBRATION
        return json.loads(json.dumps(self.runs[run_id][2]))

    def snapshot_epochs(self, run_id):
        return self.runs[run_id][3]

    def snapshot_probabilities(self, run_id, epoch):
        self.loaded.append((run_id, epoch))
        return TEST.astype(np.float32)


def logged(found):
    return {}, found.metrics(), found.to_json(), []


@pytest.fixture()
def store():
    with_temperature = calibrate(TEST, LABELS, VALIDATION, VAL_LABELS)
    return Store({
        "new": logged(with_temperature),
        "no-val": logged(calibrate(TEST, LABELS)),
        "old": ({"early_stopping": "0"}, {run_schema.EPOCHS_TRAINED: 3.0}, None, [1, 3]),
        "old-early": ({"early_stopping": "2"}, {run_schema.EPOCHS_TRAINED: 3.0}, None, [1, 3]),
        "old-bare": ({}, {run_schema.EPOCHS_TRAINED: 3.0}, None, []),
    })


def test_a_run_that_logged_its_calibration_reads_it_back(store):
    found = calibration_view.run_calibration(store, "new", test_labels=lambda: pytest.fail("no labels needed"))
    expected = calibrate(TEST, LABELS, VALIDATION, VAL_LABELS)
    assert found.calibration.temperature == expected.temperature and found.note is None
    assert found.calibration.after.ece == expected.after.ece
    assert found.temperature_text == f"T = {expected.temperature:.2f}"
    no_val = calibration_view.run_calibration(store, "no-val")
    assert no_val.calibration.after is None and no_val.temperature_text == calibration_view.NO_VALIDATION
    assert not store.loaded


def test_an_older_run_is_calibrated_from_its_final_snapshot_only_when_given_its_labels(store):
    offered = calibration_view.run_calibration(store, "old")
    assert offered.calibration is None and offered.snapshot_epoch == 3 and "epoch-3 snapshot" in offered.note
    assert not store.loaded
    found = calibration_view.run_calibration(store, "old", test_labels=lambda: LABELS)
    assert store.loaded == [("old", 3)]
    assert found.calibration.temperature is None and found.calibration.after is None
    assert found.calibration.before.ece == calibration.report(TEST, LABELS).ece
    assert found.temperature_text == calibration_view.NOT_FITTED == "not fitted (trained before calibration was logged)"


@pytest.mark.parametrize("run_id", ["old-early", "old-bare"])
def test_an_older_run_without_a_snapshot_of_its_final_model_says_why_there_is_none(store, run_id):
    # early stopping restores its best weights after the last snapshot: that snapshot is not the finished model
    found = calibration_view.run_calibration(store, run_id, test_labels=lambda: LABELS)
    assert found.calibration is None and "kept no snapshot of its final test probabilities" in found.note
    assert not store.loaded


def test_the_summary_has_a_row_per_run_with_a_calibration(store):
    shown = {name: calibration_view.run_calibration(store, name, lambda: LABELS) for name in ("new", "old", "old-bare")}
    table = calibration_view.summary(shown)
    assert table["run"].tolist() == ["new", "old"]
    assert table["temperature"].tolist() == [shown["new"].temperature_text, calibration_view.NOT_FITTED]
    assert table.loc[0, "ECE scaled"] == shown["new"].calibration.after.ece and np.isnan(table.loc[1, "ECE scaled"])
    one = calibration_view.report_table(shown["new"].calibration)
    assert one[""].tolist() == ["before scaling", "after scaling"]
    assert one["Brier"].tolist() == [shown["new"].calibration.before.brier, shown["new"].calibration.after.brier]


def test_classifys_caption_names_the_temperature_or_why_there_is_none():
    fitted = {run_schema.TEMPERATURE: 1.234, run_schema.TEST_ECE: 0.02}
    assert calibration_view.classify_caption(fitted, calibrated=True).startswith(
        "Probabilities calibrated with temperature T = 1.23 fitted on the validation split")
    assert calibration_view.classify_caption(fitted, calibrated=False).startswith("Raw probabilities")
    assert calibration_view.NOT_FITTED in calibration_view.classify_caption({}, calibrated=True)
    assert calibration_view.NO_VALIDATION in calibration_view.classify_caption({run_schema.TEST_ECE: 0.02}, True)
    assert calibration_view.temperature_of(fitted) == 1.234 and calibration_view.temperature_of({}) is None
