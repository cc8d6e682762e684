"""Your own metrics in a config: ``[[metrics.custom]]`` entries, checked when the config
loads, and the metrics given in Python to :func:`comparisons.compare`.

An entry names a function by its import path (``factory = "package.module:callable"``) or,
written by ``compare``, a Python object (``python_object``: its qualified name), with the
direction that is better (``"higher"`` or ``"lower"``, required), what it needs (``needs``:
``"model"``, ``"map"``, ``"mask"``, ``"labels"``, ``"explainer"``; default model and map),
its family (ranked with the library's families, default ``"custom"``) and a description.
Its options are set in ``[metrics.options.<name>]`` like a built-in metric's: the function's
keyword parameters with defaults, and ``max_examples``. The contract of the function is
:mod:`comparisons.metrics._custom_metric`'s. The entries are recorded in the run folder's
config, so a resumed run with another definition is another config, refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from captum_ifim._methods._custom_method import import_object
from captum_ifim._registry_names import check_plain_name
from comparisons.config._custom_entry import checked_custom_entry
from comparisons.metrics._custom_metric import (
    CustomMetric,
    builtin_metrics,
    checked_metric,
    install_custom_metric,
    python_metric,
)

_SOURCES = ("factory", "python_object")
_KEYS = ("name", *_SOURCES, "direction", "needs", "family", "description")


def _entry(table: Any, builtin: Sequence[str]) -> CustomMetric:
    if not isinstance(table, Mapping):
        raise TypeError(f"expected [[metrics.custom]] to be a table, got {type(table).__name__}")
    table = dict(table)
    name, where, source, target = checked_custom_entry(
        table, "metrics.custom", "metric", builtin, _KEYS, _SOURCES, "a factory"
    )
    function = None
    if source == "factory":
        try:
            function = import_object(target)
        except ValueError as error:
            raise ValueError(f"{where}: cannot import its factory: {error}") from None
        if not callable(function):
            raise TypeError(f"expected {where} factory to be callable, got {target!r}")
    facts = {k: table[k] for k in ("direction", "needs", "family", "description") if k in table}
    try:
        return checked_metric(name, source, target, function, facts)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: {error}") from None


def parse_custom_metrics(value: Any) -> tuple[CustomMetric, ...]:
    """The ``[[metrics.custom]]`` entries, each checked (name, factory imported, direction,
    needs, family) and installed in the registries, names distinct and none a built-in's.

    Raises:
        ValueError, TypeError: The first bad entry, named.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError(f"expected [[metrics.custom]] entries, got {type(value).__name__}")
    builtin = builtin_metrics()
    entries = tuple(_entry(table, builtin) for table in value)
    names = [entry.name for entry in entries]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"expected distinct [[metrics.custom]] names, got {twice} twice")
    for entry in entries:
        install_custom_metric(entry)
    return entries


def valid_metric_names(entries: Sequence[CustomMetric]) -> list[str]:
    """The metrics a config may name: the built-in ones and its own (``"all"``: these)."""
    return [*builtin_metrics(), *(entry.name for entry in entries)]


def with_custom_metrics(names: tuple[str, ...], entries: Sequence[CustomMetric]) -> tuple[str, ...]:
    """The metrics a run runs: ``names``, then every custom metric they do not name."""
    return names + tuple(e.name for e in entries if e.name not in names)


def split_python_metrics(
    metrics: Any,
) -> tuple[str | list[str], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """``metrics`` of :func:`comparisons.compare`: ``"all"``, names, or a mapping of names
    to a built-in's options (``{"irof": {"n_segments": 8}}``) or to your own metric: a
    callable with ``direction`` (and ``needs``, ``family``, ``description``) attributes, or
    ``{"function": callable, "direction": "higher", "needs": [...], ...}``.

    Each metric of your own is checked and installed; its ``[[metrics.custom]]`` table
    (``python_object``) is returned for the config.

    Returns:
        The names (or the set's name), the built-ins' options, the custom tables.

    Raises:
        TypeError, ValueError: Another kind of value, options for a name that is not a
            built-in metric, a custom metric without a direction or with bad needs.
    """
    if isinstance(metrics, str):
        return metrics, {}, []
    if not isinstance(metrics, Mapping):
        if not isinstance(metrics, Sequence) or not all(isinstance(m, str) for m in metrics):
            raise TypeError(
                "expected metrics as 'all', a list of names, or a mapping of names to options "
                f"or to your own metric functions, got {metrics!r}"
            )
        return list(metrics), {}, []
    builtin = builtin_metrics()
    names: list[str] = []
    options: dict[str, dict[str, Any]] = {}
    custom: list[dict[str, Any]] = []
    for name, value in metrics.items():
        if not isinstance(name, str):
            raise TypeError(f"expected metric names as strings, got {name!r}")
        names.append(name)
        if name in builtin:
            if value is not None and not isinstance(value, Mapping):
                raise ValueError(
                    f"expected options (a mapping) for the built-in metric {name!r}, got "
                    f"{type(value).__name__}: give your own metric another name"
                )
            if value:
                options[name] = dict(value)
            continue
        check_plain_name("a custom metric name", name)
        metric = python_metric(name, value)
        install_custom_metric(metric)
        custom.append(metric.to_dict())
    return names, options, custom
