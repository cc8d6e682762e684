"""The checks of a config that need its datasets and models built: small, on the CPU, once.

:func:`comparisons.config._schema.parse_config` checks names, types and every value that needs
nothing built. :func:`check_config` checks the rest before the first training step, so a bad
value in the second dataset's or model's options fails at once, not after the first group
trained:

- an embedded (simulated) dataset is built with its ``num_*`` sizes capped at
  :data:`PROBE_EXAMPLES`, so its builder checks every other value as given; a dataset on disk
  is not read: its paths must exist and its choices (``Literal`` options) must be valid;
- every model of the registry that is trained is built on the CPU from its options (with the
  dataset's standardization, as training builds it) and run forward on one probe image of
  each dataset it trains on;
- every method with options, and every method of your own (``[[methods.custom]]``), is built
  on that model (a CAM's ``target_layer`` must exist, a factory must not raise).
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import torch

from captum_ifim import build_method, get_method_spec
from comparisons.config._entries import DatasetEntry, ModelEntry
from comparisons.config._harness_config import HarnessConfig

#: Examples per split of an embedded dataset built to check its options.
PROBE_EXAMPLES = 6
_SIZE_OPTIONS = ("num_train", "num_val", "num_test")


@dataclass(frozen=True)
class ConfigCheck:
    """What checking a config learnt about its datasets (for ``run --check``).

    Attributes:
        shapes: Per dataset label, ``(channels, *image size)`` of one image, or ``None``
            for a dataset on disk (not read).
        num_train: Per dataset label, its training images where the options or the
            builder's defaults say (``None``: known only once read).
    """

    shapes: dict[str, tuple[int, ...] | None]
    num_train: dict[str, int | None]


def check_config(config: HarnessConfig) -> ConfigCheck:
    """Check every dataset, model and method option of ``config`` by building it small.

    Raises:
        ValueError: A bad value; the message names the config entry and the value.
        FileNotFoundError: A data path that does not exist.
    """
    from comparisons.datasets import ImageDataset

    probes: dict[str, ImageDataset | None] = {}
    built: dict[str, ImageDataset | None] = {}  # one probe per (name, options)
    for entry in config.datasets:
        same = json.dumps([entry.name, entry.load_options()], sort_keys=True, default=str)
        if same not in built:
            built[same] = _check_dataset(entry)
        probes[entry.label] = built[same]
    for model in config.models:
        labels = model.datasets or [d.label for d in config.datasets]
        for label in labels:
            _check_model(config, model, label, probes[label])
    return ConfigCheck(
        shapes={
            label: None if probe is None else tuple(probe.train.images.shape[1:])
            for label, probe in probes.items()
        },
        num_train={entry.label: _num_train(entry) for entry in config.datasets},
    )


def _check_dataset(entry: DatasetEntry) -> Any:
    from comparisons.datasets import DATASETS, load_dataset

    if entry.in_python:  # data given to comparisons.compare: checked there
        return None
    spec = DATASETS[entry.name]
    options = entry.load_options()
    where = f"[[datasets]] {entry.label!r} ({entry.name})"
    try:
        _check_annotated_values(spec.builder, options)
        if not spec.embedded:
            _check_paths(spec.builder, options)
            return None
        small = {
            key: min(value, PROBE_EXAMPLES)
            if key in _SIZE_OPTIONS and _is_int(value) and value >= 1
            else value
            for key, value in options.items()
        }
        for key in _SIZE_OPTIONS:
            if key in spec.options and key not in small:
                small[key] = PROBE_EXAMPLES
        return load_dataset(entry.name, **small)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{where}: {error}") from error
    except Exception as error:  # any failure of the builder on these options is the config's
        raise ValueError(f"{where}: {_cause(error)}") from error


def _check_model(config: HarnessConfig, model: ModelEntry, label: str, probe: Any) -> None:
    from comparisons.models import build_model, get_model_spec
    from comparisons.models._model_layers import check_model_layers
    from comparisons.training import TrainingConfig, model_build_options

    if model.source != "registry" or model.is_given:
        return  # a factory's, zoo's or given model is built (or loaded) by its own code
    spec = get_model_spec(model.registry_name)
    dataset = probe if probe is not None else _stand_in(config, label, spec.spatial_dims)
    where = f"[[models]] {model.name!r} on dataset {label!r}"
    try:
        options = model_build_options(
            model.options, TrainingConfig.from_dict(model.training), dataset
        )
        network = build_model(
            model.registry_name,
            dataset.in_channels,
            dataset.num_classes,
            dataset.image_size,
            seed=0,
            **options,
        ).eval()
        image = dataset.train.images[:1]
        with torch.no_grad():
            network(image)
        check_model_layers(model, network)  # its target_layer, if any, is a module of it
    except Exception as error:  # a model that cannot be built or take the images
        raise ValueError(f"{where}: {_cause(error)}") from error
    background = dataset.train.images[: config.background_examples]
    for method, method_options in config.method_options.items():
        if not method_options:
            continue
        needs_background = get_method_spec(method).needs_background
        try:
            build_method(
                method,
                network,
                background=background if needs_background else None,
                **method_options,
            )
        except Exception as error:  # options valid alone but not for this model
            raise ValueError(f"[methods.options.{method}] with {where}: {_cause(error)}") from error
    for entry in config.custom_methods:  # yours, built by their class or factory
        if entry.spec is None:  # a Python object given to compare, which passes it again
            continue
        try:
            needs = entry.spec.needs_background
            build_method(entry.spec, network, background=background if needs else None)
        except Exception as error:  # a factory that raises, a class refusing its options
            raise ValueError(
                f"[[methods.custom]] {entry.name!r} with {where}: {_cause(error)}"
            ) from error


def _stand_in(config: HarnessConfig, label: str, spatial_dims: int) -> Any:
    """Two blank images shaped as the options say, for a dataset on disk (not read)."""
    from comparisons.datasets import ImageDataset, ImageSplit

    entry = next(d for d in config.datasets if d.label == label)
    size = entry.options.get("image_size")
    side = size if isinstance(size, int) and size >= 8 else (64 if spatial_dims == 2 else 32)
    split = ImageSplit(torch.zeros(2, 1, *([side] * spatial_dims)), torch.tensor([0, 1]))
    return ImageDataset(entry.name, ("0", "1"), split, split, split, 0.0, 1.0)


def _num_train(entry: DatasetEntry) -> int | None:
    from comparisons.datasets import DATASETS

    value = entry.options.get("num_train")
    if value is None and entry.name in DATASETS:
        parameter = inspect.signature(DATASETS[entry.name].builder).parameters.get("num_train")
        value = None if parameter is None else parameter.default
    return value if _is_int(value) else None


def _check_annotated_values(builder: Any, options: dict[str, Any]) -> None:
    """Values against the builder's annotations, where they are plain: ``int``, ``float``,
    ``bool``, ``str`` and ``Literal`` choices (alone or in a union)."""
    try:
        hints = typing.get_type_hints(builder)
    except Exception:  # annotations that do not resolve: the builder checks its values
        return
    for key, value in options.items():
        if key in hints and not _fits(value, hints[key]):
            raise ValueError(f"expected {key} to be {_describe(hints[key])}, got {value!r}")


def _alternatives(hint: Any) -> tuple[Any, ...]:
    origin = get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return tuple(a for arg in get_args(hint) for a in _alternatives(arg))
    return (hint,)


def _fits(value: Any, hint: Any) -> bool:
    for alternative in _alternatives(hint):
        origin = get_origin(alternative)
        if origin is typing.Literal:
            if value in get_args(alternative):
                return True
        elif alternative is type(None):
            if value is None:
                return True
        elif alternative is bool:
            if isinstance(value, bool):
                return True
        elif alternative is int:
            if _is_int(value):
                return True
        elif alternative is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return True
        elif alternative is str:
            if isinstance(value, str):
                return True
        else:
            return True  # a Sequence, Path, Mapping, Tensor...: the builder checks it
    return False


def _describe(hint: Any) -> str:
    parts = []
    for alternative in _alternatives(hint):
        if get_origin(alternative) is typing.Literal:
            parts += [repr(choice) for choice in get_args(alternative)]
        elif alternative is type(None):
            parts.append("None")
        else:
            parts.append(getattr(alternative, "__name__", str(alternative)))
    return " or ".join(parts)


def _check_paths(builder: Any, options: dict[str, Any]) -> None:
    """Every option annotated as a ``Path`` names something that exists (nothing is read)."""
    parameters = inspect.signature(builder).parameters
    for key, value in options.items():
        annotation = parameters[key].annotation if key in parameters else None
        if isinstance(value, str) and "Path" in str(annotation) and not Path(value).exists():
            raise FileNotFoundError(f"expected {key} = {value!r} to exist, got no such path")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cause(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if isinstance(error, ValueError | TypeError) else f"{type(error).__name__}: {text}"
