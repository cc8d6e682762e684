"""What a ``[[models]]`` entry builds: a registry, factory, zoo, file or Python model, with its
weights and preprocessing, checked on the dataset's images before any cell runs.

A model given with weights (or as a Python object) is used as it is, in eval mode, behind its
:class:`~comparisons.models.PreprocessedModel` when it declares a preprocessing; its identity
(where it came from and the hash of its weights, :func:`given_model_identity`) names it in the
run folder. :func:`check_model_outputs` makes sure it returns (N, C) logits with C the
dataset's classes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from captum_ifim import as_logits_model
from captum_ifim._model_outputs import OutputNotLogitsError
from comparisons.config import ModelEntry
from comparisons.datasets import ImageDataset
from comparisons.models import (
    InputPreprocessing,
    PreprocessedModel,
    build_factory_model,
    build_model,
    build_zoo_model,
    load_weights,
    read_checkpoint,
)
from comparisons.models._external import source_fingerprint, zoo_version
from comparisons.models._model_layers import check_model_layers
from comparisons.training import (
    cache_key,
    file_fingerprint,
    given_model_identity,
    state_fingerprint,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GivenModel:
    """A model used as given: not trained, its weights from a file or from Python.

    Attributes:
        model: In eval mode, on the run's device, taking the dataset's raw images.
        identity: Where it came from and its weights' hash (:func:`given_model_identity`).
        key: :func:`comparisons.training.cache_key` of ``identity``.
    """

    model: nn.Module
    identity: dict[str, Any]
    key: str


def model_inputs(entry: ModelEntry, dataset: ImageDataset) -> tuple[int, tuple[int, ...]]:
    """The channels and spatial size the model itself gets (after its preprocessing)."""
    preprocessing = InputPreprocessing.from_dict(entry.preprocessing)
    channels = preprocessing.channels or dataset.in_channels
    return channels, tuple(preprocessing.size or dataset.image_size)


def build_architecture(entry: ModelEntry, dataset: ImageDataset, **extra: Any) -> nn.Module:
    """The entry's model, freshly initialised (from the current RNG), without preprocessing.

    ``extra`` are added to a registry model's options (``input_mean``/``input_std``). A
    factory's or zoo's model is behind :class:`captum_ifim.LogitsModel` (its outputs reduced
    to the logits, with the entry's ``output_key``; names unchanged).

    Raises:
        ValueError: The entry's ``target_layer`` is not a module of the model.
    """
    channels, size = model_inputs(entry, dataset)
    model: nn.Module
    if entry.source == "factory":
        model = as_logits_model(
            build_factory_model(str(entry.factory), entry.options), entry.output_key
        )
    elif entry.source == "zoo":
        model = as_logits_model(
            build_zoo_model(
                str(entry.zoo),
                entry.options,
                in_channels=channels,
                num_classes=dataset.num_classes,
                spatial_dims=len(size),
            ),
            entry.output_key,
        )
    else:
        model = build_model(
            entry.registry_name, channels, dataset.num_classes, size, **{**entry.options, **extra}
        )
    check_model_layers(entry, model)
    return model


def wrap_preprocessing(entry: ModelEntry, model: nn.Module, dataset: ImageDataset) -> nn.Module:
    """``model`` behind its declared preprocessing (the model itself when none is)."""
    preprocessing = InputPreprocessing.from_dict(entry.preprocessing)
    if preprocessing.is_identity:
        return model
    return PreprocessedModel(model, preprocessing, dataset.in_channels, dataset.spatial_dims)


def source_record(entry: ModelEntry) -> dict[str, Any]:
    """Where the entry's architecture comes from, for its identity."""
    record: dict[str, Any] = {
        "source": entry.source,
        "name": entry.name,
        "options": entry.options,
        "preprocessing": entry.preprocessing,
    }
    if entry.factory is not None:
        record["factory"] = entry.factory
        record["factory_source"] = source_fingerprint(entry.factory)
    if entry.zoo is not None:
        record["zoo"] = entry.zoo
        record["zoo_version"] = zoo_version(entry.zoo.partition(":")[0])
    if entry.output_key is not None:
        record["output_key"] = entry.output_key
    if entry.architecture is not None:  # only when set: older identities stay as they were
        record["architecture"] = entry.architecture
    return record


def given_model(
    entry: ModelEntry,
    dataset: ImageDataset,
    label: str,
    device: torch.device,
    python_object: nn.Module | None = None,
) -> GivenModel:
    """Build ``entry`` with its weights (or take ``python_object``) and check it.

    Raises:
        FileNotFoundError: The weights file is missing.
        ImportError: The factory's module cannot be imported.
        ValueError: The weights do not fit, need ``trust_pickle``, or the model's outputs
            are not (N, C) with C = ``dataset.num_classes``; each naming the entry.
    """
    where = f"[[models]] {entry.name!r}"
    model: nn.Module
    try:
        if entry.source == "python":
            if python_object is None:
                raise ValueError(
                    "expected the model given in Python to comparisons.compare, got none: "
                    "this run folder's model was a Python object; run it through compare"
                )
            model = as_logits_model(python_object, entry.output_key)
            check_model_layers(entry, model)
            weights = state_fingerprint(model)
        else:
            checkpoint = read_checkpoint(str(entry.weights), trust_pickle=entry.trust_pickle)
            weights = file_fingerprint(checkpoint.path)
            if entry.source == "file":
                if checkpoint.module is None:
                    raise ValueError(
                        f"expected a whole model (a pickled nn.Module or TorchScript) in "
                        f"{checkpoint.path} for a model without factory or zoo, got a state "
                        f"dict: give the factory or zoo that builds its architecture"
                    )
                model = as_logits_model(checkpoint.module, entry.output_key)
                check_model_layers(entry, model)
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)  # deterministic buffers the state dict lacks
                    model = build_architecture(entry, dataset)
                if checkpoint.state is None:
                    raise ValueError(
                        f"expected a state dict in {checkpoint.path}, got a TorchScript archive: "
                        "give it without factory or zoo (and with trust_pickle = true)"
                    )
                load_weights(model, checkpoint.state, str(checkpoint.path))
        model = wrap_preprocessing(entry, model, dataset).to(device).eval()
        check_model_outputs(model, dataset, device)
    except (ValueError, TypeError, ImportError, FileNotFoundError) as error:
        raise type(error)(f"{where} on dataset {label!r}: {error}") from error
    identity = given_model_identity(source_record(entry), weights)
    return GivenModel(model=model, identity=identity, key=cache_key(identity))


