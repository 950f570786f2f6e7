"""A run's calibration at its end: on synthetic predictions with a known temperature (fast), and on a
real tiny digits run, read back through MLflow's own client and checked against the logged arrays
by hand, with scikit-learn, and by the temperature's own optimality."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax, softmax
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss

from cnnkit.stats import calibration
from cnnkit.tracking import run_schema
from cnnkit.training import Calibration, calibrate
import cnnkit.training.calibration_step as calibration_step

TRUE_TEMPERATURE = 2.0


def over_confident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities twice as sharp as those the labels were drawn from: softmax(2z), labels ~ softmax(z)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.5, (n, 10))
    labels = (rng.random(n)[:, None] > softmax(logits, axis=1).cumsum(axis=1)).sum(axis=1)
    return softmax(TRUE_TEMPERATURE * logits, axis=1), labels


class RecordingLogger:
    """What a RunLogger was asked to log."""

    def __init__(self):
        self.metrics, self.json, self.arrays = {}, {}, {}

    def log_metrics(self, values, step):
        self.metrics.update({key: (value, step) for key, value in values.items()})

    def log_json(self, value, artifact_file):
        self.json[artifact_file] = json.loads(json.dumps(value))  # as the store keeps it: through JSON

    def log_arrays(self, arrays, artifact_file, checksum=False):
        self.arrays[artifact_file] = arrays


def ece_by_hand(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE written out bin by bin (confidence in (low, high], the first bin closed at 0)."""
    confidence, right = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
    total = 0.0
    for b in range(bins):
        inside = (confidence > b / bins if b else confidence >= 0) & (confidence <= (b + 1) / bins)
        if inside.any():
            total += inside.sum() * abs(right[inside].mean() - confidence[inside].mean())
    return total / len(labels)


def test_the_fitted_temperature_recovers_the_over_confidence_and_lowers_ece():
    test, y_test = over_confident(20_000, seed=1)
    validation, y_val = over_confident(20_000, seed=2)
    found = calibrate(test, y_test, validation, y_val)
    assert found.temperature == pytest.approx(TRUE_TEMPERATURE, rel=0.05)
    assert found.after.ece < found.before.ece / 3
    assert found.after.nll < found.before.nll
    assert found.metrics() == {
        run_schema.TEST_ECE: found.before.ece, run_schema.TEST_MCE: found.before.mce,
        run_schema.TEST_NLL: found.before.nll, run_schema.TEST_BRIER: found.before.brier,
        run_schema.TEMPERATURE: found.temperature,
        run_schema.TEST_ECE + "_scaled": found.after.ece, run_schema.TEST_MCE + "_scaled": found.after.mce,
        run_schema.TEST_NLL + "_scaled": found.after.nll, run_schema.TEST_BRIER + "_scaled": found.after.brier}


def test_without_a_validation_split_only_the_test_numbers_and_no_temperature():
    test, y_test = over_confident(500, seed=3)
    found = calibrate(test, y_test, test[:0], y_test[:0])
    assert (found.temperature, found.after) == (None, None)
    assert set(found.metrics()) == set(run_schema.CALIBRATION_METRICS)
    assert found.to_json()["after"] is None and found.to_json()["temperature"] is None


def test_the_report_survives_its_trip_through_json_empty_bins_included():
    test, y_test = over_confident(300, seed=4)
    validation, y_val = over_confident(300, seed=5)
    found = calibrate(test, y_test, validation, y_val)
    back = Calibration.from_json(json.loads(json.dumps(found.to_json())))
    assert back.temperature == found.temperature
    for mine, theirs in ((back.before, found.before), (back.after, found.after)):
        assert (mine.ece, mine.mce, mine.nll, mine.brier) == (theirs.ece, theirs.mce, theirs.nll, theirs.brier)
        assert theirs.bins["count"].eq(0).any()  # the case that matters: an empty bin's nan went through null
        pd.testing.assert_frame_equal(mine.bins, theirs.bins)


