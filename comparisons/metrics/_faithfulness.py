"""ROAD, faithfulness correlation, pixel flipping, region perturbation, IROF and the
monotonicity correlation (the faithfulness family) on a cell.

Each calls the model many times per image, so each runs on the first ``max_examples``
evaluated images with fewer steps than the library's defaults (Quantus's): the defaults
below keep all of them together to a few per cent of the default run (their measured cost
per image is in docs/metrics.md). ``steps`` sets the locations per step of pixel flipping
and the monotonicity correlation (``ceil(locations / steps)``), as in deletion/insertion.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from captum_ifim.metrics import (
    faithfulness_correlation,
    irof,
    monotonicity_correlation,
    pixel_flipping,
    region_perturbation,
    road_combined,
    road_lerf,
    road_morf,
)
from comparisons.metrics._cell_data import CellData, MetricValue, first, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import (
    check_choice,
    check_count,
    check_max_examples,
    check_numbers,
    check_positive,
    library_choices,
)
from comparisons.metrics._row_statistic import mean_of

Runner = Callable[[CellData, dict[str, Any]], list[MetricValue]]


def _locations(shape: tuple[int, ...]) -> int:
    return math.prod(shape[1:])


def _args(cell: CellData, count: int | None) -> tuple[Any, ...]:
    return (
        cell.model,
        first(cell.inputs, count),
        first(cell.maps, count),
        first(cell.targets, count),
    )


def _road_runner(metric: str, function: Callable[..., Any]) -> Runner:
    def run(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
        percentages = tuple(options["percentages"])
        result = function(
            *_args(cell, options["max_examples"]),
            percentages=percentages,
            noise_std=options["noise_std"],
            seed=cell.noise_seed,
            max_examples_per_batch=cell.batch_size,
        )
        setting = "percentages=" + ",".join(f"{p:g}" for p in percentages)
        return [mean_value(metric, result.score, setting)]

    return run


def _check_road(options: Mapping[str, Any]) -> None:
    check_numbers(options, "percentages", 0.0, 100.0)
    check_positive(options, "noise_std")
    check_max_examples(options)


_ROAD_DEFAULTS = {"percentages": [20, 40, 60, 80], "noise_std": 0.01, "max_examples": 2}


def _road_entry(metric: str, function: Callable[..., Any]) -> HarnessMetric:
    return HarnessMetric(
        name=metric,
        check=_check_road,
        runner=_road_runner(metric, function),
        defaults=_ROAD_DEFAULTS,
        rows=(RowSpec(metric, statistic=mean_of(metric)),),
    )


ROAD_MORF = _road_entry("road-morf", road_morf)
ROAD_LERF = _road_entry("road-lerf", road_lerf)
ROAD_COMBINED = _road_entry("road-combined", road_combined)


def _check_baseline(options: Mapping[str, Any], function: Callable[..., Any]) -> None:
    check_choice(options, "baseline", library_choices(function, "baseline"))


def _subset_size(options: Mapping[str, Any], shape: tuple[int, ...]) -> int:
    return max(1, round(options["subset_fraction"] * _locations(shape)))


def _correlation(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    size = _subset_size(options, tuple(cell.inputs.shape[1:]))
    result = faithfulness_correlation(
        *_args(cell, options["max_examples"]),
        nr_runs=options["nr_runs"],
        subset_size=size,
        baseline=options["baseline"],
        seed=cell.noise_seed,
        max_examples_per_batch=cell.batch_size,
    )
    return [mean_value("faithfulness-correlation", result.correlation, f"subset_size={size}")]


def _check_correlation(options: Mapping[str, Any]) -> None:
    check_count(options, "nr_runs", minimum=2)
    fraction = options["subset_fraction"]
    check_positive(options, "subset_fraction")
    if fraction > 1:
        raise ValueError(f"expected subset_fraction in (0, 1], got {fraction!r}")
    _check_baseline(options, faithfulness_correlation)
    check_max_examples(options)


FAITHFULNESS_CORRELATION = HarnessMetric(
    name="faithfulness-correlation",
    check=_check_correlation,
    runner=_correlation,
    defaults={"nr_runs": 20, "subset_fraction": 0.05, "baseline": "black", "max_examples": 2},
    rows=(RowSpec("faithfulness-correlation", statistic=mean_of("faithfulness-correlation")),),
)


def _features_in_step(options: Mapping[str, Any], shape: tuple[int, ...]) -> int:
    return max(1, math.ceil(_locations(shape) / options["steps"]))


def _check_steps(options: Mapping[str, Any], shape: tuple[int, ...]) -> None:
    """``steps`` at most the images' pixel locations (as deletion/insertion)."""
    if options["steps"] > _locations(shape):
        raise ValueError(
            f"expected steps <= the {_locations(shape)} pixel locations of the images "
            f"{tuple(shape[1:])}, got {options['steps']}"
        )


