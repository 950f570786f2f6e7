"""cnnkit.models.predict: fitting uploads to a model, batch prediction, zips, Kaggle submissions."""

import types

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cnnkit.datasets import safe_files
from cnnkit.models import inspection, predict
from cnnkit.models.architectures import build_model
from cnnkit.datasets import CIFAR10_CLASSES, load_dataset
from cnnkit.errors import InputError
from cnnkit.stats import calibration
from cnnkit.datasets.images import MAX_PIXELS
from cnnkit.models.predict import (
    files_from_zip,
    kaggle_submission,
    predict_files,
    prepare,
    submission_csv,
    top_k,
    trained_light_on_dark,
)
from files import encode, zip_of

SHAPE = (8, 8, 1)
DIGITS = tuple(str(d) for d in range(10))


@pytest.fixture(scope="module")
def model():
    return build_model("kaggle_mnist_cnn", SHAPE, 10)


def digit(background: int, ink: int, size: int = 28) -> Image.Image:
    """A bar 'digit' of `ink` on `background`, gray."""
    pixels = np.full((size, size), background, dtype=np.uint8)
    pixels[size // 4 : -size // 4, size // 2 - 2 : size // 2 + 2] = ink
    return Image.fromarray(pixels, "L")


# --- prepare ---------------------------------------------------------------------------------


def palette_image() -> Image.Image:
    return Image.new("RGB", (12, 10), (200, 30, 30)).convert("P", palette=Image.Palette.ADAPTIVE)


@pytest.mark.parametrize(
    ("make", "fmt", "original_channels", "note"),
    [
        (lambda: Image.new("RGB", (30, 20), (10, 200, 30)), "PNG", 3, "converted to 1 channel"),
        (lambda: Image.new("RGB", (30, 20), (10, 200, 30)), "JPEG", 3, "converted to 1 channel"),
        (lambda: Image.new("RGBA", (30, 20), (10, 200, 30, 0)), "PNG", 3, "transparent"),
        (palette_image, "PNG", 3, "converted to 1 channel"),
        (lambda: Image.fromarray(np.full((20, 30), 40000, np.uint16)), "PNG", 1, "rescaled"),
        (lambda: Image.new("CMYK", (30, 20), (0, 200, 30, 10)), "JPEG", 3, "converted"),
    ],
    ids=["png", "jpeg", "rgba", "palette", "16-bit", "cmyk"],
)
def test_prepare_fits_every_mode_to_the_model_input(make, fmt, original_channels, note):
    prepared = prepare(encode(make(), fmt), "upload", SHAPE, light_on_dark=False)
    assert prepared.original.dtype == np.uint8
    assert prepared.original.shape[2] == original_channels
    assert prepared.model_input.shape == SHAPE
    assert prepared.model_input.dtype == np.uint8
    assert any(note in text for text in prepared.notes), prepared.notes
    assert any(text.startswith("resized with padding from") for text in prepared.notes)


def test_gray_upload_for_an_rgb_model_gets_three_channels():
    prepared = prepare(encode(digit(0, 255)), "d.png", (8, 8, 3), light_on_dark=False)
    assert prepared.model_input.shape == (8, 8, 3)
    assert "converted to 3 channels" in prepared.notes


def test_exif_orientation_is_applied_and_noted():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encode(Image.new("RGB", (40, 20), (90, 90, 90)), "JPEG", exif=exif)
    prepared = prepare(data, "phone.jpg", SHAPE, light_on_dark=False)
    assert prepared.original.shape[:2] == (40, 20)  # upright: now taller than wide
    assert "EXIF orientation applied" in prepared.notes
    plain = prepare(encode(Image.new("RGB", (40, 20)), "JPEG"), "x.jpg", SHAPE, False)
    assert "EXIF orientation applied" not in plain.notes


def test_dark_digit_on_white_is_inverted_only_for_light_on_dark_models():
    data = encode(digit(background=250, ink=10))
    inverted = prepare(data, "paper.png", SHAPE, light_on_dark=True)
    assert inverted.inverted
    assert any(note.startswith("inverted") for note in inverted.notes)
    assert inverted.model_input[0, 0, 0] < 20 and inverted.model_input[4, 4, 0] > 100
    kept = prepare(data, "paper.png", SHAPE, light_on_dark=False)
    assert not kept.inverted and kept.model_input[0, 0, 0] > 200


def test_black_ink_on_a_transparent_sheet_is_seen_as_a_digit_on_paper():
    sheet = np.zeros((28, 28, 4), dtype=np.uint8)  # transparent black everywhere...
    sheet[7:21, 12:16] = (0, 0, 0, 255)  # ...but the ink, opaque black
    prepared = prepare(encode(Image.fromarray(sheet, "RGBA")), "ink.png", SHAPE, light_on_dark=True)
    assert "transparent areas composited onto white" in prepared.notes
    assert prepared.original.max() == 255 and prepared.original[14, 14].max() == 0  # not all black
    assert prepared.inverted  # so an MNIST-style model sees a light digit on black
    assert prepared.model_input[0, 0, 0] < 20 and prepared.model_input[4, 4, 0] > 100


def test_light_digit_on_black_is_not_inverted():
    prepared = prepare(encode(digit(background=0, ink=255)), "mnist.png", SHAPE, True)
    assert not prepared.inverted


def test_large_image_is_resized_keeping_its_aspect_ratio():
    prepared = prepare(encode(Image.new("L", (2000, 1500), 255)), "big.png", SHAPE, False)
    assert "resized with padding from 2000x1500 to 8x8" in prepared.notes
    assert prepared.model_input.shape == SHAPE
    assert prepared.model_input[0].max() == 0 and prepared.model_input[4].min() == 255  # padded


def test_non_square_model_input_is_filled_with_padding_only_where_needed():
    prepared = prepare(encode(Image.new("L", (20, 10), 255)), "wide.png", (4, 8, 1), False)
    assert prepared.model_input.shape == (4, 8, 1)
    assert prepared.model_input.min() == 255  # same aspect ratio: no padding


def bomb() -> bytes:
    """A tiny PNG whose header declares more pixels than MAX_PIXELS."""
    side = int(MAX_PIXELS**0.5) + 100
    return encode(Image.new("1", (side, side)), "PNG")


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, I am text", encode(Image.new("RGB", (64, 64)), "JPEG")[:200], bomb()],
    ids=["empty", "text", "truncated-jpeg", "bomb"],
)
def test_hostile_inputs_raise_input_error_naming_the_file(data):
    with pytest.raises(InputError, match="evil.png"):
        prepare(data, "evil.png", SHAPE, light_on_dark=True)


