"""The trained model of a (dataset, model, seed) group, from the checkpoint cache or trained."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from comparisons._config import ModelEntry
from comparisons.datasets import ImageDataset
from comparisons.training import TrainedModel, TrainingConfig, train_model


@dataclass(frozen=True)
class GroupModel:
    """A group's trained model and the dataset's class names (for the Table II rows)."""

    trained: TrainedModel
    class_names: tuple[str, ...]

    @property
    def model(self) -> nn.Module:
        return self.trained.model

    def summary_values(self) -> list[tuple[str, float, str, int]]:
        """(metric, value, setting, n) rows: test accuracy, precision and recall per class
        and macro (the paper's Table II), training time and the kept epoch."""
        metrics = self.trained.test_metrics
        n = int(sum(metrics.support))
        values = [("test-accuracy", metrics.accuracy, "", n)]
        for name, per_class, macro in (
            ("test-precision", metrics.precision, metrics.macro_precision),
            ("test-recall", metrics.recall, metrics.macro_recall),
        ):
            for class_name, value in zip(self.class_names, per_class, strict=True):
                values.append((name, value, f"class={class_name}", n))
            values.append((name, macro, "class=macro", n))
        values.append(("train-seconds", self.trained.seconds, "", 0))
        values.append(("best-epoch", float(self.trained.best_epoch), "", 0))
        return values

    def record(self) -> dict[str, Any]:
        """The training record kept in the run folder."""
        return {
            "model_name": self.trained.model_name,
            "model_options": self.trained.model_options,
            "seed": self.trained.seed,
            "config": self.trained.config.to_dict(),
            "history": self.trained.history.to_dict(),
            "best_epoch": self.trained.best_epoch,
            "seconds": self.trained.seconds,
            "test_metrics": self.trained.test_metrics.to_dict(),
            "cache_key": self.trained.cache_key,
            "from_cache": self.trained.from_cache,
        }


def group_model(
    model: ModelEntry,
    dataset: ImageDataset,
    seed: int,
    cache_dir: Path,
    device: torch.device,
    progress: bool,
) -> GroupModel:
    """Train (or load from ``cache_dir``) ``model`` on ``dataset`` from ``seed``."""
    trained = train_model(
        model.name,
        dataset,
        TrainingConfig.from_dict(model.training),
        seed,
        model_options=model.options,
        cache_dir=cache_dir,
        device=device,
        progress=progress,
    )
    return GroupModel(trained, dataset.class_names)
