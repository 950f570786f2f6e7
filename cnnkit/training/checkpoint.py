"""Per-epoch checkpoints, so a run a crash or a stop interrupted can continue where it was.

A save costs a fraction of a second (more for big models), which on a GPU can be a large part of
a short epoch: an epoch is saved when at least CNNKIT_CHECKPOINT_SECONDS (default 30) have passed
since the last save, so every epoch of a long run is saved, and a run of one-second epochs loses at
most about that much training to a crash. 0 saves every epoch.

One folder per run (`folder`): the weights with the optimizer's state (its step count, moments,
EMA averages and learning rate) and `state.json`, which names the epochs done and the state of
the callbacks that carry over between epochs (plateau and early-stopping counters, the latest
epoch metrics). `state.json` is written last and replaced atomically, so a crash while saving
leaves the previous checkpoint whole. `train` removes the folder when the run finishes.

`state.json` records the weights file's SHA-256, and may only name files inside its own folder:
a checkpoint whose state or weights were changed or damaged after it was saved is refused in one
line (InputError), never resumed from. State written before checksums (no `weights_sha256`) loads
unchecked.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from cnnkit import full_disk, tracking
from cnnkit.errors import InputError

SECONDS_VARIABLE = "CNNKIT_CHECKPOINT_SECONDS"
DEFAULT_SECONDS = 30.0
STATE_FILE = "state.json"
BEST_WEIGHTS_FILE = "best_weights.npz"  # early stopping's best weights, when it keeps them
REFUSED = "resume refused: relaunch the run to train it from the start"

log = logging.getLogger(__name__)


RUN_ID = r"[0-9a-f]{32}"


def folder(tracking_uri: str | None, run_id: str) -> Path:
    """Where run `run_id`'s checkpoint lives: next to a SQLite store's database, else under ./mlruns."""
    if not re.fullmatch(RUN_ID, run_id):
        raise InputError(f"'{run_id}' is not a run id (32 hexadecimal characters).")
    return tracking.store_folder(tracking_uri) / "checkpoints" / run_id


@dataclass(frozen=True)
class Saved:
    """What a checkpoint holds besides the weights."""

    epoch: int  # epochs completed
    training_done: bool  # fit had ended (all epochs, or early stopping); only evaluation was left
    weights: Path
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> attribute -> value
    name: str = "The checkpoint"  # how messages name it, e.g. "The checkpoint of run … at epoch 3"


def load(run_folder: Path) -> Saved | None:
    """The checkpoint in `run_folder` (named after its run), or None when there is none. InputError,
    one line, when its state can't be read, names a file outside the folder or a missing one, or its
    weights don't match the SHA-256 recorded when they were saved."""
    text = _state_text(run_folder)
    for read_again in (True, True, False):  # a save meanwhile replaces the state, then removes the weights it named
        if text is None:
            return None
        saved, recorded = _parse(run_folder, text)
        digest = _sha256_or_none(saved.weights)
        if digest is not None:
            break
        newer = _state_text(run_folder)
        if not read_again or newer == text:
            raise InputError(f"{saved.name} lacks its weights file {saved.weights.name}; {REFUSED}.")
        text = newer
    if recorded is not None and digest != recorded:
        raise InputError(f"{saved.name} was changed or damaged after it was saved: its weights don't match the "
                         f"checksum recorded with them; {REFUSED}.")
    return saved


def _state_text(run_folder: Path) -> str | None:
    """The checkpoint's state.json as text; None when there is none, "" when it can't be read."""
    try:
        return (run_folder / STATE_FILE).read_text()
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return ""


def _sha256_or_none(path: Path) -> str | None:
    try:
        return tracking.file_sha256(path)
    except OSError:  # missing, or not a file
        return None


def _parse(run_folder: Path, text: str) -> tuple[Saved, str | None]:
    """The checkpoint `text` (its state.json) describes, and its weights' recorded SHA-256 (None: saved
    before checksums, loaded unchecked)."""
    run = f"The checkpoint of run {run_folder.name}"
    try:
        state = json.loads(text)
        epoch, training_done, weights, callbacks = (int(state["epoch"]), bool(state["training_done"]),
                                                    str(state["weights"]), dict(state["callbacks"]))
        recorded = state.get("weights_sha256")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InputError(f"{run} is damaged: its {STATE_FILE} is not what cnnkit saved; {REFUSED}.") from None
    name = f"{run} at epoch {epoch}"
    return Saved(epoch, training_done, _inside(run_folder, weights, name), callbacks, name=name), recorded


def _inside(run_folder: Path, name: str, what: str) -> Path:
    """File `name` of the checkpoint in `run_folder`, once resolved (links followed) to a path inside
    that folder; InputError naming `what` for an absolute path, `..` or a link leading out."""
    try:
        path = (run_folder / name).resolve()
        outside = not path.is_relative_to(run_folder.resolve())
    except (OSError, RuntimeError):  # a link loop (RuntimeError before Python 3.13)
        outside = True
    if outside:
        raise InputError(f"{what} names a file that is not inside its folder ({name[:200]!r}); {REFUSED}.")
    return path


