"""CancelCheck: fit stops before the next batch once the cancel event is set."""

import threading

import keras
import numpy as np
import pytest

from cnnkit.training import Cancelled
from cnnkit.training.callbacks import CancelCheck


def test_the_cancel_check_stops_fit_before_the_next_batch_starts():
    cancel, begun = threading.Event(), []

    class CancelAtThirdBatch(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            begun.append(batch)
            if batch == 2:
                cancel.set()

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    with pytest.raises(Cancelled):
        model.fit(np.zeros((64, 4)), np.eye(2)[np.zeros(64, int)], batch_size=8, verbose=0,
                  callbacks=[CancelAtThirdBatch(), CancelCheck(cancel)])
    assert begun == [0, 1, 2]  # batch 2 never trained: the check raised as it began
