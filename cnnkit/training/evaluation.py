"""From predicted probabilities to the numbers a person judges a model by."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cnnkit.tracking import TEST_PREFIX

TOP_K = (1, 3, 5)


@dataclass(frozen=True)
class Evaluation:
    loss: float  # mean categorical cross-entropy of the true class
    accuracy: float
    top_k: dict[int, float]  # k -> share of images whose true class is among the k most likely
    confusion: np.ndarray  # (true, predicted) counts
    per_class: pd.DataFrame  # class, precision, recall, f1, support
    mistakes: pd.DataFrame  # index, true, predicted, confidence, probabilities (list)

    def metrics(self, prefix: str = TEST_PREFIX) -> dict[str, float]:
        values = {f"{prefix}loss": self.loss, f"{prefix}accuracy": self.accuracy}
        values.update({f"{prefix}top{k}_accuracy": share for k, share in self.top_k.items()})
        return values


def evaluate(y_true: np.ndarray, probabilities: np.ndarray, class_names: list[str] | tuple[str, ...]) -> Evaluation:
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    true_probability = np.clip(probabilities[np.arange(len(y_true)), y_true], 1e-12, 1.0)
    ranking = np.argsort(-probabilities, axis=1)
    top_k = {k: float(np.mean((ranking[:, :k] == y_true[:, None]).any(axis=1))) for k in TOP_K if k <= n_classes}
    return Evaluation(
        loss=float(-np.mean(np.log(true_probability))),
        accuracy=float(np.mean(predicted == y_true)),
        top_k=top_k,
        confusion=confusion_matrix(y_true, predicted, n_classes),
        per_class=per_class_scores(y_true, predicted, class_names),
        mistakes=mistakes_table(y_true, probabilities),
    )


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def per_class_scores(y_true: np.ndarray, y_pred: np.ndarray, class_names) -> pd.DataFrame:
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    hits = np.diag(matrix).astype(float)
    predicted_counts, support = matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted_counts > 0, hits / predicted_counts, 0.0)
        recall = np.where(support > 0, hits / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return pd.DataFrame(
        {"class": list(class_names), "precision": precision, "recall": recall, "f1": f1, "support": support}
    )


def mistakes_table(y_true: np.ndarray, probabilities: np.ndarray) -> pd.DataFrame:
    """One row per misclassified test image, most confident mistakes first."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    table = pd.DataFrame(
        {
            "index": wrong,
            "true": y_true[wrong],
            "predicted": predicted[wrong],
            "confidence": probabilities[wrong, predicted[wrong]],
            "probabilities": [row.round(6).tolist() for row in probabilities[wrong]],
        }
    )
    return table.sort_values("confidence", ascending=False, kind="stable").reset_index(drop=True)
