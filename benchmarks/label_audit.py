"""How well the label audit finds labels flipped on purpose: 5 % of sklearn's digits given another digit, written as a
digit CSV, audited through the command line (`python -m cnnkit label-audit`: k fold runs of a CNN, each predicting the
training examples it left out) in a temporary store; prints the precision at k of the suspects (k: the flipped
examples in the training split), and beside it, on the same folds (`experiments.label_audit.assign_folds`), what
logistic regression's out-of-fold probabilities give (the figure tests/explorer/test_label_issues.py holds, 0.82,
with sklearn's own 5 folds over all of digits). No dataset needed; about a minute on 2 CPU cores.

    .venv/bin/python benchmarks/label_audit.py [--folds 5] [--epochs 20] [--arch kaggle_mnist_cnn]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def flipped_digits_csv(path: Path, share: float = 0.05, seed: int = 0) -> set[str]:
    """sklearn's digits as a digit CSV with `share` of the labels changed to another digit; the changed rows' ids."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(digits.target), size=round(len(digits.target) * share), replace=False)
    labels = digits.target.copy()
    labels[flipped] = (labels[flipped] + rng.integers(1, 10, size=len(flipped))) % 10
    pixels = np.rint(digits.images.reshape(len(labels), -1) * (255 / 16)).astype(np.uint8)
    frame = pd.DataFrame(pixels, columns=[f"pixel{i}" for i in range(pixels.shape[1])])
    frame.insert(0, "label", labels)
    frame.to_csv(path, index=False)
    return {str(row) for row in flipped}


def precision_at_k(suspect_ids: list[str], flipped: set[str]) -> tuple[float, int]:
    k = len(flipped)
    return len(set(suspect_ids[:k]) & flipped) / k, k


def logistic_baseline(cfg, folds: int, flipped: set[str]) -> tuple[float, int]:
    """Precision at k of logistic regression's out-of-fold probabilities on the audit's own folds."""
    from sklearn.linear_model import LogisticRegression

    from cnnkit.config import load_data
    from cnnkit.experiments import OutOfFold, label_audit
    from cnnkit.explorer import label_issues

    data = load_data(cfg)
    x = data.x_train.reshape(len(data.x_train), -1) / 255
    fold_of = label_audit.assign_folds(data.y_train, folds, cfg.seed)
    probabilities = np.zeros((len(x), data.num_classes))
    for fold in range(folds):
        model = LogisticRegression(max_iter=2000).fit(x[fold_of != fold], data.y_train[fold_of != fold])
        probabilities[fold_of == fold] = model.predict_proba(x[fold_of == fold])
    table = label_issues.audit_issues(OutOfFold(data.ids_train, data.y_train, probabilities, fold_of,
                                                data.class_names))
    return precision_at_k(table["id"].tolist(), flipped & set(data.ids_train.tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--arch", default="kaggle_mnist_cnn")
    args = parser.parse_args()
    from cnnkit.cli import main as cli
    from cnnkit.config import TrainConfig, load_data
    from cnnkit.explorer import label_issues

    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        csv, out = Path(folder) / "flipped_digits.csv", Path(folder) / "suspects.csv"
        flipped = flipped_digits_csv(csv)
        cfg = TrainConfig(dataset="csv", dataset_path=str(csv), arch=args.arch, epochs=args.epochs)
        in_training = flipped & set(load_data(cfg).ids_train.tolist())
        status = cli(["label-audit", "--dataset", "csv", "--arch", args.arch, "--epochs", str(args.epochs),
                      "--set", f"dataset_path={csv}", "--folds", str(args.folds), "--out", str(out), "--top", "10",
                      "--tracking-uri", f"sqlite:///{Path(folder) / 'mlflow.db'}"])
        if status:
            raise SystemExit(f"the audit ended with status {status}")
        suspects = label_issues.read_csv(out.read_bytes())
        cnn, k = precision_at_k(suspects["id"].tolist(), in_training)
        regression, _ = logistic_baseline(cfg, args.folds, flipped)
        print(f"{len(flipped)} labels flipped, {k} of them in the training split; {len(suspects)} suspects")
        print(f"precision at k={k}: label audit ({args.folds} folds of {args.arch}, {args.epochs} epochs) {cnn:.3f}; "
              f"logistic regression on the same folds {regression:.3f}")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
