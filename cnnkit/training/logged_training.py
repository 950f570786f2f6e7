"""One run's work, logged as it goes: its data, its network, fit with the run's callbacks (progress,
cancel, checkpoints, snapshots), the evaluation on the test images and the results kept with the run."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading

import keras
import numpy as np

from cnnkit import tracking
from cnnkit.config import TrainConfig, load_data, write_relabelled_copy
from cnnkit.datasets import Dataset, corrected_copy_record
from cnnkit.models import predict
from cnnkit.tracking import run_schema
import cnnkit.training.accelerators as accelerators
import cnnkit.training.calibration_step as calibration_step
import cnnkit.training.checkpoint as checkpoint
from cnnkit.training.callbacks import CARRIED_STATE, CancelCheck, RunMonitor, TrainingDynamics, training_callbacks
from cnnkit.training.epoch_snapshots import EpochSnapshots
from cnnkit.training.evaluation import evaluate
from cnnkit.training.network import build, compile_model, one_hot
from cnnkit.training.prediction import predict_test_images
from cnnkit.training.progress import Progress, ProgressCallback, check_cancel
from cnnkit.training.seeding import ShuffledBatches
from cnnkit.training.tricks import PER_STEP_SCHEDULES

log = logging.getLogger(__name__)

MISTAKE_IMAGES = 100  # misclassified test images kept with a run for galleries


def train_logged(cfg: TrainConfig, logger: tracking.RunLogger, cancel: threading.Event, report: ProgressCallback,
                 run_folder, saved: checkpoint.Saved | None, fork: bool = False) -> dict:
    """Run the work of `logger`'s run, from loading its data to saving its model; its final metrics."""
    report(Progress("loading data"))
    data = load_data(cfg)
    check_cancel(cancel)
    fingerprint, test_fingerprint = data.fingerprint(), data.test_fingerprint()
    logger.set_tags({run_schema.DATA_FINGERPRINT_TAG: fingerprint,
                     run_schema.TEST_FINGERPRINT_TAG: test_fingerprint,
                     run_schema.INPUT_SHAPE_TAG: "x".join(map(str, data.input_shape))})
    logger.log_json(list(data.class_names), run_schema.CLASS_NAMES)
    logger.log_json(
        {"name": data.name, "input_shape": data.input_shape, "splits": data.split_counts(), "fingerprint": fingerprint},
        run_schema.DATASET_SUMMARY,
    )
    logger.log_datasets(data, cfg.dataset_path, fingerprint, test_fingerprint)
    corrected = write_relabelled_copy(cfg, data)
    if corrected is not None:
        logger.log_text(corrected_copy_record(corrected), run_schema.RELABELLED_EXAMPLES)
        logger.set_tags({run_schema.RELABELLED_COPY_TAG: str(corrected)})
        report(Progress(f"{len(data.relabelled):,} training examples relabelled; corrected copy: {corrected}"))
    data = split_evenly(data, cfg.devices)

    device = accelerators.describe_devices(cfg.devices)
    logger.set_tags({run_schema.DEVICE_TAG: device, run_schema.DEVICE_COUNT_TAG: str(cfg.devices)})
    report(Progress("building model", device=device))
    steps_per_epoch = math.ceil(len(data.x_train) / cfg.batch_size)
    model = build(cfg, data.input_shape, data.num_classes)
    compile_model(model, cfg, steps_per_epoch)
    summary: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: summary.append(line))
    logger.log_text("\n".join(summary), run_schema.MODEL_SUMMARY)
    initial_epoch = saved.epoch if saved else 0
    logged_epochs = logged_steps = 0
    if saved is not None:  # what the interrupted process logged after its last checkpoint is kept, not logged twice
        logged_epochs = logger.store.last_logged_step(logger.run_id, run_schema.LOSS)
        logged_steps = logger.store.last_logged_step(logger.run_id, run_schema.BATCH_LOSS)
    if saved is not None and not fork:
        _say_missing_epochs(logger, saved.epoch)
    if not logged_steps:  # a new run, a fork too (its saved state is its parent's snapshot)
        logger.log_metrics({run_schema.PARAM_COUNT: model.count_params()}, step=0)
        inherited = saved.callbacks.get("monitor", {}).get("reached") if fork else None
        if inherited:  # the thresholds a fork's parent had reached before the fork's first epoch
            logger.log_metrics(inherited, step=saved.epoch)

    monitor = RunMonitor(logger, cfg, len(data.x_train), steps_per_epoch, report, initial_epoch=initial_epoch,
                         logged_epochs=logged_epochs, logged_steps=logged_steps)
    carried = training_callbacks(cfg)
    stateful = {"monitor": (monitor, ("latest", "reached")), **{type(callback).__name__: (callback, CARRIED_STATE[type(callback)])
                                                        for callback in carried}}
    saver = checkpoint.EpochCheckpoint(run_folder, stateful, resume_from=saved,
                                      every_seconds=checkpoint.seconds_between_saves(),
                                      before_save=lambda: logger.flush(wait=True))  # never ahead of the store
    validation = (data.x_val, one_hot(data.y_val, data.num_classes)) if len(data.x_val) else None

    def snapshot_probabilities(snapshot_model: keras.Model, epoch: int) -> np.ndarray:
        def snapshotting(done: int, batches: int) -> None:
            report(Progress("snapshotting", epoch, cfg.epochs, steps_per_epoch, steps_per_epoch, event="pass",
                            pass_batch=done, pass_batches=batches, pass_images=len(data.x_test)))

        return predict_test_images(snapshot_model, data.x_test, cfg, cancel, on_batches=snapshotting)

    # Before the carried callbacks: a snapshot when fit ends is taken before early stopping restores its best weights.
    snapshots = [EpochSnapshots(cfg.snapshot_every, cfg.epochs, snapshot_probabilities, logger.log_file,
                                logger.log_arrays)] if cfg.snapshot_every else []
    # After the saver: a cancel while the sample is predicted must not cost the epoch's checkpoint.
    dynamics = [TrainingDynamics.for_run(data, cfg, lambda dynamics_model, images: predict_test_images(
        dynamics_model, images, cfg, cancel), logger.log_arrays)] if cfg.dynamics_sample else []
    own_rate = []  # after the saver: a fork's parent's rate comes back with its optimizer's state; the fork has its own
    if fork and cfg.schedule not in PER_STEP_SCHEDULES:
        own_rate.append(keras.callbacks.LambdaCallback(
            on_train_begin=lambda logs: setattr(model.optimizer, "learning_rate", cfg.learning_rate)))
    if saved is not None and saved.training_done:  # it was stopped while evaluating: only that is left
        saver.set_model(model)
        saver.on_train_begin()
    else:
        try:
            # Shuffled by the run's seed alone, never by the process-wide generators that other jobs share.
            batches = ShuffledBatches(data.x_train, one_hot(data.y_train, data.num_classes), cfg.batch_size, cfg.seed)
            model.fit(
                batches,
                epochs=cfg.epochs,
                initial_epoch=initial_epoch,
                validation_data=validation,
                shuffle=False,
                verbose=0,
                callbacks=[batches.orderer(), CancelCheck(cancel), monitor, monitor.validation_monitor(len(data.x_val)),
                           *snapshots, *carried, saver, *dynamics, *own_rate],
            )
        finally:
            monitor.close()
    if cfg.ema_momentum:
        _unshare_averaged_weights(model)

    def evaluating(done: int, batches: int) -> None:
        report(Progress("evaluating", monitor.epoch, cfg.epochs, steps_per_epoch, steps_per_epoch, event="pass",
                        pass_batch=done, pass_batches=batches, pass_images=len(data.x_test)))

    probabilities = predict_test_images(model, data.x_test, cfg, cancel, on_batches=evaluating)
    result = evaluate(data.y_test, probabilities, data.class_names)
    metrics = {**{run_schema.FINAL_PREFIX + key: value for key, value in monitor.latest.items()
                  if key in run_schema.FINAL_METRICS},
               **result.metrics(), run_schema.EPOCHS_TRAINED: monitor.epoch}
    logger.log_metrics(metrics, step=monitor.epoch)
    report(Progress("calibrating", monitor.epoch, cfg.epochs, steps_per_epoch, steps_per_epoch))
    calibrated = calibration_step.log_calibration(logger, data, probabilities, lambda images: predict_test_images(
        model, images, cfg, cancel), step=monitor.epoch)
    metrics.update(calibrated.metrics())
    report(Progress("saving", monitor.epoch, cfg.epochs, steps_per_epoch, steps_per_epoch))
    logger.log_json({"class_names": list(data.class_names), "matrix": result.confusion.tolist()},
                    run_schema.CONFUSION_MATRIX)
    logger.log_table(result.per_class, run_schema.PER_CLASS)
    logger.log_table(result.mistakes, run_schema.MISTAKES)
    shown = result.mistakes["index"].to_numpy()[:MISTAKE_IMAGES]
    logger.log_arrays({"index": shown, "images": data.x_test[shown]}, run_schema.MISTAKE_IMAGES)

    # Served images are inverted when on a light background if the network learnt light shapes on dark,
    # judged as the Classify page's default judges it (from the kept mistakes), so both answer alike.
    light_on_dark = len(shown) > 0 and predict.trained_light_on_dark(data.x_test[shown])
    logger.log_model(model, data.class_names, light_on_dark, example=data.x_test[0], temperature=calibrated.temperature)
    logger.flush()
    return metrics