# --- top_k and predict_files -----------------------------------------------------------------


def test_top_k_is_sorted_by_probability():
    frame = top_k(np.array([0.1, 0.6, 0.3]), ["a", "b", "c"], k=2)
    assert list(frame["class"]) == ["b", "c"]
    assert list(frame["probability"]) == pytest.approx([0.6, 0.3])


def test_top_k_refuses_mismatched_class_names():
    with pytest.raises(InputError, match="3 classes"):
        top_k(np.array([0.1, 0.6, 0.3]), ["a", "b"])


def test_predict_files_keeps_going_past_bad_files_and_batches_model_calls(model, monkeypatch):
    calls = []
    original = model.predict_on_batch

    def counting(batch):
        calls.append(len(batch))
        return original(batch)

    monkeypatch.setattr(model, "predict_on_batch", counting)
    good = encode(digit(0, 255))
    files = [("a.png", good), ("bad.png", b"no"), ("b.png", good), ("c.png", good), ("e.png", b"")]
    frame = predict_files(model, files, DIGITS, light_on_dark=True, batch_size=2)
    assert list(frame.columns) == ["file", "predicted", "confidence", "top5", "out_of_distribution", "error"]
    assert frame["out_of_distribution"].isna().all()  # no reference to compare with
    assert list(frame["file"]) == [name for name, _ in files]
    assert calls == [2, 1]
    errors = frame.set_index("file")["error"]
    assert "bad.png" in errors["bad.png"] and "e.png" in errors["e.png"]
    ok = frame[frame["error"] == ""]
    assert len(ok) == 3 and ok["predicted"].isin(DIGITS).all()
    assert ok["confidence"].between(0, 1).all()
    assert ok["top5"].str.count(",").eq(4).all()
    assert frame.loc[frame["error"] != "", "predicted"].isna().all()


