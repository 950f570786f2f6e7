"""A finished run, exported: its `.keras` model as logged, an ONNX copy checked against it with
onnxruntime, and a model card in Markdown, all written from what the run logged."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cnnkit.experiments.report_card as report_card
from cnnkit.models import predict
from cnnkit.tracking import RunEvaluation, RunStore, RunSummary, run_schema
from cnnkit.config import describe_run, describe_tricks
from cnnkit.errors import InputError

MODEL_FILE = "model.keras"
ONNX_FILE = "model.onnx"
CARD_FILE = "MODEL_CARD.md"
CHECK_IMAGES = 200  # the run's first test images the ONNX copy is checked on
TOLERANCE = 1e-4  # the largest difference in any class probability the ONNX copy may show
CONFUSED_PAIRS = 5  # the most confused (true, predicted) pairs the card lists
# What Keras' `model.export(format="onnx")` imports on each backend, and onnxruntime for the check
ONNX_NEEDS = {"tensorflow": ("tf2onnx", "onnx", "onnxruntime"), "jax": ("jax2onnx", "onnx", "onnxruntime")}


@dataclass(frozen=True)
class OnnxCheck:
    """The ONNX copy's predictions against the Keras model's on the same test images."""

    images: int
    same_top1: int  # images on which both pick the same class
    max_difference: float  # the largest difference in any class probability

    @property
    def passed(self) -> bool:
        return self.same_top1 == self.images and self.max_difference <= TOLERANCE


@dataclass(frozen=True)
class Export:
    files: tuple[Path, ...]  # the .keras model, the ONNX model when there is one, the card
    onnx_note: str  # one line: how the ONNX copy was checked, or why there is none


def export_run(store: RunStore, run_id: str, folder: Path) -> Export:
    """Write the run's model, its ONNX copy and its model card into `folder`. InputError for a run
    that is not FINISHED or whose model or evaluation is missing or was changed."""
    run = store.run(run_id)
    if run.status != "FINISHED":
        raise InputError(f"Run {run_id} is {run.status}: only a finished run has a model to export.")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = folder / MODEL_FILE
        model_path.write_bytes(store.download_model(run_id, Path(tmp)).read_bytes())
    model = store.load_model(run_id)
    onnx_path, onnx_note = export_onnx(store, run_id, model, folder / ONNX_FILE)
    trust = report_card.read_card(store, run_id, _hint(store, run_id, model))
    card = model_card(run, store.dataset_summary(run_id), store.evaluation_of_run(run_id), model, onnx_note, trust)
    card_path = folder / CARD_FILE
    card_path.write_text(card, encoding="utf-8")
    return Export(tuple(path for path in (model_path, onnx_path, card_path) if path), onnx_note)


def export_zip(store: RunStore, run_id: str) -> tuple[bytes, str]:
    """The export's files in one zip, for a download, and its ONNX note."""
    with tempfile.TemporaryDirectory() as tmp:
        export = export_run(store, run_id, Path(tmp))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in export.files:
                archive.write(path, path.name)
        return buffer.getvalue(), export.onnx_note


def export_onnx(store: RunStore, run_id: str, model, path: Path) -> tuple[Path | None, str]:
    """Keras' ONNX export of `model`, kept only when onnxruntime's CPU provider gives the same top-1
    and probabilities within TOLERANCE on the run's first test images. Returns the file (None when
    there is none) and one line saying how it was checked or why there is no ONNX copy."""
    import keras

    backend = keras.backend.backend()
    needs = ONNX_NEEDS.get(backend)
    if needs is None:
        return None, f"No ONNX copy: cnnkit exports ONNX on the TensorFlow and JAX backends, not on {backend}."
    reduced = sorted({layer.dtype_policy.name for layer in model.layers} - {"float32"})
    if reduced:  # Keras' ONNX export wants float32, and onnxruntime's CPU convolutions take no bfloat16
        return None, f"No ONNX copy: Keras exports ONNX from float32 models, and this one computes in {', '.join(reduced)}."
    missing = [name for name in needs if importlib.util.find_spec(name) is None]
    if missing:
        return None, (f"No ONNX copy: on the {backend} backend it needs {_listed(missing)}, "
                      f"{'which is' if len(missing) == 1 else 'which are'} not installed.")
    try:
        images = store.test_split_of_run(run_id).x_test[:CHECK_IMAGES].astype("float32")
    except InputError as error:
        return None, f"No ONNX copy: it can't be checked without the run's test images. {error}"
    try:
        model(images[:1])  # Keras exports only a model that has been called
        model.export(str(path), format="onnx", verbose=False)
    except Exception as error:  # the converters raise many types
        path.unlink(missing_ok=True)
        return None, f"No ONNX copy: Keras could not convert this model on the {backend} backend ({_short(error)})."
    try:
        check = check_onnx(model, path, images)
    except Exception as error:  # onnxruntime refuses a graph it can't run with one of several types
        path.unlink()
        return None, f"No ONNX copy: onnxruntime could not run the converted model ({_short(error)})."
    if not check.passed:
        path.unlink()
        return None, (f"No ONNX copy: onnxruntime disagreed with Keras on {check.images} test images "
                      f"(same top-1 on {check.same_top1}, probabilities up to {check.max_difference:.1e} apart).")
    version = importlib.metadata.version("onnxruntime")
    return path, (f"{ONNX_FILE} checked with onnxruntime {version} (CPU) on the run's first {check.images} test images: "
                  f"same top-1 on all, probabilities within {check.max_difference:.1e} of Keras'.")


