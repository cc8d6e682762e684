"""A metric of your own in the harness: its entry joins the registry and its rows the
catalogue, once its library metric is registered (``captum_ifim.metrics.register_metric``)."""

from __future__ import annotations

from captum_ifim.metrics import METRICS
from comparisons.metrics import _registry
from comparisons.metrics._entry import HarnessMetric
from comparisons.metrics._row_catalogue import add_entry_rows


def register_harness_metric(entry: HarnessMetric) -> HarnessMetric:
    """Add the harness entry of a registered library metric: configs may then name it,
    the runner calls its runner on every cell it applies to, and the report ranks its rows
    by their declared directions.

    Returns:
        ``entry``.

    Raises:
        TypeError: ``entry`` is not a :class:`HarnessMetric`.
        ValueError: No library metric of that name, an entry already registered for it,
            or a row name another metric or the harness already writes.
    """
    if not isinstance(entry, HarnessMetric):
        raise TypeError(f"expected a HarnessMetric, got {type(entry).__name__}")
    if entry.name not in METRICS:
        raise ValueError(
            f"expected the library metric {entry.name!r} registered first "
            "(captum_ifim.metrics.register_metric), got none"
        )
    entries = _registry._HARNESS_METRICS  # looked up now: the registry's own dict
    if entry.name in entries:
        raise ValueError(f"expected a new harness entry, got one for {entry.name!r} already")
    add_entry_rows(entry)
    entries[entry.name] = entry
    return entry
