"""The harness's TOML config: datasets x models x seeds x methods x metrics, validated.

A config names what to run; :func:`load_config` reads a file (or the embedded ``default`` /
``quick`` configs shipped in this package) and checks every name against the registries, so a
typo fails at once with the list of valid names instead of an hour into a run, and every value
that needs nothing built: run keys, the device's name, dataset and model option names, method
options (``MethodSpec.check_options``), metric options (each harness entry's ``check``) and
training options. What needs a dataset or a model built is checked by
:func:`comparisons.config.check_config` before the first training step.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from captum_ifim import available_methods, get_method_spec, method_set
from captum_ifim._methods._registry import METHOD_SETS
from captum_ifim._registry_names import check_plain_name
from comparisons.config._custom_methods import (
    check_custom_method_options,
    parse_custom_methods,
    with_custom_methods,
)
from comparisons.config._custom_metrics import (
    parse_custom_metrics,
    valid_metric_names,
    with_custom_metrics,
)
from comparisons.config._device import check_device_name
from comparisons.config._entries import PYTHON_DATASET, DatasetEntry, ModelEntry
from comparisons.config._harness_config import MAP_TARGETS, RUN_KEYS, HarnessConfig

EMBEDDED_CONFIGS = (
    "default",
    "full",
    "quick",
    "paper",
    "3d",
    "shortcut",
    "shortcut-quick",
    "robust",
    "robust-quick",
)


def quick_config_name(name: str) -> str:
    """The embedded config ``run --config NAME --quick`` loads: ``NAME-quick`` where one is
    embedded (``shortcut`` -> ``shortcut-quick``), else the ``quick`` smoke config."""
    return f"{name}-quick" if f"{name}-quick" in EMBEDDED_CONFIGS else "quick"


_TOP_KEYS = ("run", "datasets", "models", "methods", "metrics")
_MODEL_KEYS = (
    "name",
    "options",
    "training",
    "datasets",
    "factory",
    "zoo",
    "weights",
    "trust_pickle",
    "preprocessing",
    "python_object",
    "output_key",
    "target_layer",
    "reshape",
    "architecture",
    "seeds",
)


def _unknown(kind: str, name: Any, valid: Sequence[str]) -> ValueError:
    return ValueError(f"unknown {kind} {name!r}: expected one of {sorted(valid)}")


def _check_keys(where: str, table: Mapping[str, Any], valid: tuple[str, ...] | set[str]) -> None:
    extra = sorted(set(table) - set(valid))
    if extra:
        raise ValueError(f"unknown key(s) {extra} in [{where}]: expected some of {sorted(valid)}")


def _table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected [{where}] to be a table, got {type(value).__name__}")
    return dict(value)


def _names(
    where: str,
    section: dict[str, Any],
    valid: Sequence[str],
    sets: Mapping[str, Sequence[str]] | None = None,
    default: str = "all",
) -> tuple[str, ...]:
    """``{where}.names``: a set's name (``sets``; ``"all"``: every ``valid`` name) or a list."""
    sets = {"all": valid} if sets is None else sets
    names = section.get("names", default)
    if isinstance(names, str) and names in sets:
        return tuple(sets[names])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        choices = " or ".join(repr(name) for name in sets)
        raise TypeError(f"expected {where}.names to be {choices} or a non-empty list of names")
    for name in names:
        if name not in valid:
            raise _unknown(where.rstrip("s"), name, valid)
    if len(set(names)) != len(names):
        raise ValueError(f"expected distinct {where}.names, got {names}")
    return tuple(names)


def _options(where: str, section: dict[str, Any], names: tuple[str, ...]) -> dict[str, dict]:
    options = _table(f"{where}.options", section.get("options", {}))
    for name, value in options.items():
        if name not in names:
            raise ValueError(f"[{where}.options.{name}] names a {where[:-1]} not in {list(names)}")
        _table(f"{where}.options.{name}", value)
    return {name: dict(value) for name, value in options.items()}


