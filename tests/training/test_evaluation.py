import numpy as np
import pytest

from cnnkit.training.evaluation import confusion_matrix, evaluate


def test_metrics_confusion_and_mistakes_from_known_predictions():
    y_true = np.array([0, 1, 2, 2])
    probabilities = np.array(
        [
            [0.7, 0.2, 0.1, 0.0, 0.0, 0.0],  # right
            [0.6, 0.3, 0.1, 0.0, 0.0, 0.0],  # wrong: predicted 0, true 1 second
            [0.1, 0.1, 0.8, 0.0, 0.0, 0.0],  # right
            [0.05, 0.05, 0.0, 0.5, 0.4, 0.0],  # wrong: true 2 ranked 5th
        ]
    )
    result = evaluate(y_true, probabilities, ["a", "b", "c", "d", "e", "f"])
    assert result.accuracy == pytest.approx(0.5)
    assert result.top_k == {1: 0.5, 3: 0.75, 5: 1.0}
    assert result.loss == pytest.approx(-np.mean(np.log([0.7, 0.3, 0.8, 1e-12])))
    assert result.confusion[1, 0] == 1 and result.confusion[2, 3] == 1 and result.confusion.sum() == 4
    per_class = result.per_class.set_index("class")
    assert per_class.loc["a", "precision"] == pytest.approx(0.5)
    assert per_class.loc["c", "recall"] == pytest.approx(0.5)
    assert per_class.loc["c", "support"] == 2
    assert list(result.mistakes["index"]) == [1, 3]  # most confident mistake first (0.6 > 0.5)
    assert list(result.mistakes["predicted"]) == [0, 3]
    assert result.mistakes["probabilities"][0] == pytest.approx([0.6, 0.3, 0.1, 0, 0, 0])
    assert set(result.metrics()) == {"test_loss", "test_accuracy", "test_top1_accuracy", "test_top3_accuracy", "test_top5_accuracy"}


def test_top_k_is_skipped_when_there_are_fewer_classes_than_k():
    result = evaluate(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]), ["x", "y"])
    assert result.top_k == {1: 1.0}


def test_confusion_matrix_counts_pairs():
    matrix = confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