def test_log_calibration_predicts_the_validation_images_once_and_logs_what_it_computed_on():
    test, y_test = over_confident(400, seed=6)
    validation, y_val = over_confident(300, seed=7)
    data = SimpleNamespace(x_val=np.zeros((300, 8, 8, 1), np.uint8), y_val=y_val, y_test=y_test)
    asked = []
    logger = RecordingLogger()
    found = calibration_step.log_calibration(logger, data, test, lambda x: asked.append(x) or validation, step=7)
    assert [len(x) for x in asked] == [300]
    arrays = logger.arrays[run_schema.CALIBRATION_PROBABILITIES]
    assert arrays["test"].dtype == arrays["validation"].dtype == np.float16  # as the snapshots keep them
    np.testing.assert_array_equal(arrays["test_labels"], y_test)
    np.testing.assert_array_equal(arrays["validation_labels"], y_val)
    again = calibrate(arrays["test"], y_test, arrays["validation"], y_val)  # from the logged arrays alone
    assert {key: value for key, (value, _) in logger.metrics.items()} == again.metrics() == found.metrics()
    assert {step for _, step in logger.metrics.values()} == {7}
    assert logger.json[run_schema.CALIBRATION]["temperature"] == found.temperature


@pytest.mark.slow
def test_a_digits_run_logs_its_calibration_as_recomputed_from_its_logged_arrays(tmp_path):
    from mlflow import MlflowClient

    from cnnkit.config import TrainConfig
    from cnnkit.training import train

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = train(TrainConfig(dataset="digits", arch="kaggle_mnist_cnn", epochs=2, train_limit=400), tracking_uri=store)
    assert result.status == "FINISHED", result.error
    client = MlflowClient(store)
    logged = client.get_run(result.run_id).data.metrics
    with np.load(client.download_artifacts(result.run_id, run_schema.CALIBRATION_PROBABILITIES, str(tmp_path)),
                 allow_pickle=False) as arrays:
        test, y_test = arrays["test"].astype(np.float64), arrays["test_labels"]
        validation, y_val = arrays["validation"].astype(np.float64), arrays["validation_labels"]
    summary = json.loads(open(client.download_artifacts(result.run_id, run_schema.DATASET_SUMMARY, str(tmp_path))).read())
    assert (len(y_test), len(y_val)) == (summary["splits"]["test"], summary["splits"]["validation"])
    assert np.mean(test.argmax(axis=1) == y_test) == pytest.approx(logged[run_schema.TEST_ACCURACY], abs=1 / len(y_test))

    temperature = logged[run_schema.TEMPERATURE]
    before, after = calibration.report(test, y_test), calibration.report(calibration.calibrated(test, temperature), y_test)
    assert logged[run_schema.TEST_ECE] == pytest.approx(ece_by_hand(test, y_test), rel=1e-9)
    assert logged[run_schema.TEST_ECE] == pytest.approx(before.ece, rel=1e-12)
    assert logged[run_schema.TEST_ECE + "_scaled"] == pytest.approx(ece_by_hand(calibration.calibrated(test, temperature),
                                                                               y_test), rel=1e-9)
    assert logged[run_schema.TEST_MCE] == pytest.approx(before.mce, rel=1e-12)
    assert logged[run_schema.TEST_NLL] == pytest.approx(log_loss(y_test, test / test.sum(axis=1, keepdims=True),
                                                                 labels=range(10)), rel=1e-2)  # float16 rows sum to ~1
    assert logged[run_schema.TEST_BRIER + "_scaled"] == pytest.approx(after.brier, rel=1e-12)
    # The diagram's bins are scikit-learn's calibration curve of the top label (right or wrong, at its confidence).
    right, confidence = test.argmax(axis=1) == y_test, test.max(axis=1)
    accuracy, mean_confidence = calibration_curve(right, confidence, n_bins=15, strategy="uniform")
    shown = Calibration.from_json(json.loads(open(client.download_artifacts(
        result.run_id, run_schema.CALIBRATION, str(tmp_path))).read())).before.bins
    shown = shown[shown["count"] > 0]
    np.testing.assert_allclose(shown["accuracy"], accuracy)
    np.testing.assert_allclose(shown["confidence"], mean_confidence)
    # The temperature minimises the validation NLL of the logged probabilities, each image's log-probabilities
    # (0 counted as 1e-12) divided by T, written out with SciPy's log_softmax. Not scikit-learn's log loss:
    # it caps each image's loss at -log(2.2e-16), and a float16 0 for the true class can exceed that once scaled.
    log_p = np.log(np.clip(validation, 1e-12, 1))
    nll_at = [-np.mean(log_softmax(log_p / t, axis=1)[np.arange(len(y_val)), y_val])
              for t in (temperature / 1.05, temperature, temperature * 1.05)]
    if temperature == pytest.approx(calibration.TEMPERATURES[0], rel=1e-4):  # an under-confident 1-epoch network:
        assert nll_at[1] < nll_at[2]  # sharper is better down to the search's bound
    else:
        assert nll_at[1] < min(nll_at[0], nll_at[2])
    assert result.metrics[run_schema.TEMPERATURE] == temperature  # the CLI's last line reports it too
