"""The learning-rate range test on a tiny digits model."""

import numpy as np

from cnnkit.config import TrainConfig
from cnnkit.training import lr_range_test

TINY = dict(dataset="digits", arch="kaggle_mnist_cnn", epochs=1, batch_size=64, seed=7)


def test_the_lr_range_test_records_rising_rates_and_suggests_a_range():
    cfg = TrainConfig(**{**TINY, "optimizer": "sgd", "batch_size": 32})
    test = lr_range_test(cfg, start_lr=1e-5, end_lr=10.0, steps=40)
    assert 10 < len(test.learning_rates) <= 40
    assert np.all(np.diff(test.learning_rates) > 0)
    assert test.suggestion.lower <= test.suggestion.upper
    assert test.learning_rates[0] <= test.suggestion.steepest <= test.learning_rates[-1]