def _entries(
    where: str,
    value: Any,
    valid: Sequence[str],
    keys: tuple[str, ...],
    free: Callable[[dict[str, Any]], bool] | None = None,
    hint: str = "",
) -> list[dict]:
    """The ``[[where]]`` tables; a name must be in ``valid`` unless ``free(entry)``."""
    if not isinstance(value, list) or not value:
        raise TypeError(f"expected at least one [[{where}]] entry")
    entries = []
    for entry in value:
        entry = _table(where, entry)
        _check_keys(where, entry, keys)
        if entry.get("name") not in valid and not (free is not None and free(entry)):
            error = _unknown(where.rstrip("s"), entry.get("name"), valid)
            raise ValueError(f"{error}{hint}") from None
        entries.append(entry)
    return entries


def _free_model_name(entry: dict[str, Any]) -> bool:
    """A model whose name is its own (not a registry name): a registry ``architecture``,
    from a factory, a zoo, Python, or a whole model in a trusted weights file."""
    sources = ("architecture", "factory", "zoo", "python_object")
    return any(entry.get(k) is not None for k in sources) or (
        entry.get("weights") is not None and entry.get("trust_pickle") is True
    )


def _model_entry(entry: dict[str, Any], labels: list[str]) -> ModelEntry:
    """One ``[[models]]`` table, checked as far as it can be without building anything."""
    from comparisons.models import InputPreprocessing
    from comparisons.models._external import (
        check_factory_name,
        check_no_download,
        check_zoo_name,
    )

    name = entry["name"]
    where = f"[[models]] {name!r}"
    check_plain_name(f"{where} to have a name", name)
    given = {k: entry[k] for k in ("factory", "zoo", "python_object") if entry.get(k) is not None}
    if len(given) > 1:
        raise ValueError(f"expected one of factory, zoo or python_object in {where}, got {given}")
    for key in ("factory", "zoo", "weights", "python_object"):
        if key in entry and not (isinstance(entry[key], str) and entry[key]):
            raise TypeError(
                f"expected {key} in {where} to be a non-empty string, got {entry[key]!r}"
            )
    if "trust_pickle" in entry and not isinstance(entry["trust_pickle"], bool):
        raise TypeError(f"expected trust_pickle in {where} to be true or false")
    options = dict(_table("models.options", entry.get("options", {})))
    if "factory" in entry:
        check_factory_name(entry["factory"])
    if "zoo" in entry:
        check_zoo_name(entry["zoo"])
    if "factory" in entry or "zoo" in entry:
        check_no_download(options, where)
    _check_architecture(entry, where)
    if "python_object" in entry and "weights" in entry:
        raise ValueError(f"expected weights or python_object in {where}, not both")
    training = dict(_table("models.training", entry.get("training", {})))
    if training and ("weights" in entry or "python_object" in entry):
        raise ValueError(
            f"expected no [models.training] in {where}: a model given with its weights is "
            "used as it is, not trained"
        )
    preprocessing = dict(_table("models.preprocessing", entry.get("preprocessing", {})))
    try:
        InputPreprocessing.from_dict(preprocessing)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from error
    _check_model_layers(entry, where)
    return ModelEntry(
        name,
        options,
        training,
        _model_datasets(entry, labels),
        factory=entry.get("factory"),
        zoo=entry.get("zoo"),
        weights=entry.get("weights"),
        trust_pickle=entry.get("trust_pickle", False),
        preprocessing=preprocessing,
        python_object=entry.get("python_object"),
        output_key=entry.get("output_key"),
        target_layer=entry.get("target_layer"),
        reshape=entry.get("reshape"),
        architecture=entry.get("architecture"),
        seeds=_model_seeds(entry, where),
    )


