"""A metric of your own in the harness: a per-example function with a declared direction.

The contract of the function (``[[metrics.custom]] factory = "package.module:callable"`` in
a config, or ``compare(..., metrics={"mine": callable})``)::

    f(*, inputs, targets, [model], [maps], [masks], [labels], [explainer], **options)
        -> (N,) per-example values

It is called with keywords: always ``inputs`` (N, C, *spatial) and ``targets`` (N,) (the
classes the maps explain), and each item of its declared ``needs`` (``"model"``: the
trained classifier in eval mode; ``"map"``: the method's maps ``maps`` of ``inputs``;
``"mask"``: the ground-truth masks ``masks`` (N, *spatial), so it runs only on datasets
with masks; ``"labels"``: the true labels; ``"explainer"``: the method built for the model,
``explainer.attribute(x, target=t)``), on the cell's device. ``options`` are its keyword
parameters with defaults, set per run in ``[metrics.options.<name>]`` like a built-in's
(with the harness's ``max_examples``: how many evaluated images it sees, and ``methods``).
It returns N numbers (a tensor, an array or a list); NaN marks an example without a value.
The row is their finite mean, with the values kept per example, so it gets bootstrap
intervals, paired tests against the iFIM and ranks in its declared direction.

Each definition is installed in the library registry and the harness's (its name must be
free: no built-in metric, no row the harness writes); installing the same name again with
another definition replaces the former (two runs in one session may differ), and a config
naming ``"all"`` only runs the custom metrics it declares.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast, get_args

import torch

import captum_ifim.metrics._registry as library_registry
from captum_ifim.metrics import MetricInfo
from captum_ifim.metrics._metadata import MetricCategory
from comparisons.metrics import _registry as harness_registry
from comparisons.metrics import _row_catalogue as catalogue
from comparisons.metrics._cell_data import CellData, MetricValue, first, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_max_examples
from comparisons.metrics._row_statistic import mean_of

#: What a custom metric may declare it needs, and the keyword each is passed as.
NEEDS: Mapping[str, str] = {
    "model": "model",
    "map": "maps",
    "mask": "masks",
    "labels": "labels",
    "explainer": "explainer",
}
DIRECTIONS = ("higher", "lower")
#: The family a custom metric is ranked in unless it names one of the library's.
CUSTOM_FAMILY = "custom"
FAMILIES: tuple[str, ...] = (*get_args(MetricCategory), CUSTOM_FAMILY)
_ALWAYS = ("inputs", "targets")


@dataclass(frozen=True)
class CustomMetric:
    """A metric of your own, as the harness runs it.

    Attributes:
        name: Its name in configs and rows.
        direction: ``"higher"`` or ``"lower"`` is better.
        needs: Which of :data:`NEEDS` it is given (beside ``inputs`` and ``targets``).
        source: ``"factory"`` (an import path) or ``"python_object"`` (given to compare).
        target: The import path, or the Python object's qualified name.
        family: The family it is ranked in (one of :data:`FAMILIES`).
        description: One line.
        function: The callable (``None``: a Python object not given again).
    """

    name: str
    direction: str
    needs: tuple[str, ...]
    source: str
    target: str
    family: str = CUSTOM_FAMILY
    description: str = ""
    function: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Its ``[[metrics.custom]]`` table."""
        table: dict[str, Any] = {
            "name": self.name,
            self.source: self.target,
            "direction": self.direction,
            "needs": list(self.needs),
            "family": self.family,
        }
        if self.description:
            table["description"] = self.description
        return table


def metric_options(function: Callable[..., Any] | None) -> dict[str, Any]:
    """The options a custom metric takes: its keyword parameters with defaults, except the
    data it is given."""
    if function is None:
        return {}
    given = {*_ALWAYS, *NEEDS.values()}
    return {
        p.name: p.default
        for p in inspect.signature(function).parameters.values()
        if p.default is not inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in given
    }


