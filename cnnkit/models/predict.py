"""Predicting on new images: uploaded files, zips of files, and Kaggle digit-recognizer test CSVs.

Every image is fitted to the model's input (channels, size with padding) and, for models trained
on light shapes on a dark background (MNIST, digits), inverted when it shows a dark shape on a
light background, such as a digit drawn on paper. Models take raw 0-255 pixels.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import keras
import numpy as np
import pandas as pd
from PIL import ExifTags, Image

from cnnkit.datasets import DIGIT_CLASSES, is_visible, read_digit_csv
from cnnkit.errors import InputError
from cnnkit.datasets import (
    ALLOWED_FORMATS, IMAGE_EXTENSIONS, decode_image, image_channels, resize_with_pad, to_array, transparency_backdrop,
)
from cnnkit.models.inspection import classifier_inputs, predict_probabilities
from cnnkit.stats import calibration
from cnnkit.datasets import open_zip, read_entry, zip_path  # shared with the dataset zip reader

# Training images count as light-on-dark when their border is darker than this share of their
# mean brightness: sklearn digits are at about 0.56, MNIST near 0, photos near 1.
_DARK_BORDER_RATIO = 0.75


@dataclass(frozen=True)
class Prepared:
    """One decoded image and what the model sees of it."""

    original: np.ndarray  # uint8 (H, W, 1 or 3), upright, as decoded
    model_input: np.ndarray  # uint8 (H_m, W_m, C_m)
    inverted: bool
    notes: tuple[str, ...]  # what was done to the image, for a person


def trained_light_on_dark(x_train_sample: np.ndarray) -> bool:
    """Whether training images (N, H, W, C) show light shapes on a dark background.

    True when their one-pixel border is clearly darker than their mean brightness
    (below _DARK_BORDER_RATIO of it).
    """
    x = np.asarray(x_train_sample)
    return _border_mean(x) < _DARK_BORDER_RATIO * x.mean(dtype=np.float64)


def _border_mean(images: np.ndarray) -> float:
    """Mean of the one-pixel frame of images (..., H, W, C)."""
    rows = images[..., [0, -1], :, :]
    columns = images[..., 1:-1, [0, -1], :]
    return (rows.sum(dtype=np.float64) + columns.sum(dtype=np.float64)) / (rows.size + columns.size)


def _has_light_background(image: np.ndarray) -> bool:
    """Whether an image (H, W, C) has a border brighter than the image on average.

    Same as brighter than its interior: the mean is a weighted average of border and interior.
    """
    return _border_mean(image) > image.mean(dtype=np.float64)


def prepare(
    data: bytes, name: str, input_shape: tuple[int, int, int], light_on_dark: bool
) -> Prepared:
    """Decode an image file and fit it to a model's input (height, width, channels).

    Raises InputError naming `name` when the file is not a safe, complete image.
    """
    img = decode_image(data, name)
    notes = []
    if _exif_orientation(data, img) not in (1, None):
        notes.append("EXIF orientation applied")
    backdrop = transparency_backdrop(img)
    if backdrop:
        notes.append(f"transparent areas composited onto {backdrop}")
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        notes.append(f"{img.mode} pixel values rescaled to 0-255")
    original = to_array(img, image_channels(img))
    channels = input_shape[2]
    array = original
    if original.shape[2] != channels:
        array = to_array(img, channels)
        notes.append(f"converted to {channels} channel{'s' if channels > 1 else ''}")
    model_input, inverted, fit_notes = _fit(array, input_shape, light_on_dark)
    return Prepared(original, model_input, inverted, (*notes, *fit_notes))


def _model_input(
    data: bytes, name: str, input_shape: tuple[int, int, int], light_on_dark: bool
) -> np.ndarray:
    """prepare(...).model_input alone, for batches: the same pixels, the same InputErrors.

    Skips what only the one-image view shows (the image as decoded, its channel count, the
    notes and the second header read for the EXIF note). prepare's model input is the image
    converted straight to the model's channels whatever channels the original kept, so this is
    the same array.
    """
    img = decode_image(data, name)
    return _fit(to_array(img, input_shape[2]), input_shape, light_on_dark)[0]


def _exif_orientation(data: bytes, decoded: Image.Image) -> int | None:
    """The orientation tag of an image file that decode_image has already accepted.

    decode_image drops the tag once applied, so the file is opened again (headers only) when it
    may hold one: EXIF data survives decoding in info["exif"]; TIFF keeps it among its own tags.
    """
    if "exif" not in decoded.info and not data.startswith((b"II*\0", b"MM\0*")):
        return None
    with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
        return img.getexif().get(ExifTags.Base.Orientation)


def _fit(
    array: np.ndarray, input_shape: tuple[int, int, int], light_on_dark: bool
) -> tuple[np.ndarray, bool, list[str]]:
    """Invert (when light_on_dark and the background is light), then resize with padding.

    Inversion is decided before padding, since padding adds a black frame.
    """
    notes = []
    inverted = light_on_dark and _has_light_background(array)
    if inverted:
        array = 255 - array
        notes.append("inverted: dark shape on a light background")
    height, width = input_shape[:2]
    if array.shape[:2] != (height, width):
        notes.append(
            f"resized with padding from {array.shape[1]}x{array.shape[0]} to {width}x{height}"
        )
        array = _resize_with_pad(array, height, width)
    return array, inverted, notes


def _resize_with_pad(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """images.resize_with_pad for a (height, width) box that need not be square.

    Pads the image to the box's aspect ratio first, so the square fit's extra rows or columns
    are padding only, and crops those off.
    """
    if height == width:
        return resize_with_pad(array, height)
    rows, columns, channels = array.shape
    padded_rows = max(rows, round(columns * height / width))
    padded_columns = max(columns, round(rows * width / height))
    padded = np.zeros((padded_rows, padded_columns, channels), dtype=np.uint8)
    top, left = (padded_rows - rows) // 2, (padded_columns - columns) // 2
    padded[top : top + rows, left : left + columns] = array
    square = resize_with_pad(padded, max(height, width))
    top, left = (square.shape[0] - height) // 2, (square.shape[1] - width) // 2
    return square[top : top + height, left : left + width]


def _ranked(probabilities: np.ndarray, class_names: Sequence[str], k: int) -> np.ndarray:
    """Indices of the k most probable classes of each row of (N, classes), most probable first."""
    if probabilities.shape[-1] != len(class_names):
        raise InputError(
            f"The model predicts {probabilities.shape[-1]} classes but {len(class_names)} class "
            f"names were given."
        )
    return np.argsort(-probabilities, axis=-1, kind="stable")[..., :k]


def top_k(probabilities: np.ndarray, class_names: Sequence[str], k: int = 5) -> pd.DataFrame:
    """The k most probable classes of one image's probabilities: columns class, probability."""
    probabilities = np.asarray(probabilities)
    best = _ranked(probabilities, class_names, k)
    return pd.DataFrame(
        {"class": [class_names[i] for i in best], "probability": probabilities[best]}
    )


