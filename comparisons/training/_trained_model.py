"""What training returns: the model in eval mode, its history and its test metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from comparisons.training._classification_metrics import ClassificationMetrics
from comparisons.training._config import TrainingConfig


@dataclass(frozen=True)
class TrainingHistory:
    """Per-epoch curves; entry ``e - 1`` is epoch ``e``.

    Attributes:
        train_loss: Mean cross-entropy over the epoch's training images (train mode,
            as the weights changed during the epoch).
        val_loss: Mean cross-entropy on the validation split after the epoch (eval mode).
        val_accuracy: Validation accuracy after the epoch.
        lr: The learning rate used during the epoch.
        val_robust_accuracy: With adversarial training, the validation accuracy under
            the training attack after the epoch (random starts from a generator seeded 0
            every epoch, so epochs compare); else empty.
    """

    train_loss: tuple[float, ...]
    val_loss: tuple[float, ...]
    val_accuracy: tuple[float, ...]
    lr: tuple[float, ...]
    val_robust_accuracy: tuple[float, ...] = ()

    @property
    def epochs(self) -> int:
        return len(self.val_loss)

    def best_epoch(self, min_epoch: int = 1) -> int:
        """The 1-based epoch with the lowest validation loss among ``min_epoch, ...``
        (the first one on ties)."""
        if not 1 <= min_epoch <= self.epochs:
            raise ValueError(f"expected min_epoch in [1, {self.epochs}], got {min_epoch}")
        candidates = range(min_epoch - 1, self.epochs)
        return 1 + min(candidates, key=lambda e: (self.val_loss[e], e))

    def to_dict(self) -> dict[str, list[float]]:
        """The curves by name; ``val_robust_accuracy`` only when recorded."""
        data = {
            "train_loss": list(self.train_loss),
            "val_loss": list(self.val_loss),
            "val_accuracy": list(self.val_accuracy),
            "lr": list(self.lr),
        }
        if self.val_robust_accuracy:
            data["val_robust_accuracy"] = list(self.val_robust_accuracy)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingHistory:
        return cls(
            **{
                name: tuple(float(v) for v in data[name])
                for name in ("train_loss", "val_loss", "val_accuracy", "lr")
            },
            val_robust_accuracy=tuple(float(v) for v in data.get("val_robust_accuracy", ())),
        )


@dataclass(frozen=True)
class TrainedModel:
    """A trained classifier and how it got there.

    Attributes:
        model: The classifier with the kept (best-epoch) weights, in eval mode, so no two
            samples interact (BatchNorm uses its running statistics).
        model_name: Registry name in ``comparisons.models``.
        model_options: The options it was built with (including a derived
            ``input_mean``/``input_std`` when the config standardizes inputs).
        seed: Initialisation and shuffling seed.
        config: The training protocol.
        history: Per-epoch losses and validation accuracy.
        best_epoch: The 1-based epoch whose weights were kept.
        seconds: Wall time of the training loop (of the original run when cached).
        test_metrics: On the test split, with the kept weights.
        cache_key: Hash of everything that determines the weights.
        from_cache: Loaded from a checkpoint instead of trained.
        checkpoint: The weights file, or ``None`` without a cache folder.
    """

    model: nn.Module
    model_name: str
    model_options: dict[str, Any]
    seed: int
    config: TrainingConfig
    history: TrainingHistory
    best_epoch: int
    seconds: float
    test_metrics: ClassificationMetrics
    cache_key: str
    from_cache: bool = False
    checkpoint: Path | None = field(default=None)
