"""Test-set classification metrics: accuracy, per-class and macro precision and recall."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class ClassificationMetrics:
    """Classification performance on one split (the paper's Table II reports precision
    and recall).

    Attributes:
        accuracy: Fraction of correct predictions.
        precision, recall, f1: Per class, index = label; 0 where undefined (no prediction
            of, or no example of, that class), as scikit-learn's ``zero_division=0``.
        support: Examples per true class.
        macro_precision, macro_recall, macro_f1: Unweighted means over classes.
        confusion: ``confusion[i][j]``: examples of true class i predicted as j.
    """

    accuracy: float
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    confusion: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable fields."""
        return {
            "accuracy": self.accuracy,
            "precision": list(self.precision),
            "recall": list(self.recall),
            "f1": list(self.f1),
            "support": list(self.support),
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "confusion": [list(row) for row in self.confusion],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassificationMetrics:
        """The inverse of :meth:`to_dict`."""
        return cls(
            accuracy=float(data["accuracy"]),
            precision=tuple(float(v) for v in data["precision"]),
            recall=tuple(float(v) for v in data["recall"]),
            f1=tuple(float(v) for v in data["f1"]),
            support=tuple(int(v) for v in data["support"]),
            macro_precision=float(data["macro_precision"]),
            macro_recall=float(data["macro_recall"]),
            macro_f1=float(data["macro_f1"]),
            confusion=tuple(tuple(int(v) for v in row) for row in data["confusion"]),
        )


def classification_metrics(
    labels: Tensor, predictions: Tensor, num_classes: int
) -> ClassificationMetrics:
    """Accuracy, precision, recall and F1 per class and macro, and the confusion matrix.

    Args:
        labels: (N,) true classes in [0, num_classes).
        predictions: (N,) predicted classes in [0, num_classes).
        num_classes: C; classes absent from both still get a row (precision = recall = 0).

    >>> m = classification_metrics(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), 2)
    >>> m.accuracy, m.precision, m.recall
    (0.6666666666666666, (1.0, 0.5), (0.5, 1.0))
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = labels.detach().cpu().reshape(-1)
    predictions = predictions.detach().cpu().reshape(-1)
    if labels.shape != predictions.shape or labels.numel() == 0:
        raise ValueError(
            f"expected labels and predictions of the same non-empty shape (N,), got "
            f"{tuple(labels.shape)} and {tuple(predictions.shape)}"
        )
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.dtype.is_floating_point or values.min() < 0 or values.max() >= num_classes:
            raise ValueError(f"expected integer {name} in [0, {num_classes}), got {values}")
    classes = list(range(num_classes))
    y_true, y_pred = labels.numpy(), predictions.numpy()
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, average=None, zero_division=0
    )
    confusion = confusion_matrix(y_true, y_pred, labels=classes)
    return ClassificationMetrics(
        accuracy=float((labels == predictions).to(torch.float64).mean()),
        precision=tuple(float(v) for v in precision),
        recall=tuple(float(v) for v in recall),
        f1=tuple(float(v) for v in f1),
        support=tuple(int(v) for v in support),
        macro_precision=float(precision.mean()),
        macro_recall=float(recall.mean()),
        macro_f1=float(f1.mean()),
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
    )
