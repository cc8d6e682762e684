"""What the harness keeps beside each library metric: its runner, defaults and result rows.

The library's :class:`captum_ifim.metrics.MetricInfo` is the single source of a metric's
name, category and direction; a :class:`HarnessMetric` adds only what running it on a cell
needs. Each result row a runner writes is declared by a :class:`RowSpec`, whose direction
follows the library metric unless the harness decides otherwise (and says why).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, get_args

from captum_ifim.metrics import MetricInfo, get_metric_info
from comparisons.metrics._row_statistic import RowStatistic

if TYPE_CHECKING:
    from comparisons.metrics._cell_data import CellData, MetricValue

Direction = Literal["higher", "lower", "ideal", "none"]

#: What a result row is to the report: ``"paper"`` a metric of the paper's figures (its
#: claims, :mod:`comparisons.paper`); ``"stand-in"`` a finite row that ranks in a paper
#: metric's place where that is infinite (dF1 beside the F1 ratio); ``"detail"`` a part or a
#: spread of a paper metric (shown, never ranked); ``"metric"`` any other metric; ``"cost"``
#: the time something took; ``"model-fact"`` a fact of a trained model (Table II, accuracy,
#: training); ``"pair"`` a comparison of two trained models (the model-pair stage).
RowRole = Literal["paper", "stand-in", "detail", "metric", "cost", "model-fact", "pair"]
ROW_ROLES: tuple[str, ...] = get_args(RowRole)

#: Options every metric takes: ``methods`` restricts a metric to some methods (None: all).
COMMON_DEFAULTS: Mapping[str, Any] = MappingProxyType({"methods": None})


@dataclass(frozen=True)
class RowSpec:
    """A result-row metric, which way it is better and what it is to the report.

    The one place a row's name is written: runners, the run and the report refer to the
    spec (``F1_RATIO_ROW.name``), never to the text.

    Attributes:
        name: The row's ``metric`` column.
        direction: ``None`` follows the library metric (``higher_is_better``, ``ideal``);
            otherwise the harness's decision: ``"higher"``, ``"lower"``, ``"ideal"`` or
            ``"none"`` (no best: counts, parts of a metric).
        reason: Why the harness decides, when it does.
        statistic: How the row follows from the per-example values the runner attaches
            (recomputed by the report on resamples); ``None``: the row has none (a spread,
            a count).
        role: What the row is to the report (:data:`RowRole`): which table it is in, and
            whether the paper's claims read it.
        descriptive_settings: Parts of a setting (``"region=cue"``) that make the row at
            that setting descriptive: direction ``"none"``, never ranked, bolded or
            contrasted, whatever ``direction`` says of its other settings (``reason`` says
            why).
    """

    name: str
    direction: Direction | None = None
    reason: str = ""
    statistic: RowStatistic | None = None
    role: RowRole = "metric"
    descriptive_settings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ROW_ROLES:
            raise ValueError(f"expected a role among {ROW_ROLES}, got {self.role!r}")
        if any("," in part or "=" not in part for part in self.descriptive_settings):
            raise ValueError(
                "expected descriptive settings of one 'key=value' part each, got "
                f"{self.descriptive_settings}"
            )

    def is_descriptive(self, setting: str) -> bool:
        """Whether the row at ``setting`` (``"region=cue,tolerance=0"``) is descriptive."""
        return bool(set(setting.split(",")) & set(self.descriptive_settings))


@dataclass(frozen=True)
class ResolvedDirection:
    """How to pick the best value of a result row.

    Attributes:
        metric: The result-row metric name.
        direction: ``"higher"``, ``"lower"``, ``"ideal"`` (closest to ``ideal``) or ``"none"``.
        ideal: The target value when ``direction == "ideal"``.
        source: The library metric it was read from, or ``""`` for a decision of the harness.
    """

    metric: str
    direction: Direction
    ideal: float | None = None
    source: str = ""


@dataclass(frozen=True)
class HarnessMetric:
    """One library metric as the harness runs it on a cell.

    Attributes:
        name: The library registry name (``captum_ifim.metrics.METRICS``).
        runner: ``runner(cell, options) -> [MetricValue, ...]`` (``[]``: does not apply).
        defaults: The runner's options and their defaults (with :data:`COMMON_DEFAULTS`).
        rows: The result rows the runner writes.
        check: Checks option values when a config loads (``ValueError``); ``None``: none.
        check_images: Checks option values against a dataset's image shape ``(C, *spatial)``,
            once the run has read the data and before anything trains (``ValueError``:
            ``steps`` beyond the pixels); ``None``: none.
    """

    name: str
    runner: Callable[[CellData, dict[str, Any]], list[MetricValue]]
    defaults: Mapping[str, Any]
    rows: tuple[RowSpec, ...]
    check: Callable[[Mapping[str, Any]], None] | None = field(default=None, repr=False)
    check_images: Callable[[Mapping[str, Any], tuple[int, ...]], None] | None = field(
        default=None, repr=False
    )

    @property
    def info(self) -> MetricInfo:
        """The library's facts of this metric."""
        return get_metric_info(self.name)

    def resolved_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults updated with ``options``, checked.

        Raises:
            ValueError: An unknown option (naming the valid ones) or a bad value.
        """
        valid = {**COMMON_DEFAULTS, **self.defaults}
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ValueError(
                f"unknown option(s) {unknown} for metric {self.name!r}: expected some of "
                f"{sorted(valid)}"
            )
        resolved = {**valid, **options}
        if self.check is not None:
            self.check(resolved)
        return resolved

    def direction(self, row: RowSpec) -> ResolvedDirection:
        """The direction of one of this metric's rows."""
        if row.direction is not None:
            return ResolvedDirection(row.name, row.direction)
        info = self.info
        if info.higher_is_better is True:
            return ResolvedDirection(row.name, "higher", source=self.name)
        if info.higher_is_better is False:
            return ResolvedDirection(row.name, "lower", source=self.name)
        if info.ideal is not None:
            return ResolvedDirection(row.name, "ideal", ideal=info.ideal, source=self.name)
        return ResolvedDirection(row.name, "none", source=self.name)
