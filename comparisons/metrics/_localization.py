"""Energy in the ground-truth mask and the pointing game, on a cell's signal-present images."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from torch import Tensor

from captum_ifim.metrics import energy_in_mask, pointing_game
from comparisons.metrics._cell_data import CellData, MetricValue, mean_value
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_choice, check_count, library_choices
from comparisons.metrics._row_statistic import mean_of


def signal_present(cell: CellData) -> tuple[Tensor, Tensor, Tensor] | None:
    """The maps and masks of the examples with a signal and their rows in the cell's
    inputs, or ``None`` when there are none. The cell has masks: ``run_metric`` runs a
    metric that needs them (``MetricInfo.needs_mask``) only then."""
    masks = cast(Tensor, cell.masks)
    present = masks.flatten(1).any(dim=1)
    if not bool(present.any()):
        return None
    return cell.maps[present], masks[present], present.nonzero().flatten().cpu()


def _energy(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = signal_present(cell)
    if signal is None:
        return []
    maps, masks, positions = signal
    values = energy_in_mask(maps, masks, magnitude=options["magnitude"])
    return [mean_value("energy-in-mask", values, "", positions)]


def _pointing(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = signal_present(cell)
    if signal is None:
        return []
    maps, masks, positions = signal
    values = pointing_game(maps, masks, tolerance=options["tolerance"])
    return [mean_value("pointing-game", values, f"tolerance={options['tolerance']}", positions)]


def _check_energy(options: Mapping[str, Any]) -> None:
    check_choice(options, "magnitude", library_choices(energy_in_mask, "magnitude"))


ENERGY_IN_MASK = HarnessMetric(
    name="energy-in-mask",
    check=_check_energy,
    runner=_energy,
    defaults={"magnitude": "abs"},
    rows=(RowSpec("energy-in-mask", statistic=mean_of("energy-in-mask")),),
)


def _check_pointing(options: Mapping[str, Any]) -> None:
    check_count(options, "tolerance", minimum=0)


POINTING_GAME = HarnessMetric(
    name="pointing-game",
    check=_check_pointing,
    runner=_pointing,
    defaults={"tolerance": 0},
    rows=(RowSpec("pointing-game", statistic=mean_of("pointing-game")),),
)