def _pixel_flipping(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    step = _features_in_step(options, tuple(cell.inputs.shape[1:]))
    curve = pixel_flipping(
        *_args(cell, options["max_examples"]),
        features_in_step=step,
        baseline=options["baseline"],
        max_examples_per_batch=cell.batch_size,
    )
    return [mean_value("pixel-flipping", curve.auc, f"features_in_step={step}")]


def _check_pixel_flipping(options: Mapping[str, Any]) -> None:
    check_count(options, "steps")
    _check_baseline(options, pixel_flipping)
    check_max_examples(options)


PIXEL_FLIPPING = HarnessMetric(
    name="pixel-flipping",
    check=_check_pixel_flipping,
    check_images=_check_steps,
    runner=_pixel_flipping,
    defaults={"steps": 16, "baseline": "black", "max_examples": 4},
    rows=(RowSpec("pixel-flipping", statistic=mean_of("pixel-flipping")),),
)


def _patch_size(options: Mapping[str, Any], shape: tuple[int, ...]) -> int:
    """``patch_size``, or for ``None`` 8 (Quantus's) but at most the smallest side."""
    size = options["patch_size"]
    return min(8, min(shape[1:])) if size is None else int(size)


def _region(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    patch = _patch_size(options, tuple(cell.inputs.shape[1:]))
    curve = region_perturbation(
        *_args(cell, options["max_examples"]),
        patch_size=patch,
        regions_evaluation=options["regions_evaluation"],
        baseline=options["baseline"],
        seed=cell.noise_seed,
        max_examples_per_batch=cell.batch_size,
    )
    return [mean_value("region-perturbation", curve.aopc, f"patch_size={patch}")]


def _check_region(options: Mapping[str, Any]) -> None:
    if options["patch_size"] is not None:
        check_count(options, "patch_size")
    check_count(options, "regions_evaluation")
    _check_baseline(options, region_perturbation)
    check_max_examples(options)


def _check_patch(options: Mapping[str, Any], shape: tuple[int, ...]) -> None:
    if options["patch_size"] is not None and options["patch_size"] > min(shape[1:]):
        raise ValueError(
            f"expected patch_size <= the images' smallest side {min(shape[1:])}, "
            f"got {options['patch_size']}"
        )


REGION_PERTURBATION = HarnessMetric(
    name="region-perturbation",
    check=_check_region,
    check_images=_check_patch,
    runner=_region,
    defaults={"patch_size": None, "regions_evaluation": 16, "baseline": "black", "max_examples": 2},
    rows=(RowSpec("region-perturbation", statistic=mean_of("region-perturbation")),),
)


def _irof(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    segments = options["n_segments"]
    result = irof(
        *_args(cell, options["max_examples"]),
        n_segments=segments,
        baseline=options["baseline"],
        max_examples_per_batch=cell.batch_size,
    )
    return [mean_value("irof", result.aoc, f"n_segments={segments}")]


def _check_irof(options: Mapping[str, Any]) -> None:
    check_count(options, "n_segments", minimum=2)
    _check_baseline(options, irof)
    check_max_examples(options)


IROF = HarnessMetric(
    name="irof",
    check=_check_irof,
    runner=_irof,
    defaults={"n_segments": 16, "baseline": "mean", "max_examples": 2},
    rows=(RowSpec("irof", statistic=mean_of("irof")),),
)


def _monotonicity(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    step = _features_in_step(options, tuple(cell.inputs.shape[1:]))
    result = monotonicity_correlation(
        *_args(cell, options["max_examples"]),
        nr_samples=options["nr_samples"],
        features_in_step=step,
        seed=cell.noise_seed,
        max_examples_per_batch=cell.batch_size,
    )
    setting = f"features_in_step={step}"
    return [mean_value("monotonicity-correlation", result.correlation, setting)]


def _check_monotonicity(options: Mapping[str, Any]) -> None:
    check_count(options, "steps", minimum=2)
    check_count(options, "nr_samples")
    check_max_examples(options)


MONOTONICITY_CORRELATION = HarnessMetric(
    name="monotonicity-correlation",
    check=_check_monotonicity,
    check_images=_check_steps,
    runner=_monotonicity,
    defaults={"steps": 16, "nr_samples": 2, "max_examples": 2},
    rows=(RowSpec("monotonicity-correlation", statistic=mean_of("monotonicity-correlation")),),
)