def test_predict_files_flags_each_image_as_the_one_image_hint_does(model):
    """The batch's out-of-distribution column is `familiarity(...).unfamiliar` of each image."""
    rng = np.random.default_rng(3)
    tests = predict.test_reference(model, rng.integers(0, 256, (60, *SHAPE), dtype=np.uint8))
    pictures = [digit(0, 255), digit(250, 10), Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8))]
    files = [(f"{i}.png", encode(picture)) for i, picture in enumerate(pictures)] + [("bad.png", b"no")]
    frame = predict_files(model, files, DIGITS, light_on_dark=True, reference=tests)
    expected = [predict.familiarity(model, prepare(data, name, SHAPE, True).model_input, tests).unfamiliar
                for name, data in files[:3]]
    assert frame["out_of_distribution"].tolist() == [*expected, None]
    # Surer of every test image than any probability can be: even a saturated softmax (1.0 in float32, as an
    # untrained network can give a noise image) is less sure.
    surer = predict.TestReference(np.full(60, 2.0), tests.features, tests.neighbour_similarity)
    flagged = predict_files(model, files, DIGITS, light_on_dark=True, reference=surer)["out_of_distribution"]
    assert flagged.tolist() == [True, True, True, None]


def test_predict_files_with_a_temperature_shows_calibrated_probabilities_and_ranks_familiarity_on_raw_ones(model):
    rng = np.random.default_rng(4)
    tests = predict.test_reference(model, rng.integers(0, 256, (60, *SHAPE), dtype=np.uint8))
    files = [("a.png", encode(digit(0, 255))), ("b.png", encode(digit(250, 10)))]
    raw = predict_files(model, files, DIGITS, light_on_dark=True, reference=tests)
    scaled = predict_files(model, files, DIGITS, light_on_dark=True, reference=tests, temperature=0.25)
    inputs = np.stack([prepare(data, name, SHAPE, True).model_input for name, data in files])
    expected = calibration.calibrated(inspection.predict_probabilities(model, inputs), 0.25)
    assert scaled["confidence"].tolist() == pytest.approx(expected.max(axis=1).tolist(), rel=1e-5)
    assert (scaled["confidence"] > raw["confidence"]).all()  # T < 1 sharpens
    assert scaled["predicted"].tolist() == raw["predicted"].tolist()
    assert scaled["out_of_distribution"].tolist() == raw["out_of_distribution"].tolist()


def test_predict_files_with_only_bad_files_makes_no_model_call(model, monkeypatch):
    monkeypatch.setattr(predict, "predict_probabilities", pytest.fail)
    frame = predict_files(model, [("x.png", b"")], DIGITS, light_on_dark=False)
    assert len(frame) == 1 and frame["error"][0]


