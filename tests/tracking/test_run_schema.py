"""The run's vocabulary lives in cnnkit/run_schema.py alone: the names stored runs are read by
stay as they were, and no other module of the library or the app spells them out again."""

import ast
from pathlib import Path

from cnnkit.tracking import run_schema

ROOT = Path(__file__).resolve().parents[2]
OTHER_VOCABULARIES = {
    "val_loss", "val_accuracy",  # also the names Keras' callbacks monitor (plateau, early stopping)
    "param_count",  # also a key of the architectures listing (cnnkit.models.architectures.list_architectures)
}


def test_runs_logged_before_keep_their_names():
    assert (run_schema.MODEL_ARTIFACT, run_schema.MODEL_SHA256_TAG) == ("model/model.keras", "cnnkit.model_sha256")
    assert (run_schema.DATA_FINGERPRINT_TAG, run_schema.TEST_FINGERPRINT_TAG, run_schema.DEVICE_TAG, run_schema.ERROR_TAG,
            run_schema.HOST_TAG, run_schema.PID_TAG) == (
        "cnnkit.data_fingerprint", "cnnkit.test_fingerprint", "cnnkit.device", "cnnkit.error", "cnnkit.host", "cnnkit.pid")
    assert run_schema.EPOCH_METRICS == ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_seconds", "elapsed_s")
    assert run_schema.TIME_TO_METRICS == ("time_to_val_acc_90", "time_to_val_acc_95", "time_to_val_acc_98",
                                          "time_to_val_acc_99")
    assert run_schema.BATCH_METRICS == ("batch_loss", "batch_lr")
    assert run_schema.RESULT_METRICS == ("final_accuracy", "final_val_accuracy", "test_accuracy", "test_top3_accuracy",
                                         "test_top5_accuracy", "test_loss")
    assert run_schema.EVALUATION_FILES == ("evaluation/confusion_matrix.json", "evaluation/per_class.csv",
                                           "evaluation/mistakes.csv", "evaluation/mistake_images.npz")


def test_calibration_names_stay_as_runs_logged_them():
    assert (run_schema.TEMPERATURE, *run_schema.CALIBRATION_METRICS) == (
        "calibration/temperature", "calibration/test_ece", "calibration/test_mce", "calibration/test_nll",
        "calibration/test_brier")
    assert run_schema.scaled_metric(run_schema.TEST_ECE) == "calibration/test_ece_scaled"
    assert (run_schema.CALIBRATION, run_schema.CALIBRATION_PROBABILITIES) == (
        "calibration/reliability.json", "calibration/probabilities.npz")


def test_the_training_dynamics_name_stays_as_runs_logged_it():
    assert run_schema.TRAINING_DYNAMICS == "dynamics/training_dynamics.npz"


def schema_names() -> set[str]:
    """The schema's names that can't be mistaken for another vocabulary's words."""
    values = {value for name, value in vars(run_schema).items() if name.isupper() and isinstance(value, str)}
    return {value for value in values if "." in value or "/" in value or "_" in value} - OTHER_VOCABULARIES


def test_no_other_module_spells_the_run_schema_out():
    names = schema_names()
    assert {"cnnkit.device", "evaluation/mistakes.csv", "batch_loss", "test_accuracy"} <= names
    respelled = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for path in [*(ROOT / "cnnkit").rglob("*.py"), *(ROOT / "app_pages").rglob("*.py"), ROOT / "streamlit_app.py"]
        if path.name != "run_schema.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert not respelled, "use cnnkit.tracking.run_schema instead of:\n" + "\n".join(respelled)


def test_dataset_inputs_use_mlflows_context_tag_and_values():
    """MLflow's UI and `dataset.context` search read these spellings; they are MLflow's, not cnnkit's to change."""
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    assert run_schema.DATASET_CONTEXT_TAG == MLFLOW_DATASET_CONTEXT == "mlflow.data.context"
    assert run_schema.DATASET_CONTEXTS == {"train": "training", "validation": "validation", "test": "testing"}
    assert run_schema.dataset_input_name("mnist", "train") == "mnist/train"
    assert run_schema.DATASET_DIGEST_CHARS <= 36  # MLflow refuses a longer digest


def test_the_label_audit_names_stay_as_runs_logged_them():
    assert (run_schema.LABEL_AUDIT_ID_TAG, run_schema.LABEL_AUDIT_NAME_TAG, run_schema.LABEL_AUDIT_FOLD_TAG,
            run_schema.LABEL_AUDIT_FOLDS_TAG) == ("cnnkit.label_audit_id", "cnnkit.label_audit",
                                                  "cnnkit.label_audit_fold", "cnnkit.label_audit_folds")
    assert run_schema.LABEL_AUDIT_HELD_OUT == "label_audit/held_out_probabilities.npz"
