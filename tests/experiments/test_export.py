"""Export of a finished run (cnnkit.experiments.export): the .keras model as logged, an ONNX copy that
onnxruntime checks against Keras, and a model card written from what the run logged; from the
command line and the Runs page's Export button."""

import hashlib
import importlib.util
import io
import json
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import streamlit as st

from cnnkit import tracking
from cnnkit.experiments import export, report_card
from cnnkit.cli import main
from cnnkit.config import TrainConfig, describe_tricks
from cnnkit.errors import InputError
from cnnkit.tracking import RunEvaluation, RunSummary

ROOT = Path(__file__).resolve().parents[2]


def section(card: str, title: str) -> str:
    """The text under `## title`, up to the next heading."""
    return card.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(text: str) -> list[list[str]]:
    """A Markdown table's body rows as cells (header and rule left out); escaped pipes kept in their cell."""
    rows = [line for line in text.splitlines() if line.startswith("|")][2:]
    return [[cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


# ---- the card and its parts, without training -------------------------------------------


def test_the_most_confused_pairs_are_the_largest_cells_off_the_diagonal():
    confusion = np.array([[50, 3, 0], [7, 40, 1], [0, 3, 60]])
    assert export.most_confused(confusion, limit=3) == [(1, 0, 7), (0, 1, 3), (2, 1, 3)]
    assert export.most_confused(np.diag([5, 5])) == []


def test_the_card_holds_what_the_run_logged():
    run = RunSummary("abc123", "pipes | in a name", "FINISHED",
                     params=TrainConfig(dataset="digits", arch="mnist_cnn", epochs=3, flip="horizontal").to_params(),
                     metrics={"test_accuracy": 0.875, "test_loss": 0.5, "epochs_trained": 2.0},
                     tags={"cnnkit.git_commit": "deadbeef-dirty", "keras.backend": "jax"},
                     started=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc))
    evaluation = RunEvaluation(
        class_names=["cat", "dog|wolf"], confusion=np.array([[8, 2], [1, 9]]),
        per_class=pd.DataFrame({"class": ["cat", "dog|wolf"], "precision": [0.889, 0.818], "recall": [0.8, 0.9],
                                "f1": [0.842, 0.857], "support": [10, 10]}),
        mistakes=pd.DataFrame(), mistake_images={})
    data = {"name": "pets", "input_shape": [4, 4, 1], "splits": {"train": 30, "validation": 5, "test": 20},
            "fingerprint": "f" * 64}
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])

    card = export.model_card(run, data, evaluation, model, "No ONNX copy: a reason.")

    assert card.startswith("# Model card: pipes \\| in a name\n")
    provenance = dict(row for row in table_rows(section(card, "Provenance")))
    assert provenance["commit"] == "`deadbeef-dirty`" and provenance["trained"] == "2026-01-02 03:04 UTC"
    assert "`" + "f" * 64 + "`" in section(card, "Data")
    assert table_rows(section(card, "Data")) == [["train", "30"], ["validation", "5"], ["test", "20"]]
    assert "`mnist_cnn`, 34 parameters." in section(card, "Architecture")
    assert f"Tricks: {describe_tricks(run.params)}. Epochs trained: 2 of 3." in section(card, "Training")
    metrics = section(card, "Metrics")
    assert ["test_accuracy", "0.8750"] in table_rows(metrics.split("Per class")[0])
    assert table_rows(metrics.split("Per class")[1]) == [["cat", "0.8890", "0.8000", "0.8420", "10"],
                                                         ["dog|wolf", "0.8180", "0.9000", "0.8570", "10"]]
    assert table_rows(section(card, "Most confused pairs")) == [["cat", "dog|wolf", "2", "20.0%"],
                                                                ["dog|wolf", "cat", "1", "10.0%"]]
    assert "- No ONNX copy: a reason." in section(card, "Files")


def small_model(dtype: str = "float32"):
    return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(dtype=dtype),
                             keras.layers.Dense(2, activation="softmax", dtype="float32")])


def test_without_its_converter_the_export_says_in_one_line_that_it_has_no_onnx_copy(tmp_path, monkeypatch):
    monkeypatch.setitem(export.ONNX_NEEDS, keras.backend.backend(), ("no_such_converter", "numpy"))
    path, note = export.export_onnx(None, "abc123", small_model(), tmp_path / export.ONNX_FILE)
    assert path is None and not (tmp_path / export.ONNX_FILE).exists()
    assert note == (f"No ONNX copy: on the {keras.backend.backend()} backend it needs no_such_converter, "
                    "which is not installed.")


