"""Runs made in a store without training: enough for pickers and tables, not for a model or an evaluation."""

from cnnkit import tracking
from cnnkit.config import TrainConfig


def finished_runs(tracking_uri: str, names: list[str], status: str = "FINISHED") -> list[str]:
    """Runs named `names` on digits, ended with `status`, made in order (the last is the newest); their ids."""
    run_store = tracking.RunStore(tracking_uri)
    made = []
    for name in names:
        logger = run_store.start_run(TrainConfig(dataset="digits"), run_name=name)
        logger.finish(status)
        made.append(logger.run_id)
    return made


def finished_run(run_store: tracking.RunStore, cfg: TrainConfig = TrainConfig(), name: str | None = None,
                 val_accuracies=(0.5, 0.7), test_accuracy: float = 0.8) -> str:
    """A FINISHED run with per-epoch val_accuracy and a test accuracy, as `train` logs them; its id."""
    logger = run_store.start_run(cfg, run_name=name)
    for epoch, value in enumerate(val_accuracies, start=1):
        logger.log_metrics({"val_accuracy": value}, step=epoch)
    logger.log_metrics({"test_accuracy": test_accuracy}, step=len(val_accuracies))
    logger.finish("FINISHED")
    return logger.run_id


def run_on_data(run_store: tracking.RunStore, name: str, val_fraction: float = 0.1, path: str = "") -> str:
    """A FINISHED run with digits split with `val_fraction` logged as its dataset inputs, as `train`
    logs them (the fingerprints computed here; `train` reuses its own); its id."""
    from cnnkit.datasets import load_dataset

    data = load_dataset("digits", val_fraction=val_fraction)
    logger = run_store.start_run(TrainConfig(dataset="digits", val_fraction=val_fraction), run_name=name)
    logger.log_datasets(data, path, data.fingerprint(), data.test_fingerprint())
    logger.finish("FINISHED")
    return logger.run_id


def evaluated_digits_run(run_store: tracking.RunStore, name: str, wrong, seed: int = 0, **settings) -> str:
    """A FINISHED run on digits (seed `seed`, other `settings` as TrainConfig takes them) logged as `train`
    logs one, without training: its dataset inputs and fingerprints, test metrics and evaluation, wrong
    exactly on the test images `wrong` (indices, each predicted as the next class); its id."""
    import numpy as np
    from scipy.special import softmax

    from cnnkit.config import load_data
    from cnnkit.tracking import run_schema
    from cnnkit.training import evaluate

    cfg = TrainConfig(dataset="digits", seed=seed, **settings)
    data = load_data(cfg)
    y_test = data.y_test
    predicted = y_test.copy()
    predicted[np.asarray(wrong, dtype=np.int64)] = (y_test[np.asarray(wrong, dtype=np.int64)] + 1) % 10
    scores = np.full((len(y_test), 10), -2.0)
    scores[np.arange(len(y_test)), predicted] = 2.0
    result = evaluate(y_test, softmax(scores, axis=1), data.class_names)
    logger = run_store.start_run(cfg, run_name=name)
    logger.set_tags({run_schema.DATA_FINGERPRINT_TAG: data.fingerprint(),
                     run_schema.TEST_FINGERPRINT_TAG: data.test_fingerprint()})
    logger.log_datasets(data, "", data.fingerprint(), data.test_fingerprint())
    logger.log_metrics(result.metrics(), step=1)
    logger.log_json({"class_names": list(data.class_names), "matrix": result.confusion.tolist()},
                    run_schema.CONFUSION_MATRIX)
    logger.log_table(result.per_class, run_schema.PER_CLASS)
    logger.log_table(result.mistakes, run_schema.MISTAKES)
    logger.log_arrays({"index": np.zeros(0, np.int64), "images": np.zeros((0, 8, 8, 1), np.uint8)},
                      run_schema.MISTAKE_IMAGES)
    logger.finish("FINISHED")
    return logger.run_id


def ablation_run(run_store: tracking.RunStore, ablation_id: str, cell: dict, seed: int, accuracy: float,
                 size: int) -> str:
    """A FINISHED run of ablation `ablation_id` (`size` runs in all) in `cell` with `seed`, its test
    accuracy `accuracy`, tagged as `AblationLaunch` tags one; its id."""
    import json

    from cnnkit.tracking import run_schema

    tags = {run_schema.ABLATION_ID_TAG: ablation_id, run_schema.ABLATION_NAME_TAG: f"ablation {ablation_id}",
            run_schema.ABLATION_CELL_TAG: json.dumps(cell), run_schema.ABLATION_SEED_TAG: str(seed),
            run_schema.ABLATION_SIZE_TAG: str(size)}
    logger = run_store.start_run(TrainConfig(dataset="digits", seed=seed), tags=tags)
    logger.log_metrics({run_schema.TEST_ACCURACY: accuracy}, step=1)
    logger.finish("FINISHED")
    return logger.run_id