def _model_seeds(entry: dict[str, Any], where: str) -> tuple[int, ...] | None:
    """A model's own ``seeds`` (some of the run's, checked against them once both are
    parsed), or ``None``: the run's."""
    if "seeds" not in entry:
        return None
    seeds = entry["seeds"]
    if not (
        isinstance(seeds, list)
        and seeds
        and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise TypeError(f"expected seeds in {where} to be a non-empty list of ints, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"expected distinct seeds in {where}, got {seeds}")
    return tuple(seeds)


def _check_model_seeds(models: Sequence[ModelEntry], run_seeds: Sequence[int]) -> None:
    """Every model's own seeds are some of the run's: a seed fixes the noise every method and
    model of it sees, so a model's groups pair with the others' by seed."""
    for model in models:
        extra = sorted(set(model.seeds or ()) - set(run_seeds))
        if extra:
            raise ValueError(
                f"expected the seeds of [[models]] {model.name!r} among run.seeds "
                f"{list(run_seeds)}, got {extra} outside them"
            )


def _check_architecture(entry: dict[str, Any], where: str) -> None:
    """``architecture``: a registry model's name, only for a model the registry builds.

    Raises:
        TypeError: Not a string.
        ValueError: With factory, zoo or python_object, or not a registry name (the
            message lists them).
    """
    from comparisons.models import available_models

    if "architecture" not in entry:
        return
    architecture = entry["architecture"]
    if not isinstance(architecture, str):
        raise TypeError(
            f"expected architecture in {where} to be a model name, got {architecture!r}"
        )
    others = [k for k in ("factory", "zoo", "python_object") if entry.get(k) is not None]
    if others:
        raise ValueError(
            f"expected architecture (a registry model) or {others[0]} in {where}, not both"
        )
    if architecture not in available_models():
        raise ValueError(
            f"unknown architecture {architecture!r} in {where}: expected one of "
            f"{sorted(available_models())}"
        )


def _check_model_layers(entry: dict[str, Any], where: str) -> None:
    """``output_key``, ``target_layer`` and ``reshape``: their types, a known reshape name
    or an importable ``package.module:callable`` (the layer is checked on the built model)."""
    from comparisons.models._model_layers import check_output_key_value, reshape_transform

    if "output_key" in entry:
        check_output_key_value(entry["output_key"], where)
    if "target_layer" in entry and not (
        isinstance(entry["target_layer"], str) and entry["target_layer"]
    ):
        raise TypeError(
            f"expected target_layer in {where} to be a module name, got {entry['target_layer']!r}"
        )
    if "reshape" in entry:
        try:
            reshape_transform(entry["reshape"])
        except (ValueError, ImportError) as error:
            raise type(error)(f"{where}: {error}") from error


def _model_datasets(entry: dict[str, Any], labels: list[str]) -> list[str] | None:
    names = entry.get("datasets")
    if names is None:
        return None
    if not isinstance(names, list) or not names:
        raise TypeError(f"expected models.datasets to be a non-empty list, got {names!r}")
    for name in names:
        if name not in labels:
            raise _unknown("dataset label in models.datasets", name, labels)
    return list(names)


def _check_dataset_option_names(entry: DatasetEntry) -> None:
    from comparisons.datasets import DATASETS

    if entry.in_python:  # data given to comparisons.compare: no loader, no options
        return
    spec = DATASETS[entry.name]
    options = entry.load_options()
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} of dataset {entry.label!r} ({entry.name}): expected "
            f"some of {sorted(spec.options)} (and 'label')"
        )
    missing = [name for name in spec.required if name not in options]
    if missing:
        raise ValueError(f"expected option(s) {missing} for dataset {entry.label!r} ({entry.name})")


def _check_model_option_names(entry: ModelEntry) -> None:
    from comparisons.models import get_model_spec

    if entry.source != "registry":  # a factory's or zoo model's options are its own
        return
    valid = get_model_spec(entry.registry_name).options
    unknown = sorted(set(entry.options) - set(valid))
    if unknown:
        built = "" if entry.architecture is None else f" ({entry.architecture})"
        raise ValueError(
            f"unknown option(s) {unknown} of model {entry.name!r}{built}: expected some of "
            f"{sorted(valid)}"
        )


