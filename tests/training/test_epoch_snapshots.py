"""EpochSnapshots: which epochs it keeps, what it hands the store (a loadable model with its
optimizer's state, float16 probabilities), and a last snapshot when fit ends early."""

from pathlib import Path

import keras
import numpy as np

from cnnkit.tracking import run_schema
from cnnkit.training.epoch_snapshots import EpochSnapshots


def tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


class Store:
    def __init__(self, folder: Path):
        self.folder, self.files, self.arrays, self.predicted, self.checked = folder, {}, {}, [], set()

    def log_file(self, path: Path, artifact_folder: str, checksum: bool) -> None:
        target = self.folder / artifact_folder / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        self.files[f"{artifact_folder}/{path.name}"] = target
        if checksum:
            self.checked.add(f"{artifact_folder}/{path.name}")

    def log_arrays(self, arrays: dict, artifact_file: str, checksum: bool) -> None:
        self.arrays[artifact_file] = arrays
        if checksum:
            self.checked.add(artifact_file)

    def predict(self, model, epoch):
        self.predicted.append(epoch)
        return model.predict(np.eye(4, dtype="float32"), verbose=0)


def fit(store: Store, every: int, epochs: int, extra=()) -> keras.Model:
    model = tiny_model()
    x, y = np.random.default_rng(0).random((32, 4)), np.eye(3)[np.arange(32) % 3]
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0,
              callbacks=[EpochSnapshots(every, epochs, store.predict, store.log_file, store.log_arrays), *extra])
    return model


def test_it_keeps_every_kth_epoch_and_the_last_with_the_optimizer_state(tmp_path):
    store = Store(tmp_path)
    fit(store, every=2, epochs=5)
    assert store.predicted == [2, 4, 5]
    assert sorted(store.files) == [run_schema.snapshot_model(epoch) for epoch in (2, 4, 5)]
    assert sorted(store.arrays) == [run_schema.snapshot_probabilities(epoch) for epoch in (2, 4, 5)]
    assert store.checked == {*store.files, *store.arrays}  # every file of a snapshot has its SHA-256 recorded
    probabilities = store.arrays[run_schema.snapshot_probabilities(4)]["probabilities"]
    assert probabilities.dtype == np.float16 and probabilities.shape == (4, 3)
    snapshot = keras.saving.load_model(store.files[run_schema.snapshot_model(2)], safe_mode=True)
    assert int(snapshot.optimizer.iterations) == 2 * 4  # two epochs of four batches


def test_fit_stopped_early_still_ends_with_a_snapshot_of_its_last_epoch(tmp_path):
    store = Store(tmp_path)

    class StopAfterThree(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch + 1 == 3

    fit(store, every=2, epochs=10, extra=[StopAfterThree()])
    assert store.predicted == [2, 3]


def test_snapshot_names_read_back_as_their_epoch():
    assert run_schema.snapshot_epoch(run_schema.snapshot_model(12)) == 12
    assert run_schema.snapshot_epoch(run_schema.snapshot_probabilities(12)) is None
    assert run_schema.snapshot_epoch("snapshots/notes.keras") is None