def exists(tracking_uri: str | None, run_id: str) -> bool:
    """Whether run `run_id` has a checkpoint, sound or not: resuming from a damaged one says what is wrong."""
    return (folder(tracking_uri, run_id) / STATE_FILE).is_file()


def seconds_between_saves() -> float:
    """CNNKIT_CHECKPOINT_SECONDS: the least time between two epochs' saves (0: every epoch)."""
    text = os.environ.get(SECONDS_VARIABLE, str(DEFAULT_SECONDS)).strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise InputError(f"{SECONDS_VARIABLE} must be a number of seconds, 0 or more, got {text!r}.")
    return seconds


def remove(run_folder: Path) -> None:
    shutil.rmtree(run_folder, ignore_errors=True)


def discard(tracking_uri: str | None, run_id: str) -> None:
    """Remove run `run_id`'s checkpoint, if it has one: the run will never be resumed."""
    if re.fullmatch(RUN_ID, run_id):  # anything else names no run of ours, so no checkpoint
        remove(folder(tracking_uri, run_id))


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model's and optimizer's state after every epoch and when fit ends; given a
    checkpoint (`resume_from`), puts it back as fit begins.

    `stateful` names the callbacks whose attributes must carry over: name -> (callback, attribute
    names). Put this callback after them, so they have reset themselves (on_train_begin) before
    it restores them, and have updated themselves (on_epoch_end) before it saves them.
    `before_save()` runs before each save: training has it wait until the store holds every metric
    logged so far, so a checkpoint never claims epochs the store lacks.
    """

    def __init__(self, run_folder: Path, stateful: dict[str, tuple[object, tuple[str, ...]]],
                 resume_from: Saved | None = None, every_seconds: float = 0.0,
                 before_save: Callable[[], None] = lambda: None):
        super().__init__()
        self.run_folder, self.stateful, self.resume_from = run_folder, stateful, resume_from
        self.before_save = before_save
        self.every_seconds = every_seconds  # the least time between two epochs' saves
        self.epochs_done = resume_from.epoch if resume_from else 0
        self.saved_at = time.monotonic()

    def on_train_begin(self, logs=None):
        self.saved_at = time.monotonic()
        saved = self.resume_from
        if saved is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)  # its variables must exist to load them
        try:
            self.model.load_weights(saved.weights)
        except Exception:  # Keras' and h5py's errors for a file that isn't these weights: many types, many lines
            log.warning("%s could not be loaded", saved.name, exc_info=True)
            raise InputError(f"{saved.name} can't be loaded: its weights don't fit this model, or the file is "
                             "damaged.") from None
        for name, (callback, attributes) in self.stateful.items():
            for attribute in attributes:
                if attribute in saved.callbacks.get(name, {}):
                    setattr(callback, attribute, saved.callbacks[name][attribute])
            best = _inside(self.run_folder, f"{name}.{BEST_WEIGHTS_FILE}", saved.name)
            if getattr(callback, "best_weights", None) is None and best.is_file():
                with np.load(best, allow_pickle=False) as arrays:
                    callback.best_weights = [arrays[key] for key in arrays.files]

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_done = epoch + 1
        if time.monotonic() - self.saved_at >= self.every_seconds:
            self.save(training_done=False)

    def on_train_end(self, logs=None):
        self.save(training_done=True)

    def save(self, training_done: bool) -> None:
        self.before_save()
        with full_disk.named(self.run_folder):
            self._write(training_done)

    def _write(self, training_done: bool) -> None:
        self.run_folder.mkdir(parents=True, exist_ok=True)
        weights = f"epoch-{self.epochs_done}{'-done' if training_done else ''}.weights.h5"
        self.model.save_weights(self.run_folder / weights)
        callbacks = {}
        for name, (callback, attributes) in self.stateful.items():
            callbacks[name] = {attribute: getattr(callback, attribute) for attribute in attributes}
            if getattr(callback, "best_weights", None) is not None:
                np.savez(self.run_folder / f"{name}.{BEST_WEIGHTS_FILE}", *callback.best_weights)
        state = {"epoch": self.epochs_done, "training_done": training_done, "weights": weights,
                 "weights_sha256": tracking.file_sha256(self.run_folder / weights), "callbacks": callbacks}
        pending = self.run_folder / f"{STATE_FILE}.tmp"
        pending.write_text(json.dumps(state, default=float))
        os.replace(pending, self.run_folder / STATE_FILE)  # the commit point
        for old in self.run_folder.glob("epoch-*.weights.h5"):
            if old.name != weights:
                old.unlink(missing_ok=True)
        self.saved_at = time.monotonic()