def _say_missing_epochs(logger: tracking.RunLogger, checkpoint_epoch: int) -> None:
    """A resumed run whose store lacks epochs its checkpoint holds (a checkpoint written before the
    store held them, by an older cnnkit) says which, in tag MISSING_EPOCHS_TAG and the log."""
    logged = set(logger.store.logged_steps(logger.run_id, run_schema.LOSS))
    missing = [epoch for epoch in range(1, checkpoint_epoch + 1) if epoch not in logged]
    if missing:
        which = (f"epochs {_spans(missing)} were", "their") if len(missing) > 1 else (f"epoch {missing[0]} was", "its")
        note = (f"{which[0]} trained but never logged: the store lacks {which[1]} metrics (the process ended before "
                f"it wrote them); the run went on from its checkpoint after epoch {checkpoint_epoch}")
        log.warning("Run %s: %s", logger.run_id, note)
        logger.set_tags({run_schema.MISSING_EPOCHS_TAG: note})


def _spans(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in spans)


def split_evenly(data: Dataset, devices: int) -> Dataset:
    """`data` with its training and validation images cut to a multiple of `devices` (at most
    `devices` - 1 of each left out), so that every batch, the last one too, splits evenly among the
    devices of a data-parallel run. The test images are all kept (see `predict_test_images`)."""
    if devices == 1:
        return data
    n_train, n_val = len(data.x_train) - len(data.x_train) % devices, len(data.x_val) - len(data.x_val) % devices
    return dataclasses.replace(data, x_train=data.x_train[:n_train], y_train=data.y_train[:n_train],
                               ids_train=data.ids_train[:n_train], x_val=data.x_val[:n_val], y_val=data.y_val[:n_val],
                               ids_val=data.ids_val[:n_val])


def _unshare_averaged_weights(model: keras.Model) -> None:
    """Give the weights their own buffers after fit has swapped the EMA averages in. Keras assigns
    each average to its weight, so on JAX both share one device buffer; the next predict donates
    the weights' buffers, deleting the optimizer's averages with them, and saving then fails
    ("Array has been deleted")."""
    for variable in model.trainable_variables:
        variable.assign(keras.ops.copy(variable))