# Does an image look like the training data? Two signs, each ranked among the run's own test
# images: a top probability lower than on almost all of them (the max-softmax baseline, Hendrycks
# and Gimpel 2017), or, what catches confidently wrong answers too, what the network makes of it
# (the input of its softmax layer) lying farther from its nearest test images than almost any test
# image lies from its own nearest ones (cosine k-nearest neighbours, Sun et al. 2022).
UNFAMILIAR_SHARE = 0.95  # "almost all": this share of the test images or more
NEIGHBOURS = 10  # the k of k-nearest neighbours
REFERENCE_IMAGES = 2000  # test images the reference holds, evenly spread: plenty for a percentile
MIN_REFERENCE_IMAGES = 30  # fewer say nothing


@dataclass(frozen=True)
class Familiarity:
    """How one image ranks among the run's test images, by the model's confidence and by its features."""

    confidence: float  # the image's top probability
    less_sure_than: float  # share of the test images whose top probability was higher
    farther_than: float  # share of the test images nearer their k-th nearest test image than this image is
    test_images: int

    @property
    def unfamiliar(self) -> bool:
        return self.test_images >= MIN_REFERENCE_IMAGES and max(self.less_sure_than, self.farther_than) >= UNFAMILIAR_SHARE

    def message(self) -> str:
        images = f"{self.test_images:,} test image{'s' * (self.test_images != 1)}"
        if self.test_images < MIN_REFERENCE_IMAGES:
            return f"Only {images} to compare with: too few to tell whether this looks like the training data."
        if self.farther_than >= UNFAMILIAR_SHARE:
            return (f"Unlike the run's {images}: to the network it lies farther from them than {self.farther_than:.0%} "
                    "of them lie from each other. This may not look like the training data.")
        if self.less_sure_than >= UNFAMILIAR_SHARE:
            return f"Less confident than {self.less_sure_than:.0%} of the run's {images}: this may not look like the training data."
        return (f"Looks like the training data. Of the run's {images}, the network was surer of only "
                f"{self.less_sure_than:.0%}, and this image lies nearer to them than {1 - self.farther_than:.0%} "
                "of them lie to each other.")


