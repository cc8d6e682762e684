"""Energy in the ground-truth mask and the pointing game, on a cell's signal-present images."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from captum_ifim.metrics import energy_in_mask, pointing_game
from comparisons.metrics._cell_data import CellData, MetricValue, finite_mean
from comparisons.metrics._entry import HarnessMetric, RowSpec
from comparisons.metrics._option_checks import check_choice, check_count, library_choices


def signal_present(cell: CellData) -> tuple[Tensor, Tensor] | None:
    """The maps and masks of the examples with a signal, or ``None`` when there are none."""
    if cell.masks is None:
        return None
    present = cell.masks.flatten(1).any(dim=1)
    return (cell.maps[present], cell.masks[present]) if bool(present.any()) else None


def _energy(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = signal_present(cell)
    if signal is None:
        return []
    value, n = finite_mean(energy_in_mask(*signal, magnitude=options["magnitude"]))
    return [MetricValue("energy-in-mask", value, "", n)]


def _pointing(cell: CellData, options: dict[str, Any]) -> list[MetricValue]:
    signal = signal_present(cell)
    if signal is None:
        return []
    value, n = finite_mean(pointing_game(*signal, tolerance=options["tolerance"]))
    return [MetricValue("pointing-game", value, f"tolerance={options['tolerance']}", n)]


def _check_energy(options: Mapping[str, Any]) -> None:
    check_choice(options, "magnitude", library_choices(energy_in_mask, "magnitude"))


ENERGY_IN_MASK = HarnessMetric(
    name="energy-in-mask",
    check=_check_energy,
    runner=_energy,
    defaults={"magnitude": "abs"},
    rows=(RowSpec("energy-in-mask"),),
)


def _check_pointing(options: Mapping[str, Any]) -> None:
    check_count(options, "tolerance", minimum=0)


POINTING_GAME = HarnessMetric(
    name="pointing-game",
    check=_check_pointing,
    runner=_pointing,
    defaults={"tolerance": 0},
    rows=(RowSpec("pointing-game"),),
)
