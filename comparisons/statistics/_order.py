"""Which (dataset, model)s, methods, metrics and settings a run has, in a fixed reading order."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from captum_ifim import available_methods
from comparisons.statistics._summary import SummaryRow


def unique(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, in first-appearance order."""
    return list(dict.fromkeys(items))


def dataset_models(summary: Sequence[SummaryRow]) -> list[tuple[str, str]]:
    """Every (dataset, model) of the summary (a trained architecture on a dataset, over its
    seeds), datasets then models in first-appearance order."""
    datasets = unique(s.dataset for s in summary)
    pairs = list(dict.fromkeys((s.dataset, s.model) for s in summary))
    return sorted(pairs, key=lambda pair: datasets.index(pair[0]))


def order_methods(methods: Iterable[str]) -> list[str]:
    """Registry order (:func:`captum_ifim.available_methods`), then unknown names sorted."""
    names = set(methods) - {""}
    registry = [m for m in available_methods() if m in names]
    return registry + sorted(names - set(registry))


#: Setting keys that name things (layers top-down, classes), kept in the rows' order even
#: when the names are numbers (``nn.Sequential`` children are called "0", "3", ...).
_NAME_KEYS = frozenset({"layer", "class"})


def order_settings(settings: Iterable[str]) -> list[str]:
    """Settings ``key=<number>`` of one key sorted by number (``alpha``, ``eps``...);
    otherwise, and always for ``layer=`` and ``class=``, in first-appearance order."""
    found = unique(settings)
    numeric = [p for p in map(_numeric_setting, found) if p is not None]
    keys = {key for key, _ in numeric}
    if found and len(numeric) == len(found) and len(keys) == 1 and not keys & _NAME_KEYS:
        numbers = [number for _, number in numeric]
        return [s for _, s in sorted(zip(numbers, found, strict=True))]
    return found


def _numeric_setting(setting: str) -> tuple[str, float] | None:
    key, sep, value = setting.partition("=")
    if not sep:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) else (key, number)


def metric_settings(
    summary: Sequence[SummaryRow], metric: str, dataset: str | None = None, model: str | None = None
) -> list[str]:
    """The settings a metric has (for one (dataset, model) when both are given), ordered."""
    return order_settings(
        s.setting
        for s in summary
        if s.metric == metric
        and (dataset is None or s.dataset == dataset)
        and (model is None or s.model == model)
    )
