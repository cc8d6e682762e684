"""The model of a (dataset, model, seed) group: trained (from the checkpoint cache or anew), or
given with its weights; and the checks of every group's model before any cell runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from comparisons.config import ModelEntry
from comparisons.datasets import ImageDataset
from comparisons.metrics import (
    BEST_EPOCH_ROW,
    TEST_ACCURACY_ROW,
    TEST_PRECISION_ROW,
    TEST_RECALL_ROW,
    TRAIN_SECONDS_ROW,
)
from comparisons.models import InputPreprocessing, PreprocessedModel
from comparisons.run._entry_models import (
    GivenModel,
    build_architecture,
    check_model_outputs,
    given_model,
    source_record,
)
from comparisons.training import (
    ClassificationMetrics,
    TrainedModel,
    TrainingConfig,
    check_epsilon,
    classification_metrics,
    evaluate,
    train_model,
)


@dataclass(frozen=True)
class GroupModel:
    """A group's model, its test metrics and the dataset's class names (Table II rows).

    Attributes:
        model: In eval mode, taking the dataset's raw images.
        class_names: The dataset's classes, index = label.
        test_metrics: On the dataset's test split.
        trained: How it was trained, or ``None`` for a model given with its weights.
        given: Its identity when given with its weights, else ``None``.
    """

    model: nn.Module
    class_names: tuple[str, ...]
    test_metrics: ClassificationMetrics
    trained: TrainedModel | None = None
    given: GivenModel | None = None

    def summary_values(self) -> list[tuple[str, float, str, int]]:
        """(metric, value, setting, n) rows (:data:`comparisons.metrics.MODEL_ROWS`): test
        accuracy, precision and recall per class and macro (the paper's Table II), and for a
        trained model its training time and the kept epoch."""
        metrics = self.test_metrics
        n = int(sum(metrics.support))
        values = [(TEST_ACCURACY_ROW.name, metrics.accuracy, "", n)]
        for name, per_class, macro in (
            (TEST_PRECISION_ROW.name, metrics.precision, metrics.macro_precision),
            (TEST_RECALL_ROW.name, metrics.recall, metrics.macro_recall),
        ):
            for class_name, value in zip(self.class_names, per_class, strict=True):
                values.append((name, value, f"class={class_name}", n))
            values.append((name, macro, "class=macro", n))
        if self.trained is not None:
            values.append((TRAIN_SECONDS_ROW.name, self.trained.seconds, "", 0))
            values.append((BEST_EPOCH_ROW.name, float(self.trained.best_epoch), "", 0))
        return values

    def record(self) -> dict[str, Any]:
        """The training record kept in the run folder (for a given model: its identity),
        with the dataset's class names (index = label) the report names the classes by."""
        if self.trained is None:
            given = self.given
            return {
                "given": True,
                "identity": None if given is None else given.identity,
                "cache_key": None if given is None else given.key,
                "test_metrics": self.test_metrics.to_dict(),
                "class_names": list(self.class_names),
            }
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
            "class_names": list(self.class_names),
        }


def _external_builder(entry: ModelEntry, dataset: ImageDataset) -> Any:
    """A ``train_model`` builder for a factory or zoo model: its architecture behind its
    preprocessing; with ``standardize_inputs`` and no declared mean and std, the dataset's
    pixel mean and std (as the registry's models get a ``Standardize`` layer)."""

    def build(
        in_channels: int,
        num_classes: int,
        image_size: tuple[int, ...],
        *,
        input_mean: float | None = None,
        input_std: float | None = None,
        **identity: Any,
    ) -> nn.Module:
        preprocessing = InputPreprocessing.from_dict(entry.preprocessing)
        if input_mean is not None and input_std is not None and preprocessing.mean is None:
            preprocessing = dataclasses.replace(
                preprocessing, mean=(float(input_mean),), std=(float(input_std),)
            )
        model = build_architecture(entry, dataset)
        if preprocessing.is_identity:
            return model
        return PreprocessedModel(model, preprocessing, dataset.in_channels, dataset.spatial_dims)

    return build