def test_a_mixed_precision_model_gets_no_onnx_copy_and_the_export_says_why(tmp_path):
    """onnxruntime's CPU convolutions refuse bfloat16: the export said so in a traceback before."""
    path, note = export.export_onnx(None, "abc123", small_model("mixed_bfloat16"), tmp_path / export.ONNX_FILE)
    assert path is None and not (tmp_path / export.ONNX_FILE).exists()
    assert note == "No ONNX copy: Keras exports ONNX from float32 models, and this one computes in mixed_bfloat16."


def test_only_a_finished_run_is_exported(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = tracking.RunStore(uri).start_run(TrainConfig(dataset="digits"))
    logger.finish("KILLED")
    with pytest.raises(InputError, match=f"^Run {logger.run_id} is KILLED: only a finished run has a model to export.$"):
        export.export_run(tracking.RunStore(uri), logger.run_id, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_exporting_a_run_that_is_not_in_the_store_is_one_line_on_the_command_line(tmp_path, capsys):
    code = main(["export", "0" * 32, "--out", str(tmp_path / "out"), "--tracking-uri", f"sqlite:///{tmp_path / 'db'}"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"error: Run with id={'0' * 32} not found"  # above it, MLflow making the store
    assert not (tmp_path / "out").exists()


def test_the_cpu_install_pins_what_the_onnx_export_and_its_check_need():
    """So CI (requirements-dev.txt includes requirements.txt) installs them and the ONNX checks below run."""
    pinned = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    assert set(export.ONNX_NEEDS["tensorflow"]) <= set(pinned)


# ---- a trained run, exported ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(tracking URI, run id) of a finished 1-epoch digits run trained on 30 images."""
    from cnnkit.training import train

    uri = f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"
    result = train(TrainConfig(dataset="digits", epochs=1, train_limit=30), tracking_uri=uri)
    assert result.status == "FINISHED"
    return uri, result.run_id


@pytest.mark.slow
def test_the_command_line_writes_the_model_its_checked_onnx_copy_and_the_card(tiny_run, tmp_path, capsys):
    uri, run_id = tiny_run
    store = tracking.RunStore(uri)
    out = tmp_path / "out"

    assert main(["export", run_id, "--out", str(out), "--tracking-uri", uri]) == 0

    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = store.run(run_id)
    assert hashlib.sha256((out / "model.keras").read_bytes()).hexdigest() == run.tags["cnnkit.model_sha256"]
    if keras.backend.backend() == "jax":  # as on the GPU install: no jax2onnx, so no ONNX copy, and the card says so
        assert printed["files"] == ["model.keras", "MODEL_CARD.md"] and not (out / "model.onnx").exists()
        assert printed["onnx"] == "No ONNX copy: on the jax backend it needs jax2onnx, which is not installed."
    else:
        onnxruntime = pytest.importorskip("onnxruntime")  # pinned in requirements.txt, so CI runs this
        assert printed["files"] == ["model.keras", "model.onnx", "MODEL_CARD.md"]
        assert printed["onnx"].startswith("model.onnx checked with onnxruntime")
        # the ONNX copy, checked here on its own: same top-1, probabilities within 1e-4 on the first 200 test images
        images = store.test_split_of_run(run_id).x_test[:200].astype("float32")
        session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
        onnx_probabilities = session.run(None, {session.get_inputs()[0].name: images})[0]
        keras_probabilities = keras.saving.load_model(out / "model.keras").predict(images, verbose=0)
        assert len(images) == 200
        assert (onnx_probabilities.argmax(axis=1) == keras_probabilities.argmax(axis=1)).all()
        assert np.abs(onnx_probabilities - keras_probabilities).max() <= 1e-4
    # the card, against what the run logged
    card = (out / "MODEL_CARD.md").read_text()
    summary = store.dataset_summary(run_id)
    assert f"`{run.tags['cnnkit.data_fingerprint']}`" in section(card, "Data")
    assert table_rows(section(card, "Data")) == [[split, f"{count:,}"] for split, count in summary["splits"].items()]
    assert f"{int(run.metrics['param_count']):,} parameters" in section(card, "Architecture")
    assert run.tags["cnnkit.git_commit"] in section(card, "Provenance")
    per_class = store.evaluation_of_run(run_id).per_class
    rows = table_rows(section(card, "Metrics").split("Per class")[1])
    assert [row[0] for row in rows] == per_class["class"].tolist()
    assert [float(row[1]) for row in rows] == pytest.approx(per_class["precision"].tolist(), abs=5e-5)
    assert [float(row[2]) for row in rows] == pytest.approx(per_class["recall"].tolist(), abs=5e-5)
    assert printed["onnx"] in section(card, "Files")


def test_the_card_says_whether_the_result_can_be_trusted_in_the_report_cards_words():
    run = RunSummary("abc123", "old", "FINISHED", params=TrainConfig(dataset="digits").to_params(),
                     metrics={"test_accuracy": 0.875}, tags={})
    evaluation = RunEvaluation(class_names=["a", "b"], confusion=np.array([[8, 2], [1, 9]]),
                               per_class=pd.DataFrame(columns=["class", "precision", "recall", "f1", "support"]),
                               mistakes=pd.DataFrame(), mistake_images={})
    data = {"name": "ab", "input_shape": [4, 4, 1], "splits": {"test": 20}, "fingerprint": "f" * 64}
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    trust = report_card.card_of(run, None, None)

    card = export.model_card(run, data, evaluation, model, "No ONNX copy.", trust)

    said = section(card, "Can this result be trusted?")
    assert said.startswith("\n**Test accuracy.** Test accuracy 87.50%, with no 95 % interval")
    assert f"**Robustness.** No corruption sweep yet: {report_card.SWEEP_HOW}." in said
    assert "## Files" in card.split("## Can this result be trusted?")[1]  # before the files, after the numbers
    assert "## Can this result be trusted?" not in export.model_card(run, data, evaluation, model, "No ONNX copy.")


@pytest.mark.slow
def test_the_exported_card_holds_the_runs_calibration_and_hint_statistics(tiny_run, tmp_path):
    uri, run_id = tiny_run
    store = tracking.RunStore(uri)

    export.export_run(store, run_id, tmp_path)

    said = section((tmp_path / "MODEL_CARD.md").read_text(), "Can this result be trusted?")
    card = report_card.read_card(store, run_id)
    images = store.run(run_id).test_images
    assert f"right on {images:,} test images (95 % interval" in said
    assert f"**Calibration.** {report_card.calibration_sentence(card.calibration)}" in said
    assert f"| before scaling | {card.calibration.before.ece:.2%} |" in said
    assert "Classify flags an image as unfamiliar when its top probability is under " in said
    assert f"of the {images:,} test images do" in said


def disagreeing(model, path, images):
    return export.OnnxCheck(len(images), 199, 0.3)


def refusing(model, path, images):
    raise RuntimeError("[ONNXRuntimeError] : 10 : INVALID_GRAPH :\n a graph it can't run")


@pytest.mark.slow
@pytest.mark.parametrize("check, note", [
    (disagreeing, "No ONNX copy: onnxruntime disagreed with Keras on 200 test images "
                  "(same top-1 on 199, probabilities up to 3.0e-01 apart)."),
    (refusing, "No ONNX copy: onnxruntime could not run the converted model "
               "([ONNXRuntimeError] : 10 : INVALID_GRAPH : a graph it can't run)."),
])
def test_an_onnx_copy_that_onnxruntime_does_not_vouch_for_is_left_out_and_the_card_says_why(
        tiny_run, tmp_path, monkeypatch, check, note):
    pytest.importorskip("onnxruntime")  # pinned in requirements.txt, so CI runs this
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the ONNX copy is made on TensorFlow (jax2onnx is not installed)")
    monkeypatch.setattr(export, "check_onnx", check)
    made = export.export_run(tracking.RunStore(tiny_run[0]), tiny_run[1], tmp_path)
    assert [path.name for path in made.files] == ["model.keras", "MODEL_CARD.md"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["MODEL_CARD.md", "model.keras"]
    assert made.onnx_note == note
    assert f"- {note}" in (tmp_path / "MODEL_CARD.md").read_text()


@pytest.mark.slow
def test_the_runs_page_export_button_offers_a_zip_of_the_three_files(app, tiny_run, monkeypatch):
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    downloads = {}
    real_add = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        downloads[filename] = path_or_data
        return real_add(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tiny_run[0])
    st.cache_data.clear()
    at = app.switch_page("app_pages/runs.py").run()
    at.session_state["runs.table"] = {"selection": {"rows": [0]}}
    at = at.run()
    assert not at.get("download_button")

    at = next(button for button in at.button if button.label == "Export").click().run()

    assert not at.exception and not at.error
    assert len(at.get("download_button")) == 1
    archive = zipfile.ZipFile(io.BytesIO(downloads[f"{tiny_run[1]}.zip"]))
    expected = ["model.keras", "MODEL_CARD.md"]
    if keras.backend.backend() == "tensorflow" and importlib.util.find_spec("onnxruntime"):
        expected.insert(1, "model.onnx")
    assert archive.namelist() == expected
    assert archive.read("MODEL_CARD.md").decode().startswith("# Model card: ")
    assert any(caption.value == at.session_state["runs.exported"][2] for caption in at.caption)
