"""predict_test_images: test-time flip averaging and the batches of both passes reported.

Backend-neutral: the suite also runs this file with KERAS_BACKEND=jax (tests/test_jax_backend.py).
"""

import threading

import numpy as np

from cnnkit.config import TrainConfig
from cnnkit.training.prediction import predict_test_images
from tiny_models import tiny_image_model


def test_test_time_flip_averages_each_image_with_its_mirror_image():
    model = tiny_image_model()
    images = np.random.default_rng(0).uniform(0, 1, (5, 2, 3, 1)).astype("float32")
    plain = model.predict(images, verbose=0)
    mirrored = model.predict(images[:, :, ::-1], verbose=0)
    cancel = threading.Event()
    np.testing.assert_allclose(predict_test_images(model, images, TrainConfig(), cancel), plain, atol=1e-6)
    np.testing.assert_allclose(predict_test_images(model, images, TrainConfig(test_time_flip=True), cancel),
                               (plain + mirrored) / 2, atol=1e-6)


def test_an_evaluation_with_test_time_flip_counts_the_batches_of_both_passes():
    model = tiny_image_model()
    heard = []
    predict_test_images(model, np.zeros((600, 2, 3, 1), "float32"), TrainConfig(test_time_flip=True),
                        threading.Event(), on_batches=lambda done, total: heard.append((done, total)))
    assert heard[0] == (0, 6) and heard[-1] == (6, 6) and (3, 6) in heard  # 3 batches of 256 per pass
    assert heard == sorted(heard)
