"""The config of a comparison given in Python (:func:`comparisons.compare`): one dataset and
one model passed as objects, named by hashes of their contents, in the same TOML layout a
file would hold, so it is checked by :func:`~comparisons.config.parse_config` like any."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from comparisons.config._custom_methods import split_python_methods
from comparisons.config._custom_metrics import split_python_metrics
from comparisons.config._entries import PYTHON_DATASET
from comparisons.config._harness_config import HarnessConfig
from comparisons.config._parse import parse_config


def python_config(
    *,
    dataset_label: str,
    dataset_fingerprint: str,
    model_name: str,
    model_fingerprint: str,
    preprocessing: Mapping[str, Any] | None,
    methods: Any,
    metrics: Any,
    method_options: Mapping[str, Mapping[str, Any]] | None,
    metric_options: Mapping[str, Mapping[str, Any]] | None,
    seeds: Sequence[int],
    device: str,
    eval_examples: int,
    run_options: Mapping[str, Any],
    model_layers: Mapping[str, Any] | None = None,
) -> HarnessConfig:
    """The checked config of data and a model given in Python.

    Args:
        dataset_label, model_name: Their names in the rows (plain names).
        dataset_fingerprint, model_fingerprint: Hashes of their contents (a resumed run
            folder must hold the same data and weights).
        run_options: Other ``[run]`` keys (``name`` defaults to ``"compare"``).
        model_layers: The model's ``output_key``, ``target_layer`` and ``reshape`` (those
            not ``None``), as in a ``[[models]]`` entry.
        methods: As :func:`comparisons.compare` takes them (names, your own methods), split
            by :func:`~comparisons.config._custom_methods.split_python_methods`.
        Others: As :func:`comparisons.compare` takes them.

    Raises:
        ValueError, TypeError: As :func:`~comparisons.config.parse_config`.
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise TypeError(f"expected seeds as a sequence of ints, e.g. (0, 1), got {seeds!r}")
    run = {"name": "compare", **run_options}
    split = split_python_methods(methods)
    given_options = {k: dict(v) for k, v in (method_options or {}).items()}
    twice = sorted(set(split.options) & set(given_options))
    if twice:
        raise ValueError(f"expected the options of {twice} in methods or method_options, not both")
    metric_names, builtin_metric_options, custom_metrics = split_python_metrics(metrics)
    given_metric_options = {k: dict(v) for k, v in (metric_options or {}).items()}
    twice = sorted(set(builtin_metric_options) & set(given_metric_options))
    if twice:
        raise ValueError(f"expected the options of {twice} in metrics or metric_options, not both")
    config = parse_config(
        {
            "run": {**run, "seeds": list(seeds), "device": device, "eval_examples": eval_examples},
            "datasets": [
                {
                    "name": PYTHON_DATASET,
                    "options": {"label": dataset_label, "fingerprint": dataset_fingerprint},
                }
            ],
            "models": [
                {
                    "name": model_name,
                    "python_object": model_fingerprint,
                    "preprocessing": dict(preprocessing or {}),
                    **{k: v for k, v in (model_layers or {}).items() if v is not None},
                }
            ],
            "methods": {
                "names": split.names,
                "options": {**given_options, **split.options},
                **({"custom": split.custom} if split.custom else {}),
            },
            "metrics": {
                "names": metric_names,
                "options": {**given_metric_options, **builtin_metric_options},
                **({"custom": custom_metrics} if custom_metrics else {}),
            },
        }
    )
    # The methods' objects join their entries (the TOML layout holds what they are).
    entries = tuple(
        replace(entry, spec=split.specs[entry.name]) if entry.name in split.specs else entry
        for entry in config.custom_methods
    )
    return replace(config, custom_methods=entries)
