"""Energy in the ground-truth mask and the pointing game, on a cell's signal-present images
and, with the option ``regions = ["signal", "cue"]``, on its images that carry a spurious cue
(rows with the setting ``region=cue``; the signal's rows keep theirs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from torch import Tensor

from captum_ifim.metrics import energy_in_mask, pointing_game
from comparisons.metrics._cell_data import CellData, MetricValue, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_choice, check_count, library_choices
from comparisons.metrics._regions import check_regions, region_masks, region_setting
from comparisons.metrics._row_statistic import mean_of

#: The setting part of the rows on a spurious cue's region.
CUE_SETTING = region_setting("cue")
_CUE_REASON = (
    "on the signal, higher is better; on a spurious cue (setting region=cue) neither is: a "
    "faithful map of a model that relies on the cue shows it, of one that does not avoids it, "
    "so the cue's rows are described, never ranked"
)

ENERGY_IN_MASK_ROW = RowSpec(
    "energy-in-mask",
    statistic=mean_of("energy-in-mask"),
    descriptive_settings=(CUE_SETTING,),
    reason=_CUE_REASON,
)
POINTING_GAME_ROW = RowSpec(
    "pointing-game",
    statistic=mean_of("pointing-game"),
    descriptive_settings=(CUE_SETTING,),
    reason=_CUE_REASON,
)


def signal_present(cell: CellData) -> tuple[Tensor, Tensor, Tensor] | None:
    """The maps and masks of the examples with a signal and their rows in the cell's
    inputs, or ``None`` when there are none. The cell has masks: ``run_metric`` runs a
    metric that needs them (``MetricInfo.needs_mask``) only then."""
    masks = cast(Tensor, cell.masks)
    present = masks.flatten(1).any(dim=1)
    if not bool(present.any()):
        return None
    return cell.maps[present], masks[present], present.nonzero().flatten().cpu()


def _regions(cell: CellData, options: dict[str, Any]) -> list[tuple[str, Tensor, Tensor, Tensor]]:
    """``(region, maps, masks, positions)`` of each region of ``options["regions"]`` that
    the cell's images have (:func:`~comparisons.metrics._regions.region_masks`)."""
    found = []
    for region in options["regions"]:
        masked = region_masks(cell, region)
        if masked is not None:
            masks, positions = masked
            found.append((region, cell.maps[positions.to(cell.maps.device)], masks, positions))
    return found


def _energy(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    return [
        mean_value(
            ENERGY_IN_MASK_ROW.name,
            energy_in_mask(maps, masks, magnitude=options["magnitude"]),
            region_setting(region),
            positions,
        )
        for region, maps, masks, positions in _regions(cell, options)
    ]


def _pointing(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    tolerance = f"tolerance={options['tolerance']}"
    return [
        mean_value(
            POINTING_GAME_ROW.name,
            pointing_game(maps, masks, tolerance=options["tolerance"]),
            region_setting(region, tolerance),
            positions,
        )
        for region, maps, masks, positions in _regions(cell, options)
    ]


def _check_energy(options: Mapping[str, Any]) -> None:
    check_choice(options, "magnitude", library_choices(energy_in_mask, "magnitude"))
    check_regions(options)


ENERGY_IN_MASK = HarnessMetric(
    name="energy-in-mask",
    check=_check_energy,
    runner=_energy,
    defaults={"magnitude": "abs", "regions": ["signal"]},
    rows=(ENERGY_IN_MASK_ROW,),
)


def _check_pointing(options: Mapping[str, Any]) -> None:
    check_count(options, "tolerance", minimum=0)
    check_regions(options)


POINTING_GAME = HarnessMetric(
    name="pointing-game",
    check=_check_pointing,
    runner=_pointing,
    defaults={"tolerance": 0, "regions": ["signal"]},
    rows=(POINTING_GAME_ROW,),
)