def _check_metric_methods(name: str, options: Mapping[str, Any], valid: list[str]) -> None:
    methods = options.get("methods")
    if methods is None:
        return
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise TypeError(f"expected metrics.options.{name}.methods to be a list of method names")
    for method in methods:
        if method not in valid:
            raise _unknown(f"method in metrics.options.{name}.methods", method, valid)


def parse_config(data: Mapping[str, Any]) -> HarnessConfig:
    """Validate a config given as nested dicts (the TOML layout) and resolve it.

    Raises:
        ValueError: An unknown section, key, dataset, model, method or metric (the
            message lists the valid ones), or an out-of-range value.
        TypeError: A value of the wrong type.
    """
    data = _table("config", data)
    _check_keys("config", data, _TOP_KEYS)
    run = _parse_run(_table("run", data.get("run", {})))
    datasets = _parse_datasets(data.get("datasets"))
    models = _parse_models(data.get("models"), [d.label for d in datasets])
    methods_section = _table("methods", data.get("methods", {}))
    _check_keys("methods", methods_section, ("names", "options", "custom"))
    custom = parse_custom_methods(methods_section.get("custom"))
    valid_methods = [*available_methods(), *(entry.name for entry in custom)]
    methods = _names(
        "methods",
        methods_section,
        valid_methods,
        {name: method_set(name) for name in METHOD_SETS},
        default="paper",
    )
    methods = with_custom_methods(methods, custom)
    metrics_section = _table("metrics", data.get("metrics", {}))
    _check_keys("metrics", metrics_section, ("names", "options", "custom"))
    custom_metrics = parse_custom_metrics(metrics_section.get("custom"))
    metrics = _names("metrics", metrics_section, valid_metric_names(custom_metrics))
    metrics = with_custom_metrics(metrics, custom_metrics)
    metric_options = _parse_metric_options(metrics_section, metrics, valid_methods)
    check_custom_method_options(
        custom, _table("methods.options", methods_section.get("options", {}))
    )
    method_options = _parse_method_options(methods_section, methods)
    _check_training(models)
    _check_model_seeds(models, run.get("seeds", [0]))
    return HarnessConfig(
        name=run.get("name", "run"),
        seeds=tuple(run.get("seeds", [0])),
        datasets=datasets,
        models=models,
        methods=methods,
        metrics=metrics,
        method_options=method_options,
        metric_options=metric_options,
        custom_methods=custom,
        custom_metrics=custom_metrics,
        **{k: run[k] for k in RUN_KEYS if k in run and k not in ("name", "seeds")},
    )


def _parse_run(run: dict[str, Any]) -> dict[str, Any]:
    """The ``[run]`` table, checked: known keys, types, ranges, the device and the name."""
    _check_keys("run", run, set(RUN_KEYS))
    for key, kind in RUN_KEYS.items():
        if key in run and (not isinstance(run[key], kind) or isinstance(run[key], bool)):
            raise TypeError(f"expected run.{key} to be {kind.__name__}, got {run[key]!r}")
    seeds = run.get("seeds", [0])
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"expected run.seeds to be a non-empty list of ints, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"expected distinct run.seeds, got {seeds}")
    if not all(0 <= s < 2**32 for s in seeds):
        raise ValueError(f"expected run.seeds in [0, 2**32) (torch's and NumPy's), got {seeds}")
    for key in ("eval_examples", "batch_size", "background_examples"):
        if key in run and run[key] < 1:
            raise ValueError(f"expected run.{key} >= 1, got {run[key]}")
    for key in ("figure_examples", "num_threads"):
        if key in run and run[key] < 0:
            raise ValueError(f"expected run.{key} >= 0, got {run[key]}")
    if run.get("map_target", "label") not in MAP_TARGETS:
        raise ValueError(f"expected run.map_target in {MAP_TARGETS}, got {run['map_target']!r}")
    if "device" in run:
        check_device_name(run["device"])
    if "name" in run:
        check_plain_name("run.name", run["name"])
    return run


