"""What a run reads before any cell runs: its datasets, and its given models built and
checked.

Everything here happens before the run folder is created or resumed, so a missing file, a
label outside the declared classes, weights that do not fit or a model with the wrong
outputs stop the run with nothing written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from comparisons.config import HarnessConfig, ModelEntry
from comparisons.datasets import ImageDataset, load_dataset
from comparisons.run._entry_models import GivenModel, given_file_identity
from comparisons.run._group_models import prepare_models
from comparisons.run_folder import GroupKey, RunFolder
from comparisons.training import cache_key

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunInputs:
    """A run's datasets and given models, ready before any cell runs.

    Attributes:
        datasets: By dataset label, the datasets of the groups to run.
        given: By (model name, dataset label), the models given with their weights.
    """

    datasets: dict[str, ImageDataset]
    given: dict[tuple[str, str], GivenModel]


def prepare_inputs(
    config: HarnessConfig,
    groups: Iterable[GroupKey],
    device: torch.device,
    python_datasets: Mapping[str, ImageDataset] | None = None,
    python_models: Mapping[str, nn.Module] | None = None,
) -> RunInputs:
    """Load the datasets of ``groups`` and build and check their models.

    Args:
        config: The run's config.
        groups: The groups to run (a shard's share).
        device: Where the given models go.
        python_datasets: By label, the data of ``[[datasets]]`` entries given in Python.
        python_models: By name, the models of ``[[models]]`` entries given in Python.

    Raises:
        ValueError, TypeError, ImportError, FileNotFoundError: A dataset that cannot be
            read, or a model that cannot be built, loaded or run on it (naming the entry).
    """
    groups = list(groups)
    entries = {d.label: d for d in config.datasets}
    models: dict[str, ModelEntry] = {m.name: m for m in config.models}
    datasets: dict[str, ImageDataset] = {}
    for label in dict.fromkeys(g.dataset for g in groups):
        entry = entries[label]
        if entry.in_python:
            data = (python_datasets or {}).get(label)
            if data is None:
                raise ValueError(
                    f"expected the data of [[datasets]] {label!r}, given in Python to "
                    "comparisons.compare, got none: run this config through compare"
                )
            datasets[label] = data
            continue
        logger.info("loading dataset %s", label)
        try:
            datasets[label] = load_dataset(entry.name, **entry.load_options())
        except (ValueError, TypeError, FileNotFoundError) as error:
            raise type(error)(f"[[datasets]] {label!r} ({entry.name}): {error}") from error
        except (MemoryError, RuntimeError) as error:  # e.g. num_test = 10**9: too large
            cause = str(error).splitlines()[0] if str(error) else type(error).__name__
            sizes = {
                key: value
                for key, value in entry.load_options().items()
                if key.startswith("num_") or key.endswith("_size")
            }
            raise ValueError(
                f"[[datasets]] {label!r} ({entry.name}): cannot be built with its sizes "
                f"{sizes} on this machine ({type(error).__name__}: {cause}); make them smaller"
            ) from error
    for label, dataset in datasets.items():
        _check_metrics_on_images(config, label, dataset)
    pairs = [(models[g.model], g.dataset) for g in groups]
    given = prepare_models(pairs, datasets, device, python_models)
    return RunInputs(datasets, given)


def check_given_identities(
    config: HarnessConfig,
    folder: RunFolder,
    groups: Iterable[GroupKey],
    given: Mapping[tuple[str, str], GivenModel],
) -> None:
    """A resumed run folder's models given with weights files are the ones given now: the
    same source and the same hash of the file's bytes, for every group of ``groups`` (also
    those already done, so new weights never leave the old results looking current).

    Raises:
        ValueError: A group whose stored model came from other weights (nothing is written).
    """
    models = {m.name: m for m in config.models}
    keys: dict[str, str] = {}
    for group in groups:
        entry = models[group.model]
        record = folder.model_record(group.key)
        if record is None or not entry.is_given or entry.source == "python":
            continue  # a Python model's hash is in the config's fingerprint already
        prepared = given.get((group.model, group.dataset))
        if prepared is not None:
            keys.setdefault(entry.name, prepared.key)
        if entry.name not in keys:
            keys[entry.name] = cache_key(given_file_identity(entry))
        if record.get("cache_key") == keys[entry.name]:
            continue
        before = (record.get("identity") or {}).get("weights", {})
        raise ValueError(
            f"expected the weights of model {group.model!r} that {folder.path} was run with "
            f"({before.get('sha256') or 'unknown'}), got other weights in {entry.weights}: "
            "use another output folder for the new weights"
        )


def _check_metrics_on_images(config: HarnessConfig, label: str, dataset: ImageDataset) -> None:
    """Every metric's options against the dataset's image shape (its ``check_images``).

    Raises:
        ValueError: Naming the metric, the dataset and the value.
    """
    from comparisons.metrics import get_harness_metric

    shape = tuple(dataset.test.images.shape[1:]) or tuple(dataset.train.images.shape[1:])
    for name in config.metrics:
        entry = get_harness_metric(name)
        if entry.check_images is None:
            continue
        try:
            entry.check_images(entry.resolved_options(config.metric_options.get(name, {})), shape)
        except ValueError as error:
            raise ValueError(f"[metrics.options.{name}] on dataset {label!r}: {error}") from error