def test_batch_inputs_are_exactly_what_prepare_gives_one_image(monkeypatch):
    """predict_files skips the one-image extras (original, notes) but feeds the same pixels."""
    exif = Image.Exif()
    exif[0x0112] = 6
    rng = np.random.default_rng(2)
    images = {
        "rgb.png": encode(Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))),
        "rgba.png": encode(Image.fromarray(rng.integers(0, 256, (20, 30, 4), dtype=np.uint8), "RGBA")),
        "palette.png": encode(palette_image()),
        "16-bit.png": encode(Image.fromarray(np.full((20, 30), 40000, np.uint16))),
        "cmyk.jpg": encode(Image.new("CMYK", (30, 20), (0, 200, 30, 10)), "JPEG"),
        "phone.jpg": encode(Image.new("RGB", (40, 20), (90, 90, 90)), "JPEG", exif=exif),
        "paper.png": encode(digit(background=250, ink=10)),
    }
    seen = []

    def recording(_, images, batch_size):
        seen.append(images)
        return np.full((len(images), 10), 0.1, dtype=np.float32)

    monkeypatch.setattr(predict, "predict_probabilities", recording)
    for shape in [SHAPE, (8, 8, 3), (4, 8, 1)]:
        stand_in = types.SimpleNamespace(input_shape=(None, *shape))  # only its input shape is read
        predict_files(stand_in, [*images.items(), ("bad.png", b"x")], DIGITS, light_on_dark=True)
        expected = [prepare(data, name, shape, light_on_dark=True).model_input for name, data in images.items()]
        np.testing.assert_array_equal(seen.pop(), np.stack(expected))


# --- seed 003's CIFAR-10 net, the Classify page's speed model ---------------------------------
# Its speed (one upload against 300 ms, a batch against one file at a time and against the model
# alone) is measured by benchmarks/classify_speed.py; these tests pin what makes it fast.

CIFAR_SHAPE = (32, 32, 3)


def cifar_net():
    return build_model("cifar10_bn_cnn", CIFAR_SHAPE, len(CIFAR10_CLASSES))


def photos_32(count: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """32x32 colour pictures (smooth blobs plus noise), PNG and JPEG in turn."""
    rng = np.random.default_rng(seed)
    files = []
    for i in range(count):
        coarse = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
        smooth = np.asarray(coarse.resize((32, 32), Image.Resampling.BICUBIC), dtype=np.float64)
        pixels = np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.uint8)
        fmt = "JPEG" if i % 2 else "PNG"
        files.append((f"{i}.{fmt.lower()}", encode(Image.fromarray(pixels), fmt)))
    return files


def test_warm_up_traces_all_that_an_upload_needs_so_the_first_upload_traces_nothing(traces):
    """The page warms a model up when it loads it, so no upload pays for tracing (about half a
    second per function): the whole one-image answer, top 5, familiarity, feature maps and Grad-CAM."""
    net = cifar_net()
    inspection.warm_up(net)
    assert len(traces) == 5  # the net, its classifier's view, feature extractor and the two halves of Grad-CAM
    traces.clear()
    for name, data in photos_32(2, seed=1):
        prepared = prepare(data, name, CIFAR_SHAPE, light_on_dark=False)
        probabilities = inspection.predict_probabilities(net, prepared.model_input[None])[0]
        inspection.classifier_inputs(net, prepared.model_input[None])  # the familiarity hint
        inspection.feature_maps(net, prepared.model_input)
        inspection.grad_cam(net, prepared.model_input)
        top_k(probabilities, CIFAR10_CLASSES)
    assert traces == {}


def test_a_batch_costs_the_nets_own_predict_call_once_per_chunk_of_256_and_nothing_per_file(monkeypatch):
    """No per-file model calls, and no other model (feature maps, Grad-CAM) on the batch path."""
    net = cifar_net()
    calls = []
    original = keras.Model.predict_on_batch

    def recording(model, batch):
        calls.append((model is net, len(batch)))
        return original(model, batch)

    monkeypatch.setattr(keras.Model, "predict_on_batch", recording)
    frame = predict_files(net, photos_32(300), CIFAR10_CLASSES, light_on_dark=False)
    assert calls == [(True, 256), (True, 44)]
    assert frame["predicted"].isin(CIFAR10_CLASSES).all()


# --- zips ------------------------------------------------------------------------------------


def test_files_from_zip_keeps_visible_images_only():
    png = encode(digit(0, 255))
    data = zip_of(
        {
            "digits/one.png": png,
            "digits/TWO.JPG": png,
            "notes.txt": b"hi",
            "__MACOSX/digits/._one.png": b"junk",
            ".hidden.png": png,
            "digits/sub/": b"",
        }
    )
    assert files_from_zip(data) == [("digits/one.png", png), ("digits/TWO.JPG", png)]