def group_model(
    model: ModelEntry,
    dataset: ImageDataset,
    seed: int,
    cache_dir: Path,
    device: torch.device,
    progress: bool,
    given: GivenModel | None = None,
) -> GroupModel:
    """The group's model: ``given`` (from :func:`prepare_models`) for a model given with its
    weights, else ``model`` trained on ``dataset`` from ``seed`` (or loaded from
    ``cache_dir``)."""
    if model.is_given:
        if given is None:
            raise ValueError(f"expected the prepared model of [[models]] {model.name!r}, got none")
        batch = TrainingConfig().eval_batch_size
        with torch.no_grad():
            _, predictions = evaluate(given.model, dataset.test, batch, device=device)
        metrics = classification_metrics(dataset.test.labels, predictions, dataset.num_classes)
        return GroupModel(given.model, dataset.class_names, metrics, given=given)
    config = TrainingConfig.from_dict(model.training)
    if model.source == "registry":
        # The architecture names the checkpoint, not the entry's free name: two entries that
        # build and train alike share one cache entry.
        trained = train_model(
            model.registry_name,
            dataset,
            config,
            seed,
            model_options=model.options,
            cache_dir=cache_dir,
            device=device,
            progress=progress,
        )
    else:
        trained = train_model(
            model.name,
            dataset,
            config,
            seed,
            model_options={"external": source_record(model)},
            cache_dir=cache_dir,
            device=device,
            progress=progress,
            builder=_external_builder(model, dataset),
        )
    return GroupModel(trained.model, dataset.class_names, trained.test_metrics, trained=trained)


def prepare_models(
    pairs: Iterable[tuple[ModelEntry, str]],
    datasets: Mapping[str, ImageDataset],
    device: torch.device,
    python_models: Mapping[str, nn.Module] | None = None,
) -> dict[tuple[str, str], GivenModel]:
    """Check every (model, dataset label) of a run before any cell runs, and build the
    models given with their weights.

    A given model is built, loaded and checked on the dataset's images
    (:func:`comparisons.run._entry_models.given_model`). A model to train needs training and
    validation images; a factory or zoo model is built once and run on two images, so a
    model that cannot take the images or returns other than (N, C) fails now. An attack
    epsilon of ``[models.training.adversarial]`` must be below the width of the data
    (:func:`comparisons.training.check_epsilon`).

    Returns:
        ``{(model name, dataset label): GivenModel}`` for the given models.

    Raises:
        ValueError, TypeError, ImportError, FileNotFoundError: Naming the entry.
    """
    prepared: dict[tuple[str, str], GivenModel] = {}
    for entry, label in pairs:
        dataset = datasets[label]
        if (entry.name, label) in prepared:
            continue
        if entry.is_given:
            python_object = (python_models or {}).get(entry.name)
            prepared[entry.name, label] = given_model(entry, dataset, label, device, python_object)
            continue
        if entry.source != "registry":
            where = f"[[models]] {entry.name!r} on dataset {label!r}"
            try:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)
                    model = _external_builder(entry, dataset)(
                        dataset.in_channels, dataset.num_classes, dataset.image_size
                    )
                check_model_outputs(model, dataset, torch.device("cpu"))
            except (ValueError, TypeError, ImportError) as error:
                raise type(error)(f"{where}: {error}") from error
        empty = [s for s in ("train", "val") if len(getattr(dataset, s)) == 0]
        if empty:
            raise ValueError(
                f"[[models]] {entry.name!r} has no weights, so it is trained on dataset "
                f"{label!r}, which has no {' and no '.join(empty)} images: give the model's "
                "weights, or data with training and validation splits"
            )
        adversarial = TrainingConfig.from_dict(entry.training).adversarial
        if adversarial is not None:
            check_epsilon(adversarial, dataset, entry.name, label)
    return prepared
