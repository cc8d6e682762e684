"""Every result row the harness writes, declared once, with its role and direction.

A metric's rows are declared by its harness entry (:attr:`HarnessMetric.rows`); the rows
the harness writes itself are declared here: the cell's costs (written by the runner), the
trained model's facts (Table II, accuracy, training) and the model-pair stage's rows. The
runners, the run and the report refer to these specs (``SECONDS_PER_IMAGE_ROW.name``),
never to the text; :data:`ROW_SPECS` finds any of them by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from comparisons.metrics._entry import HarnessMetric, ResolvedDirection, RowRole, RowSpec
from comparisons.metrics._registry import HARNESS_METRICS
from comparisons.metrics._row_statistic import RowStatistic

SECONDS_PER_IMAGE_ROW = RowSpec("seconds-per-image", "lower", "time is a cost", role="cost")
METRIC_SECONDS_ROW = RowSpec(
    "metric-seconds",
    "none",
    "seconds one metric took on the cell (setting metric=<name>): a cost of the evaluation, "
    "not a quality of the method, so never ranked",
    role="cost",
)

#: Rows the runner itself writes for every cell (not a metric of the library).
CELL_ROWS: tuple[RowSpec, ...] = (SECONDS_PER_IMAGE_ROW, METRIC_SECONDS_ROW)

_MODEL_FACT = "a fact of the trained model, not of a method: never ranked"
TEST_ACCURACY_ROW = RowSpec("test-accuracy", "none", _MODEL_FACT, role="model-fact")
BEST_EPOCH_ROW = RowSpec("best-epoch", "none", _MODEL_FACT, role="model-fact")
TRAIN_SECONDS_ROW = RowSpec("train-seconds", "none", _MODEL_FACT, role="model-fact")
#: Per class (setting ``class=<name>``) and ``class=macro``: the paper's Table II.
TEST_PRECISION_ROW = RowSpec("test-precision", "none", _MODEL_FACT, role="model-fact")
TEST_RECALL_ROW = RowSpec("test-recall", "none", _MODEL_FACT, role="model-fact")
#: Datasets with a spurious cue only (:mod:`comparisons.run._cue_reliance`): test accuracy
#: with every image's cue set as the training rule gives its label, set against it, and the
#: difference (0: the model ignores the cue; 1: it reads only the cue).
CUE_ACCURACY_CONGRUENT_ROW = RowSpec(
    "cue-accuracy-congruent", "none", _MODEL_FACT, role="model-fact"
)
CUE_ACCURACY_INCONGRUENT_ROW = RowSpec(
    "cue-accuracy-incongruent", "none", _MODEL_FACT, role="model-fact"
)
CUE_RELIANCE_ROW = RowSpec("cue-reliance", "none", _MODEL_FACT, role="model-fact")

#: Rows of a group's model (method ``""``), in the order of the models' tables.
MODEL_ROWS: tuple[RowSpec, ...] = (
    TEST_ACCURACY_ROW,
    BEST_EPOCH_ROW,
    TRAIN_SECONDS_ROW,
    TEST_PRECISION_ROW,
    TEST_RECALL_ROW,
    CUE_ACCURACY_CONGRUENT_ROW,
    CUE_ACCURACY_INCONGRUENT_ROW,
    CUE_RELIANCE_ROW,
)

SUBSPACE_OVERLAP_ROW = RowSpec(
    "subspace-overlap",
    "none",
    "how much two models' iFIM eigenspaces U_K agree (mean cos^2 of the principal angles): "
    "a fact about the models, not a quality of the method",
    role="pair",
)
MAP_CORRELATION_ROW = RowSpec(
    "map-correlation",
    "none",
    "how much two models' maps of one method agree (Pearson): stability across seeds or "
    "architectures, which is not faithfulness, so never ranked",
    role="pair",
)

#: Rows the model-pair stage writes (:mod:`comparisons.run._model_pairs`): two models of one
#: dataset compared on the same images, model ``"<a>|<b>"``, setting ``"seeds=<i>|<j>"``.
PAIR_ROWS: tuple[RowSpec, ...] = (SUBSPACE_OVERLAP_ROW, MAP_CORRELATION_ROW)


def _row_specs() -> dict[str, RowSpec]:
    specs: dict[str, RowSpec] = {}
    for row in (
        *(row for entry in HARNESS_METRICS.values() for row in entry.rows),
        *CELL_ROWS,
        *MODEL_ROWS,
        *PAIR_ROWS,
    ):
        if row.name in specs:
            raise ImportError(f"expected each result row declared once, got {row.name!r} twice")
        specs[row.name] = row
    return specs


#: Every declared result row by name: the metric entries' rows (registry order), then the
#: cell's, the model's and the model pairs'.
_ROW_SPECS = _row_specs()
ROW_SPECS: Mapping[str, RowSpec] = MappingProxyType(_ROW_SPECS)


def _row_directions() -> dict[str, ResolvedDirection]:
    directions = {
        row.name: ResolvedDirection(row.name, row.direction or "none")
        for row in (*CELL_ROWS, *MODEL_ROWS, *PAIR_ROWS)
    }
    for entry in HARNESS_METRICS.values():
        directions.update({row.name: entry.direction(row) for row in entry.rows})
    return {name: directions[name] for name in ROW_SPECS}


#: Every declared result-row metric's direction.
_ROW_DIRECTIONS = _row_directions()
ROW_DIRECTIONS: Mapping[str, ResolvedDirection] = MappingProxyType(_ROW_DIRECTIONS)

#: How each result row with per-example values follows from them (rows without are absent).
_ROW_STATISTICS = {
    name: row.statistic for name, row in ROW_SPECS.items() if row.statistic is not None
}
ROW_STATISTICS: Mapping[str, RowStatistic] = MappingProxyType(_ROW_STATISTICS)


def add_entry_rows(entry: HarnessMetric) -> None:
    """Declare the rows of a newly registered harness entry (each name once).

    Raises:
        ValueError: A row name already declared (by another metric or by the harness).
    """
    taken = sorted(row.name for row in entry.rows if row.name in _ROW_SPECS)
    if taken:
        raise ValueError(f"expected new result-row names for {entry.name!r}, got taken {taken}")
    for row in entry.rows:
        _ROW_SPECS[row.name] = row
        _ROW_DIRECTIONS[row.name] = entry.direction(row)
        if row.statistic is not None:
            _ROW_STATISTICS[row.name] = row.statistic


def row_statistic(metric: str) -> RowStatistic | None:
    """How result-row ``metric`` is computed from per-example values; ``None`` when it has
    none (spreads, counts, timings, model facts, rows of older runs)."""
    return ROW_STATISTICS.get(metric)


def row_direction(metric: str, setting: str = "") -> ResolvedDirection:
    """The direction of a result-row metric at ``setting``; rows no entry declares (rows of
    older runs) and a row at one of its declared descriptive settings
    (:attr:`RowSpec.descriptive_settings`: the cue's ``region=cue``) get ``"none"``."""
    spec = ROW_SPECS.get(metric)
    if spec is not None and setting and spec.is_descriptive(setting):
        return ResolvedDirection(metric, "none")
    return ROW_DIRECTIONS.get(metric, ResolvedDirection(metric, "none"))


def row_role(metric: str) -> RowRole:
    """The role of a result-row metric; rows nothing declares (rows of older runs) are
    ``"metric"``."""
    spec = ROW_SPECS.get(metric)
    return "metric" if spec is None else spec.role


def rows_with_role(role: RowRole) -> tuple[RowSpec, ...]:
    """The declared rows of one role, in :data:`ROW_SPECS` order."""
    return tuple(row for row in ROW_SPECS.values() if row.role == role)