@pytest.mark.parametrize("entry", ["../x.png", "/abs/x.png", "a/../../x.png"])
def test_files_from_zip_refuses_entries_outside_the_archive(entry):
    data = zip_of({"ok.png": encode(digit(0, 255)), entry: b"x"})
    with pytest.raises(InputError, match="outside the archive"):
        files_from_zip(data, "upload.zip")


def test_files_from_zip_refuses_too_many_entries(monkeypatch):
    monkeypatch.setattr(safe_files, "MAX_ZIP_ENTRIES", 2)
    data = zip_of({f"{i}.png": b"x" for i in range(3)})
    with pytest.raises(InputError, match="at most 2"):
        files_from_zip(data)


def test_files_from_zip_refuses_too_many_bytes(monkeypatch):
    monkeypatch.setattr(predict, "MAX_BATCH_ZIP_BYTES", 10)
    with pytest.raises(InputError, match="unpacks to 11 bytes; at most 10 bytes are allowed"):
        files_from_zip(zip_of({"a.png": b"x" * 11}))


def test_files_from_zip_refuses_symlinks_and_duplicates():
    from test_safe_files import zip_with_duplicates, zip_with_symlink

    with pytest.raises(InputError, match="upload.zip contains the entry 'cats/shadow.png', a symbolic link"):
        files_from_zip(zip_with_symlink(), "upload.zip")
    with pytest.raises(InputError, match="upload.zip holds the entry 'cats/a.png' more than once"):
        files_from_zip(zip_with_duplicates(), "upload.zip")


def test_files_from_zip_refuses_a_zip_bomb_before_unpacking_it():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(3):
            archive.writestr(f"{index}.png", bytes(3 * 2**20))  # 3 MB of zeros each, a few KB packed
    with pytest.raises(InputError, match=r"^upload.zip: '0.png' is compressed [\d,]+ times, more than the 100 allowed"):
        files_from_zip(buffer.getvalue(), "upload.zip")


def test_files_from_zip_refuses_a_non_zip():
    with pytest.raises(InputError, match="not a valid zip"):
        files_from_zip(b"not a zip", "upload.zip")


# --- Kaggle ----------------------------------------------------------------------------------


def test_kaggle_submission_predicts_every_row_of_a_test_csv(model):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (5, 28 * 28))
    csv = pd.DataFrame(pixels, columns=[f"pixel{i}" for i in range(28 * 28)]).to_csv(index=False)
    frame = kaggle_submission(model, csv.encode())
    assert list(frame.columns) == ["ImageId", "Label"]
    assert list(frame["ImageId"]) == [1, 2, 3, 4, 5]
    assert all(isinstance(label, int) and 0 <= label <= 9 for label in frame["Label"])
    text = submission_csv(frame).decode()
    assert text.splitlines()[0] == "ImageId,Label"
    assert len(text.splitlines()) == 6


def test_kaggle_submission_uses_class_names_that_are_not_digits(model):
    csv = pd.DataFrame(np.zeros((2, 64), dtype=int), columns=[f"p{i}" for i in range(64)])
    names = tuple("abcdefghij")
    frame = kaggle_submission(model, csv.to_csv(index=False).encode(), class_names=names)
    assert frame["Label"].isin(names).all()


# --- trained_light_on_dark -------------------------------------------------------------------


def test_trained_light_on_dark_recognises_digits_and_not_their_negative():
    x = load_dataset("digits").x_train[:500]
    assert trained_light_on_dark(x)
    assert not trained_light_on_dark(255 - x)


# ---- how familiar an image looks -----------------------------------------------------------


def reference(confidences, features) -> predict.TestReference:
    """A reference built from chosen top probabilities and features, as test_reference builds one."""
    features = predict.unit_length(np.asarray(features, dtype=float))
    similarities = features @ features.T
    np.fill_diagonal(similarities, -np.inf)
    k = min(predict.NEIGHBOURS, len(features) - 1)
    return predict.TestReference(np.asarray(confidences, float), features, predict._kth_largest(similarities, k))


