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
"""

from __future__ import annotations

import json
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


def load(run_folder: Path) -> Saved | None:
    """The checkpoint in `run_folder`, or None when there is none (or it is unreadable)."""
    try:
        state = json.loads((run_folder / STATE_FILE).read_text())
        saved = Saved(int(state["epoch"]), bool(state["training_done"]), run_folder / state["weights"],
                      dict(state["callbacks"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return saved if saved.weights.is_file() else None


def exists(tracking_uri: str | None, run_id: str) -> bool:
    """Whether run `run_id` has a checkpoint to resume from."""
    return load(folder(tracking_uri, run_id)) is not None


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
        self.model.load_weights(saved.weights)
        for name, (callback, attributes) in self.stateful.items():
            for attribute in attributes:
                if attribute in saved.callbacks.get(name, {}):
                    setattr(callback, attribute, saved.callbacks[name][attribute])
            best = self.run_folder / f"{name}.{BEST_WEIGHTS_FILE}"
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
        state = {"epoch": self.epochs_done, "training_done": training_done, "weights": weights, "callbacks": callbacks}
        pending = self.run_folder / f"{STATE_FILE}.tmp"
        pending.write_text(json.dumps(state, default=float))
        os.replace(pending, self.run_folder / STATE_FILE)  # the commit point
        for old in self.run_folder.glob("epoch-*.weights.h5"):
            if old.name != weights:
                old.unlink(missing_ok=True)
        self.saved_at = time.monotonic()