@dataclass(frozen=True, eq=False)
class TestReference:
    """What the model made of (up to REFERENCE_IMAGES of) a run's test images, to rank new images against."""

    confidences: np.ndarray  # (N,) each image's top probability
    features: np.ndarray  # (N, D) the softmax layer's input, scaled to length 1
    neighbour_similarity: np.ndarray  # (N,) cosine similarity of each to its k-th nearest other image

    def rank(self, probabilities: np.ndarray, features: np.ndarray) -> Familiarity:
        """Where one image (its probabilities (classes,) and features (D,)) ranks among these."""
        top = float(np.max(probabilities))
        count = len(self.confidences)
        if count < 2:
            return Familiarity(top, 0.0, 0.0, count)
        similarity = _kth_largest(self.features @ unit_length(features), min(NEIGHBOURS, count - 1))
        return Familiarity(top, float(np.mean(self.confidences > top)),
                           float(np.mean(self.neighbour_similarity > similarity)), count)


TestReference.__test__ = False  # not a pytest test class, despite its name


def unit_length(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (float64): dot products are then cosine similarities."""
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def evenly_spread(count: int, limit: int) -> np.ndarray:
    """Up to `limit` positions of `count`, spread evenly from the first to the last, in order."""
    return np.unique(np.linspace(0, count - 1, min(limit, count)).round().astype(int))


def _kth_largest(values: np.ndarray, k: int) -> np.ndarray:
    """The k-th largest value along the last axis (k from 1)."""
    return -np.partition(-values, k - 1, axis=-1)[..., k - 1]


def test_reference(model: keras.Model, x_test: np.ndarray, limit: int = REFERENCE_IMAGES) -> TestReference:
    """The model's view of up to `limit` test images (N, H, W, C), spread evenly over the set."""
    chosen = evenly_spread(len(x_test), limit)
    features, probabilities = classifier_inputs(model, x_test[chosen])
    features = unit_length(features)
    if len(features) < 2:
        return TestReference(probabilities.max(axis=1, initial=0), features, np.zeros(len(features)))
    similarities = features @ features.T
    np.fill_diagonal(similarities, -np.inf)  # an image is not its own neighbour
    return TestReference(probabilities.max(axis=1), features,
                         _kth_largest(similarities, min(NEIGHBOURS, len(features) - 1)))


test_reference.__test__ = False  # not a pytest test, despite its name


def familiarity(model: keras.Model, image: np.ndarray, reference: TestReference) -> Familiarity:
    """How one model input (H, W, C) ranks among the run's test images (see Familiarity)."""
    features, probabilities = classifier_inputs(model, np.asarray(image)[None])
    return reference.rank(probabilities[0], features[0])


_RESULT_COLUMNS = ["file", "predicted", "confidence", "top5", "out_of_distribution", "error"]
MAX_BATCH_ZIP_BYTES = 256 * 2**20  # a batch zip's images are all held in memory at once


def predict_files(
    model: keras.Model,
    files: list[tuple[str, bytes]],
    class_names: Sequence[str],
    light_on_dark: bool,
    batch_size: int = 256,
    reference: TestReference | None = None,
    temperature: float | None = None,
) -> pd.DataFrame:
    """One row per (name, bytes) file: file, predicted, confidence, top5, out_of_distribution, error.

    A file that cannot be decoded gets its error message and no prediction; the others are
    predicted together, one model call per `batch_size` images. `out_of_distribution`: whether the
    image looks unlike the run's test images in `reference` (`Familiarity.unfamiliar`, as for one
    image); empty without a reference. With a `temperature`, confidence and top5 are calibrated
    probabilities (`stats.calibration.calibrated`); the reference ranks the network's own.
    """
    if not files:  # no values to infer column types from: object columns, as a frame of no rows has
        return pd.DataFrame([], columns=_RESULT_COLUMNS)
    input_shape = tuple(model.input_shape[1:])
    inputs, good, errors = [], [], [""] * len(files)
    for position, (name, data) in enumerate(files):
        try:
            inputs.append(_model_input(data, name, input_shape, light_on_dark))
            good.append(position)
        except InputError as err:
            errors[position] = str(err)
    unfamiliar: list[bool | None] = [None] * len(files)
    if not inputs:
        probabilities = np.empty((0, len(class_names)), dtype=np.float32)
    elif reference is None:
        probabilities = predict_probabilities(model, np.stack(inputs), batch_size)
    else:
        features, probabilities = classifier_inputs(model, np.stack(inputs), batch_size)
        for position, image_probabilities, image_features in zip(good, probabilities, features):
            unfamiliar[position] = reference.rank(image_probabilities, image_features).unfamiliar
    probabilities = calibration.calibrated(probabilities, temperature)
    best = _ranked(probabilities, class_names, 5)
    predicted: list[str | None] = [None] * len(files)
    confidence = np.full(len(files), np.nan)
    top5 = [""] * len(files)
    chosen = probabilities[np.arange(len(best))[:, None], best].tolist()  # (N, k) as floats
    for position, ranked, probs in zip(good, best.tolist(), chosen):
        predicted[position] = class_names[ranked[0]]
        confidence[position] = probs[0]
        top5[position] = ", ".join(f"{class_names[i]} {p:.1%}" for i, p in zip(ranked, probs))
    columns = [[name for name, _ in files], predicted, confidence, top5, unfamiliar, errors]
    return pd.DataFrame(dict(zip(_RESULT_COLUMNS, columns)))


def files_from_zip(data: bytes, name: str = "the zip file") -> list[tuple[str, bytes]]:
    """The image files of a zip as (path inside the zip, bytes), in archive order.

    Files without an image extension, hidden files and __MACOSX are skipped. The whole zip is
    refused (InputError) before anything is unpacked when it is unsafe (see safe_files.zip_entries:
    entries outside it, links, duplicates, zip bombs) or unpacks to more than MAX_BATCH_ZIP_BYTES.
    """
    with open_zip(io.BytesIO(data), name, MAX_BATCH_ZIP_BYTES) as (archive, entries):
        return [
            (entry.filename, read_entry(archive, entry, name))
            for entry in entries
            if not entry.is_dir() and _is_image_path(entry.filename)
        ]


def _is_image_path(filename: str) -> bool:
    path = zip_path(filename)
    return is_visible(path) and path.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS


def kaggle_submission(
    model: keras.Model,
    csv_source: str | bytes | BinaryIO,
    light_on_dark: bool = False,
    class_names: Sequence[str] = DIGIT_CLASSES,
) -> pd.DataFrame:
    """Predictions for a Kaggle digit-recognizer test CSV as columns ImageId (from 1), Label.

    Labels are ints when every class name is a digit string, else the class names. A label
    column in the CSV, if any, is ignored.
    """
    x, _ = read_digit_csv(csv_source)
    height, width, channels = model.input_shape[1:]
    if channels != x.shape[3]:
        x = np.repeat(x, channels, axis=3)
    if x.shape[1:3] != (height, width) or light_on_dark:
        x = np.stack([_fit(image, (height, width, channels), light_on_dark)[0] for image in x])
    best = _ranked(predict_probabilities(model, x), class_names, 1)[:, 0]
    labels = [class_names[i] for i in best]
    if all(str(name).isdigit() for name in class_names):
        labels = [int(label) for label in labels]
    return pd.DataFrame({"ImageId": np.arange(1, len(x) + 1), "Label": labels})


def submission_csv(frame: pd.DataFrame) -> bytes:
    """A submission frame as CSV bytes, header included, no index."""
    return frame.to_csv(index=False).encode()