def _parse_datasets(value: Any) -> tuple[DatasetEntry, ...]:
    """The ``[[datasets]]`` entries: registry names, plain distinct labels, option names."""
    from comparisons.datasets import available_datasets

    tables = _entries(
        "datasets",
        value,
        available_datasets(),
        ("name", "options"),
        free=lambda entry: entry.get("name") == PYTHON_DATASET,
    )
    entries = tuple(
        DatasetEntry(d["name"], dict(_table("datasets.options", d.get("options", {}))))
        for d in tables
    )
    labels = [d.label for d in entries]
    for label in labels:
        check_plain_name("a dataset label", label)
    if len(set(labels)) != len(labels):
        raise ValueError(f"expected distinct dataset labels (give each a 'label'), got {labels}")
    for entry in entries:
        _check_dataset_option_names(entry)
    return entries


def _parse_models(value: Any, labels: list[str]) -> tuple[ModelEntry, ...]:
    """The ``[[models]]`` entries: registry or free names, distinct, their option names."""
    from comparisons.models import available_models

    tables = _entries(
        "models",
        value,
        available_models(),
        _MODEL_KEYS,
        free=_free_model_name,
        hint=(
            " (or a name of your own with architecture = 'shallow-cnn', factory = "
            "'package.module:callable' or zoo = 'torchvision:resnet50')"
        ),
    )
    entries = tuple(_model_entry(m, labels) for m in tables)
    if len({m.name for m in entries}) != len(entries):
        raise ValueError(f"expected distinct model names, got {[m.name for m in entries]}")
    for entry in entries:
        _check_model_option_names(entry)
    return entries


def _parse_metric_options(
    section: dict[str, Any], metrics: tuple[str, ...], methods: list[str]
) -> dict[str, dict]:
    """``[metrics.options.<name>]``, each checked by the metric's harness entry."""
    from comparisons.metrics import check_metric_options

    options = _options("metrics", section, metrics)
    for name, values in options.items():
        try:
            _check_metric_methods(name, values, methods)
            check_metric_options(name, values)
        except (TypeError, ValueError) as error:
            raise ValueError(f"[metrics.options.{name}]: {error}") from error
    return options


def _parse_method_options(section: dict[str, Any], methods: tuple[str, ...]) -> dict[str, dict]:
    """``[methods.options.<name>]``, each checked by the method's registry spec."""
    options = _options("methods", section, methods)
    for name, values in options.items():
        try:
            get_method_spec(name).check_options(values)
        except (TypeError, ValueError) as error:
            raise ValueError(f"[methods.options.{name}]: {error}") from error
    return options


def _check_training(models: tuple[ModelEntry, ...]) -> None:
    """Every ``[models.training]`` table, checked as the training protocol reads it."""
    from comparisons.training import TrainingConfig

    for entry in models:
        try:
            TrainingConfig.from_dict(entry.training)
        except (TypeError, ValueError) as error:
            raise ValueError(f"[models.training] of {entry.name!r}: {error}") from error


def load_config(source: str | Path, *, device: str | None = None) -> HarnessConfig:
    """A config from a TOML file, or an embedded one by name (``"default"``, ``"quick"``).

    Args:
        source: A TOML file, or one of :data:`EMBEDDED_CONFIGS`.
        device: Replaces ``run.device`` (the CLI's ``--device``), checked with the rest.
    """
    if str(source) in EMBEDDED_CONFIGS:
        text = resources.files("comparisons").joinpath(f"{source}.toml").read_text()
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(
                f"expected a TOML config file or one of {list(EMBEDDED_CONFIGS)}, "
                f"got {str(source)!r}"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(
                f"expected config {str(source)!r} to be UTF-8 TOML text, got bytes that are "
                f"not UTF-8 ({error.reason} at byte {error.start})"
            ) from None
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as error:
        raise ValueError(
            f"config {str(source)!r} is not valid TOML: "
            + ("nested too deeply" if isinstance(error, RecursionError) else str(error))
        ) from None
    if device is not None:
        data["run"] = {**_table("run", data.get("run", {})), "device": device}
    return parse_config(data)