def check_onnx(model, path: Path, images: np.ndarray) -> OnnxCheck:
    """`model` and the ONNX file at `path` on `images`, compared by onnxruntime's CPU provider."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_probabilities = session.run(None, {session.get_inputs()[0].name: images})[0]
    keras_probabilities = np.asarray(model.predict(images, verbose=0), dtype="float32")
    return OnnxCheck(
        images=len(images),
        same_top1=int(np.sum(onnx_probabilities.argmax(axis=1) == keras_probabilities.argmax(axis=1))),
        max_difference=float(np.max(np.abs(onnx_probabilities - keras_probabilities))),
    )


def model_card(run: RunSummary, data: dict, evaluation: RunEvaluation, model, onnx_note: str,
               trust: report_card.ReportCard | None = None) -> str:
    """The model card in Markdown: what the model is, what it was trained and tested on, how well
    it does per class, which classes it confuses, whether to trust it (`trust`: the run's report card),
    and where it came from."""
    tags, metrics, params = run.tags, run.metrics, run.params
    height, width, channels = data["input_shape"]
    splits = data["splits"]
    lines = [
        f"# Model card: {_cell(run.name)}",
        "",
        describe_run(params) + ".",
        "",
        "## Provenance",
        "",
        "| | |",
        "|---|---|",
        f"| run | `{run.run_id}` |",
        f"| trained | {run.started:%Y-%m-%d %H:%M} UTC |" if run.started else "| trained | unknown |",
        f"| commit | `{tags.get(run_schema.GIT_COMMIT_TAG, 'unknown')}` |",
        f"| cnnkit | {tags.get(run_schema.VERSION_TAG, 'unknown')} |",
        f"| Keras | {tags.get(run_schema.KERAS_VERSION_TAG, 'unknown')} on {tags.get(run_schema.KERAS_BACKEND_TAG, 'unknown')} |",
        f"| device | {tags.get(run_schema.DEVICE_TAG, 'unknown')} |",
        "",
        "## Data",
        "",
        f"Dataset `{data['name']}`: {len(evaluation.class_names)} classes "
        f"({', '.join(map(_cell, evaluation.class_names))}), images {height}×{width}×{channels}, pixels 0–255 "
        "(the model scales them itself).",
        "",
        f"Fingerprint (SHA-256 of the class names and every split's images and labels, in order): "
        f"`{data['fingerprint']}`",
        "",
        "| split | images |",
        "|---|---|",
        *(f"| {split} | {count:,} |" for split, count in splits.items()),
        "",
        "## Architecture",
        "",
        f"`{params.get('arch', 'unknown')}`, {model.count_params():,} parameters.",
        "",
        "| layer | type | output shape | parameters |",
        "|---|---|---|---|",
        *(f"| {layer.name} | {type(layer).__name__} | {_output_shape(layer)} | {layer.count_params():,} |"
          for layer in model.layers),
        "",
        "## Training",
        "",
        f"Tricks: {describe_tricks(params)}. Epochs trained: {metrics.get(run_schema.EPOCHS_TRAINED, 0):.0f} of "
        f"{params.get('epochs', 'unknown')}.",
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {metrics[name]:.4f} |" for name in run_schema.RESULT_METRICS if name in metrics),
        "",
        "Per class, on the test split:",
        "",
        "| class | precision | recall | f1 | support |",
        "|---|---|---|---|---|",
        *(f"| {_cell(row['class'])} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {int(row['support'])} |"
          for row in evaluation.per_class.to_dict("records")),
        "",
        "## Most confused pairs",
        "",
        *_confused_pairs(evaluation),
        "",
        *(report_card.markdown(trust) if trust is not None else []),
        "## Files",
        "",
        f"- `{MODEL_FILE}`: the Keras model as trained (SHA-256 `{tags.get(run_schema.MODEL_SHA256_TAG, 'not recorded')}`); "
        "it takes raw 0–255 images and returns class probabilities.",
        f"- {onnx_note}",
        "",
    ]
    return "\n".join(lines)


def _hint(store: RunStore, run_id: str, model) -> report_card.HintReference | None:
    """The out-of-distribution hint's statistics on the run's test images; None when they can't be reloaded."""
    try:
        images = store.test_split_of_run(run_id).x_test
    except InputError:
        return None
    return report_card.hint_reference(predict.test_reference(model, images))


def most_confused(confusion: np.ndarray, limit: int = CONFUSED_PAIRS) -> list[tuple[int, int, int]]:
    """The (true, predicted, count) cells off the diagonal with the most test images, most first."""
    off_diagonal = confusion.copy()
    np.fill_diagonal(off_diagonal, 0)
    order = np.argsort(-off_diagonal, axis=None, kind="stable")[:limit]
    cells = [np.unravel_index(index, confusion.shape) for index in order]
    return [(int(true), int(predicted), int(off_diagonal[true, predicted]))
            for true, predicted in cells if off_diagonal[true, predicted] > 0]


def _confused_pairs(evaluation: RunEvaluation) -> list[str]:
    pairs = most_confused(evaluation.confusion)
    if not pairs:
        return ["No test image was misclassified."]
    names, totals = evaluation.class_names, evaluation.confusion.sum(axis=1)
    return ["| true | predicted as | images | share of the true class |", "|---|---|---|---|",
            *(f"| {_cell(names[true])} | {_cell(names[predicted])} | {count} | {count / totals[true]:.1%} |"
              for true, predicted, count in pairs)]


def _output_shape(layer) -> str:
    try:
        return str(tuple(layer.output.shape))
    except (AttributeError, ValueError):  # a layer used more than once, or never called
        return "–"


def _cell(text: str) -> str:
    """`text` safe inside a Markdown table row: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _short(error: Exception) -> str:
    """An error's message on one line, cut to 200 characters, or its type when it has none."""
    return " ".join(str(error).split())[:200] or type(error).__name__


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
