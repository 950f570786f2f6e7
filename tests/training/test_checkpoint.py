"""EpochCheckpoint: what one epoch's checkpoint holds, and that fit continues from it as if never stopped."""

import hashlib
import json

import keras
import numpy as np
import pytest

from cnnkit.training import checkpoint
from cnnkit.errors import InputError

X = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
Y = np.eye(2, dtype="float32")[(X[:, 0] > 0).astype(int)]


def compiled_model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.05), "categorical_crossentropy")
    return model


def plateau():
    # min_delta so large that no epoch counts as better: the rate falls every 2 epochs
    return keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=100.0)


def fit(model, callbacks, epochs, initial_epoch=0):
    model.fit(X, Y, batch_size=16, epochs=epochs, initial_epoch=initial_epoch, verbose=0, shuffle=False,
              callbacks=callbacks)


def test_a_checkpoint_holds_the_epoch_the_weights_and_the_callbacks_state(tmp_path):
    model, reducer = compiled_model(), plateau()
    fit(model, [reducer, checkpoint.EpochCheckpoint(tmp_path, {"plateau": (reducer, ("wait", "best"))})], epochs=4)
    saved = checkpoint.load(tmp_path)
    assert (saved.epoch, saved.training_done) == (4, True)
    # best at epoch 1, no better after: the rate fell after epoch 3, and epoch 4 waited once more
    assert saved.callbacks["plateau"] == {"wait": 1, "best": pytest.approx(reducer.best)} and reducer.wait == 1
    assert [path.name for path in tmp_path.glob("*.weights.h5")] == [saved.weights.name]  # older ones removed
    state = json.loads((tmp_path / checkpoint.STATE_FILE).read_text())
    assert state["epoch"] == 4
    assert state["weights_sha256"] == hashlib.sha256(saved.weights.read_bytes()).hexdigest()  # checked on loading