def check_signature(name: str, function: Callable[..., Any], needs: tuple[str, ...]) -> None:
    """Refuse a function that cannot take ``inputs``, ``targets`` and what it needs."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError) as error:
        raise TypeError(f"expected a function for metric {name!r}, got {function!r}") from error
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    missing = [k for k in (*_ALWAYS, *(NEEDS[n] for n in needs)) if k not in parameters]
    if missing:
        raise TypeError(
            f"expected metric {name!r} to take the keyword(s) {missing} (inputs, targets and "
            f"what it needs {list(needs)}), got the parameters {list(parameters)}"
        )


def _runner(metric: CustomMetric) -> Callable[[CellData, dict[str, Any]], list[MetricValue]]:
    def run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
        if metric.function is None:
            raise ValueError(
                f"expected the metric {metric.name!r} given in Python to comparisons.compare "
                f"({metric.target}), got none: run this run folder through compare with it"
            )
        count = options["max_examples"]
        kwargs: dict[str, Any] = {
            "inputs": first(cell.inputs, count),
            "targets": first(cell.targets, count),
        }
        for need in metric.needs:
            value = getattr(cell, NEEDS[need])
            kwargs[NEEDS[need]] = value if need in ("model", "explainer") else first(value, count)
        own = {k: v for k, v in options.items() if k not in ("max_examples", "methods")}
        values = metric.function(**kwargs, **own)
        values = torch.as_tensor(values).detach().double().flatten().cpu()
        expected = len(kwargs["inputs"])
        if values.numel() != expected:
            raise ValueError(
                f"expected metric {metric.name!r} to return {expected} per-example values, "
                f"got {values.numel()}"
            )
        return [mean_value(metric.name, values)]

    return run


def harness_entry(metric: CustomMetric) -> HarnessMetric:
    """The harness entry of a custom metric (its options: the function's, and
    ``max_examples``)."""
    return HarnessMetric(
        name=metric.name,
        check=check_max_examples,
        runner=_runner(metric),
        defaults={**metric_options(metric.function), "max_examples": None},
        rows=(RowSpec(metric.name, statistic=mean_of(metric.name)),),
    )


_INSTALLED: dict[str, CustomMetric] = {}


def installed_custom_metrics() -> dict[str, CustomMetric]:
    """The custom metrics installed in this process, by name."""
    return dict(_INSTALLED)


def install_custom_metric(metric: CustomMetric) -> None:
    """Install ``metric`` in the library's and the harness's registries (idempotent; a new
    definition of an installed name replaces it).

    Raises:
        ValueError: Its name is a built-in metric's or a row the harness writes.
    """
    current = _INSTALLED.get(metric.name)
    if current is not None:
        if current == metric and current.function is metric.function:
            return
        if current == metric and metric.function is None:
            return  # the stored definition of an object given in this session: keep it
        _uninstall(metric.name)
    if metric.name in library_registry.METRICS or metric.name in catalogue.ROW_SPECS:
        raise ValueError(
            f"expected a custom metric name of its own, got {metric.name!r}, the name of a "
            "built-in metric or result row (python -m comparisons list): choose another"
        )
    info = MetricInfo(
        name=metric.name,
        category=cast(MetricCategory, metric.family),
        higher_is_better=metric.direction == "higher",
        needs_labels="labels" in metric.needs,
        needs_mask="mask" in metric.needs,
        needs_model="model" in metric.needs,
        needs_map="map" in metric.needs,
        needs_explainer="explainer" in metric.needs,
        function=metric.function,
        description=metric.description or f"your own metric ({metric.target})",
    )
    library_registry._METRICS[metric.name] = info
    entry = harness_entry(metric)
    catalogue.add_entry_rows(entry)
    harness_registry._HARNESS_METRICS[metric.name] = entry
    _INSTALLED[metric.name] = metric


def uninstall_custom_metric(name: str) -> None:
    """Remove an installed custom metric from the registries (nothing for another name)."""
    if name in _INSTALLED:
        _uninstall(name)


def _uninstall(name: str) -> None:
    library_registry._METRICS.pop(name, None)
    harness_registry._HARNESS_METRICS.pop(name, None)
    for table in (catalogue._ROW_SPECS, catalogue._ROW_DIRECTIONS, catalogue._ROW_STATISTICS):
        table.pop(name, None)
    _INSTALLED.pop(name, None)


def builtin_metrics() -> list[str]:
    """The registered metrics that are not custom ones installed here, sorted."""
    return sorted(m for m in library_registry.METRICS if m not in _INSTALLED)


def python_metric(name: str, function: Any) -> CustomMetric:
    """A metric given to :func:`comparisons.compare` as ``{name: callable}`` (direction and
    needs read from ``callable.direction`` and ``callable.needs``) or as ``{name: {"function":
    callable, "direction": ..., "needs": [...], "family": ..., "description": ...}}``."""
    if isinstance(function, Mapping):
        table = dict(function)
        func = table.pop("function", None)
    else:
        func = function
        table = {
            key: getattr(function, key)
            for key in ("direction", "needs", "family", "description")
            if hasattr(function, key)
        }
    if not callable(func):
        raise TypeError(f"expected a callable for metric {name!r}, got {type(func).__name__}")
    qualname = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
    return checked_metric(name, "python_object", qualname, func, table)


def checked_metric(
    name: str, source: str, target: str, function: Callable[..., Any] | None, table: Mapping
) -> CustomMetric:
    """A custom metric from its declared facts, checked.

    Raises:
        ValueError, TypeError: No or a bad direction, unknown needs or keys, a bad family,
            a function that cannot take what it needs.
    """
    where = f"custom metric {name!r}"
    extra = sorted(set(table) - {"direction", "needs", "family", "description"})
    if extra:
        raise ValueError(
            f"unknown key(s) {extra} of {where}: expected some of "
            "['direction', 'needs', 'family', 'description']"
        )
    direction = table.get("direction")
    if direction not in DIRECTIONS:
        raise ValueError(
            f"expected a direction in {list(DIRECTIONS)} for {where} (which way is better), "
            f"got {direction!r}"
        )
    needs = table.get("needs", ["model", "map"])
    if not isinstance(needs, list | tuple) or not all(isinstance(n, str) for n in needs):
        raise TypeError(f"expected needs of {where} to be a list of names, got {needs!r}")
    unknown = [n for n in needs if n not in NEEDS]
    if unknown or len(set(needs)) != len(needs):
        raise ValueError(
            f"expected distinct needs of {where} among {list(NEEDS)}, got {list(needs)}"
        )
    family = table.get("family", CUSTOM_FAMILY)
    if family not in FAMILIES:
        raise ValueError(f"expected a family of {where} in {list(FAMILIES)}, got {family!r}")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise TypeError(f"expected description of {where} to be a string, got {description!r}")
    if function is not None:
        check_signature(name, function, tuple(needs))
    return CustomMetric(
        name, str(direction), tuple(needs), source, target, family, description, function
    )