def given_file_identity(entry: ModelEntry) -> dict[str, Any]:
    """The identity of a model given with a weights file, from the file alone (nothing is
    built): the same as :func:`given_model`'s.

    Raises:
        FileNotFoundError: The weights file is missing.
    """
    path = Path(str(entry.weights)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"[[models]] {entry.name!r}: expected a weights file, got no file at {path}"
        )
    return given_model_identity(source_record(entry), file_fingerprint(path))


def check_model_outputs(model: nn.Module, dataset: ImageDataset, device: torch.device) -> None:
    """The model maps two of the dataset's images to (2, C) logits, C its classes.

    Raises:
        ValueError: It fails on them, returns something else than a tensor, or a tensor of
            another shape.
    """
    split = dataset.test if len(dataset.test) else dataset.train
    images = split.images[:2].to(device)
    expected = (len(images), dataset.num_classes)
    classes = ", ".join(dataset.class_names)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = model(images)
    except OutputNotLogitsError as error:
        raise ValueError(f"{error} (output_key = ... in its [[models]] entry)") from error
    except Exception as error:  # any failure on the dataset's own images
        raise ValueError(
            f"expected the model to take the dataset's images of shape {tuple(images.shape)}, "
            f"got {type(error).__name__}: {error} (declare what it expects in "
            "[models.preprocessing]: size, channels, mean, std)"
        ) from error
    finally:
        model.train(was_training)
    if not isinstance(outputs, Tensor):
        raise ValueError(
            f"expected the model to return a tensor of logits {expected}, got a "
            f"{type(outputs).__name__}"
        )
    if outputs.dim() != 2 or outputs.shape[0] != len(images):
        raise ValueError(
            f"expected outputs of shape (N, C) = {expected} on {len(images)} images, got "
            f"{tuple(outputs.shape)}"
        )
    if outputs.shape[1] != dataset.num_classes:
        raise ValueError(
            f"expected C = {dataset.num_classes} outputs, one per class of the dataset "
            f"({classes}), got {outputs.shape[1]}"
        )