def cluster(count: int, seed: int = 0) -> np.ndarray:
    """Features of `count` test images: directions close to (1, 1, 0)."""
    return np.array([1.0, 1.0, 0.0]) + np.random.default_rng(seed).normal(0, 0.05, (count, 3))


def test_familiarity_ranks_an_images_top_probability_among_the_test_images():
    tests = reference(np.linspace(0.5, 1.0, 100), cluster(100))  # top probabilities 0.5 .. 1.0
    alike = [1.0, 1.0, 0.0]
    unsure = tests.rank(np.array([0.4, 0.35, 0.25]), alike)
    assert (unsure.confidence, unsure.less_sure_than, unsure.test_images) == (pytest.approx(0.4), 1.0, 100)
    assert unsure.farther_than < 0.5 and unsure.unfamiliar
    assert unsure.message() == ("Less confident than 100% of the run's 100 test images: this may not look like "
                                "the training data.")
    sure = tests.rank(np.array([0.1, 0.9]), alike)
    assert sure.less_sure_than == pytest.approx(0.2) and not sure.unfamiliar
    # said as what it means: a confident prediction does not sit next to "less confident than 20 %"
    assert sure.message().startswith("Looks like the training data. Of the run's 100 test images, the network was "
                                     "surer of only 20%, and this image lies nearer to them than ")
    assert not tests.rank(np.array([0.53, 0.47]), alike).unfamiliar  # 94 of 100 were surer
    assert tests.rank(np.array([0.52, 0.48]), alike).unfamiliar  # 96 of 100: past the 95 % line


def test_familiarity_flags_a_confident_image_whose_features_lie_away_from_the_test_images():
    tests = reference(np.full(100, 0.9), cluster(100))
    far = tests.rank(np.array([0.99, 0.01]), [0.0, 0.2, 1.0])  # sure, but unlike any test image
    assert far.less_sure_than == 0 and far.farther_than == 1.0 and far.unfamiliar
    assert far.message() == ("Unlike the run's 100 test images: to the network it lies farther from them than 100% "
                             "of them lie from each other. This may not look like the training data.")
    assert tests.rank(np.array([0.99, 0.01]), [3.0, 3.0, 0.0]).farther_than < 0.5  # the length doesn't matter


def test_familiarity_on_too_few_test_images_says_so_and_warns_of_nothing():
    count = predict.MIN_REFERENCE_IMAGES - 1
    few = reference(np.full(count, 0.99), cluster(count)).rank(np.array([0.2, 0.8]), [0.0, 0.0, 1.0])
    assert not few.unfamiliar
    assert few.message().startswith(f"Only {count} test images to compare with: too few")
    alone = predict.TestReference(np.array([0.9]), np.ones((1, 3)), np.zeros(1)).rank(np.array([0.5, 0.5]), np.ones(3))
    assert alone.test_images == 1 and not alone.unfamiliar


def test_test_reference_holds_evenly_spread_test_images_and_each_ones_nearest_other_images(model):
    images = np.random.default_rng(0).integers(0, 256, (12, *SHAPE), dtype=np.uint8)
    every = inspection.predict_probabilities(model, images).max(axis=1)
    tests = predict.test_reference(model, images, limit=4)
    np.testing.assert_allclose(tests.confidences, every[[0, 4, 7, 11]], rtol=1e-5)
    assert tests.features.shape[0] == 4
    np.testing.assert_allclose(np.linalg.norm(tests.features, axis=1), 1, rtol=1e-6)
    similarities = tests.features @ tests.features.T
    others = [np.delete(row, i) for i, row in enumerate(similarities)]  # an image is not its own neighbour
    np.testing.assert_allclose(tests.neighbour_similarity, [np.sort(row)[-3] for row in others])  # k = 3 others
    assert len(predict.test_reference(model, images[:0]).confidences) == 0
    one = predict.familiarity(model, images[4], tests)
    assert one.test_images == 4 and one.confidence == pytest.approx(every[4], rel=1e-5)