def test_fit_resumed_from_a_checkpoint_goes_on_with_the_optimizer_and_schedule_state(tmp_path):
    whole, reducer = compiled_model(), plateau()
    fit(whole, [reducer], epochs=5)

    first, first_reducer = compiled_model(), plateau()
    fit(first, [first_reducer, checkpoint.EpochCheckpoint(tmp_path, {"plateau": (first_reducer, ("wait", "best"))})],
        epochs=3)
    saved = checkpoint.load(tmp_path)
    second, second_reducer = compiled_model(), plateau()  # a new process: fresh model, fresh callbacks
    fit(second, [second_reducer, checkpoint.EpochCheckpoint(tmp_path, {"plateau": (second_reducer, ("wait", "best"))},
                                                            resume_from=saved)], epochs=5, initial_epoch=3)

    assert int(second.optimizer.iterations) == int(whole.optimizer.iterations) == 5 * 4
    assert float(second.optimizer.learning_rate) == float(whole.optimizer.learning_rate) == pytest.approx(0.05 / 4)
    for resumed, straight in zip(second.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(resumed, straight, rtol=1e-5, atol=1e-6)


def test_no_checkpoint_a_damaged_one_and_a_bad_run_id(tmp_path):
    assert checkpoint.load(tmp_path) is None
    (tmp_path / checkpoint.STATE_FILE).write_text("{not json")
    with pytest.raises(InputError) as refused:  # said, not taken for no checkpoint
        checkpoint.load(tmp_path)
    assert str(refused.value) == (f"The checkpoint of run {tmp_path.name} is damaged: its state.json is not what "
                                  "cnnkit saved; resume refused: relaunch the run to train it from the start.")
    with pytest.raises(InputError, match="is not a run id"):
        checkpoint.folder("sqlite:///x/mlflow.db", "../../../etc")
    assert checkpoint.folder(f"sqlite:///{tmp_path}/mlflow.db", "a" * 32) == tmp_path / "checkpoints" / ("a" * 32)


class SavedEpochs(keras.callbacks.Callback):
    """Records, after each epoch's save decision, which epoch the checkpoint on disk holds."""

    def __init__(self, folder):
        super().__init__()
        self.folder, self.seen = folder, []

    def on_epoch_end(self, epoch, logs=None):
        saved = checkpoint.load(self.folder)
        self.seen.append(saved.epoch if saved else None)


def test_epochs_closer_together_than_the_least_time_between_saves_are_not_saved(tmp_path):
    seldom, every = tmp_path / "seldom", tmp_path / "every"
    for folder, seconds in ((seldom, 3600.0), (every, 0.0)):
        watch = SavedEpochs(folder)
        fit(compiled_model(), [checkpoint.EpochCheckpoint(folder, {}, every_seconds=seconds), watch], epochs=3)
        if folder == seldom:
            assert watch.seen == [None, None, None]  # no epoch saved within the hour...
        else:
            assert watch.seen == [1, 2, 3]
    assert checkpoint.load(seldom).epoch == 3 and checkpoint.load(seldom).training_done  # ...but the end of fit is


@pytest.mark.parametrize("text, seconds", [(None, checkpoint.DEFAULT_SECONDS), ("0", 0.0), (" 12.5 ", 12.5)])
def test_the_least_time_between_saves_comes_from_the_environment(monkeypatch, text, seconds):
    if text is None:
        monkeypatch.delenv(checkpoint.SECONDS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(checkpoint.SECONDS_VARIABLE, text)
    assert checkpoint.seconds_between_saves() == seconds


@pytest.mark.parametrize("text", ["-1", "soon", "nan"])
def test_a_bad_time_between_saves_names_the_variable(monkeypatch, text):
    monkeypatch.setenv(checkpoint.SECONDS_VARIABLE, text)
    with pytest.raises(InputError, match="CNNKIT_CHECKPOINT_SECONDS must be a number of seconds, 0 or more"):
        checkpoint.seconds_between_saves()


@pytest.fixture()
def saved_after_two_epochs(tmp_path):
    """(folder, state): a checkpoint of a 2-epoch fit in tmp_path/run, and its state.json as a dict."""
    folder = tmp_path / "run"
    fit(compiled_model(), [checkpoint.EpochCheckpoint(folder, {})], epochs=2)
    return folder, json.loads((folder / checkpoint.STATE_FILE).read_text())


def resumed(folder):
    """A fresh model fitted on from the checkpoint in `folder`, as `resume` does."""
    model = compiled_model()
    fit(model, [checkpoint.EpochCheckpoint(folder, {}, resume_from=checkpoint.load(folder))], epochs=3, initial_epoch=2)
    return model


CHANGED = ("The checkpoint of run run at epoch 2 was changed or damaged after it was saved: its weights don't match "
           "the checksum recorded with them; resume refused: relaunch the run to train it from the start.")


def zero_the_weights(path):
    model = compiled_model()
    model.optimizer.build(model.trainable_variables)
    model.load_weights(path)
    model.set_weights([np.zeros_like(weights) for weights in model.get_weights()])
    model.save_weights(path)  # a valid weights file, other values


@pytest.mark.parametrize("damage", ["zeroed floats", "garbage bytes"])
def test_weights_changed_after_the_save_are_refused_in_one_line(saved_after_two_epochs, damage):
    folder, state = saved_after_two_epochs
    weights = folder / state["weights"]
    if damage == "zeroed floats":
        zero_the_weights(weights)
    else:
        weights.write_bytes(b"\x89HDF\r\n\x1a\n garbage" * 50)
    with pytest.raises(InputError) as refused:
        checkpoint.load(folder)
    assert str(refused.value) == CHANGED


def outside_weights(folder, tmp_path):
    """A valid weights file of the same model outside the checkpoint's folder."""
    outside = tmp_path / "elsewhere.weights.h5"
    outside.write_bytes((folder / json.loads((folder / checkpoint.STATE_FILE).read_text())["weights"]).read_bytes())
    zero_the_weights(outside)
    return outside


@pytest.mark.parametrize("naming", ["absolute path", "../ path", "link out"])
def test_checkpoint_state_may_name_only_files_inside_its_folder(saved_after_two_epochs, tmp_path, naming):
    folder, state = saved_after_two_epochs
    outside = outside_weights(folder, tmp_path)
    if naming == "link out":  # the state is as saved; its weights file is a link to a file outside
        (folder / state["weights"]).unlink()
        (folder / state["weights"]).symlink_to(outside)
        named = state["weights"]
    else:
        named = str(outside) if naming == "absolute path" else f"../{outside.name}"
        state = {**state, "weights": named}
        state.pop("weights_sha256", None)  # as an older cnnkit saved it: only the path can refuse it
        (folder / checkpoint.STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(InputError) as refused:
        checkpoint.load(folder)
    assert str(refused.value) == (f"The checkpoint of run run at epoch 2 names a file that is not inside its folder "
                                  f"({named!r}); resume refused: relaunch the run to train it from the start.")


def as_saved_before_checksums(folder) -> dict:
    state = json.loads((folder / checkpoint.STATE_FILE).read_text())
    state.pop("weights_sha256", None)
    (folder / checkpoint.STATE_FILE).write_text(json.dumps(state))
    return state


def test_a_checkpoint_saved_before_checksums_still_resumes_and_its_garbage_is_one_line(saved_after_two_epochs):
    folder, _ = saved_after_two_epochs
    as_saved_before_checksums(folder)
    assert checkpoint.load(folder).epoch == 2
    assert int(resumed(folder).optimizer.iterations) == 3 * 4  # went on from the checkpoint's 8 steps
    (folder / as_saved_before_checksums(folder)["weights"]).write_bytes(b"garbage" * 100)  # now epoch 3's
    with pytest.raises(InputError) as refused:  # unchecked, so only loading it finds out: one line, not h5py's OSError
        resumed(folder)
    assert str(refused.value) == ("The checkpoint of run run at epoch 3 can't be loaded: its weights don't fit this "
                                  "model, or the file is damaged.")
